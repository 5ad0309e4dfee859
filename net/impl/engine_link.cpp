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

namespace {
// What a stream that ended with `ec` reports as its Status: the node's own (code, message, retry, detail)
// when it sent one, else the local reason (a connection lost is `closed` with the transport's message).
protocol::Status status_of(std::error_code ec, std::string message = {}) {
    protocol::Status st;
    if (!ec) return st;
    if (ec.category() == protocol::category()) {
        st.code = static_cast<protocol::errc>(ec.value());
        st.message = message.empty() ? ec.message() : std::move(message);
    } else {
        st.code = protocol::errc::closed;
        st.message = ec.message();
    }
    return st;
}
}  // namespace

std::uint32_t EngineLink::open(const std::string& method, std::span<const std::uint8_t> request, bool finish,
                               StreamOp op, std::error_code& ec, std::shared_ptr<StreamState>* state) {
    ec.clear();
    if (!session_ || session_->closed() || closing_) {
        ec = closing_ ? make_error_code(protocol::errc::going_away) : make_error_code(errc::not_connected);
        return 0;
    }
    auto id = session_->open_stream(method, now(), ec);
    if (!id) return 0;
    auto st = std::make_shared<StreamState>(std::move(op));
    st->id = *id;
    // Without a callback the messages wait for async_read holding their credit, so a slow reader bounds
    // the node to the stream's window (EngineSession::defer_consumption; before any DATA can arrive).
    if (!st->op.on_message) session_->defer_consumption(*id);
    ops_[*id] = st;
    if (!request.empty()) ec = session_->send_message(*id, request);
    if (!ec && finish) ec = session_->finish(*id);
    kick();
    if (ec) {
        ops_.erase(*id);
        session_->reset(*id, protocol::errc::cancelled, "local error");
        return 0;
    }
    if (state) *state = st;
    return *id;
}

void EngineLink::read(const std::shared_ptr<StreamState>& s,
                      std::function<void(std::error_code, std::vector<std::uint8_t>)> done) {
    if (s->reader) return done(make_error_code(errc::read_in_progress), {});
    s->reader = std::move(done);
    deliver(*s);
}

void EngineLink::deliver(StreamState& s) {
    if (!s.reader) return;
    if (!s.held.empty()) {
        auto m = std::move(s.held.front());
        s.held.pop_front();
        if (session_) session_->consumed(s.id, m.size(), now());
        kick();  // the credit may have crossed the WINDOW_UPDATE threshold
        return std::exchange(s.reader, nullptr)({}, std::move(m));
    }
    if (s.over && s.error) return std::exchange(s.reader, nullptr)(s.error, {});
    if (s.remote_ended || s.over) {
        return std::exchange(s.reader, nullptr)(make_error_code(errc::end_of_stream), {});
    }
}

void EngineLink::when_closed(const std::shared_ptr<StreamState>& s,
                             std::function<void(std::error_code, protocol::Status)> done) {
    if (s->over) {
        auto st = s->status();
        return done(s->error, std::move(st));
    }
    s->closed_waiters.push_back(std::move(done));
}

