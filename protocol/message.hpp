// Messages inside a stream: DATA frames carry a byte stream; that stream is a sequence of messages, each a
// 4-byte big-endian length then that many bytes (a msgpack body, body.hpp). Messages may span frames and
// frames may hold several messages; the reader reassembles them under a size cap.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

namespace cyxp2p::protocol {

inline constexpr std::size_t message_prefix_size = 4;

/// Appends the length prefix and `body` to `out`.
void append_message(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> body);

/// Message buffers the application handed back (EngineSession::recycle), reused for the next messages: a
/// bulk transfer then writes into pages it already has instead of faulting in fresh ones per message.
/// Keeps at most `max_bytes` of capacity; what does not fit is freed.
class BufferPool {
  public:
    explicit BufferPool(std::size_t max_bytes) : max_(max_bytes) {}
    /// An empty buffer with capacity >= n from the pool, if one is there.
    std::optional<std::vector<std::uint8_t>> take(std::size_t n);
    void give(std::vector<std::uint8_t>&& buffer);
    std::size_t bytes() const { return bytes_; }

  private:
    std::vector<std::vector<std::uint8_t>> free_;
    std::size_t bytes_ = 0;
    std::size_t max_;
};

/// Reassembles messages: each body is written once, straight into its own buffer (sized by its prefix),
/// and handed out by moving that buffer.
class MessageReader {
  public:
    explicit MessageReader(std::size_t max_message, BufferPool* pool = nullptr)
        : max_(max_message), pool_(pool) {}

    /// Appends stream bytes. Fails (message_too_large) as soon as a prefix announces more than the cap, so at
    /// most one capped message is ever buffered. A message whose buffer does not come from the pool is
    /// allocated at its announced size only if that is within `may_reserve` (what the caller's reassembly
    /// budget still allows; reserved() reports it until the message is complete); otherwise its buffer
    /// grows as its bytes arrive, so an announcement alone never makes the reader allocate.
    std::error_code feed(std::span<const std::uint8_t> bytes, std::size_t may_reserve = 0);
    /// The next whole message, or nullopt.
    std::optional<std::vector<std::uint8_t>> next();
    /// True when bytes of an unfinished message are buffered (an END_STREAM now means a truncated message).
    bool partial() const { return prefix_have_ > 0; }
    /// Bytes held for messages not yet taken (prefixes included).
    std::size_t buffered() const { return prefix_have_ + body_.size() + ready_bytes_; }
    /// Capacity allocated ahead of arrival for the message being reassembled.
    std::size_t reserved() const { return reserved_; }

  private:
    std::array<std::uint8_t, message_prefix_size> prefix_{};
    std::size_t prefix_have_ = 0;  // bytes of the current message's prefix seen (4: reading its body)
    std::size_t need_ = 0;         // the current message's body size
    std::size_t reserved_ = 0;
    std::vector<std::uint8_t> body_;
    std::deque<std::vector<std::uint8_t>> ready_;  // complete, not yet taken
    std::size_t ready_bytes_ = 0;
    std::size_t max_;
    BufferPool* pool_;
};

}  // namespace cyxp2p::protocol
