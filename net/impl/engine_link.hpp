// The engine's private state (EngineCore: options, metrics, TLS context, session cache) and EngineLink: one
// connection's glue between a TLS stream and a protocol::EngineSession. Everything on EngineLink runs on
// the connection's strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <cyxp2p/net/detail/link.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/impl/session_cache.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>
#include <cyxp2p/protocol/engine_session.hpp>
#include <cyxp2p/protocol/status.hpp>

namespace cyxp2p::net::detail {

class EngineCore {
  public:
    explicit EngineCore(EngineOptions o);
    void audit(AuditEvent e) const {
        if (!options.audit) return;
        e.time_ms = std::chrono::floor<std::chrono::milliseconds>(options.clock->wall()).count();
        options.audit->record(e);
    }

    EngineOptions options;
    EngineMetrics metrics;
    SessionCache cache;
    pinning::SslCtxPtr native;
    std::unique_ptr<asio::ssl::context> tls;
};

struct StreamOp {
    /// Optional. Unset: the stream's messages are held, with their flow-control credit, for async_read.
    std::function<void(std::vector<std::uint8_t>)> on_message;
    std::function<void(std::error_code)> on_done;  // optional; ok when the node ended the stream normally
    /// Optional: once, ok when the node accepted the OPEN (OPEN_ACK), else the refusal (or why it never got
    /// an answer). The refusal's details are in StreamState::status.
    std::function<void(std::error_code)> on_accepted;
};

/// One stream the engine opened, on the strand; ClientStream shares it to read and to learn how it ended.
struct StreamState {
    explicit StreamState(StreamOp o) : op(std::move(o)) {}
    StreamOp op;
    std::uint32_t id = 0;
    bool accepted = false;
    bool remote_ended = false;                   // the node finished its side
    bool over = false;                           // closed both ways, reset, or the session ended
    std::error_code error;                       // why it ended, when in error
    std::deque<std::vector<std::uint8_t>> held;  // messages not yet read (credit not yet returned)
    std::function<void(std::error_code, std::vector<std::uint8_t>)> reader;
    std::vector<std::function<void(std::error_code, protocol::Status)>> closed_waiters;

    protocol::Status status() const {
        std::lock_guard lock(mutex);
        return status_;
    }
    void set_status(protocol::Status s) {
        std::lock_guard lock(mutex);
        status_ = std::move(s);
    }

  private:
    mutable std::mutex mutex;  // status() is readable from any thread
    protocol::Status status_;
};

class EngineLink final : public Link {
  public:
    EngineLink(std::shared_ptr<EngineCore> core, TlsStream stream)
        : Link(std::move(stream), core->options.shutdown_timeout, core->options.clock),
          core_(std::move(core)) {}

    void begin(protocol::EngineConfig config, std::function<void(std::error_code)> ready);
    /// Opens a stream (sending `request` if not empty, and END_STREAM when `finish`). `state`, when given,
    /// receives the stream's shared state.
    std::uint32_t open(const std::string& method, std::span<const std::uint8_t> request, bool finish,
                       StreamOp op, std::error_code& ec, std::shared_ptr<StreamState>* state = nullptr);
    /// ClientStream::async_read: the next held message, the end (net::errc::end_of_stream) or the error.
    void read(const std::shared_ptr<StreamState>& s,
              std::function<void(std::error_code, std::vector<std::uint8_t>)> done);
    /// ClientStream::async_finish: completes once the stream is closed both ways (or ended in error).
    void when_closed(const std::shared_ptr<StreamState>& s,
                     std::function<void(std::error_code, protocol::Status)> done);
    void reset(std::uint32_t id, protocol::errc code, std::string_view why) {
        if (session_) session_->reset(id, code, why);
        kick();
    }
    /// ClientStream::async_cancel: resets the stream and reports its end (to pending reads, finishes and
    /// callbacks) before returning.
    void cancel(std::uint32_t id) {
        if (session_) session_->reset(id, protocol::errc::cancelled, "cancelled by the engine");
        if (session_) dispatch();
        kick();
    }
    std::error_code reauth(std::string token, std::function<void(std::error_code, std::int64_t)> done);
    void ping(std::function<void(std::error_code, std::chrono::microseconds)> done);
    /// GOAWAY, then at most `drain` for open streams; those still open then are cut (reset with the
    /// session). Completes with how many were cut, once the transport is gone; not_connected when it
    /// already was.
    void close(std::chrono::milliseconds drain, std::function<void(std::error_code, std::size_t)> done);
    std::chrono::milliseconds default_drain() const { return core_->options.session.drain_timeout; }

