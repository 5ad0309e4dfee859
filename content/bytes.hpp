// Byte vocabulary shared by every header of the content module.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace cyxp2p::content {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) noexcept {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace cyxp2p::content
