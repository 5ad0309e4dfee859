#include <algorithm>
#include <stdexcept>

#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/auth/key_source.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/auth/scope.hpp>
#include <cyxp2p/protocol/detail/core.hpp>
#include <cyxp2p/protocol/node_session.hpp>
#include <cyxp2p/ratelimit/keyed_limiter.hpp>
#include <cyxp2p/replay/nonce_window.hpp>

#include "wire.pb.h"

namespace cyxp2p::protocol {
namespace {

constexpr std::size_t kNonceSize = 16;  // docs/protocol.md: HELLO, OPEN and REAUTH nonces are 16 bytes

// A peer's timestamp (Unix ms) as wall time. Anything further than a day from `now` is clamped to a day
// away: it fails the replay window just the same, and the conversion to nanoseconds cannot overflow (found
// by fuzz/node_session: a HELLO with timestamp_ms near 2^63).
Time peer_time(std::int64_t ms, Time now) {
    constexpr std::int64_t kDayMs = 86'400'000;
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
    ms = std::clamp(ms, now_ms - kDayMs, now_ms + kDayMs);
    return std::chrono::duration_cast<Time>(std::chrono::milliseconds(ms));
}

// `s` as text the peer's clean_text accepts: at most `max` bytes, cut on a code point boundary; C0 controls
// and DEL become spaces, bytes that are not well-formed UTF-8 become '?'.
std::string fit_text(std::string_view s, std::size_t max) {
    std::string out;
    out.reserve(std::min(s.size(), max));
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80             ? 1
                        : (c & 0xE0) == 0xC0 ? 2
                        : (c & 0xF0) == 0xE0 ? 3
                        : (c & 0xF8) == 0xF0 ? 4
                                             : 0;
        std::string piece;
        if (n == 1) {
            piece = (c < 0x20 || c == 0x7F) ? " " : std::string(1, static_cast<char>(c));
        } else if (n != 0 && i + n <= s.size() && detail::clean_text(std::string(s.substr(i, n)), n)) {
            piece = std::string(s.substr(i, n));
        } else {
            piece = "?";
            n = 1;
        }
        if (out.size() + piece.size() > max) break;
        out += piece;
        i += n;
    }
    return out;
}

}  // namespace

class NodeSession::Impl final : public detail::Core {
    // A request waiting for its admission verdict, with what completing it needs.
    struct Parked {
        AdmissionRequest request{};
        std::optional<auth::Claims> claims{};  // hello, reauth: the verified token
        std::optional<wire::Hello> hello{};    // hello: engine version and limits
        std::uint32_t stream_id = 0;           // open
    };

  public:
    Impl(const NodeConfig& config, const NodeServices& services, Now now)
        : Core(config.limits, now, services.window_budget),
          config_(config),
          services_(services),
          hello_deadline_(now.mono + std::chrono::duration_cast<Time>(config.limits.hello_timeout)) {
        if (services.keys == nullptr || (services.nonces == nullptr && !services.deferred_admission)) {
            throw std::invalid_argument(
                "NodeSession needs a keyring and a nonce window (or deferred admission)");
        }
        if (config.node_id.empty()) throw std::invalid_argument("NodeSession needs the node id");
    }

    bool authenticated() const { return claims_.has_value(); }
    bool awaiting_admission() const { return parked_.has_value(); }