void EngineLink::end_stream(StreamState& s, std::error_code ec, protocol::Status status) {
    if (s.over) return;
    s.over = true;
    s.error = ec;
    s.set_status(std::move(status));
    if (ec) {
        // Unread messages of a stream that failed are dropped: their credit goes back to the session.
        for (auto& m : s.held) {
            if (session_) session_->consumed(s.id, m.size(), now());
        }
        s.held.clear();
    }
    if (auto a = std::exchange(s.op.on_accepted, nullptr))
        a(ec ? ec : make_error_code(protocol::errc::closed));
    if (ec) {
        if (auto d = std::exchange(s.op.on_done, nullptr)) d(ec);
    }
    deliver(s);
    const auto st = s.status();
    for (auto& w : std::exchange(s.closed_waiters, {})) w(ec, st);
    // Nothing more arrives for this stream: drop the callbacks, whose captures (a call's state, the
    // ClientStream's) would otherwise hold this state and themselves alive.
    s.op.on_message = nullptr;
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

void EngineLink::close(std::chrono::milliseconds drain,
                       std::function<void(std::error_code, std::size_t)> done) {
    if (finished() || !session_ || session_->closed() || closing_) {
        // Closed already (or a close is under way: it reports the cut streams once).
        if (!closing_ || finished()) return done(make_error_code(errc::not_connected), 0);
        close_waiters_.push_back([done = std::move(done)](std::error_code, std::size_t) {
            done(make_error_code(errc::not_connected), 0);
        });
        return;
    }
    closing_ = true;
    close_waiters_.push_back(std::move(done));
    session_->close(now());
    // The session's own drain deadline (SessionLimits::drain_timeout) runs on the injected clock; this one
    // is the caller's bound, in real time.
    drain_timer_ = std::make_unique<asio::steady_timer>(get_executor(), drain);
    drain_timer_->async_wait(
        [self = std::static_pointer_cast<EngineLink>(shared_from_this())](boost::system::error_code ec) {
            if (!ec) self->on_drain_expired();
        });
    dispatch();  // with no stream open the session closed at once
}

void EngineLink::on_drain_expired() {
    if (finished() || !session_ || session_->closed()) return;
    session_->abort(protocol::errc::going_away, "engine closing: drain time over with streams open");
    dispatch();
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
    if (drain_timer_) drain_timer_->cancel();
    for (auto& w : std::exchange(close_waiters_, {})) w({}, cut_);
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
            case Kind::stream_accepted:
                if (auto it = ops_.find(e->stream_id); it != ops_.end()) {
                    auto st = it->second;
                    st->accepted = true;
                    if (auto a = std::exchange(st->op.on_accepted, nullptr)) a({});
                }
                break;
            case Kind::message:
                if (auto it = ops_.find(e->stream_id); it != ops_.end()) {
                    auto st = it->second;  // the callback may end the stream
                    if (st->op.on_message) {
                        auto fn = st->op.on_message;
                        fn(std::move(e->body));
                    } else {
                        st->held.push_back(std::move(e->body));
                        deliver(*st);
                    }
                } else if (e->deferred) {
                    session_->consumed(e->stream_id, e->body.size(), t);  // nobody will: its credit goes back
                }
                break;
            case Kind::stream_end:
                if (auto it = ops_.find(e->stream_id); it != ops_.end()) {
                    auto st = it->second;
                    st->remote_ended = true;
                    if (auto d = std::exchange(st->op.on_done, nullptr)) d({});
                    deliver(*st);
                }
                break;
            case Kind::stream_reset:
                if (e->error == protocol::errc::stalled) {
                    // The stall rule fired here: the audit log keeps the rate it saw (the error code cannot).
                    core_->audit({.kind = AuditEvent::Kind::content_rejected,
                                  .node_id = info_.node_id,
                                  .result = "stalled",
                                  .detail = e->message});
                }
                if (auto it = ops_.find(e->stream_id); it != ops_.end()) {
                    auto st = it->second;
                    ops_.erase(it);
                    auto status = status_of(e->error, e->message);
                    status.retry_after = e->retry_after;
                    status.detail = e->detail;
                    end_stream(*st, e->error, std::move(status));
                }
                break;
            case Kind::stream_closed:
                if (auto it = ops_.find(e->stream_id); it != ops_.end()) {
                    auto st = it->second;
                    ops_.erase(it);
                    end_stream(*st, {}, {});
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
    auto ops = std::exchange(ops_, {});
    if (closing_) cut_ += ops.size();
    for (auto& [id, st] : ops) end_stream(*st, ec, status_of(ec));
    for (auto& w : std::exchange(reauth_waiters_, {})) w(ec, 0);
    for (auto& [w, t0] : std::exchange(ping_waiters_, {})) w(ec, {});
    for (auto& [id, w] : std::exchange(writable_waiters_, {})) w(ec);
}

}  // namespace cyxp2p::net::detail
