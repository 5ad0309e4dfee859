// Node: the listening side. Accepts Engines over TLS 1.3 (its identity's key, ALPN cyx-p2p/1), admits each
// connection through the ConnectionLimiter, runs a protocol::NodeSession per connection on one of N I/O
// threads, and dispatches streams to registered method handlers. Serves content.fetch from a Blockstore
// out of the box.
//
//   net::Node node(std::move(options));
//   node.handle_unary("job.submit", "job:execute", [](const net::Request& r, std::error_code& ec) {
//       return protocol::encode(protocol::Outcome{});   // or set ec to refuse
//   });
//   if (auto ec = node.start()) ...;            // binds and listens
//   ...
//   node.stop();                                // GOAWAY, drain, close_notify, join
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <typeinfo>
#include <utility>
#include <vector>

#include <cyxp2p/auth/claims.hpp>
#include <cyxp2p/auth/key_source.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/auth/limits.hpp>
#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/net/admission.hpp>
#include <cyxp2p/net/audit.hpp>
#include <cyxp2p/net/clock.hpp>
#include <cyxp2p/net/limits.hpp>
#include <cyxp2p/net/metrics.hpp>
#include <cyxp2p/pinning/identity.hpp>
#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/limits.hpp>
#include <cyxp2p/protocol/status.hpp>
#include <cyxp2p/protocol/window_budget.hpp>
#include <cyxp2p/ratelimit/limits.hpp>
#include <cyxp2p/replay/limits.hpp>

namespace cyxp2p::net {

struct NodeOptions {
    pinning::Identity identity;  // the node's key and certificate (required)
    /// Verifies P2P tokens: a fixed set in `keys`, or a set that changes while sessions run in `key_source`
    /// (auth::KeySet, auth::FileKeySource, net::JwksUrlSource). Exactly one is required.
    std::shared_ptr<const auth::Keyring> keys;
    std::shared_ptr<const auth::KeySource> key_source{};
    std::string listen_address = "127.0.0.1";
    std::uint16_t port = 0;  // 0: any free port (see local_port())
    unsigned threads = 1;    // I/O threads, one io_context each
    std::string issuer{auth::kDefaultIssuer};
    std::int64_t leeway_s = auth::Limits{}.default_leeway_s;  // 0 .. auth::Limits::max_leeway_s
    protocol::SessionLimits session{};
    ratelimit::Limits rate{};
    replay::Limits replay{};
    std::chrono::milliseconds tls_handshake_timeout = Limits{}.tls_handshake_timeout;
    std::chrono::milliseconds shutdown_timeout = Limits{}.shutdown_timeout;  // for the peer's close_notify
    std::optional<content::Blockstore> content{};                            // serve content.fetch from here
    unsigned content_readers = Limits{}.content_readers;                     // threads reading blocks
    std::size_t content_read_ahead = Limits{}.content_read_ahead;            // per fetch stream
    std::shared_ptr<AuditSink> audit{};                                      // may be null
    /// Budget for receive-window growth shared with other sessions (docs/net.md); null: the process's
    /// (process_window_budget(), 1/8 of physical RAM).
    std::shared_ptr<protocol::WindowBudget> window_budget{};
    /// Monotonic time for deadlines and rate limits, wall time for tokens, replay timestamps and audit
    /// records (net/clock.hpp). Null: system_clock(). Tests pass a ManualClock.
    std::shared_ptr<const Clock> clock{};
    /// Fleet mode (docs/fleet.md): the replay windows and the per-peer and per-method limits live in this
    /// Redis, shared by every node with the same identity. Unset: in-process windows, as before.
    std::optional<FleetOptions> fleet{};
};

/// The limits a running node can change without dropping a session (Node::update_limits; docs/operations.md
/// "Reload (SIGHUP)" says which settings are live and why the others are not). The defaults are the ones
/// NodeOptions gets from ratelimit::Limits and protocol::SessionLimits.
struct LiveLimits {
    /// Stream opens per token subject and per method: the next OPEN of every session, open ones included,
    /// is counted against the new rate. A changed rate starts with full buckets (at its burst); an
    /// unchanged one keeps its state.
    ratelimit::Rate requests_per_peer = ratelimit::Limits{}.requests_per_peer.rate;
    ratelimit::Rate requests_per_method = ratelimit::Limits{}.requests_per_method.rate;
    /// Concurrent connections, all addresses and per IPv4 /32 or IPv6 /64: checked at the next accept. A
    /// lowered cap closes nobody; it refuses new connections until enough have gone. 1 ..
    /// ratelimit::ConnectionLimits::max_tracked_addresses (the address table is sized once, at start).
    std::size_t max_connections = ratelimit::ConnectionLimits{}.max_connections;
    std::size_t max_connections_per_address = ratelimit::ConnectionLimits{}.max_connections_per_address;
    /// Concurrent streams announced in HELLO_ACK to sessions that start after the change (an open session
    /// keeps the number it was told: the engine holds it). At least 1.
    std::uint32_t max_concurrent_streams = protocol::SessionLimits{}.max_concurrent_streams;