    void admit(const AdmissionVerdict& verdict, Now now) {
        if (!parked_ || closed()) return;
        Parked p = std::move(*parked_);
        parked_.reset();
        // The owner's verdict codes are ours (replayed, rate_limited, unavailable); anything else fails
        // closed as unavailable.
        const errc code = !verdict.code                           ? errc{}
                          : verdict.code.category() == category() ? static_cast<errc>(verdict.code.value())
                                                                  : errc::unavailable;
        const std::string& message = verdict.message.empty() ? verdict.code.message() : verdict.message;
        switch (p.request.step) {
            case AdmissionRequest::Step::hello:
                if (verdict) {
                    complete_hello(std::move(*p.claims), *p.hello, now);
                } else {
                    close(code, message, verdict.detail, verdict.retry_after);
                }
                break;
            case AdmissionRequest::Step::reauth:
                if (verdict) {
                    complete_reauth(std::move(*p.claims));
                } else {
                    close(code, message, verdict.detail, verdict.retry_after);
                }
                break;
            case AdmissionRequest::Step::open:
                if (!verdict) {
                    refuse(p.stream_id, p.request.method, code, message, verdict.retry_after);
                } else if (draining()) {  // GOAWAY went out while the check was out
                    refuse(p.stream_id, p.request.method, errc::going_away,
                           "node is draining: open no new streams");
                } else {
                    complete_open(p.stream_id, p.request.method, now);
                }
                break;
        }
        resume_input(now);
    }
    const auth::Claims* claims() const { return claims_ ? &*claims_ : nullptr; }
    void set_request_limiters(ratelimit::KeyedLimiter* per_peer, ratelimit::KeyedLimiter* per_method) {
        services_.requests_per_peer = per_peer;
        services_.requests_per_method = per_method;
    }

  protected:
    bool established() const override { return claims_.has_value(); }
    bool input_paused() const override { return parked_.has_value(); }

    std::optional<Time> role_deadline() const override {
        if (!claims_) return hello_deadline_;
        if (!expiry_goaway_sent_) return token_deadline();
        return std::nullopt;
    }

    void on_role_timeout(Now now) override {
        if (!claims_) {
            close(errc::hello_timeout, "no HELLO within hello_timeout");
            return;
        }
        // The token ran out without REAUTH: stop taking new streams, let open ones drain.
        expiry_goaway_sent_ = true;
        go_away(errc::token_expired, "token expired: reconnect or REAUTH with a fresh token", now.mono);
    }

    void on_control(const Frame& f, Now now) override {
        switch (f.header.type) {
            case FrameType::hello:
                return on_hello(f, now);
            case FrameType::open:
                return on_open(f, now);
            case FrameType::reauth:
                return on_reauth(f, now);
            default:
                close(errc::protocol_violation, "engine sent a node-only frame");
        }
    }

  private:
    // A refused OPEN: ERROR on that stream (the session goes on) and an event so the owner can audit it.
    void refuse(std::uint32_t id, const std::string& method, errc code, std::string_view message,
                std::chrono::milliseconds retry_after = {}) {
        send_stream_error(id, code, message, retry_after);
        push({.kind = Event::Kind::stream_refused,
              .stream_id = id,
              .method = method,
              .error = make_error_code(code),
              .detail = std::string(message),
              .retry_after = retry_after});
    }

