// Messages inside a stream: DATA frames carry a byte stream; that stream is a sequence of messages, each a
// 4-byte big-endian length then that many bytes (a msgpack body, body.hpp). Messages may span frames and
// frames may hold several messages; the reader reassembles them under a size cap.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

namespace cyxp2p::protocol {

inline constexpr std::size_t message_prefix_size = 4;

/// Appends the length prefix and `body` to `out`.
void append_message(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> body);

class MessageReader {
  public:
    explicit MessageReader(std::size_t max_message) : max_(max_message) {}

    /// Appends stream bytes. Fails (message_too_large) as soon as a prefix announces more than the cap, so at
    /// most one capped message is ever buffered.
    std::error_code feed(std::span<const std::uint8_t> bytes);
    /// The next whole message, or nullopt.
    std::optional<std::vector<std::uint8_t>> next();
    /// True when bytes of an unfinished message are buffered (an END_STREAM now means a truncated message).
    bool partial() const { return !buffer_.empty(); }
    /// Bytes held for messages not yet complete.
    std::size_t buffered() const { return buffer_.size(); }

  private:
    std::vector<std::uint8_t> buffer_;
    std::size_t max_;
};

}  // namespace cyxp2p::protocol
