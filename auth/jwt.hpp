// Strict verification and minting of CyxWiz tokens: compact JWS (RFC 7515) JWTs (RFC 7519) under the
// JWT best current practice (RFC 8725). Time is always passed in; nothing here reads a clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <cyxp2p/auth/claims.hpp>
#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/jwk.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/auth/limits.hpp>

namespace cyxp2p::auth {

/// What the verifier expects. `now` and, for P2P tokens, `node_id` are required.
struct VerifyOptions {
    std::int64_t now = 0;                // current time, Unix seconds
    std::string node_id;                 // the verifying node's id; must equal the node_id claim
    std::string issuer{kDefaultIssuer};  // the only accepted iss
    TokenType expected_type = TokenType::p2p;
    std::int64_t leeway_s = Limits{}.default_leeway_s;  // 0 .. limits.max_leeway_s
    Limits limits{};
};

/// The outcome of verify(): claims, or one error code plus the claim/parameter/kid it is about.
struct Verified {
    std::optional<Claims> claims;
    std::error_code error;
    std::string detail;  // e.g. "session_id" for missing_claim; empty when the code says it all

    explicit operator bool() const { return claims.has_value(); }
    /// error.message(), followed by the detail when there is one.
    std::string message() const;
};

/// Verifies a compact JWS JWT against `keys` and the claims policy of `opts.expected_type`.
/// Throws std::invalid_argument only for programmer errors (leeway out of range, empty node_id for p2p).
Verified verify(std::string_view token, const Keyring& keys, const VerifyOptions& opts);

/// Header and payload of a token, decoded without any verification (for diagnostics only).
struct Unverified {
    std::string header_json;
    std::string payload_json;
};
std::optional<Unverified> decode_unverified(std::string_view token, std::error_code& ec,
                                            const Limits& limits = {});

/// The claims of a token of type `expected`, read as verify() reads them (shape, required claims, types)
/// but WITHOUT checking the signature, issuer, times or audience: never an authorization decision. For a
/// caller that needs a claim before it can verify anything, e.g. the engine taking the node's pin from its
/// own token (net::ConnectOptions::pin_from_token). Errors: as decode_unverified, then the claims' codes.
std::optional<Claims> read_unverified_claims(std::string_view token, TokenType expected, std::error_code& ec,
                                             const Limits& limits = {});

/// Mints a token for the Central Server's role, signed by `key` (header: alg, typ "JWT", kid when the key
/// has one). The claims must satisfy their type's policy (required claims, lifetime), so every minted token
/// is one verify() accepts for the right node at the right time. Errors: no_signing_key, missing_claim,
/// bad_claim, lifetime_too_long.
std::optional<std::string> mint(const Claims& claims, const Jwk& key, std::error_code& ec,
                                std::string* detail = nullptr, const Limits& limits = {});
/// Mints with the keyring's current signing key.
std::optional<std::string> mint(const Claims& claims, const Keyring& keys, std::error_code& ec,
                                std::string* detail = nullptr, const Limits& limits = {});

}  // namespace cyxp2p::auth