    // The token's `exp` is calendar time (RFC 7519 4.1.4); deadlines are monotonic. Converted through the
    // latest sample of both clocks, so a wall step moves this deadline (and only this one): +2 h expires the
    // token at the next receive or timer, -1 h gives it an hour more, as the wall clock says.
    Time token_deadline() const {
        const Now& n = latest();
        const auto wall_s = std::chrono::floor<std::chrono::seconds>(n.wall);
        // A verified token's exp is at most its lifetime plus the leeway away; the clamp only bounds the
        // arithmetic for any `wall` a caller passes.
        const std::int64_t left_s = std::clamp<std::int64_t>(claims_->expires_at - wall_s.count(), 0, 86'400);
        const Time left = std::chrono::seconds(left_s) - (n.wall - wall_s);
        return n.mono + std::max(left, Time::zero());
    }

    // Verifies a token and the shape of its nonce. Returns the claims, or closes the session with the reason.
    std::optional<auth::Claims> verify_token(const std::string& token, const std::string& nonce, Now now) {
        auth::VerifyOptions opts;
        opts.now = std::chrono::floor<std::chrono::seconds>(now.wall).count();
        opts.node_id = config_.node_id;
        opts.issuer = config_.issuer;
        opts.leeway_s = config_.leeway_s;
        const std::shared_ptr<const auth::Keyring> keys = services_.keys->current();
        auth::Verified v = auth::verify(token, *keys, opts);
        if (!v && v.error == auth::errc::unknown_kid) services_.keys->unknown_kid(v.detail);
        if (!v) {
            const auto code = v.error == auth::errc::wrong_node ? errc::wrong_node : errc::token_rejected;
            close(code, v.message(), auth::to_string(static_cast<auth::errc>(v.error.value())));
            return std::nullopt;
        }
        if (services_.accept_token) {
            std::string detail;
            if (auto ec = services_.accept_token(*v.claims, detail)) {
                close(errc::token_rejected, ec.message(), detail);
                return std::nullopt;
            }
        }
        if (nonce.size() != kNonceSize) {
            close(errc::bad_message, "nonce must be 16 bytes");
            return std::nullopt;
        }
        return std::move(v.claims);
    }

    // The in-process replay check of a HELLO or REAUTH nonce; closes the session on a replay.
    bool fresh_nonce(std::string_view scope, const auth::Claims& claims, const std::string& nonce,
                     std::int64_t ts_ms, Now now) {
        // Nonces are unique per token subject: one user's engines cannot replay each other's requests.
        const std::string key = std::string(scope) + claims.subject;
        const auto verdict = services_.nonces->check(
            key, std::span<const std::uint8_t, 16>(reinterpret_cast<const std::uint8_t*>(nonce.data()), 16),
            peer_time(ts_ms, now.wall), now.wall);
        if (!verdict) {
            close(errc::replayed, verdict.error().message(), replay::to_string(verdict.reason),
                  detail::to_ms(verdict.retry_after));
            return false;
        }
        return true;
    }

    // Deferred admission: the request waits for admit(); input stops after this frame.
    void park(AdmissionRequest::Step step, std::string subject, const std::string& nonce, std::int64_t ts_ms,
              Now now, Parked p) {
        p.request.step = step;
        p.request.subject = std::move(subject);
        std::copy(nonce.begin(), nonce.end(), p.request.nonce.begin());
        p.request.timestamp = peer_time(ts_ms, now.wall);
        p.request.now = now;
        Event e{.kind = Event::Kind::admission, .stream_id = p.stream_id, .method = p.request.method};
        e.admission = p.request;
        parked_ = std::move(p);
        push(std::move(e));
    }

    void on_hello(const Frame& f, Now now) {
        if (claims_ || f.header.stream_id != 0) {
            close(errc::protocol_violation, "HELLO only once, on stream 0");
            return;
        }
        wire::Hello h;
        if (!h.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size())) ||
            !detail::clean_text(h.engine_version(), local_limits().text.version)) {
            close(errc::bad_message, "malformed HELLO");
            return;
        }
        if (h.protocol_version() != 1) {
            close(errc::unsupported_version, "this node speaks protocol version 1");
            return;
        }
        auto claims = verify_token(h.token(), h.nonce(), now);
        if (!claims) return;
        if (services_.deferred_admission) {
            std::string subject = claims->subject;
            const std::string nonce = h.nonce();
            const auto ts = h.timestamp_ms();
            return park(AdmissionRequest::Step::hello, std::move(subject), nonce, ts, now,
                        Parked{.claims = std::move(claims), .hello = std::move(h)});
        }
        if (!fresh_nonce("hello:", *claims, h.nonce(), h.timestamp_ms(), now)) return;
        complete_hello(std::move(*claims), h, now);
    }

    void complete_hello(auth::Claims claims, const wire::Hello& h, Now now) {
        claims_ = std::move(claims);
        engine_version_ = h.engine_version();
        set_peer_limits(h.limits());
        mark_established(now.mono);

        wire::HelloAck ack;
        ack.set_node_id(config_.node_id);
        ack.set_session_id(claims_->session_id);
        fill_limits(*ack.mutable_limits());
        ack.set_token_expiry(claims_->expires_at);
        ack.set_protocol_version(1);
        ack.set_node_version(config_.node_version);
        ack.set_open_ack(true);  // every accepted OPEN is answered with OPEN_ACK (complete_open)
        send_control(FrameType::hello_ack, 0, ack);
        push({.kind = Event::Kind::authenticated, .detail = engine_version_, .claims = claims_});
    }

    void on_open(const Frame& f, Now now) {
        if (!claims_) {
            close(errc::protocol_violation, "OPEN before HELLO_ACK");
            return;
        }
        const std::uint32_t id = f.header.stream_id;
        if (id == 0 || id <= highest_stream_id_) {
            close(errc::protocol_violation, "stream ids must increase");
            return;
        }
        highest_stream_id_ = id;
        wire::Open o;
        if (!o.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size())) ||
            !detail::clean_text(o.method(), local_limits().text.method) || o.method().empty() ||
            o.nonce().size() != kNonceSize) {
            close(errc::bad_message, "malformed OPEN");
            return;
        }
        const std::string& method = o.method();
        if (draining()) return refuse(id, method, errc::going_away, "node is draining: open no new streams");
        if (open_streams() >= local_limits().max_concurrent_streams) {
            return refuse(id, method, errc::too_many_streams, "too many concurrent streams");
        }
        std::optional<std::string> scope;
        if (services_.method_scope) {
            scope = services_.method_scope(method);
        } else if (auto s = auth::required_scope(method)) {
            scope = std::string(*s);
        }
        if (!scope) return refuse(id, method, errc::unknown_method, "no such method: " + method);
        if (!claims_->has_scope(*scope)) {
            return refuse(id, method, errc::forbidden, "token lacks scope " + *scope + " for " + method);
        }
        if (services_.deferred_admission) {
            Parked p{.stream_id = id};
            p.request.method = method;
            return park(AdmissionRequest::Step::open, claims_->subject, o.nonce(), o.timestamp_ms(), now,
                        std::move(p));
        }
        // Rate limits before the replay check, so a flood cannot fill the nonce window.
        for (auto [limiter, key] : {std::pair{services_.requests_per_peer, claims_->subject},
                                    std::pair{services_.requests_per_method, method}}) {
            if (limiter == nullptr) continue;
            const auto d = limiter->try_acquire(key, now.mono);  // buckets refill on monotonic time
            if (!d)
                return refuse(id, method, errc::rate_limited, d.error().message(),
                              detail::to_ms(d.retry_after));
        }
        const auto verdict = services_.nonces->check(
            "open:" + claims_->subject,
            std::span<const std::uint8_t, 16>(reinterpret_cast<const std::uint8_t*>(o.nonce().data()), 16),
            peer_time(o.timestamp_ms(), now.wall), now.wall);
        if (!verdict) {
            return refuse(id, method, errc::replayed,
                          std::string("request refused: ") + replay::to_string(verdict.reason),
                          detail::to_ms(verdict.retry_after));
        }
        complete_open(id, method, now);
    }

    void complete_open(std::uint32_t id, const std::string& method, Now now) {
        add_stream(id, now.mono);
        // docs/protocol.md section 4: the engine learns the stream is accepted before any message on it.
        send_frame(FrameType::open_ack, 0, id, {});
        push({.kind = Event::Kind::stream_opened, .stream_id = id, .method = method});
    }

    void on_reauth(const Frame& f, Now now) {
        if (!claims_ || f.header.stream_id != 0) {
            close(errc::protocol_violation, "REAUTH before HELLO_ACK or off stream 0");
            return;
        }
        wire::Reauth r;
        if (!r.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size()))) {
            close(errc::bad_message, "malformed REAUTH");
            return;
        }
        auto fresh = verify_token(r.token(), r.nonce(), now);
        if (!fresh) return;
        if (fresh->subject != claims_->subject) {
            close(errc::token_rejected, "REAUTH token is for another subject", "bad_claim");
            return;
        }
        if (services_.deferred_admission) {
            std::string subject = fresh->subject;
            return park(AdmissionRequest::Step::reauth, std::move(subject), r.nonce(), r.timestamp_ms(), now,
                        Parked{.claims = std::move(fresh)});
        }
        if (!fresh_nonce("reauth:", *fresh, r.nonce(), r.timestamp_ms(), now)) return;
        complete_reauth(std::move(*fresh));
    }

    void complete_reauth(auth::Claims fresh) {
        claims_ = std::move(fresh);
        wire::ReauthAck ack;
        ack.set_token_expiry(claims_->expires_at);
        send_control(FrameType::reauth_ack, 0, ack);
        push({.kind = Event::Kind::reauthenticated, .claims = claims_});
    }

    NodeConfig config_;
    NodeServices services_;
    std::optional<Parked> parked_;
    std::string engine_version_;
    Time hello_deadline_;
    std::optional<auth::Claims> claims_;
    bool expiry_goaway_sent_ = false;
};

