#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/message.hpp>

namespace cyxp2p::protocol {
namespace {
std::uint32_t prefix(const std::vector<std::uint8_t>& b) {
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
}
}  // namespace

void append_message(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> body) {
    const auto n = static_cast<std::uint32_t>(body.size());
    out.push_back(static_cast<std::uint8_t>(n >> 24));
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n));
    out.insert(out.end(), body.begin(), body.end());
}

std::error_code MessageReader::feed(std::span<const std::uint8_t> bytes) {
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
    // Check every complete prefix now, so an oversized announcement fails before its body arrives.
    std::size_t at = 0;
    while (at + message_prefix_size <= buffer_.size()) {
        const std::uint32_t n = (std::uint32_t{buffer_[at]} << 24) | (std::uint32_t{buffer_[at + 1]} << 16) |
                                (std::uint32_t{buffer_[at + 2]} << 8) | buffer_[at + 3];
        if (n > max_) return errc::message_too_large;
        at += message_prefix_size + n;
    }
    return {};
}

std::optional<std::vector<std::uint8_t>> MessageReader::next() {
    if (buffer_.size() < message_prefix_size) return std::nullopt;
    const std::uint32_t n = prefix(buffer_);
    if (buffer_.size() - message_prefix_size < n) return std::nullopt;
    std::vector<std::uint8_t> body(buffer_.begin() + message_prefix_size,
                                   buffer_.begin() + static_cast<std::ptrdiff_t>(message_prefix_size + n));
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(message_prefix_size + n));
    return body;
}

}  // namespace cyxp2p::protocol
