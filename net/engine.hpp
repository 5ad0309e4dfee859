// Engine: the dialling side. Connects to a node with a pin set (or the pin the token vouches for, when the
// caller allows it), runs the TLS 1.3 + HELLO handshake under deadlines, and gives back a Connection whose
// operations follow Asio's completion-token model: callbacks, use_awaitable and use_future all work.
//
//   net::Engine engine(io.get_executor());
//   engine.async_connect({.host = "127.0.0.1", .port = 7400, .pins = pins, .token = token},
//       [](std::error_code ec, std::shared_ptr<net::Connection> c) { ... });
//
// Every completion runs on the handler's associated executor (by default the Engine's). Reconnecting is
// the caller's decision: on an error, call async_connect again (with backoff; honour ConnectReport::
// retry_after when the node rate-limited us). docs/net.md shows the pattern.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <cyxp2p/content/limits.hpp>
#include <cyxp2p/net/audit.hpp>
#include <cyxp2p/net/clock.hpp>
#include <cyxp2p/net/detail/asio.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/limits.hpp>
#include <cyxp2p/net/metrics.hpp>
#include <cyxp2p/net/tls_info.hpp>
#include <cyxp2p/pinning/identity.hpp>
#include <cyxp2p/pinning/pin_set.hpp>
#include <cyxp2p/protocol/event.hpp>
#include <cyxp2p/protocol/limits.hpp>
#include <cyxp2p/protocol/window_budget.hpp>

namespace cyxp2p::net {

namespace asio = boost::asio;

struct EngineOptions {
    std::chrono::milliseconds connect_timeout = Limits{}.connect_timeout;
    std::chrono::milliseconds tls_timeout = Limits{}.tls_timeout;
    std::chrono::milliseconds shutdown_timeout = Limits{}.shutdown_timeout;
    protocol::SessionLimits session{};
    std::string engine_version = "cyxp2p-engine/0.1";
    /// mTLS: present this certificate, for tokens bound to it with cnf.x5t#S256 (RFC 8705).
    std::optional<pinning::Identity> client_identity;
    /// TLS sessions kept for resumption, keyed by (node, pin set).
    std::size_t session_cache_size = Limits{}.session_cache_size;
    /// Limits of fetched DAGs (block size, depth, links) and of their resume state (checkpoint interval,
    /// record budget): content/limits.hpp, docs/content.md.
    content::Limits content{};
    /// Receives pin_mismatch and content_rejected events (may be null).
    std::shared_ptr<AuditSink> audit{};
    /// Budget for receive-window growth shared with other sessions (docs/net.md); null: the process's
    /// (process_window_budget(), 1/8 of physical RAM).
    std::shared_ptr<protocol::WindowBudget> window_budget{};
    /// Monotonic time for the sessions' deadlines, wall time for HELLO/OPEN/REAUTH timestamps and audit
    /// records (net/clock.hpp). Null: system_clock(). Tests pass a ManualClock.
    std::shared_ptr<const Clock> clock{};
};

/// Everything known about one connection attempt, filled as it goes (also on failure). For diagnostics.
struct ConnectReport {
    std::chrono::microseconds tcp_time{0}, tls_time{0}, hello_time{0};
    TlsInfo tls;
    std::string pin_check;  // "node presented sha256//X; expected one of ..." on a pin failure
    protocol::HandshakeInfo handshake;
    std::string reject_detail;  // the node's reason: auth error name, replay reason, ...
    std::chrono::milliseconds retry_after{0};
    std::string failed_phase;  // "resolve", "tcp", "tls", "hello" or empty
};

struct ConnectOptions {
    std::string host;
    std::uint16_t port = 0;
    std::optional<pinning::PinSet> pins;  // required unless pin_from_token
    /// Take the pin from the token's node_pin claim when `pins` is empty. The token is the Central Server's
    /// statement about the node, so this is as trustworthy as the channel the token came over.
    bool pin_from_token = false;
    std::string token;                      // the P2P token
    std::string expected_node_id;           // when set, HELLO_ACK must name this node
    std::shared_ptr<ConnectReport> report;  // optional: filled for diagnostics
    /// Diagnostics: stop after the pinned TLS handshake; completes with no error and no connection.
    bool tls_only = false;
};

struct FetchResult {
    std::string cid;
    std::uint64_t bytes = 0;
    std::uint64_t blocks = 0;
    std::filesystem::path path;
    std::uint64_t resumed_blocks = 0;  // held leaves (PATH.cyxp2p-partial) verified again, not downloaded
    std::string resume_discarded;  // why a resume state found at PATH was not usable (fetched from the start)
    std::string error_detail;      // on failure: the local path and system error (no_space, write_failed)
};
/// Called after each verified block with (bytes verified so far, file size once known).
using FetchProgress = std::function<void(std::uint64_t done, std::uint64_t total)>;

class ClientStream;

namespace detail {
class EngineLink;
class EngineCore;
template <class Sig, class Token, class Start>
auto initiate(asio::any_io_executor ex, Token&& token, Start start);
}  // namespace detail

class Connection {
  public:
    /// One request message, one response message (the first the node sends; further ones are an error).
    template <class Token>
    auto async_request(std::string method, std::vector<std::uint8_t> body, Token&& token);
    /// Fetches a DAG by root CID into `destination`: every block verified before its bytes are written, the
    /// file renamed into place only when the whole DAG verified; resumable (content::Download). The result
    /// is also passed on failure (error_detail, resume_discarded).
    template <class Token>
    auto async_fetch(std::string cid, std::filesystem::path destination, FetchProgress progress,
                     Token&& token);
    /// Presents a fresh token; completes with the new expiry (Unix seconds).
    template <class Token>
    auto async_reauth(std::string token, Token&& token_);
    /// PING round trip.
    template <class Token>
    auto async_ping(Token&& token);
    /// Orderly close: GOAWAY, open streams finish, close_notify.
    template <class Token>
    auto async_close(Token&& token);

