// Node: the listening side. Accepts Engines over TLS 1.3 (its identity's key, ALPN cyx-p2p/1), admits each
// connection through the ConnectionLimiter, runs a protocol::NodeSession per connection on one of N I/O
// threads, and dispatches streams to registered method handlers. Serves content.fetch from a Blockstore
// out of the box.
//
//   net::Node node(std::move(options));
//   node.handle_unary("job.submit", "job:execute", [](const net::Request& r) { return reply(r); });
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
#include <vector>

#include <cyxp2p/auth/claims.hpp>
#include <cyxp2p/auth/key_source.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/auth/limits.hpp>
#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/net/audit.hpp>
#include <cyxp2p/net/clock.hpp>
#include <cyxp2p/net/limits.hpp>
#include <cyxp2p/net/metrics.hpp>
#include <cyxp2p/pinning/identity.hpp>
#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/limits.hpp>
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

/// One stream an engine opened, as a handler sees it. Methods must be called on the connection's thread
/// (inside a handler callback, or in a function given to post()).
class ServerStream {
  public:
    virtual ~ServerStream() = default;
    virtual std::uint32_t id() const = 0;
    virtual const std::string& method() const = 0;
    virtual const auth::Claims& claims() const = 0;
    virtual const std::string& peer() const = 0;
    /// Queues one message (a msgpack body); flow control decides when it leaves.
    virtual std::error_code send(std::span<const std::uint8_t> message) = 0;
    /// No more messages on this stream.
    virtual std::error_code finish() = 0;
    /// Resets the stream with a code and a message for a person.
    virtual void fail(protocol::errc code, std::string_view message) = 0;
    /// Bytes queued and not yet sent: a producer stops above a threshold and continues in on_writable.
    virtual std::size_t pending_bytes() const = 0;
    virtual bool closed() const = 0;
    /// Runs `fn` on the connection's thread (from any thread). Dropped if the connection is gone.
    virtual void post(std::function<void()> fn) = 0;
    /// Called on the connection's thread whenever its output has drained; for producers.
    virtual void on_writable(std::function<void()> fn) = 0;
    /// Per-stream state for the handler (a request being assembled, a producer). Handlers of one method run
    /// on every I/O thread at once, so state belongs to the stream, never in the handler's captures.
    virtual std::shared_ptr<void>& state() = 0;
};

using StreamPtr = std::shared_ptr<ServerStream>;

struct MethodHandlers {
    std::function<void(const StreamPtr&)> on_open;  // optional
    std::function<void(const StreamPtr&, std::vector<std::uint8_t> message)> on_message;
    std::function<void(const StreamPtr&)> on_end;                     // engine finished sending
    std::function<void(const StreamPtr&, std::error_code)> on_reset;  // optional
};

/// A unary call: the request's one message, and who sent it.
struct Request {
    std::string method;
    std::vector<std::uint8_t> body;
    const auth::Claims* claims;
    std::string peer;
};
/// Returns the response message (msgpack). An error_code instead resets the stream with handler_failed.
using UnaryHandler = std::function<std::vector<std::uint8_t>(const Request&, std::error_code&)>;

class Node {
  public:
    /// Throws std::invalid_argument for a missing keyring, zero threads or (with content) zero content
    /// readers or read-ahead, std::system_error when the TLS context cannot be built.
    explicit Node(NodeOptions options);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    /// Registers `method`, callable by tokens whose scope includes `scope`. Before start() only.
    void handle(std::string method, std::string scope, MethodHandlers handlers);
    /// One request message in, one response message out.
    void handle_unary(std::string method, std::string scope, UnaryHandler handler);

    /// Binds, listens and starts the I/O threads. errc::address_in_use when the port is taken.
    std::error_code start();
    std::uint16_t local_port() const;
    /// Graceful stop: stop accepting, GOAWAY every session, let streams finish for up to
    /// NodeOptions::session.drain_timeout (the one drain knob), then cut every stream still open, send
    /// close_notify (waiting at most shutdown_timeout for the peer's), close hard what is left, join the
    /// threads. No transfer runs past the drain timeout.
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
    void stop_within(std::chrono::milliseconds drain);
    std::unique_ptr<Impl> impl_;
};

}  // namespace cyxp2p::net
