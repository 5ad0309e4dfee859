// Typed claims of the CyxWiz token types (the seed's token table) and the policy that keeps them apart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cyxp2p::auth {

inline constexpr std::string_view kDefaultIssuer = "cyxwiz-central-server";

/// The `token_type` claim. Each type has its own required claims and lifetime (docs/auth.md), and a
/// verifier accepts exactly one type, so one kind of token never passes as another (RFC 8725 3.12).
enum class TokenType { p2p, session, job, refresh };

const char* to_string(TokenType t) noexcept;
std::optional<TokenType> token_type_from_string(std::string_view s) noexcept;

/// What a verified token says. Dates are NumericDate seconds (RFC 7519 2).
struct Claims {
    TokenType type = TokenType::p2p;
    std::string issuer{kDefaultIssuer};      // iss
    std::string subject;                     // sub: the engine's user id (p2p) or node id (session)
    std::int64_t issued_at = 0;              // iat
    std::int64_t expires_at = 0;             // exp
    std::optional<std::int64_t> not_before;  // nbf
    std::string node_id;                     // node_id: the node this token is for (p2p)
    std::string session_id;                  // session_id (p2p, session)
    std::string job_id;                      // job_id (job)
    std::string token_id;                    // jti (refresh)
    std::vector<std::string> scope;          // scope: array of scope names (p2p, job)
    /// cnf.x5t#S256 (RFC 8705 3.1): base64url SHA-256 of the client certificate the engine must present.
    std::optional<std::string> cnf_x5t_s256;
    /// node_pin: the node's SPKI pin "sha256//<base64>" as the issuer vouches for it.
    std::optional<std::string> node_pin;

    bool has_scope(std::string_view s) const;
};

}  // namespace cyxp2p::auth