    /// The live part of `options` (what a node starts with).
    static LiveLimits of(const NodeOptions& options);
};

/// How a stream ended, as MethodHandlers::on_close reports it.
struct StreamEnd {
    enum class Reason {
        finished,         // both sides finished sending; `status` is ok
        reset_by_engine,  // the engine sent ERROR on the stream (its code, message, retry_after)
        failed,           // the node reset it: ServerStream::fail, a handler that threw, a queued send that
                          // failed, or a local check (stall rule, message_too_large, ...)
        session_closed,   // the session ended under it: the engine closed, the connection was lost, the
                          // drain time ran out, the token expired
        node_stopping,    // Node::stop cut it (after its drain), or the node was destroyed
    };
    Reason reason = Reason::finished;
    /// The code and message of the ERROR that ended the stream, or of the session's end (session_closed:
    /// the session's error; a lost connection is protocol::errc::closed with the transport's message).
    protocol::Status status{};
};
const char* to_string(StreamEnd::Reason r) noexcept;

/// One stream an engine opened, as a handler sees it.
///
/// Threads: every handler callback runs on the connection's thread (one per connection; a node's
/// connections are spread over its I/O threads). send(), finish(), fail(), closed(), post() and
/// on_writable() may be called from any thread: on the connection's thread they act at once; elsewhere
/// they are queued to it, in call order. pending_bytes() and the state accessors belong to the
/// connection's thread (inside a callback, or in a function given to post()).
///
/// Lifetime: a StreamPtr may be kept anywhere and as long as wanted; once the stream is closed its
/// operations return errc::not_connected. MethodHandlers::on_close is the one end notification.
class ServerStream {
  public:
    virtual ~ServerStream() = default;
    virtual std::uint32_t id() const = 0;
    virtual const std::string& method() const = 0;
    /// The claims of the token the stream was opened with (a later REAUTH does not change them).
    virtual const auth::Claims& claims() const = 0;
    /// The same claims, shared: valid for as long as the caller holds them, past the stream's end.
    virtual std::shared_ptr<const auth::Claims> shared_claims() const = 0;
    virtual const std::string& peer() const = 0;
    /// Queues one message (a msgpack body, copied); flow control decides when it leaves. Any thread.
    /// errc::not_connected once the stream is closed; off the connection's thread an error found when
    /// the queued message reaches the session (too large, after finish()) fails the stream instead, and
    /// on_close reports it (reason failed).
    virtual std::error_code send(std::span<const std::uint8_t> message) = 0;
    /// No more messages on this stream (END_STREAM once the queue drains). Any thread, as send().
    virtual std::error_code finish() = 0;
    /// Resets the stream: ERROR with every field of `status` (code, message for a person, retry_after,
    /// detail). Any thread. errc::not_connected once the stream is closed. on_close follows (failed).
    virtual std::error_code fail(const protocol::Status& status) = 0;
    /// Shorthand for fail(Status{code, message}).
    std::error_code fail(protocol::errc code, std::string_view message) {
        return fail(protocol::Status{.code = code, .message = std::string(message)});
    }
    /// Bytes queued on the stream and not yet sent: a producer stops above a threshold and continues in
    /// on_writable. Connection's thread (elsewhere: what was true when the connection last looked, plus
    /// what other threads queued since).
    virtual std::size_t pending_bytes() const = 0;
    /// on_close has been or is about to be delivered; nothing sent now leaves. Any thread.
    virtual bool closed() const = 0;
    /// True on the connection's thread (where callbacks run and every operation acts at once).
    virtual bool on_connection_thread() const = 0;
    /// Runs `fn` on the connection's thread (from any thread). False when the connection is gone: `fn` is
    /// dropped, and on_close has been or will be delivered. `fn` still runs after the stream closed while
    /// the connection lives (check closed()). An exception from `fn` fails the stream (internal).
    virtual bool post(std::function<void()> fn) = 0;
    /// Called on the connection's thread whenever its output has drained, until the stream closes; for
    /// producers. Any thread (set on the connection's thread in order with send()).
    virtual void on_writable(std::function<void()> fn) = 0;

