// Unpadded base64url (RFC 4648 5) as JWS requires it (RFC 7515 2, appendix C). Private to auth/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cyxp2p::auth::detail {

std::string base64url_encode(const std::uint8_t* data, std::size_t size);
inline std::string base64url_encode(std::string_view s) {
    return base64url_encode(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

/// Decodes canonical unpadded base64url only: no '=', no whitespace, no characters outside [A-Za-z0-9_-],
/// no length of 4n+1, and the unused low bits of the last character must be zero, so each byte string has
/// exactly one accepted encoding (a token cannot be altered without breaking its signature input).
std::optional<std::vector<std::uint8_t>> base64url_decode(std::string_view in);

}  // namespace cyxp2p::auth::detail
