// Frames: a 12-byte header then the payload (docs/protocol.md, "Frames").
//
//   0       1       2       3       4               8               12
//   +-------+-------+-------+-------+---------------+---------------+------------
//   |version| type  | flags |  0    |  stream id    |    length     | payload...
//   +-------+-------+-------+-------+---------------+---------------+------------
//   all integers big-endian; length counts payload bytes only.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

namespace cyxp2p::protocol {

inline constexpr std::uint8_t wire_version = 1;
inline constexpr std::size_t frame_header_size = 12;
/// Largest max_frame_size either side may announce; the default is in limits.hpp.
inline constexpr std::uint32_t max_frame_size_ceiling = 1U << 24;

enum class FrameType : std::uint8_t {
    hello = 0x01,          // engine -> node, stream 0, wire::Hello
    hello_ack = 0x02,      // node -> engine, stream 0, wire::HelloAck
    error = 0x03,          // stream 0: connection error, then close; stream N: reset stream N. wire::Error
    open = 0x04,           // engine -> node, new stream N, wire::Open
    data = 0x05,           // stream N, raw bytes (a sequence of messages, see message.hpp)
    window_update = 0x06,  // stream N or 0 (session), 4-byte big-endian increment
    ping = 0x07,           // stream 0, 8 opaque bytes; flags::ack on the answer
    goaway = 0x08,         // stream 0, wire::GoAway
    reauth = 0x09,         // engine -> node, stream 0, wire::Reauth
    reauth_ack = 0x0A,     // node -> engine, stream 0, wire::ReauthAck
    /// node -> engine, stream N, empty: the node accepted the OPEN of N (sent only by nodes that announce
    /// wire::HelloAck.open_ack; not critical, so an older engine ignores it).
    open_ack = 0x0B,
};

namespace flags {
inline constexpr std::uint8_t end_stream =
    0x01;                                  // data, open: the sender will send nothing more on the stream
inline constexpr std::uint8_t ack = 0x02;  // ping: this is the answer
/// On a frame type the receiver does not know: set = close the connection (unknown_critical_frame),
/// clear = ignore the frame. Lets later versions add optional frames.
inline constexpr std::uint8_t critical = 0x80;
}  // namespace flags

struct FrameHeader {
    std::uint8_t version = wire_version;
    FrameType type = FrameType::data;
    std::uint8_t flags = 0;
    std::uint32_t stream_id = 0;
    std::uint32_t length = 0;
};

/// A decoded frame. `payload` points into the decoder's buffer or into the bytes lent to it (borrow()) and
/// stays valid until the next call to FrameDecoder::feed(), borrow() or next().
///
/// A decoder that streams DATA (FrameDecoder::stream_data) returns a DATA frame's payload in pieces as its
/// bytes arrive, so a payload is never assembled in the decoder: `piece_offset` is where this piece starts
/// in the frame's payload and `final_piece` is set on its last piece. Every other frame, and every frame of a
/// decoder that does not stream DATA, is one piece (offset 0, final).
struct Frame {
    FrameHeader header;
    std::span<const std::uint8_t> payload;
    std::uint32_t piece_offset = 0;
    bool final_piece = true;
};

std::array<std::uint8_t, frame_header_size> encode_header(const FrameHeader& h);

/// Incremental decoder: accepts input split at any byte boundary. After the first error it stays failed.
class FrameDecoder {
  public:
    /// `stream_data`: return DATA payloads in pieces as they arrive (see Frame) instead of whole frames.
    explicit FrameDecoder(std::uint32_t max_payload, bool stream_data = false)
        : max_payload_(max_payload), stream_data_(stream_data) {}

    /// Frames announced longer than this fail with frame_too_large before their payload is buffered.
    void set_max_payload(std::uint32_t max_payload) { max_payload_ = max_payload; }

    /// Copies `bytes` in.
    void feed(std::span<const std::uint8_t> bytes);
    /// Lends `bytes` without copying them: frames that lie wholly inside them (and DATA pieces) point into
    /// them. They must stay valid until next() returns nullopt or fails; only what is left of them then (an
    /// incomplete frame's first bytes) is copied.
    void borrow(std::span<const std::uint8_t> bytes);

    /// The next complete frame (or DATA piece), or nullopt when more bytes are needed (ec clear) or on error
    /// (ec set: bad_version, bad_frame, frame_too_large).
    std::optional<Frame> next(std::error_code& ec);

    /// Bytes received but not yet returned as frames.
    std::size_t buffered() const { return buffer_.size() - read_ + input_.size(); }

  private:
    std::span<const std::uint8_t> front() const;
    void consume(std::size_t n);
    bool gather(std::size_t n);
    void stash();

    std::vector<std::uint8_t> buffer_;     // owned: the start of an incomplete frame (or fed bytes)
    std::size_t read_ = 0;                 // bytes of buffer_ already returned
    std::span<const std::uint8_t> input_;  // lent by borrow(), not yet returned
    std::uint32_t max_payload_;
    bool stream_data_;
    std::optional<FrameHeader> data_;  // a DATA frame whose payload is being returned in pieces
    std::uint32_t data_offset_ = 0;    // payload bytes of data_ returned so far
    std::error_code failed_;
};

/// Appends frames to one output buffer, so that everything a session produces between two writes leaves
/// in a single write (and so in as few TLS records as the record size allows).
class FrameEncoder {
  public:
    void append(FrameType type, std::uint8_t flags, std::uint32_t stream_id,
                std::span<const std::uint8_t> payload);
    bool empty() const { return out_.empty(); }
    std::size_t size() const { return out_.size(); }
    /// Moves out everything appended so far.
    std::vector<std::uint8_t> take();
    /// Appends everything appended so far to `out` and forgets it, keeping this buffer's capacity.
    void move_into(std::vector<std::uint8_t>& out);

  private:
    std::vector<std::uint8_t> out_;
};

}  // namespace cyxp2p::protocol
