// Claims <-> JSON and the per-type structural rules shared by verify() and mint(). Private to auth/.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <cyxp2p/auth/claims.hpp>
#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/limits.hpp>

namespace cyxp2p::auth::detail {

/// A refusal: the code and the claim it is about (empty when the code says it all).
struct ClaimError {
    errc code;
    std::string claim;
};

/// The longest `exp - iat` a token type may have.
std::int64_t max_lifetime(TokenType t, const Limits& limits) noexcept;

/// Reads a JWT claims set. token_type is checked first (missing_claim, bad_claim, wrong_token_type against
/// `expected`), then each claim the type requires and each optional claim we understand for its type and
/// shape. Unknown claims are ignored (RFC 7519 4). `aud` is returned through `audience` for the caller.
std::optional<Claims> claims_from_json(const nlohmann::json& payload, TokenType expected,
                                       const Limits& limits, std::vector<std::string>& audience,
                                       ClaimError& err);

/// Rules that hold for every token of a type, whatever the time: required claims present and well-formed,
/// iat < exp, nbf <= exp, exp - iat within max_lifetime (lifetime_too_long).
std::optional<ClaimError> check_structure(const Claims& c, const Limits& limits);

nlohmann::json claims_to_json(const Claims& c);

}  // namespace cyxp2p::auth::detail
