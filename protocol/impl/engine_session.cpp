#include <stdexcept>

#include <openssl/rand.h>

#include <cyxp2p/protocol/detail/core.hpp>
#include <cyxp2p/protocol/engine_session.hpp>
#include <cyxp2p/protocol/frame.hpp>

#include "wire.pb.h"

namespace cyxp2p::protocol {

class EngineSession::Impl final : public detail::Core {
  public:
    Impl(EngineConfig config, Now now)
        : Core(config.limits, now, config.window_budget),
          config_(std::move(config)),
          handshake_deadline_(now.mono + std::chrono::duration_cast<Time>(config_.limits.handshake_timeout)) {
        if (!config_.random) {
            config_.random = [](std::span<std::uint8_t> out) {
                if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
                    throw std::runtime_error("RAND_bytes failed");
                }
            };
        }
        wire::Hello h;
        h.set_token(config_.token);
        h.set_nonce(nonce());
        h.set_timestamp_ms(unix_ms(now));
        h.set_engine_version(config_.engine_version);
        h.set_protocol_version(1);
        fill_limits(*h.mutable_limits());
        send_control(FrameType::hello, 0, h);
        // The token is not needed again; do not keep a bearer secret longer than necessary.
        config_.token.clear();
    }

    bool ready() const { return info_.has_value(); }
    const HandshakeInfo* handshake() const { return info_ ? &*info_ : nullptr; }

    std::optional<std::uint32_t> open(std::string_view method, Now now, std::error_code& ec) {
        ec.clear();
        if (closed())
            ec = errc::closed;
        else if (!info_)
            ec = errc::protocol_violation;
        else if (goaway_received_ || draining())
            ec = errc::going_away;
        else if (open_streams() >= peer_limits().max_concurrent_streams)
            ec = errc::too_many_streams;
        else if (highest_stream_id_ == UINT32_MAX)
            ec = errc::too_many_streams;
        if (ec) return std::nullopt;
        const std::uint32_t id = highest_stream_id_ + 1;
        wire::Open o;
        o.set_method(std::string(method));
        o.set_nonce(nonce());
        o.set_timestamp_ms(unix_ms(now));
        send_control(FrameType::open, id, o);
        detail::Stream& s = add_stream(id, now.mono);
        if (!info_->open_ack) {
            // An older node says nothing when it accepts: the stream counts as accepted once sent, and a
            // refusal arrives later as a reset.
            s.accepted = true;
            push({.kind = Event::Kind::stream_accepted, .stream_id = id});
        }
        return id;
    }

    std::error_code reauth(std::string token, Now now) {
        if (closed()) return errc::closed;
        if (!info_) return errc::protocol_violation;
        wire::Reauth r;
        r.set_token(std::move(token));
        r.set_nonce(nonce());
        r.set_timestamp_ms(unix_ms(now));
        send_control(FrameType::reauth, 0, r);
        return {};
    }

  protected:
    bool established() const override { return info_.has_value(); }

    std::optional<Time> role_deadline() const override {
        if (!info_) return handshake_deadline_;
        return std::nullopt;
    }

    void on_role_timeout(Now) override {
        if (!info_) close(errc::hello_timeout, "no HELLO_ACK within handshake_timeout");
    }

    void on_peer_error(errc code, std::string message, std::string detail,
                       std::chrono::milliseconds retry) override {
        if (!info_) {
            push({.kind = Event::Kind::rejected,
                  .error = make_error_code(code),
                  .detail = detail.empty() ? message : detail,
                  .retry_after = retry});
        }
        Core::on_peer_error(code, std::move(message), std::move(detail), retry);
    }

    void on_control(const Frame& f, Now now) override {
        if (f.header.type == FrameType::hello_ack && !info_ && f.header.stream_id == 0) {
            wire::HelloAck a;
            if (!a.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size())) ||
                !detail::clean_text(a.node_id(), local_limits().text.node_id) ||
                !detail::clean_text(a.session_id(), local_limits().text.session_id) ||
                !detail::clean_text(a.node_version(), local_limits().text.version)) {
                close(errc::bad_message, "malformed HELLO_ACK");
                return;
            }
            if (a.protocol_version() != 1) {
                close(errc::unsupported_version, "node answered with another protocol version");
                return;
            }
            if (!config_.expected_node_id.empty() && a.node_id() != config_.expected_node_id) {
                close(errc::wrong_node,
                      "node id " + a.node_id() + " is not the expected " + config_.expected_node_id);
                return;
            }
            set_peer_limits(a.limits());
            HandshakeInfo info;
            info.node_id = a.node_id();
            info.session_id = a.session_id();
            info.token_expiry = a.token_expiry();
            info.node_version = a.node_version();
            info.open_ack = a.open_ack();
            info.peer_limits = peer_limits();
            info_ = info;
            mark_established(now.mono);
            push({.kind = Event::Kind::ready, .handshake = info});
            return;
        }
        if (f.header.type == FrameType::open_ack && info_ && info_->open_ack && f.header.stream_id != 0) {
            detail::Stream* s = find_stream(f.header.stream_id);
            if (s == nullptr) {
                // Reset here before the OPEN_ACK arrived, or never opened: below the highest id it is the
                // former (nothing to do), above it the node acknowledged a stream nobody opened.
                if (f.header.stream_id > highest_stream_id_)
                    close(errc::protocol_violation, "OPEN_ACK for a stream never opened");
                return;
            }
            if (s->accepted || !f.payload.empty()) {
                close(errc::protocol_violation, "OPEN_ACK repeated or with a payload");
                return;
            }
            s->accepted = true;
            push({.kind = Event::Kind::stream_accepted, .stream_id = s->id});
            return;
        }
        if (f.header.type == FrameType::reauth_ack && info_ && f.header.stream_id == 0) {
            wire::ReauthAck a;
            if (!a.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size()))) {
                close(errc::bad_message, "malformed REAUTH_ACK");
                return;
            }
            info_->token_expiry = a.token_expiry();
            Event e{.kind = Event::Kind::reauthenticated};
            e.handshake = *info_;
            push(std::move(e));
            return;
        }
        close(errc::protocol_violation, "unexpected control frame from the node");
    }

    void fill_random(std::span<std::uint8_t> out) override { config_.random(out); }

  private:
    // HELLO, OPEN and REAUTH timestamps: calendar time, checked by the node's replay window.
    static std::int64_t unix_ms(Now now) {
        return std::chrono::floor<std::chrono::milliseconds>(now.wall).count();
    }
    std::string nonce() {
        std::string n(16, '\0');
        config_.random({reinterpret_cast<std::uint8_t*>(n.data()), n.size()});
        return n;
    }

    EngineConfig config_;
    Time handshake_deadline_;
    std::optional<HandshakeInfo> info_;
};

