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
#include <cyxp2p/protocol/status.hpp>
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

/// What a unary call gives back (Connection::async_call): the node's one response message, and how the
/// call ended: on an error `status` holds the node's code, message, retry delay and detail (a refusal:
/// unknown_method, forbidden naming the scope, rate_limited with retry_after; a handler's failure).
struct Reply {
    std::vector<std::uint8_t> body;
    protocol::Status status;
};

class ClientStream;

namespace detail {
class EngineLink;
class EngineCore;
struct StreamState;
template <class Sig, class Token, class Start>
auto initiate(asio::any_io_executor ex, Token&& token, Start start);
}  // namespace detail

class Connection {
  public:
    /// One request message, one response message (the first the node sends; further ones are an error).
    /// Completes with (error, response); async_call gives the error's details too.
    template <class Token>
    auto async_request(std::string method, std::vector<std::uint8_t> body, Token&& token);
    /// As async_request, completing with (error, Reply): on an error, Reply::status carries what the node
    /// said (code, message, retry_after, detail); `error` is status.error(), or a local/transport code
    /// (net::errc::not_connected, connection_lost) with status.code closed.
    template <class Token>
    auto async_call(std::string method, std::vector<std::uint8_t> body, Token&& token);
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
    /// Orderly close: GOAWAY, open streams get up to `drain` (real time) to finish, then those still open
    /// are cut (the session ends with ERROR going_away) and close_notify is bounded by
    /// EngineOptions::shutdown_timeout, so it completes within drain + shutdown_timeout (+ the write).
    /// Completes with (error, streams cut): net::errc::not_connected when the connection was already
    /// closed (or another close is under way). Every stream ends (its callbacks and pending operations
    /// complete) before this completes; after it no stream callback runs and no message is delivered.
    template <class Token>
    auto async_close(std::chrono::milliseconds drain, Token&& token);
    /// async_close with EngineOptions::session.drain_timeout as the drain, completing with the error only.
    template <class Token>
    auto async_close(Token&& token);

    /// Opens `method` and delivers each message the node sends; `done` gets the end (ok or error).
    /// `request` is sent as the one message of the engine's side, which then ends.
    void subscribe(std::string method, std::vector<std::uint8_t> request,
                   std::function<void(std::vector<std::uint8_t>)> on_message,
                   std::function<void(std::error_code)> done);
    /// Opens a stream the engine keeps sending on (an upload, a metrics report): completes with a
    /// ClientStream whose async_send applies backpressure, once the node accepted the stream (OPEN_ACK). A
    /// refusal completes with its code (unknown_method, forbidden, rate_limited, ...) and a stream whose
    /// status() holds the node's details; a local failure (not_connected, going_away, too_many_streams)
    /// with a null stream. Messages from the node go to `on_message`, the stream's end or failure to
    /// `done`; both are optional (without `on_message` the messages wait for ClientStream::async_read).
    /// Callbacks run on the connection's strand.
    template <class Token>
    auto async_open_stream(std::string method, std::function<void(std::vector<std::uint8_t>)> on_message,
                           std::function<void(std::error_code)> done, Token&& token);
    /// async_open_stream without callbacks: read the node's messages with ClientStream::async_read.
    template <class Token>
    auto async_open_stream(std::string method, Token&& token);
    /// subscribe() as an operation: sends `request` as the engine's one message, ends the engine's side, and
    /// completes like async_open_stream(method, token) with a stream to async_read the node's messages from.
    template <class Token>
    auto async_subscribe(std::string method, std::vector<std::uint8_t> request, Token&& token);

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
    using CloseDone = std::function<void(std::error_code, std::size_t)>;
    using CallDone = std::function<void(std::error_code, Reply)>;
    void start_request(std::string method, std::vector<std::uint8_t> body, RequestDone done);
    void start_call(std::string method, std::vector<std::uint8_t> body, CallDone done);
    void start_fetch(std::string cid, std::filesystem::path dest, FetchProgress progress, FetchDone done);
    void start_reauth(std::string token, ExpiryDone done);
    void start_ping(PingDone done);
    void start_close(std::optional<std::chrono::milliseconds> drain, CloseDone done);
    using OpenDone = std::function<void(std::error_code, std::shared_ptr<ClientStream>)>;
    void start_open_stream(std::string method, std::function<void(std::vector<std::uint8_t>)> on_message,
                           std::function<void(std::error_code)> done, OpenDone opened,
                           std::optional<std::vector<std::uint8_t>> request = std::nullopt);

    std::shared_ptr<detail::EngineLink> link_;
};

/// The engine's end of a stream it opened with Connection::async_open_stream or async_subscribe. Its
/// operations may be started from any thread; they complete on the token's associated executor.
class ClientStream {
  public:
    /// Queues one message; completes when the stream's queue is below
    /// EngineOptions::session.producer_high_water again (default 1 MiB),
    /// so a producer that waits for each completion never holds more than that in memory.
    template <class Token>
    auto async_send(std::vector<std::uint8_t> message, Token&& token);
    /// The node's next message: completes with (error, message). At the orderly end of the node's side,
    /// once every message was read: net::errc::end_of_stream. When the stream failed: its code (status()
    /// has the details). One read at a time (a second one: net::errc::read_in_progress). Messages not
    /// yet read keep their flow-control credit, so a slow reader holds at most the stream's receive
    /// window (SessionLimits::max_stream_window) and the node waits. Only for streams opened without an
    /// `on_message` callback (with one, the callback gets every message and a read only sees the end).
    template <class Token>
    auto async_read(Token&& token);
    /// Ends the engine's side (as finish()) and completes once the stream is closed both ways, with
    /// (error, Status): ok when both sides ended normally, else the reset's code and the node's details.
    /// Messages the node sent meanwhile stay readable with async_read.
    template <class Token>
    auto async_finish(Token&& token);
    /// Resets the stream (cancelled) and completes once that is done: pending reads and finishes complete
    /// with errc::cancelled first. Ok also when the stream had already ended.
    template <class Token>
    auto async_cancel(Token&& token);
    /// No more messages from the engine on this stream.
    void finish();
    /// Resets the stream.
    void cancel();
    /// How the stream ended: code 0 while it runs or after a normal end, else the reset's code with the
    /// node's message, retry_after and detail (a refusal of the OPEN too). Any thread.
    protocol::Status status() const;
    std::uint32_t id() const { return id_; }
    asio::any_io_executor link_executor() const;

    ClientStream(std::shared_ptr<detail::EngineLink> link, std::uint32_t id,
                 std::shared_ptr<detail::StreamState> state = nullptr)
        : link_(std::move(link)), id_(id), state_(std::move(state)) {}

  private:
    using ReadDone = std::function<void(std::error_code, std::vector<std::uint8_t>)>;
    using FinishDone = std::function<void(std::error_code, protocol::Status)>;
    void start_send(std::vector<std::uint8_t> message, std::function<void(std::error_code)> done);
    void start_read(ReadDone done);
    void start_finish(FinishDone done);
    void start_cancel(std::function<void(std::error_code)> done);
    std::shared_ptr<detail::EngineLink> link_;
    std::uint32_t id_;
    std::shared_ptr<detail::StreamState> state_;
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
