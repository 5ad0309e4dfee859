// Error codes of the auth module: JWS/JWT verification (RFC 7515/7519/8725), JWK/JWKS keys (RFC 7517).
#pragma once

#include <string>
#include <system_error>

namespace cyxp2p::auth {

/// Every way a token or key can be refused. One category, "cyxp2p.auth"; never renumber.
enum class errc {
    // Token syntax (RFC 7515 7.1 compact serialization).
    malformed = 1,  // not three base64url parts separated by '.'
    bad_base64,     // a part is not canonical, unpadded base64url
    bad_json,       // header or payload is not a strict JSON object
    too_large,      // token longer than Limits::max_token_bytes
    // Header and key selection (RFC 7515 4.1, RFC 8725 3.1).
    bad_header,        // a header parameter has the wrong type (detail names it)
    unsupported_alg,   // alg is none, missing or not HS256/EdDSA
    alg_mismatch,      // alg differs from the one algorithm the selected key is bound to
    unknown_kid,       // no key with this kid (or no kid and not exactly one candidate key)
    crit_unsupported,  // crit names an extension we do not implement (RFC 7515 4.1.11)
    bad_signature,     // the signature does not verify with the selected key
    // Claims policy (RFC 7519 4.1, RFC 8725 3.10-3.12).
    expired,
    not_yet_valid,
    issued_in_future,
    lifetime_too_long,
    wrong_issuer,
    wrong_node,
    wrong_token_type,
    missing_claim,  // detail names the claim
    bad_claim,      // detail names the claim
    // Keys (RFC 7517, RFC 8037).
    bad_key,          // JWK/JWKS is not valid (detail names the member)
    weak_key,         // HS256 key shorter than 32 bytes (RFC 7518 3.2)
    unsupported_key,  // kty/crv/alg combination we do not support
    duplicate_kid,    // two keys in one keyring share a kid
    no_signing_key,   // minting needs a current key with private material
    key_file_permissions,
    io_error,
    crypto_failure,
};

const std::error_category& category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), category()};
}

/// The enumerator's name ("bad_signature"), for logs, --json output and exit-code tables.
const char* to_string(errc e) noexcept;

}  // namespace cyxp2p::auth

template <>
struct std::is_error_code_enum<cyxp2p::auth::errc> : std::true_type {};
