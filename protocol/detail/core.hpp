// The machinery both session roles share: frame I/O, streams with credit-based flow control, keepalive,
// idle and drain deadlines, connection errors. NodeSession and EngineSession add their handshakes on top.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <google/protobuf/message_lite.h>

#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/event.hpp>
#include <cyxp2p/protocol/frame.hpp>
#include <cyxp2p/protocol/limits.hpp>
#include <cyxp2p/protocol/message.hpp>

namespace cyxp2p::protocol::wire {
class Limits;
}

namespace cyxp2p::protocol::detail {

struct Stream {
    explicit Stream(std::uint32_t stream_id, std::int64_t send, std::int64_t recv, std::size_t max_message)
        : id(stream_id), send_window(send), recv_window(recv), reader(max_message) {}
    std::uint32_t id;
    std::int64_t send_window;           // credit the peer gave us
    std::int64_t recv_window;           // credit we gave the peer and it has not used
    std::uint64_t undelivered = 0;      // charge of complete messages queued as events, not yet polled
    std::vector<std::uint8_t> pending;  // messages queued, not yet framed
    std::size_t pending_offset = 0;
    bool local_end_queued = false;  // finish() called; END_STREAM goes out once pending drains
    bool local_ended = false;
    bool remote_ended = false;
    MessageReader reader;
};

class Core {
  public:
    Core(const SessionLimits& local, Time now);
    virtual ~Core() = default;
    Core(const Core&) = delete;
    Core& operator=(const Core&) = delete;

    void receive(std::span<const std::uint8_t> bytes, Time now);
    std::vector<std::uint8_t> take_output();
    std::optional<Event> poll_event();
    std::optional<Time> next_timeout() const;
    void on_timeout(Time now);

    std::error_code send_message(std::uint32_t id, std::span<const std::uint8_t> body);
    std::error_code finish(std::uint32_t id);
    void reset(std::uint32_t id, errc code, std::string_view message);
    void send_ping(Time now);
    /// Sends GOAWAY and drains: no new streams, open ones get drain_timeout, then the session closes.
    void go_away(errc code, std::string_view message, Time now);
    /// Connection error: sends ERROR on stream 0 (unless the peer caused the close by one), reports closed.
    void close(errc code, std::string_view message, std::string_view detail = {},
               std::chrono::milliseconds retry_after = {});

    bool closed() const { return closed_; }
    bool draining() const { return drain_deadline_.has_value(); }
    std::size_t pending_bytes(std::uint32_t id) const;
    std::size_t open_streams() const { return streams_.size(); }
    const SessionLimits& local_limits() const { return local_; }
    const SessionLimits& peer_limits() const { return peer_; }
    Time last_receive() const { return last_receive_; }

  protected:
    /// HELLO, HELLO_ACK, OPEN, REAUTH, REAUTH_ACK: the role decides.
    virtual void on_control(const Frame& f, Time now) = 0;
    /// Whether DATA, WINDOW_UPDATE and stream frames are allowed yet (after the handshake).
    virtual bool established() const = 0;
    /// Role deadlines (HELLO, token expiry); on_role_timeout runs when `now` reaches it.
    virtual std::optional<Time> role_deadline() const { return std::nullopt; }
    virtual void on_role_timeout(Time) {}
    /// The peer's ERROR on stream 0.
    virtual void on_peer_error(errc code, std::string message, std::string detail,
                               std::chrono::milliseconds retry);

    void push(Event e) { events_.push_back(std::move(e)); }
    void send_frame(FrameType type, std::uint8_t flags, std::uint32_t stream,
                    std::span<const std::uint8_t> payload);
    void send_control(FrameType type, std::uint32_t stream, const google::protobuf::MessageLite& m);
    void send_stream_error(std::uint32_t stream, errc code, std::string_view message,
                           std::chrono::milliseconds retry_after = {});
    /// Applies the peer's announced limits (0 fields keep the defaults).
    void set_peer_limits(const wire::Limits& l);
    void fill_limits(wire::Limits& l) const;
    Stream& add_stream(std::uint32_t id);
    Stream* find_stream(std::uint32_t id);
    void mark_established(Time now);
    void flush();

    std::uint32_t highest_stream_id_ = 0;
    bool goaway_received_ = false;

  private:
    void dispatch(const Frame& f, Time now);
    void on_data(const Frame& f);
    void on_window_update(const Frame& f);
    void on_stream_error(const Frame& f);
    void maybe_close_stream(Stream& s);
    void replenish(Stream* s);
    void drop_stream(std::uint32_t id);  // erases a stream, releasing its share of the reassembly budget
    void check_drained();

    SessionLimits local_;
    SessionLimits peer_;
    FrameDecoder decoder_;
    FrameEncoder encoder_;
    std::deque<Event> events_;
    std::map<std::uint32_t, Stream> streams_;
    std::int64_t session_send_window_;
    std::int64_t session_recv_window_;
    std::uint64_t session_undelivered_ = 0;
    std::uint64_t received_data_bytes_ = 0;
    std::uint64_t reassembly_bytes_ = 0;  // sum of every stream's reader.buffered()
    Time last_receive_;
    std::optional<Time> ping_deadline_;
    std::optional<Time> drain_deadline_;
    bool closed_ = false;
    bool established_seen_ = false;
};

/// Strings from the peer arrive as protobuf `bytes`: valid UTF-8, no control characters, at most `max`.
bool clean_text(const std::string& s, std::size_t max);
std::chrono::milliseconds to_ms(std::chrono::nanoseconds d);

}  // namespace cyxp2p::protocol::detail
