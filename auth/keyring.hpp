// A keyring: the keys a verifier trusts and the one key a minter signs with, so signing keys can rotate
// (the seed asks operators to rotate every 30 days). Current and previous keys verify; only the current
// signs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <cyxp2p/auth/jwk.hpp>
#include <cyxp2p/auth/limits.hpp>

namespace cyxp2p::auth {

class Keyring {
  public:
    Keyring() = default;

    /// Parses a JWK Set (RFC 7517 5), or a single JWK. Keys of types we do not understand are skipped as
    /// RFC 7517 5 asks; a set with no usable key, a duplicate kid or a malformed key is an error.
    static std::optional<Keyring> from_jwks(std::string_view json, std::error_code& ec,
                                            std::string* detail = nullptr, const Limits& limits = {});
    /// Reads a JWKS or JWK file; secret material must be in a 0600 file (see load_jwk_file).
    static std::optional<Keyring> load(const std::filesystem::path& path, std::error_code& ec,
                                       std::string* detail = nullptr, const Limits& limits = {});

    /// Adds a verification key. Two keys with the same kid are refused (duplicate_kid); so is a second key
    /// without kid, since such a key could never be told apart.
    std::error_code add(Jwk key);
    /// Adds `key` (which must be able to sign) and makes it the signing key; the previous key keeps
    /// verifying until remove()d.
    std::error_code rotate(Jwk key);
    /// Makes the key with `kid` the signing key (unknown_kid, no_signing_key).
    std::error_code set_signing(std::string_view kid);
    /// Removes the key with `kid`; tokens it signed stop verifying. Returns false if there was none.
    bool remove(std::string_view kid);

    /// The key with exactly this kid (keys without kid are never found by kid).
    const Jwk* find(std::string_view kid) const;
    /// The keys bound to `alg`, for tokens that carry no kid.
    std::vector<const Jwk*> keys_for(Algorithm alg) const;
    const Jwk* signing_key() const;
    const std::vector<Jwk>& keys() const { return keys_; }
    bool empty() const { return keys_.empty(); }

    /// The public JWKS to publish: EdDSA public keys only (HS256 keys are secret and never exported).
    std::string to_public_jwks() const;

  private:
    std::vector<Jwk> keys_;
    std::optional<std::size_t> signing_;
};

}  // namespace cyxp2p::auth
