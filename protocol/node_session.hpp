// NodeSession: the node's side of one Engine connection, sans-IO (ARCHITECTURE 2). It owns no socket, no
// clock and no thread: feed it bytes and the time, send what poll_output() returns, act on poll_event(),
// and call on_timeout() at next_timeout().
//
//   session.receive(bytes, now);
//   while (auto e = session.poll_event()) { ... }
//   write(session.poll_output());
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <cyxp2p/auth/claims.hpp>
#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/auth/limits.hpp>
#include <cyxp2p/protocol/admission.hpp>
#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/event.hpp>
#include <cyxp2p/protocol/limits.hpp>
#include <cyxp2p/protocol/status.hpp>
#include <cyxp2p/protocol/window_budget.hpp>

namespace cyxp2p::auth {
class KeySource;
}
namespace cyxp2p::replay {
class NonceWindow;
}
namespace cyxp2p::ratelimit {
class KeyedLimiter;
}

namespace cyxp2p::protocol {

struct NodeConfig {
    std::string node_id;  // must equal the token's node_id claim
    std::string node_version = "cyxp2p/0.1";
    std::string issuer{auth::kDefaultIssuer};
    std::int64_t leeway_s = auth::Limits{}.default_leeway_s;  // 0 .. auth::Limits::max_leeway_s
    SessionLimits limits{};
};

/// State shared by every session of a node. All of it must outlive the sessions and be thread-safe when
/// sessions run on several threads (NonceWindow and KeyedLimiter are).
struct NodeServices {
    /// Verifies P2P tokens (required). Read for every HELLO and REAUTH, so a set replaced while the session
    /// runs applies to its next REAUTH; told of an unknown kid so a fetching source can refetch.
    const auth::KeySource* keys = nullptr;
    replay::NonceWindow* nonces = nullptr;                   // HELLO, OPEN and REAUTH nonces (required)
    ratelimit::KeyedLimiter* requests_per_peer = nullptr;    // stream opens per token subject (optional)
    ratelimit::KeyedLimiter* requests_per_method = nullptr;  // stream opens per method (optional)
    /// Fleet mode (docs/fleet.md): the replay and rate-limit checks above are decided by the owner instead
    /// (`nonces` and the limiters are then not used and may be null). A HELLO, REAUTH or OPEN that passed
    /// every other check is parked: the session emits Event::Kind::admission and reads no further frame
    /// until admit() brings the verdict, so requests still complete in the order they arrived.
    bool deferred_admission = false;
    /// The scope a registered method requires, or nullopt when no handler has `method` (unknown_method).
    /// Unset: auth's method table (auth::required_scope).
    std::function<std::optional<std::string>(std::string_view method)> method_scope;
    /// Extra checks on a verified token before HELLO_ACK (net/ binds cnf.x5t#S256 to the client certificate).
    /// Return an error (and optionally a detail) to refuse.
    std::function<std::error_code(const auth::Claims&, std::string& detail)> accept_token;
    /// Budget for receive-window growth shared by the node's sessions (optional: the caps alone bound it).
    WindowBudget* window_budget = nullptr;
};

class NodeSession {
  public:
    /// `now.mono` starts the HELLO deadline. Tokens are checked against `wall` (HELLO, REAUTH, and the token
    /// expiry deadline), request timestamps against the replay window in `wall`; rate limits, deadlines and
    /// flow control use `mono`. Throws std::invalid_argument when a required service is missing.
    NodeSession(const NodeConfig& config, const NodeServices& services, Now now);
    ~NodeSession();
    NodeSession(NodeSession&&) noexcept;
    NodeSession& operator=(NodeSession&&) noexcept;

    void receive(std::span<const std::uint8_t> bytes, Now now);
    /// Bytes to send to the engine, coalesced; empty when there are none.
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

    /// The verdict on the request of the last Event::Kind::admission (deferred_admission only): completes
    /// the parked HELLO, REAUTH or OPEN (or refuses it with the verdict's code), then reads the frames that
    /// arrived meanwhile. Ignored when nothing is parked (the session closed in the meantime).
    void admit(const AdmissionVerdict& verdict, Now now);
    /// A request is parked, waiting for admit().
    bool awaiting_admission() const;

    /// Queues one message on a stream the engine opened; sent as flow control allows.
    std::error_code send_message(std::uint32_t stream_id, std::span<const std::uint8_t> body);
    /// No more messages from the node on this stream (END_STREAM once the queue drains).
    std::error_code finish(std::uint32_t stream_id);
    void reset(std::uint32_t stream_id, errc code, std::string_view message);
    /// The same with every field of `status` in the ERROR (code, message, retry_after, detail). Text the
    /// engine would refuse is made fit first: cut to TextLimits::error_message / error_detail bytes on a
    /// UTF-8 boundary, control characters and invalid bytes replaced. A status without a code resets with
    /// internal: a reset is never a success.
    void reset(std::uint32_t stream_id, const Status& status);
    /// Graceful stop: GOAWAY, no new streams, open streams until drain_timeout.
    void go_away(Now now, errc code = errc::going_away, std::string_view message = "node shutting down");
    void close(errc code, std::string_view message);

    /// Counts the next OPENs against these limiters instead of NodeServices' (either may be null: no such
    /// limit). The caller keeps them alive while the session uses them.
    void set_request_limiters(ratelimit::KeyedLimiter* per_peer, ratelimit::KeyedLimiter* per_method);

    /// Bytes queued on a stream and not yet sent (backpressure: stop producing above a threshold).
    std::size_t pending_bytes(std::uint32_t stream_id) const;
    bool authenticated() const;
    bool closed() const;
    /// GOAWAY went out (go_away(), or the token expired without REAUTH): no new streams, open ones drain.
    bool draining() const;
    /// The current token's claims, once authenticated.
    const auth::Claims* claims() const;
    /// RTT and window state (docs/protocol.md section 6).
    FlowStats flow_stats() const;

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cyxp2p::protocol