EngineSession::EngineSession(EngineConfig config, Now now)
    : impl_(std::make_unique<Impl>(std::move(config), now)) {}
EngineSession::~EngineSession() = default;
EngineSession::EngineSession(EngineSession&&) noexcept = default;
EngineSession& EngineSession::operator=(EngineSession&&) noexcept = default;

void EngineSession::receive(std::span<const std::uint8_t> bytes, Now now) {
    impl_->receive(bytes, now);
}
std::vector<std::uint8_t> EngineSession::poll_output() {
    return impl_->take_output();
}
void EngineSession::poll_output(std::vector<std::uint8_t>& out, std::size_t max_bytes) {
    impl_->poll_output(out, max_bytes);
}
std::optional<Event> EngineSession::poll_event() {
    return impl_->poll_event();
}
std::optional<Event> EngineSession::poll_event(Now now) {
    return impl_->poll_event(now.mono);
}
std::optional<Time> EngineSession::next_timeout() const {
    auto t = impl_->next_timeout();
    if (impl_->ready() && !impl_->closed() && !impl_->keepalive_pending()) {
        // Keepalive before the idle timeout closes a quiet but healthy link (once: while its PING is out,
        // the ping deadline is what counts, and a past ping_at would wake the caller in a loop).
        const auto ping_at =
            impl_->last_receive() + std::chrono::duration_cast<Time>(impl_->local_limits().ping_interval);
        if (!t || ping_at < *t) t = ping_at;
    }
    return t;
}
void EngineSession::on_timeout(Now now) {
    if (impl_->ready() && !impl_->closed() &&
        now.mono - impl_->last_receive() >=
            std::chrono::duration_cast<Time>(impl_->local_limits().ping_interval)) {
        impl_->send_ping(now.mono);
    }
    impl_->on_timeout(now);
}
std::optional<std::uint32_t> EngineSession::open_stream(std::string_view method, Now now,
                                                        std::error_code& ec) {
    return impl_->open(method, now, ec);
}
std::error_code EngineSession::send_message(std::uint32_t id, std::span<const std::uint8_t> body) {
    return impl_->send_message(id, body);
}
std::error_code EngineSession::finish(std::uint32_t id) {
    return impl_->finish(id);
}
void EngineSession::reset(std::uint32_t id, errc code, std::string_view message) {
    impl_->reset(id, code, message);
}
std::error_code EngineSession::reauth(std::string token, Now now) {
    return impl_->reauth(std::move(token), now);
}
void EngineSession::ping(Now now) {
    impl_->send_ping(now.mono);
}
void EngineSession::watch_progress(std::uint32_t id, Now now) {
    impl_->watch_progress(id, now.mono);
}
void EngineSession::defer_consumption(std::uint32_t id) {
    impl_->defer_consumption(id);
}
void EngineSession::consumed(std::uint32_t id, std::size_t body_size, Now now) {
    impl_->consumed(id, body_size, now.mono);
}
void EngineSession::recycle(std::vector<std::uint8_t>&& buffer) {
    impl_->recycle(std::move(buffer));
}
FlowStats EngineSession::flow_stats() const {
    return impl_->flow_stats();
}
void EngineSession::close(Now now) {
    impl_->go_away(errc::closed, "engine closing", now.mono);
}
void EngineSession::abort(errc code, std::string_view message) {
    impl_->close(code, message);
}
std::size_t EngineSession::pending_bytes(std::uint32_t id) const {
    return impl_->pending_bytes(id);
}
bool EngineSession::ready() const {
    return impl_->ready();
}
bool EngineSession::closed() const {
    return impl_->closed();
}
const HandshakeInfo* EngineSession::handshake() const {
    return impl_->handshake();
}

}  // namespace cyxp2p::protocol