    /// Per-stream state for the handler (a request being assembled, a producer), replacing any previous
    /// one. Handlers of one method run on every I/O thread at once, so state belongs to the stream, never
    /// in the handler's captures. Connection's thread. Released after on_close returns (shared_state()
    /// copies keep it alive).
    template <class T, class... Args>
    T& emplace_state(Args&&... args) {
        auto p = std::make_shared<T>(std::forward<Args>(args)...);
        T& ref = *p;
        state_slot() = {std::move(p), &typeid(T)};
        return ref;
    }
    /// The state if it is a T (exactly: emplace_state<T>), else null. Connection's thread.
    template <class T>
    T* state_if() {
        return shared_state<T>().get();
    }
    /// The state as a shared_ptr if it is a T, else null: for work that may outlive the stream.
    template <class T>
    std::shared_ptr<T> shared_state() {
        const StateSlot& s = state_slot();
        if (s.type == nullptr || *s.type != typeid(T)) return nullptr;
        return std::static_pointer_cast<T>(s.value);
    }
    /// Whether any state was set (and not yet released).
    bool has_state() { return state_slot().value != nullptr; }

  protected:
    struct StateSlot {
        std::shared_ptr<void> value;
        const std::type_info* type = nullptr;
    };
    virtual StateSlot& state_slot() = 0;
};

using StreamPtr = std::shared_ptr<ServerStream>;

/// The callbacks of a streaming method. All run on the connection's thread; each call is guarded: an
/// exception resets that stream only (errc::internal, "handler for METHOD threw in CALLBACK: what()"),
/// is audited (AuditEvent::Kind::handler_exception) and counted (Metrics::handler_exceptions).
struct MethodHandlers {
    std::function<void(const StreamPtr&)> on_open;  // optional: the stream was accepted
    std::function<void(const StreamPtr&, std::vector<std::uint8_t> message)> on_message;
    std::function<void(const StreamPtr&)> on_end;  // optional: the engine finished sending
    /// Optional: the stream ended (why, and the status). Called exactly once for every stream on_open was
    /// (or would have been) called for, whatever the path, Node::stop and a lost connection included;
    /// nothing else is called for the stream after it.
    std::function<void(const StreamPtr&, const StreamEnd&)> on_close;
    /// Optional: the session started draining (Node::stop, or the token expired without REAUTH): finish
    /// soon (checkpoint). Once per open stream; the stream keeps working until its drain time runs out.
    std::function<void(const StreamPtr&)> on_going_away;
};

/// A unary call: the request's one message, and who sent it.
struct Request {
    std::string method;
    std::vector<std::uint8_t> body;
    /// The token's claims, shared with the stream: valid as long as this Request (or a copy of the pointer)
    /// lives, also after the call was answered.
    std::shared_ptr<const auth::Claims> claims;
    std::string peer;
};
/// Returns the response message (msgpack). An error_code instead resets the stream: a protocol::errc is
/// sent as that code (with its message), anything else as handler_failed with the code's message.
using UnaryHandler = std::function<std::vector<std::uint8_t>(const Request&, std::error_code&)>;

/// The answer to one unary call, for a handler that answers later or from another thread. Copyable (the
/// copies share one call); reply() or fail() exactly once, from any thread: a second answer is refused
/// with errc::already_answered. When the last copy is destroyed unanswered, the call fails with internal
/// ("handler for METHOD dropped its responder"). An answer to a call the engine already abandoned (the
/// stream is closed) returns errc::not_connected.
class Responder {
  public:
    /// Sends `body` as the response and finishes the stream. Const: a copy captured in a lambda answers.
    std::error_code reply(std::vector<std::uint8_t> body) const;
    /// Fails the call with every field of `status` (ServerStream::fail).
    std::error_code fail(const protocol::Status& status) const;
    /// Shorthand for fail(Status{code, message}).
    std::error_code fail(protocol::errc code, std::string_view message) const {
        return fail(protocol::Status{.code = code, .message = std::string(message)});
    }
    /// Whether reply() or fail() was called (on any copy).
    bool answered() const;
    /// The stream the call arrived on.
    const StreamPtr& stream() const;