NodeSession::NodeSession(const NodeConfig& config, const NodeServices& services, Now now)
    : impl_(std::make_unique<Impl>(config, services, now)) {}
NodeSession::~NodeSession() = default;
NodeSession::NodeSession(NodeSession&&) noexcept = default;
NodeSession& NodeSession::operator=(NodeSession&&) noexcept = default;

void NodeSession::receive(std::span<const std::uint8_t> bytes, Now now) {
    impl_->receive(bytes, now);
}
std::vector<std::uint8_t> NodeSession::poll_output() {
    return impl_->take_output();
}
void NodeSession::poll_output(std::vector<std::uint8_t>& out, std::size_t max_bytes) {
    impl_->poll_output(out, max_bytes);
}
std::optional<Event> NodeSession::poll_event() {
    return impl_->poll_event();
}
std::optional<Event> NodeSession::poll_event(Now now) {
    return impl_->poll_event(now.mono);
}
FlowStats NodeSession::flow_stats() const {
    return impl_->flow_stats();
}
std::optional<Time> NodeSession::next_timeout() const {
    return impl_->next_timeout();
}
void NodeSession::on_timeout(Now now) {
    impl_->on_timeout(now);
}
void NodeSession::admit(const AdmissionVerdict& verdict, Now now) {
    impl_->admit(verdict, now);
}
bool NodeSession::awaiting_admission() const {
    return impl_->awaiting_admission();
}
std::error_code NodeSession::send_message(std::uint32_t id, std::span<const std::uint8_t> body) {
    return impl_->send_message(id, body);
}
std::error_code NodeSession::finish(std::uint32_t id) {
    return impl_->finish(id);
}
void NodeSession::reset(std::uint32_t id, errc code, std::string_view message) {
    impl_->reset(id, code, message);
}
void NodeSession::reset(std::uint32_t id, const Status& status) {
    const TextLimits& text = impl_->local_limits().text;
    impl_->reset(id, status.ok() ? errc::internal : status.code, fit_text(status.message, text.error_message),
                 std::max(status.retry_after, std::chrono::milliseconds(0)),
                 fit_text(status.detail, text.error_detail));
}
bool NodeSession::draining() const {
    return impl_->draining();
}
void NodeSession::go_away(Now now, errc code, std::string_view message) {
    impl_->go_away(code, message, now.mono);
}
void NodeSession::close(errc code, std::string_view message) {
    impl_->close(code, message);
}
std::size_t NodeSession::pending_bytes(std::uint32_t id) const {
    return impl_->pending_bytes(id);
}
void NodeSession::set_request_limiters(ratelimit::KeyedLimiter* per_peer,
                                       ratelimit::KeyedLimiter* per_method) {
    impl_->set_request_limiters(per_peer, per_method);
}
bool NodeSession::authenticated() const {
    return impl_->authenticated();
}
bool NodeSession::closed() const {
    return impl_->closed();
}
const auth::Claims* NodeSession::claims() const {
    return impl_->claims();
}

}  // namespace cyxp2p::protocol
