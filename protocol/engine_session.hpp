// EngineSession: the engine's side of one Node connection, sans-IO. Sends HELLO at construction; streams
// can be opened once the `ready` event arrived.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/event.hpp>
#include <cyxp2p/protocol/limits.hpp>
#include <cyxp2p/protocol/window_budget.hpp>

namespace cyxp2p::protocol {

struct EngineConfig {
    std::string token;  // the P2P token for this node
    std::string engine_version = "cyxp2p/0.1";
    std::string expected_node_id;  // when set, HELLO_ACK must name this node
    SessionLimits limits{};
    /// Fills nonces. Unset: OpenSSL's CSPRNG. Tests inject a deterministic one.
    std::function<void(std::span<std::uint8_t>)> random;
    /// Process-wide budget for receive-window growth (may be null: the caps alone bound it). Must outlive
    /// the session.
    WindowBudget* window_budget = nullptr;
};

class EngineSession {
  public:
    /// Queues HELLO (nonce, `now.wall` as its timestamp) and starts the handshake deadline (`now.mono`).
    /// OPEN and REAUTH are stamped with `wall` too; every deadline runs on `mono`.
    EngineSession(EngineConfig config, Now now);
    ~EngineSession();
    EngineSession(EngineSession&&) noexcept;
    EngineSession& operator=(EngineSession&&) noexcept;

    void receive(std::span<const std::uint8_t> bytes, Now now);
    /// Everything there is to send.
    std::vector<std::uint8_t> poll_output();
    /// Replaces `out`'s contents (capacity reused): control frames, then DATA up to about `max_bytes`.
    void poll_output(std::vector<std::uint8_t>& out, std::size_t max_bytes);
    /// Pass the time when there is one: window auto-tuning judges how fast the application consumes.
    std::optional<Event> poll_event();
    std::optional<Event> poll_event(Now now);
    /// The earliest deadline on the monotonic clock (Now::mono); on_timeout() may be called at any time and
    /// acts only on deadlines `now` has passed.
    std::optional<Time> next_timeout() const;
    void on_timeout(Now now);

    /// Opens a stream for `method` (OPEN with a fresh nonce and `now`). Errors: closed, protocol_violation
    /// (before ready), going_away (after GOAWAY), too_many_streams (the node's limit).
    std::optional<std::uint32_t> open_stream(std::string_view method, Now now, std::error_code& ec);
    std::error_code send_message(std::uint32_t stream_id, std::span<const std::uint8_t> body);
    std::error_code finish(std::uint32_t stream_id);
    void reset(std::uint32_t stream_id, errc code, std::string_view message);
    /// Presents a fresh token before the current one expires (REAUTH); `reauthenticated` reports the answer.
    std::error_code reauth(std::string token, Now now);
    void ping(Now now);
    /// Arms the stall rule on a stream (SessionLimits::stall_window / min_stream_rate): below the rate it is
    /// reset with `stalled`. For streams that must keep moving, such as a content fetch.
    void watch_progress(std::uint32_t stream_id, Now now);
    /// Backpressure from a consumer slower than the link (a disk writer): from now on a message taken
    /// from `stream_id` (Event::deferred) keeps its credit until consumed() is called for it, so the node
    /// can never have more than the stream's window of it waiting here. Call before data arrives.
    void defer_consumption(std::uint32_t stream_id);
    /// The application is done with a deferred message of `body_size` bytes (written, or dropped): its
    /// credit goes back, and window auto-tuning counts it as consumed at `now`. Exactly once per message.
    void consumed(std::uint32_t stream_id, std::size_t body_size, Now now);
    /// Hands a message body's buffer back once the application is done with it: the session reassembles
    /// later messages in it (up to SessionLimits::message_pool_bytes kept) instead of allocating anew.
    void recycle(std::vector<std::uint8_t>&& buffer);
    /// Orderly close: GOAWAY, then close when open streams finished or drain_timeout passed.
    void close(Now now);
    /// Ends the session now: ERROR `code` on stream 0, every open stream dropped (the owner's drain bound
    /// ran out). Reported as Event::Kind::closed with `code`.
    void abort(errc code, std::string_view message);

    std::size_t pending_bytes(std::uint32_t stream_id) const;
    bool ready() const;
    bool closed() const;
    /// What HELLO_ACK said, once ready.
    const HandshakeInfo* handshake() const;
    /// RTT and window state (docs/protocol.md section 6).
    FlowStats flow_stats() const;

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cyxp2p::protocol
