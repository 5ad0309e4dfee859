// JSON Web Keys (RFC 7517) for the two algorithms the P2P token may use: HS256 (kty "oct", RFC 7518 6.4)
// and EdDSA over Ed25519 (kty "OKP", RFC 8037 2). Each key is bound to exactly one algorithm (RFC 8725 3.1).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <cyxp2p/auth/limits.hpp>

namespace cyxp2p::auth {

enum class Algorithm { hs256, eddsa };

/// "HS256" or "EdDSA", the JWS `alg` value (RFC 7518 3.1, RFC 8037 3.1).
const char* to_string(Algorithm a) noexcept;
std::optional<Algorithm> algorithm_from_string(std::string_view alg) noexcept;

/// A key's bytes, wiped (OPENSSL_cleanse) when destroyed.
class SecretBytes {
  public:
    SecretBytes() = default;
    explicit SecretBytes(std::vector<std::uint8_t> bytes) : bytes_(std::move(bytes)) {}
    SecretBytes(const SecretBytes& other) : bytes_(other.bytes_) {}
    SecretBytes(SecretBytes&& other) noexcept;
    SecretBytes& operator=(const SecretBytes& other);
    SecretBytes& operator=(SecretBytes&& other) noexcept;
    ~SecretBytes();

    const std::uint8_t* data() const { return bytes_.data(); }
    std::size_t size() const { return bytes_.size(); }
    bool empty() const { return bytes_.empty(); }

  private:
    void wipe() noexcept;
    std::vector<std::uint8_t> bytes_;
};

/// One signing or verification key. HS256 keys are always secret; EdDSA keys hold the 32-byte public key
/// and, when they may sign, the 32-byte private seed (the JWK "d", RFC 8037 2).
class Jwk {
  public:
    /// A fresh random key: 32 bytes for HS256, an Ed25519 key pair for EdDSA.
    static Jwk generate(Algorithm alg, std::string kid);
    /// An HS256 key from raw bytes. Fails with weak_key below 32 bytes (RFC 7518 3.2).
    static std::optional<Jwk> from_secret(std::vector<std::uint8_t> secret, std::string kid,
                                          std::error_code& ec);
    /// An EdDSA verification key from the 32-byte public key.
    static Jwk from_ed25519_public(const std::array<std::uint8_t, 32>& pk, std::string kid);

    /// Parses one JWK. `alg`, when present, must be the algorithm the key type implies (oct -> HS256,
    /// OKP/Ed25519 -> EdDSA); when absent (as `jose`'s exportJWK writes it) it is inferred from the type.
    /// `use`, when present, must be "sig". `detail` (optional) receives the offending member's name.
    static std::optional<Jwk> parse(std::string_view json, std::error_code& ec, std::string* detail = nullptr,
                                    const Limits& limits = {});

    Algorithm alg() const { return alg_; }
    const std::string& kid() const { return kid_; }
    /// True when the key can mint: every HS256 key, EdDSA keys that carry "d".
    bool can_sign() const;
    /// True for keys whose JWK must stay private: HS256 keys and EdDSA keys with "d".
    bool is_secret() const { return alg_ == Algorithm::hs256 || !secret_.empty(); }

    /// The JWK as JSON. With `include_private` false, HS256 keys cannot be written (the whole key is
    /// secret) and EdDSA keys drop "d". Members: kty, [crv], kid, alg, use, k|x[,d].
    std::optional<std::string> to_json(bool include_private) const;

    /// The RFC 7638 JWK thumbprint (base64url SHA-256 of the required members in lexicographic order), a
    /// stable default kid. For an HS256 key it is a hash of the secret, safe to publish.
    std::string thumbprint() const;

    /// The verifying key as its algorithm uses it: HMAC key bytes, or the Ed25519 public key.
    const SecretBytes& secret() const { return secret_; }
    const std::vector<std::uint8_t>& public_key() const { return public_; }

  private:
    Jwk() = default;
    Algorithm alg_ = Algorithm::hs256;
    std::string kid_;
    SecretBytes secret_;                // HS256: the key; EdDSA: libsodium's 64-byte secret key, or empty
    std::vector<std::uint8_t> public_;  // EdDSA: 32-byte public key
};

/// Reads a JWK file. Files holding secret material must not be readable by group or others (the 0600 rule
/// of node keys): otherwise key_file_permissions.
std::optional<Jwk> load_jwk_file(const std::filesystem::path& path, std::error_code& ec,
                                 std::string* detail = nullptr);

/// Writes `json` to `path` with mode 0600 (secret) or 0644 (public); refuses to overwrite unless `force`.
std::error_code write_key_file(const std::filesystem::path& path, std::string_view json, bool secret,
                               bool force);

}  // namespace cyxp2p::auth
