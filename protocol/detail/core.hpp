// The machinery both session roles share: frame I/O, streams with credit-based flow control, keepalive,
// idle and drain deadlines, connection errors. NodeSession and EngineSession add their handshakes on top.
#pragma once

#include <array>
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
#include <cyxp2p/protocol/rtt.hpp>
#include <cyxp2p/protocol/window_budget.hpp>

namespace cyxp2p::protocol::wire {
class Limits;
}

namespace cyxp2p::protocol::detail {

// Flow-control windows never exceed 2^31 - 1 (as in HTTP/2, RFC 9113 6.9.1).
inline constexpr std::int64_t kMaxWindow = 0x7FFFFFFF;

inline std::uint32_t load_be32(std::span<const std::uint8_t> p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
inline std::array<std::uint8_t, 4> store_be32(std::uint32_t v) {
    return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
            static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

/// One receive-side flow-control window, a stream's or the session's (docs/protocol.md section 6).
struct RecvWindow {
    std::int64_t credit;               // credit we gave the peer and it has not used
    std::uint64_t size;                // the window now: initial .. cap, grown by auto-tuning
    std::uint64_t undelivered = 0;     // charge of complete messages queued as events, not yet polled
    std::uint64_t epoch_consumed = 0;  // charge the application took since epoch_start (auto-tuning)
    Time epoch_start{};
    bool startup = true;  // growing 4x per epoch until an epoch shows the window is near the path's BDP
    /// Delay-limited credit (SessionLimits::queue_delay_target): when non-zero, credit is given only up to
    /// min(size, delay_limit). Streams only; the session window is never delay-limited.
    std::uint64_t delay_limit = 0;
    Time delay_settled{};  // samples of PINGs sent before this do not change delay_limit (limit_by_delay)
};

struct Stream {
    Stream(std::uint32_t stream_id, std::int64_t send, std::uint32_t window, std::size_t max_message,
           Time now, BufferPool* pool)
        : id(stream_id),
          send_window(send),
          recv{window, window, 0, 0, now},
          reader(max_message, pool),
          opened(now) {}
    std::uint32_t id;
    std::int64_t send_window;  // credit the peer gave us
    RecvWindow recv;
    /// Messages queued (length prefix and body), framed lazily by poll_output as credit allows: a chunk
    /// queue, so taking bytes from the front never moves the rest.
    std::deque<std::vector<std::uint8_t>> pending;
    std::size_t pending_offset = 0;  // bytes of pending.front() already framed
    std::size_t pending_size = 0;    // bytes queued and not yet framed
    bool local_end_queued = false;   // finish() called; END_STREAM goes out once pending drains
    bool local_ended = false;
    bool remote_ended = false;
    MessageReader reader;
    /// Stall rule (watch_progress): DATA bytes received since progress_start.
    std::optional<Time> progress_start;
    std::uint64_t progress_bytes = 0;
    /// defer_consumption(): taking a message does not return its credit; consumed() does.
    bool deferred = false;
    /// Engine: the node accepted the OPEN (OPEN_ACK, or at once from a node that does not send it).
    bool accepted = false;
    Time opened;  // for FlowStats::window_ramp
};

class Core {
  public:
    /// `budget` (may be null: growth bounded by the caps only) must outlive the session. Every `Time` here
    /// is monotonic; the calls that may need calendar time too (receive, on_timeout) take both clocks.
    Core(const SessionLimits& local, Now now, WindowBudget* budget);
    virtual ~Core();
    Core(const Core&) = delete;
    Core& operator=(const Core&) = delete;

    void receive(std::span<const std::uint8_t> bytes, Now now);
    /// Reads the frames that arrived while input_paused() was true (bytes stay in the decoder meanwhile).
    void resume_input(Now now);
    /// Everything there is to send (control frames, then DATA as far as credit allows).
    std::vector<std::uint8_t> take_output();
    /// Replaces `out`'s contents (its capacity is reused) with the control frames queued, then DATA
    /// frames round-robin across streams while `out` holds less than `max_bytes` (so at most one frame
    /// more). Control frames never wait behind DATA: DATA is framed only here, at the last moment.
    void poll_output(std::vector<std::uint8_t>& out, std::size_t max_bytes);
    /// Taking a message returns its credit. Only the timed form auto-tunes the windows: growth is judged
    /// by how fast the application consumes, so it needs the time of consumption.
    std::optional<Event> poll_event();
    std::optional<Event> poll_event(Time now);
    /// The earliest deadline, monotonic. Role deadlines kept in wall time (token expiry) are converted with
    /// the latest Now seen, so a wall step is noticed at the next receive() or on_timeout().
    std::optional<Time> next_timeout() const;
    /// Acts on every deadline that has passed by `now` and on nothing else: safe to call at any time.
    void on_timeout(Now now);

    std::error_code send_message(std::uint32_t id, std::span<const std::uint8_t> body);
    std::error_code finish(std::uint32_t id);
    /// ERROR on the stream (with a retry delay and a detail when given), then stream_reset (local) and
    /// stream_closed. Nothing on a stream that is gone or a closed session.
    void reset(std::uint32_t id, errc code, std::string_view message,
               std::chrono::milliseconds retry_after = {}, std::string_view detail = {});
    /// Keepalive: PING (unless one is already out) and expect bytes within ping_timeout.
    void send_ping(Time now);
    /// Arms the stall rule on a stream (SessionLimits::stall_window, min_stream_rate).
    void watch_progress(std::uint32_t id, Time now);
    /// From now on, taking a message of stream `id` does not return its credit: the application calls
    /// consumed() once it is done with the message (written to disk), so a slow consumer holds the sender
    /// to the window instead of queueing without bound.
    void defer_consumption(std::uint32_t id);
    /// A message of `body_size` bytes taken from a deferred stream (Event::deferred) was consumed at `now`:
    /// its credit goes back (and auto-tuning counts it). The stream may be gone by then: the session's
    /// credit still returns. Call it exactly once per deferred message.
    void consumed(std::uint32_t id, std::size_t body_size, Time now);
    /// A message buffer the application is done with, kept for reuse by the next messages.
    void recycle(std::vector<std::uint8_t>&& buffer) { pool_.give(std::move(buffer)); }
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
    /// A keepalive PING is out and its deadline armed.
    bool keepalive_pending() const { return ping_deadline_.has_value(); }
    const RttEstimator& rtt() const { return rtt_; }
    FlowStats flow_stats() const;

  protected:
    /// HELLO, HELLO_ACK, OPEN, REAUTH, REAUTH_ACK: the role decides.
    virtual void on_control(const Frame& f, Now now) = 0;
    /// Whether DATA, WINDOW_UPDATE and stream frames are allowed yet (after the handshake).
    virtual bool established() const = 0;
    /// Role deadlines (HELLO, token expiry), monotonic; on_role_timeout runs when `now.mono` reaches it.
    virtual std::optional<Time> role_deadline() const { return std::nullopt; }
    virtual void on_role_timeout(Now) {}
    /// True while the role waits for an outside verdict (NodeSession's deferred admission): no frame is
    /// read, so what follows the parked one is handled after it, in order.
    virtual bool input_paused() const { return false; }
    /// Both clocks as of the latest receive() or on_timeout() (construction before either).
    const Now& latest() const { return latest_; }
    /// The peer's ERROR on stream 0.
    virtual void on_peer_error(errc code, std::string message, std::string detail,
                               std::chrono::milliseconds retry);

    void push(Event e) { events_.push_back(std::move(e)); }
    void send_frame(FrameType type, std::uint8_t flags, std::uint32_t stream,
                    std::span<const std::uint8_t> payload);
    void send_control(FrameType type, std::uint32_t stream, const google::protobuf::MessageLite& m);
    void send_stream_error(std::uint32_t stream, errc code, std::string_view message,
                           std::chrono::milliseconds retry_after = {}, std::string_view detail = {});
    /// Applies the peer's announced limits (0 fields keep the defaults).
    void set_peer_limits(const wire::Limits& l);
    void fill_limits(wire::Limits& l) const;
    Stream& add_stream(std::uint32_t id, Time now);
    Stream* find_stream(std::uint32_t id);
    void mark_established(Time now);
    /// PING opaque values; the engine injects its deterministic source in tests.
    virtual void fill_random(std::span<std::uint8_t> out);

    std::uint32_t highest_stream_id_ = 0;
    bool goaway_received_ = false;

  private:
    void read_frames(Now now);
    void bound_held_input();
    void dispatch(const Frame& f, Now now);
    void on_data(const Frame& f);
    bool begin_data(const FrameHeader& h);
    void release(Stream* s, std::uint64_t charge, std::optional<Time> now);
    void on_window_update(const Frame& f);
    void on_stream_error(const Frame& f);
    void maybe_close_stream(Stream& s);
    void replenish(Stream* s);
    void top_up(RecvWindow& w, std::uint32_t stream);
    std::optional<Event> next_event(std::optional<Time> now);
    unsigned adjust_epoch(RecvWindow& w, Time now);  // growth factor: 1 (none), 2 or 4 (startup)
    bool grow_session(std::uint64_t new_size);
    void shrink_session();
    void release_budget();
    void probe_rtt(Time now, bool replace);
    Time probe_interval() const;
    void limit_by_delay(Time sample, Time sent, Time now);
    void on_ping(const Frame& f, Time now);
    void check_progress(Stream& s, Time now);
    bool frame_data(Stream& s, std::vector<std::uint8_t>& out);
    void drop_stream(std::uint32_t id);  // erases a stream, releasing its share of the reassembly budget
    void check_drained();

    SessionLimits local_;
    SessionLimits peer_;
    FrameDecoder decoder_;
    FrameEncoder control_;  // every frame but DATA, in order; always written before any DATA
    std::deque<Event> events_;
    std::map<std::uint32_t, Stream> streams_;
    std::uint32_t next_to_serve_ = 0;  // round-robin cursor of poll_output, a stream id
    std::int64_t session_send_window_;
    RecvWindow session_recv_;
    WindowBudget* budget_;
    std::uint64_t budget_held_ = 0;  // bytes of session window growth reserved from budget_
    std::uint64_t largest_stream_window_ = 0;
    std::uint64_t growth_refused_ = 0;
    std::uint64_t delay_cuts_ = 0;     // times a stream's credit was cut to the path's delay target
    std::optional<Time> window_ramp_;  // open -> max_stream_window of the first stream that reached it
    RttEstimator rtt_;
    struct OutstandingPing {
        std::array<std::uint8_t, 8> opaque;
        Time sent;
    };
    std::optional<OutstandingPing> ping_out_;
    std::optional<Time> last_probe_;
    bool flow_activity_ = false;  // DATA or WINDOW_UPDATE seen in this receive()
    std::uint64_t received_data_bytes_ = 0;
    std::uint64_t reassembly_bytes_ = 0;  // sum of every stream's reader.buffered()
    std::uint64_t reserved_bytes_ = 0;    // sum of every stream's reader.reserved()
    BufferPool pool_;
    Now latest_;
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
