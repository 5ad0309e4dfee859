#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/impl/engine_link.hpp>

namespace cyxp2p::net::detail {

using Kind = protocol::Event::Kind;

void EngineLink::begin(protocol::EngineConfig config, std::function<void(std::error_code)> ready) {
    on_ready_ = std::move(ready);
    session_ = std::make_unique<protocol::EngineSession>(std::move(config), now());
    start();
    kick();
}

std::uint32_t EngineLink::open(const std::string& method, std::span<const std::uint8_t> request, bool finish,
                               StreamOp op, std::error_code& ec) {
    ec.clear();
    if (!session_ || session_->closed()) {
        ec = make_error_code(errc::not_connected);
        return 0;
    }
    auto id = session_->open_stream(method, now(), ec);
    if (!id) return 0;
    ops_[*id] = std::move(op);
    if (!request.empty()) ec = session_->send_message(*id, request);
    if (!ec && finish) ec = session_->finish(*id);
    kick();
    if (ec) {
        ops_.erase(*id);
        session_->reset(*id, protocol::errc::cancelled, "local error");
        return 0;
    }
    return *id;
}

std::error_code EngineLink::reauth(std::string token,
                                   std::function<void(std::error_code, std::int64_t)> done) {
    if (!session_ || session_->closed()) return make_error_code(errc::not_connected);
    if (auto ec = session_->reauth(std::move(token), now())) return ec;
    reauth_waiters_.push_back(std::move(done));
    kick();
    return {};
}

void EngineLink::ping(std::function<void(std::error_code, std::chrono::microseconds)> done) {
    if (!session_ || session_->closed()) return done(make_error_code(errc::not_connected), {});
    ping_waiters_.push_back({std::move(done), std::chrono::steady_clock::now()});
    session_->ping(now());
    kick();
}

void EngineLink::close(std::function<void(std::error_code)> done) {
    if (finished()) return done({});
    close_waiters_.push_back(std::move(done));
    if (session_) session_->close(now());
    kick();
}

std::error_code EngineLink::send(std::uint32_t id, std::span<const std::uint8_t> m) {
    if (!session_ || session_->closed()) return make_error_code(errc::not_connected);
    auto ec = session_->send_message(id, m);
    kick();
    return ec;
}

void EngineLink::when_writable(std::uint32_t id, std::function<void(std::error_code)> done) {
    if (!session_ || session_->closed()) return done(make_error_code(errc::not_connected));
    if (session_->pending_bytes(id) < high_water()) return done({});
    writable_waiters_.emplace_back(id, std::move(done));
}

void EngineLink::on_writable() {
    if (writable_waiters_.empty() || !session_) return;
    auto waiters = std::move(writable_waiters_);
    writable_waiters_.clear();
    for (auto& [id, w] : waiters) {
        if (session_->pending_bytes(id) < high_water()) {
            w({});
        } else {
            writable_waiters_.emplace_back(id, std::move(w));
        }
    }
}

void EngineLink::on_finished(std::error_code ec) {
    fail_all(closed_error_ ? closed_error_ : (ec ? ec : make_error_code(errc::connection_lost)));
    for (auto& w : close_waiters_) w({});
    close_waiters_.clear();
}

void EngineLink::dispatch() {
    const protocol::Now t = now();  // when the application consumed (window auto-tuning)
    while (auto e = session_->poll_event(t)) {
        switch (e->kind) {
            case Kind::ready:
                info_ = e->handshake;
                if (report) report->handshake = e->handshake;
                if (auto r = std::exchange(on_ready_, nullptr)) r({});
                break;
            case Kind::rejected:
                if (report) {
                    report->reject_detail = e->detail;
                    report->retry_after = e->retry_after;
                }
                break;
            case Kind::message:
                if (auto it = ops_.find(e->stream_id); it != ops_.end() && it->second.on_message) {
                    auto fn = it->second.on_message;  // the callback may end the op
                    fn(std::move(e->body));
                } else if (e->deferred) {
                    session_->consumed(e->stream_id, e->body.size(), t);  // nobody will: its credit goes back
                }
                break;
            case Kind::stream_end:
                if (auto it = ops_.find(e->stream_id); it != ops_.end()) {
                    auto op = std::move(it->second);
                    ops_.erase(it);
                    if (op.on_done) op.on_done({});
                }
                break;
            case Kind::stream_reset:
                if (e->error == protocol::errc::stalled) {
                    // The stall rule fired here: the audit log keeps the rate it saw (the error code cannot).
                    core_->audit({.kind = AuditEvent::Kind::content_rejected,
                                  .node_id = info_.node_id,
                                  .result = "stalled",
                                  .detail = e->detail});
                }
                if (auto it = ops_.find(e->stream_id); it != ops_.end()) {
                    auto op = std::move(it->second);
                    ops_.erase(it);
                    if (op.on_done) op.on_done(e->error);
                }
                break;
            case Kind::reauthenticated:
                info_.token_expiry = e->handshake.token_expiry;
                if (!reauth_waiters_.empty()) {
                    auto w = std::move(reauth_waiters_.front());
                    reauth_waiters_.erase(reauth_waiters_.begin());
                    w({}, info_.token_expiry);
                }
                break;
            case Kind::pong:
                if (!ping_waiters_.empty()) {
                    auto [w, t0] = std::move(ping_waiters_.front());
                    ping_waiters_.erase(ping_waiters_.begin());
                    w({}, std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - t0));
                }
                break;
            case Kind::closed:
                closed_error_ = e->error;
                if (report && report->reject_detail.empty()) report->reject_detail = e->detail;
                fail_all(e->error ? e->error : make_error_code(protocol::errc::closed));
                break;
            default:
                break;
        }
    }
    {
        std::lock_guard lock(stats_mutex_);
        stats_ = session_->flow_stats();
    }
    kick();
}

void EngineLink::fail_all(std::error_code ec) {
    if (auto r = std::exchange(on_ready_, nullptr)) r(ec);
    auto ops = std::move(ops_);
    ops_.clear();
    for (auto& [id, op] : ops) {
        if (op.on_done) op.on_done(ec);
    }
    for (auto& w : std::exchange(reauth_waiters_, {})) w(ec, 0);
    for (auto& [w, t0] : std::exchange(ping_waiters_, {})) w(ec, {});
    for (auto& [id, w] : std::exchange(writable_waiters_, {})) w(ec);
}

}  // namespace cyxp2p::net::detail
