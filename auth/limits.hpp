// Every limit and default of the auth module, in one place. The defaults are the secure choice.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cyxp2p::auth {

struct Limits {
    /// Longest compact JWS accepted, in bytes, checked before any decoding. A P2P token is ~400 bytes.
    std::size_t max_token_bytes = 8 * 1024;
    /// Deepest JSON nesting in a header or payload ({"cnf":{...}} is depth 2).
    std::size_t max_json_depth = 8;
    /// Most entries in the `scope` array.
    std::size_t max_scopes = 64;
    /// Longest `kid`, in bytes.
    std::size_t max_kid_bytes = 128;
    /// Largest JWK or JWKS document, in bytes, and most keys in a JWKS.
    std::size_t max_jwks_bytes = 64 * 1024;
    std::size_t max_jwks_keys = 32;

    /// Clock skew tolerated on exp/nbf/iat (RFC 7519 4.1.4 "some small leeway").
    std::int64_t default_leeway_s = 30;
    /// Largest leeway a caller may configure; more is a programmer error.
    std::int64_t max_leeway_s = 60;

    /// Longest `exp - iat` per token type (the seed's token table).
    std::int64_t max_lifetime_p2p_s = 3600;           // 1 hour
    std::int64_t max_lifetime_session_s = 86400;      // 24 hours
    std::int64_t max_lifetime_job_s = 7 * 86400;      // "job duration", capped at 7 days
    std::int64_t max_lifetime_refresh_s = 7 * 86400;  // 7 days

    /// Largest NumericDate accepted (9999-12-31T23:59:59Z): keeps all date arithmetic far from overflow.
    std::int64_t max_numeric_date = 253402300799;
};

}  // namespace cyxp2p::auth