    class Call;  // the shared state (impl/server_stream.cpp)
    explicit Responder(std::shared_ptr<Call> call) : call_(std::move(call)) {}

  private:
    std::shared_ptr<Call> call_;
};
/// A unary handler that answers through its Responder, now or later.
using AsyncUnaryHandler = std::function<void(Request, Responder)>;

class Node {
  public:
    /// Throws std::invalid_argument for a missing keyring, zero threads or (with content) zero content
    /// readers or read-ahead, std::system_error when the TLS context cannot be built.
    explicit Node(NodeOptions options);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    /// Registers `method`, callable by tokens whose scope includes `scope`. Before start() only. A method of
    /// the protocol's table (auth::required_scope: job.submit, metrics.subscribe, ...) must be registered
    /// with the scope the table gives it: another one throws std::invalid_argument.
    void handle(std::string method, std::string scope, MethodHandlers handlers);
    /// One request message in, one response message out, answered before the handler returns.
    void handle_unary(std::string method, std::string scope, UnaryHandler handler);
    /// One request message in; the handler answers through the Responder, from any thread, when it can.
    void handle_unary(std::string method, std::string scope, AsyncUnaryHandler handler);

    /// Binds, listens and starts the I/O threads. errc::address_in_use when the port is taken.
    std::error_code start();
    std::uint16_t local_port() const;
    /// Graceful stop: stop accepting, GOAWAY every session (MethodHandlers::on_going_away for each open
    /// stream), let streams finish for up to `drain` (a session's own session.drain_timeout still ends it
    /// earlier), then cut every stream still open (on_close: node_stopping), send close_notify (waiting at
    /// most shutdown_timeout for the peer's), close hard what is left, join the threads. Returns within
    /// about drain + shutdown_timeout, whatever the handlers do (a function they post() after the
    /// connection is gone is dropped). No transfer runs past `drain`. Not from one of the node's threads.
    void stop(std::chrono::milliseconds drain);
    /// stop(options.session.drain_timeout).
    void stop();

    /// Every session re-reads options.clock now and acts on the deadlines that passed (idle, ping, drain,
    /// token expiry); returns when all of them have. Only needed after a ManualClock moved (the timers
    /// follow the real clocks). Not from one of the node's I/O threads: it waits for them.
    void check_deadlines();

    const Metrics& metrics() const;
    const std::string& node_id() const;
    /// New connections present `identity`'s certificate (a renewed certificate, or a new key whose pin
    /// engines already hold as a backup pin); sessions already open keep theirs. Thread-safe, any time.
    /// The node_id must stay the same (errc::node_id_changed: tokens name it; restart for a new one);
    /// a context that cannot be built is pinning's crypto_failure. On error nothing changes.
    std::error_code replace_identity(const pinning::Identity& identity);
    std::size_t open_connections() const;

    /// Replaces the live limits while sessions run (thread-safe, any time, also before start()). Returns
    /// when every open session counts its next OPEN against the new rates, so a caller that then opens a
    /// stream is judged by them. Not from one of the node's I/O threads: it waits for them.
    /// errc::limits_out_of_range (nothing changes) for a rate ratelimit::Rate cannot honour, a connection
    /// cap of 0 or above the address table's size, or zero streams.
    std::error_code update_limits(const LiveLimits& limits);
    /// The live limits in force now.
    LiveLimits limits() const;

    class Impl;  // public name, private definition (impl/node_impl.hpp)

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace cyxp2p::net