    bool is_open() const { return session_ && session_->ready() && !session_->closed() && !finished(); }

    // Backpressure for ClientStream::async_send: completes once the stream's queue is below
    // SessionLimits::producer_high_water.
    std::size_t high_water() const { return core_->options.session.producer_high_water; }
    std::error_code send(std::uint32_t id, std::span<const std::uint8_t> m);
    void when_writable(std::uint32_t id, std::function<void(std::error_code)> done);
    /// Arms the session's stall rule on a stream (content.fetch).
    void watch_progress(std::uint32_t id) {
        if (session_) session_->watch_progress(id, now());
        kick();
    }
    /// A snapshot refreshed after every batch of events; any thread.
    protocol::FlowStats flow_stats() const {
        std::lock_guard lock(stats_mutex_);
        return stats_;
    }
    /// The stream's messages keep their credit until consumed() (a fetch's disk writer): see
    /// protocol::EngineSession::defer_consumption.
    void defer_consumption(std::uint32_t id) {
        if (session_) session_->defer_consumption(id);
    }
    void consumed(std::uint32_t id, std::size_t body_size) {
        if (!session_) return;
        session_->consumed(id, body_size, now());
        kick();  // the credit may have crossed the WINDOW_UPDATE threshold
    }
    /// A message body the application is done with: the session reassembles later ones in it.
    void recycle(std::vector<std::uint8_t>&& buffer) {
        if (session_) session_->recycle(std::move(buffer));
    }
    void finish_stream(std::uint32_t id) {
        if (session_ && !session_->closed()) session_->finish(id);
        kick();
    }
    EngineCore& core() { return *core_; }
    const protocol::HandshakeInfo& info() const { return info_; }
    TlsInfo tls;
    std::shared_ptr<ConnectReport> report;

  protected:
    void handle_input(std::span<const std::uint8_t> bytes, protocol::Now t) override {
        session_->receive(bytes, t);
        dispatch();
    }
    std::vector<std::uint8_t> take_output() override {
        return session_ ? session_->poll_output() : std::vector<std::uint8_t>{};
    }
    void fill_output(std::vector<std::uint8_t>& out, std::size_t max_bytes) override {
        if (!session_) return out.clear();
        session_->poll_output(out, max_bytes);
        dispatch();  // framing a stream's last DATA may have closed it: report that now
    }
    std::optional<protocol::Time> next_deadline() override {
        return session_ ? session_->next_timeout() : std::nullopt;
    }
    void handle_timeout(protocol::Now t) override {
        session_->on_timeout(t);
        dispatch();
    }
    bool session_closed() override { return session_ && session_->closed(); }
    void on_writable() override;
    void on_finished(std::error_code ec) override;

  private:
    void dispatch();
    void fail_all(std::error_code ec);
    /// The stream is over: its Status is `status`, waiters complete, held messages give their credit back.
    void end_stream(StreamState& s, std::error_code ec, protocol::Status status);
    void deliver(StreamState& s);
    void on_drain_expired();

    std::shared_ptr<EngineCore> core_;
    std::unique_ptr<protocol::EngineSession> session_;
    std::function<void(std::error_code)> on_ready_;
    std::map<std::uint32_t, std::shared_ptr<StreamState>> ops_;
    std::vector<std::function<void(std::error_code, std::int64_t)>> reauth_waiters_;
    std::vector<std::pair<std::function<void(std::error_code, std::chrono::microseconds)>,
                          std::chrono::steady_clock::time_point>>
        ping_waiters_;
    std::vector<std::function<void(std::error_code, std::size_t)>> close_waiters_;
    std::unique_ptr<asio::steady_timer> drain_timer_;  // async_close's drain, in real time
    bool closing_ = false;
    std::size_t cut_ = 0;  // streams still open when the close cut them
    std::vector<std::pair<std::uint32_t, std::function<void(std::error_code)>>> writable_waiters_;
    protocol::HandshakeInfo info_;
    std::error_code closed_error_;
    mutable std::mutex stats_mutex_;
    protocol::FlowStats stats_;
};

}  // namespace cyxp2p::net::detail