    /// Opens `method` and delivers each message the node sends; `done` gets the end (ok or error).
    /// `request` is sent as the one message of the engine's side, which then ends.
    void subscribe(std::string method, std::vector<std::uint8_t> request,
                   std::function<void(std::vector<std::uint8_t>)> on_message,
                   std::function<void(std::error_code)> done);
    /// Opens a stream the engine keeps sending on (an upload, a metrics report): completes with a
    /// ClientStream whose async_send applies backpressure. Messages from the node go to `on_message`, the
    /// stream's end or failure to `done`. Callbacks run on the connection's strand.
    template <class Token>
    auto async_open_stream(std::string method, std::function<void(std::vector<std::uint8_t>)> on_message,
                           std::function<void(std::error_code)> done, Token&& token);

    const protocol::HandshakeInfo& handshake() const;
    /// The session's RTT (its own PING/PONG samples) and window state (docs/net.md); safe from any thread.
    protocol::FlowStats flow_stats() const;
    const TlsInfo& tls() const;
    bool open() const;
    /// The session re-reads EngineOptions::clock now (keepalive, idle, handshake and drain deadlines). Only
    /// needed after a ManualClock moved.
    void check_deadlines();
    asio::any_io_executor get_executor() const;

    explicit Connection(std::shared_ptr<detail::EngineLink> link);
    ~Connection();

  private:
    using RequestDone = std::function<void(std::error_code, std::vector<std::uint8_t>)>;
    using FetchDone = std::function<void(std::error_code, FetchResult)>;
    using ExpiryDone = std::function<void(std::error_code, std::int64_t)>;
    using PingDone = std::function<void(std::error_code, std::chrono::microseconds)>;
    using CloseDone = std::function<void(std::error_code)>;
    void start_request(std::string method, std::vector<std::uint8_t> body, RequestDone done);
    void start_fetch(std::string cid, std::filesystem::path dest, FetchProgress progress, FetchDone done);
    void start_reauth(std::string token, ExpiryDone done);
    void start_ping(PingDone done);
    void start_close(CloseDone done);
    using OpenDone = std::function<void(std::error_code, std::shared_ptr<ClientStream>)>;
    void start_open_stream(std::string method, std::function<void(std::vector<std::uint8_t>)> on_message,
                           std::function<void(std::error_code)> done, OpenDone opened);

    std::shared_ptr<detail::EngineLink> link_;
};

/// The engine's end of a stream it opened with Connection::async_open_stream.
class ClientStream {
  public:
    /// Queues one message; completes when the stream's queue is below
    /// EngineOptions::session.producer_high_water again (default 1 MiB),
    /// so a producer that waits for each completion never holds more than that in memory.
    template <class Token>
    auto async_send(std::vector<std::uint8_t> message, Token&& token);
    /// No more messages from the engine on this stream.
    void finish();
    /// Resets the stream.
    void cancel();
    std::uint32_t id() const { return id_; }
    asio::any_io_executor link_executor() const;

    ClientStream(std::shared_ptr<detail::EngineLink> link, std::uint32_t id)
        : link_(std::move(link)), id_(id) {}

  private:
    void start_send(std::vector<std::uint8_t> message, std::function<void(std::error_code)> done);
    std::shared_ptr<detail::EngineLink> link_;
    std::uint32_t id_;
};

class Engine {
  public:
    explicit Engine(asio::any_io_executor executor, EngineOptions options = {});
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    /// Completes with (error, connection). Errors: net::errc (connect_failed, connect_timeout, tls_timeout,
    /// tls_failed, connection_lost), pinning::errc (pin_mismatch, pins_expired, no_pins_configured,
    /// not_tls13, alpn_mismatch), protocol::errc (token_rejected, replayed, wrong_node, ...).
    template <class Token>
    auto async_connect(ConnectOptions options, Token&& token);

    asio::any_io_executor get_executor() const { return executor_; }
    const EngineMetrics& metrics() const;

  private:
    using ConnectDone = std::function<void(std::error_code, std::shared_ptr<Connection>)>;
    void start_connect(ConnectOptions options, ConnectDone done);

    asio::any_io_executor executor_;
    std::shared_ptr<detail::EngineCore> core_;
};

}  // namespace cyxp2p::net

#include <cyxp2p/net/impl/engine.hpp>
