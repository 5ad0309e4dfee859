// The engine's private state (EngineCore: options, metrics, TLS context, session cache) and EngineLink: one
// connection's glue between a TLS stream and a protocol::EngineSession. Everything on EngineLink runs on
// the connection's strand.
#pragma once

#include <chrono>
#include <cstdint>
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
    std::function<void(std::vector<std::uint8_t>)> on_message;
    std::function<void(std::error_code)> on_done;  // ok when the node ended the stream normally
};

class EngineLink final : public Link {
  public:
    EngineLink(std::shared_ptr<EngineCore> core, TlsStream stream)
        : Link(std::move(stream), core->options.shutdown_timeout, core->options.clock),
          core_(std::move(core)) {}

    void begin(protocol::EngineConfig config, std::function<void(std::error_code)> ready);
    std::uint32_t open(const std::string& method, std::span<const std::uint8_t> request, bool finish,
                       StreamOp op, std::error_code& ec);
    void reset(std::uint32_t id, protocol::errc code, std::string_view why) {
        if (session_) session_->reset(id, code, why);
        kick();
    }
    std::error_code reauth(std::string token, std::function<void(std::error_code, std::int64_t)> done);
    void ping(std::function<void(std::error_code, std::chrono::microseconds)> done);
    void close(std::function<void(std::error_code)> done);

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

    std::shared_ptr<EngineCore> core_;
    std::unique_ptr<protocol::EngineSession> session_;
    std::function<void(std::error_code)> on_ready_;
    std::map<std::uint32_t, StreamOp> ops_;
    std::vector<std::function<void(std::error_code, std::int64_t)>> reauth_waiters_;
    std::vector<std::pair<std::function<void(std::error_code, std::chrono::microseconds)>,
                          std::chrono::steady_clock::time_point>>
        ping_waiters_;
    std::vector<std::function<void(std::error_code)>> close_waiters_;
    std::vector<std::pair<std::uint32_t, std::function<void(std::error_code)>>> writable_waiters_;
    protocol::HandshakeInfo info_;
    std::error_code closed_error_;
    mutable std::mutex stats_mutex_;
    protocol::FlowStats stats_;
};

}  // namespace cyxp2p::net::detail
