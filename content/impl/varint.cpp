#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/varint.hpp>

namespace cyxp2p::content {

std::size_t varint_size(std::uint64_t v) noexcept {
    std::size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

void append_varint(Bytes& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<std::uint8_t>(v | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<std::uint8_t>(v));
}

std::error_code read_varint(ByteView& in, std::uint64_t& value) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (i == kMaxVarintBytes) return errc::varint_overflow;
        const std::uint8_t b = in[i];
        v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            // unsigned-varint spec: "numbers must be minimally encoded"; a last byte of 0 (after the
            // first) means a shorter encoding existed.
            if (b == 0 && i > 0) return errc::varint_not_minimal;
            value = v;
            in = in.subspan(i + 1);
            return {};
        }
    }
    return in.size() >= kMaxVarintBytes ? errc::varint_overflow : errc::varint_truncated;
}

}  // namespace cyxp2p::content
