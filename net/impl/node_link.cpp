// NodeLink: the per-connection glue between a TLS socket and a protocol::NodeSession.
#include <openssl/err.h>

#include <cyxp2p/net/detail/tls_info.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/impl/node_link.hpp>
#include <cyxp2p/net/impl/server_stream.hpp>
#include <cyxp2p/net/impl/timeout_guard.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>

namespace cyxp2p::net {

namespace asio = detail::asio;
using detail::tcp;
using detail::TlsStream;
using Kind = protocol::Event::Kind;

NodeLink::NodeLink(Node::Impl& node, tcp::socket socket, Admitted admitted, std::string peer,
                   PreauthDeadlines deadlines)
    : Link(TlsStream(std::move(socket), *node.current_tls()), node.options.shutdown_timeout,
           node.options.clock),
      node_(node),
      admitted_(std::move(admitted)),
      deadlines_(deadlines),
      peer_(std::move(peer)) {}

void NodeLink::run() {
    auto self = std::static_pointer_cast<NodeLink>(shared_from_this());
    // The limiter calls this on the thread that admitted the newer connection: hop to ours.
    admitted_.permit().on_evicted([weak = weak_from_this(), ex = get_executor()] {
        asio::post(ex, [weak] {
            if (auto l = weak.lock()) static_cast<NodeLink&>(*l).evicted();
        });
    });
    asio::co_spawn(
        get_executor(), [self]() { return self->handshake(); }, asio::detached);
}

void NodeLink::drain() {
    auto self = std::static_pointer_cast<NodeLink>(shared_from_this());
    asio::post(get_executor(), [self] {
        if (self->session_) {
            self->session_->go_away(self->now());
            self->dispatch_events();  // on_going_away for the open streams; closed at once if none is open
        } else {
            self->abort();
        }
    });
}

void NodeLink::close_now() {
    auto self = std::static_pointer_cast<NodeLink>(shared_from_this());
    asio::post(get_executor(), [self] {
        if (!self->session_) return self->abort();
        if (self->session_->closed()) return;
        self->session_->close(protocol::errc::going_away, "node stopping: the drain timeout passed");
        self->dispatch_events();
    });
}

void NodeLink::refresh_limits() {
    if (!session_) return;  // not yet authenticating: the session will read the current set when it starts
    limiters_ = node_.live().limiters;
    session_->set_request_limiters(limiters_->per_peer.get(), limiters_->per_method.get());
}

void NodeLink::evicted() {
    // Authenticated in the meantime: it needs no handshake slot any more, and the newer connection already
    // has it, so nothing is owed; an honest session is not cut for a race it cannot see.
    if (finished() || evicted_ || authenticated_) return;
    evicted_ = true;
    node_.audit_unauthenticated({.kind = AuditEvent::Kind::connection_evicted,
                                 .peer = peer_,
                                 .result = ratelimit::to_string(ratelimit::errc::handshake_evicted),
                                 .detail = session_ ? "before HELLO" : "during TLS"});
    abort();
}

void NodeLink::hard_stop() {
    auto self = std::static_pointer_cast<NodeLink>(shared_from_this());
    asio::post(get_executor(), [self] { self->abort(); });
}

asio::awaitable<void> NodeLink::handshake() {
    auto self = std::static_pointer_cast<NodeLink>(shared_from_this());
    started_ = now().mono;
    // The TLS deadline counts from accept and was shortened then if the handshake table was busy.
    const auto left = std::max(deadlines_.tls - std::chrono::steady_clock::now(),
                               std::chrono::steady_clock::duration::zero());
    detail::TimeoutGuard guard(get_executor(), left, [self] {
        boost::system::error_code ignored;
        self->stream_.lowest_layer().close(ignored);
    });
    boost::system::error_code ec;
    ERR_clear_error();
    co_await stream_.async_handshake(asio::ssl::stream_base::server,
                                     asio::redirect_error(asio::use_awaitable, ec));
    guard.cancel();
    std::error_code policy = ec ? std::error_code{} : pinning::check_established(stream_.native_handle());
    if (evicted_) co_return;  // closed for a newer connection: counted and audited as an eviction
    if (ec || policy) {
        node_.metrics.tls_failures++;
        const std::error_code why = guard.fired() ? make_error_code(errc::tls_timeout)
                                    : policy      ? policy
                                                  : detail::classify_tls_failure(stream_.native_handle(), ec);
        node_.audit_unauthenticated({.kind = AuditEvent::Kind::tls_failed,
                                     .peer = peer_,
                                     .result = error_name(why, "tls_failed"),
                                     .detail = ec.message()});
        abort();
        co_return;
    }
    client_thumbprint_ = detail::peer_certificate_thumbprint(stream_.native_handle());

    protocol::NodeConfig config;
    config.node_id = node_.options.identity.node_id();
    config.issuer = node_.options.issuer;
    config.leeway_s = node_.options.leeway_s;
    const Node::Impl::Live live = node_.live();
    config.limits = node_.options.session;
    config.limits.max_concurrent_streams = live.limits.max_concurrent_streams;
    // Like the TLS deadline: shorter when the handshake table is busy now.
    config.limits.hello_timeout = node_.connections.handshake_deadline(node_.options.session.hello_timeout);
    protocol::NodeServices services;
    services.keys = node_.keys.get();
    services.nonces = &node_.nonces;
    limiters_ = live.limiters;
    services.requests_per_peer = limiters_->per_peer.get();
    services.requests_per_method = limiters_->per_method.get();
    services.deferred_admission = node_.fleet_admission != nullptr;  // fleet mode: the checks go to Redis
    services.window_budget = node_.options.window_budget.get();
    services.method_scope = [this](std::string_view method) -> std::optional<std::string> {
        auto it = node_.methods.find(method);
        if (it == node_.methods.end()) return std::nullopt;
        return it->second.scope;
    };
    // RFC 8705 3.1: a token bound to a certificate is only good on a connection that presented it.
    services.accept_token = [this](const auth::Claims& claims, std::string& detail) -> std::error_code {
        if (claims.cnf_x5t_s256 && *claims.cnf_x5t_s256 != client_thumbprint_) {
            detail = client_thumbprint_.empty() ? "cnf_no_client_certificate" : "cnf_mismatch";
            return protocol::errc::token_rejected;
        }
        return {};
    };
    session_ = std::make_unique<protocol::NodeSession>(config, services, now());
    start();
    co_return;
}

void NodeLink::dispatch_events() {
    auto self = std::static_pointer_cast<NodeLink>(shared_from_this());
    const protocol::Now t = now();  // when the application consumed (window auto-tuning)
    while (auto e = session_->poll_event(t)) {
        switch (e->kind) {
            case Kind::authenticated:
                authenticated_ = true;
                // False: evicted a moment ago; the slot is the newer connection's, this session goes on.
                (void)admitted_.authenticated();
                node_.metrics.handshakes_ok++;
                node_.metrics.handshake_duration.observe(t.mono - started_);
                node_.audit({.kind = AuditEvent::Kind::handshake,
                             .peer = peer_,
                             .subject = e->claims->subject,
                             .session_id = e->claims->session_id,
                             .result = "ok",
                             .detail = e->detail,
                             .value = e->claims->expires_at});
                break;
            case Kind::reauthenticated:
                node_.audit({.kind = AuditEvent::Kind::reauth,
                             .peer = peer_,
                             .subject = e->claims->subject,
                             .session_id = e->claims->session_id,
                             .result = "ok",
                             .value = e->claims->expires_at});
                break;
            case Kind::stream_refused: {
                node_.metrics.streams_refused++;
                const auto code = static_cast<protocol::errc>(e->error.value());
                AuditEvent a{.kind = AuditEvent::Kind::stream_refused,
                             .peer = peer_,
                             .method = e->method,
                             .result = protocol::to_string(code),
                             .detail = e->detail};
                if (code == protocol::errc::rate_limited) {
                    node_.metrics.rate_limited++;
                    a.kind = AuditEvent::Kind::rate_limited;
                    a.value = e->retry_after.count();
                } else if (code == protocol::errc::replayed) {
                    node_.metrics.replays_rejected++;
                    a.kind = AuditEvent::Kind::replay_rejected;
                }
                if (const auto* c = session_->claims()) a.subject = c->subject;
                node_.audit(a);
                break;
            }
            case Kind::stream_opened: {
                node_.metrics.streams_opened++;
                auto it = node_.methods.find(e->method);
                if (it == node_.methods.end()) {  // cannot happen: method_scope vetted it
                    session_->reset(e->stream_id, protocol::errc::unknown_method, "no handler");
                    break;
                }
                auto stream = std::make_shared<ServerStreamImpl>(
                    self, *get_executor().target<asio::io_context::executor_type>(), gone_, e->stream_id,
                    e->method, std::make_shared<const auth::Claims>(*session_->claims()), peer_, &it->second);
                streams_[e->stream_id] = stream;
                if (const auto& fn = it->second.handlers.on_open)
                    call_handler(stream, "on_open", [&] { fn(stream); });
                break;
            }
            case Kind::message: {
                auto it = streams_.find(e->stream_id);
                if (it == streams_.end() || it->second->closed()) break;
                auto stream = it->second;
                if (const auto& fn = stream->entry()->handlers.on_message)
                    call_handler(stream, "on_message", [&] { fn(stream, std::move(e->body)); });
                break;
            }
            case Kind::stream_end: {
                auto it = streams_.find(e->stream_id);
                if (it == streams_.end() || it->second->closed()) break;
                auto stream = it->second;
                if (const auto& fn = stream->entry()->handlers.on_end)
                    call_handler(stream, "on_end", [&] { fn(stream); });
                break;
            }
            case Kind::stream_reset: {
                auto it = streams_.find(e->stream_id);
                if (it == streams_.end()) break;
                auto stream = it->second;
                StreamEnd end{.reason =
                                  e->local ? StreamEnd::Reason::failed : StreamEnd::Reason::reset_by_engine};
                if (e->local && stream->failed_with()) {
                    end.status = *stream->failed_with();
                } else {
                    end.status = {.code = e->error.category() == protocol::category()
                                              ? static_cast<protocol::errc>(e->error.value())
                                              : protocol::errc::internal,
                                  .message = e->message,
                                  .retry_after = e->retry_after,
                                  .detail = e->detail};
                }
                end_stream(stream, end);
                break;
            }
            case Kind::stream_closed: {
                // After a reset the stream is already gone; otherwise both sides finished.
                auto it = streams_.find(e->stream_id);
                if (it != streams_.end()) end_stream(it->second, {.reason = StreamEnd::Reason::finished});
                break;
            }
            case Kind::closed:
                on_closed_event(*e);
                break;
            case Kind::admission:
                check_admission(*e->admission);
                break;
            default:
                break;
        }
    }
    tell_going_away();
    account_queue();
    kick();
}

void NodeLink::tell_going_away() {
    if (going_away_told_ || !session_ || !session_->draining() || session_->closed()) return;
    going_away_told_ = true;
    std::vector<std::shared_ptr<ServerStreamImpl>> open;
    for (auto& [id, s] : streams_) open.push_back(s);
    for (auto& s : open) {
        if (const auto& fn = s->entry()->handlers.on_going_away; fn && !s->closed())
            call_handler(s, "on_going_away", [&] { fn(s); });
    }
}

void NodeLink::call_handler(const std::shared_ptr<ServerStreamImpl>& s, const char* callback,
                            const std::function<void()>& fn) {
    std::string what;
    try {
        fn();
        return;
    } catch (const std::exception& ex) {
        what = ex.what();
    } catch (...) {
        what = "an exception not derived from std::exception";
    }
    const auto* c = session_ ? session_->claims() : nullptr;
    node_.audit({.kind = AuditEvent::Kind::handler_exception,
                 .peer = peer_,
                 .subject = c ? c->subject : "",
                 .method = s->method(),
                 .result = callback,
                 .detail = what});
    // Only this stream: the engine learns why, every other stream of the session goes on.
    (void)s->fail_now({.code = protocol::errc::internal,
                       .message = "handler for " + s->method() + " threw in " + callback + ": " + what});
}

StreamEnd::Reason NodeLink::ending_reason() const {
    return node_.stopping ? StreamEnd::Reason::node_stopping : StreamEnd::Reason::session_closed;
}

void NodeLink::end_stream(std::shared_ptr<ServerStreamImpl> s, const StreamEnd& end) {
    streams_.erase(s->id());
    s->mark_closed();
    if (!s->take_close()) return;
    if (const auto& fn = s->entry()->handlers.on_close) call_handler(s, "on_close", [&] { fn(s, end); });
    s->release_state();
}

void NodeLink::check_admission(const protocol::AdmissionRequest& request) {
    // The verdict may come on the Redis thread (or inline): back to this connection's strand, and only if
    // the connection is still there. The session reads nothing more until then (protocol/admission.hpp).
    node_.fleet_admission->check(
        request, [weak = weak_from_this(), ex = get_executor()](protocol::AdmissionVerdict v) {
            asio::post(ex, [weak, v = std::move(v)] {
                auto self = weak.lock();
                if (!self) return;
                auto& link = static_cast<NodeLink&>(*self);
                if (link.finished() || !link.session_) return;
                link.session_->admit(v, link.now());
                link.dispatch_events();
            });
        });
}

void NodeLink::account_queue() {
    if (finished()) return;  // on_finished gave this session's share back
    const auto queued = session_ ? static_cast<std::int64_t>(session_->flow_stats().queued_bytes) : 0;
    node_.metrics.send_buffered(queued - queue_accounted_);
    queue_accounted_ = queued;
}

void NodeLink::on_closed_event(const protocol::Event& e) {
    const auto code = static_cast<protocol::errc>(e.error.value());
    const bool ours = e.error.category() == protocol::category();
    if (!authenticated_) {
        node_.metrics.handshakes_failed++;
        if (ours && (code == protocol::errc::token_rejected || code == protocol::errc::wrong_node)) {
            node_.metrics.tokens_rejected++;
            node_.audit_unauthenticated({.kind = AuditEvent::Kind::token_rejected,
                                         .peer = peer_,
                                         .result = e.detail,
                                         .detail = e.error.message()});
        } else if (ours && code == protocol::errc::replayed) {
            node_.metrics.replays_rejected++;
            node_.audit_unauthenticated(
                {.kind = AuditEvent::Kind::replay_rejected, .peer = peer_, .result = e.detail});
        }
        node_.audit_unauthenticated({.kind = AuditEvent::Kind::handshake,
                                     .peer = peer_,
                                     .result = e.error ? error_name(e.error, e.error.message()) : "closed",
                                     .detail = e.detail});
    } else if (ours && code == protocol::errc::token_rejected) {
        node_.metrics.tokens_rejected++;
        node_.audit({.kind = AuditEvent::Kind::token_rejected,
                     .peer = peer_,
                     .result = e.detail,
                     .detail = "REAUTH refused"});
    }
    StreamEnd end{.reason = ending_reason()};
    end.status = {.code = ours && e.error ? code : protocol::errc::closed,
                  .message = e.error ? e.error.message() + (e.detail.empty() ? "" : ": " + e.detail)
                                     : "the session closed",
                  .retry_after = e.retry_after};
    close_streams(end);
}

void NodeLink::close_streams(const StreamEnd& end) {
    std::vector<std::shared_ptr<ServerStreamImpl>> open;
    for (auto& [id, s] : streams_) open.push_back(s);
    for (auto& s : open) end_stream(s, end);
    streams_.clear();
}

void NodeLink::on_writable() {
    if (writable_.empty()) return;
    // Producers refill in turn; each stops at its high-water mark, so one cannot starve the rest.
    std::vector<std::uint32_t> ids;
    ids.swap(writable_);
    for (auto id : ids) {
        auto it = streams_.find(id);
        if (it == streams_.end() || !it->second->has_writable()) continue;
        auto stream = it->second;
        stream->run_writable();
        if (stream->has_writable()) writable_.push_back(id);
    }
}

void NodeLink::on_finished(std::error_code transport_error) {
    node_.metrics.connections_open--;
    if (session_ && !session_->closed()) {
        // Transport died under a live session: still account for it.
        if (!authenticated_) node_.metrics.handshakes_failed++;
    }
    const auto* c = session_ ? session_->claims() : nullptr;
    const AuditEvent closed{
        .kind = AuditEvent::Kind::session_closed,
        .peer = peer_,
        .subject = c ? c->subject : "",
        .session_id = c ? c->session_id : "",
        .bytes_in = bytes_in(),
        .bytes_out = bytes_out(),
        .duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now().mono - started_).count()};
    if (authenticated_) {
        node_.audit(closed);
        if (const auto rtt = session_->flow_stats().smoothed_rtt) node_.metrics.session_rtt.observe(*rtt);
    } else {
        node_.audit_unauthenticated(closed);
    }
    node_.metrics.send_buffered(-queue_accounted_);  // whatever was still queued dies with the connection
    queue_accounted_ = 0;
    gone_->store(true, std::memory_order_release);
    StreamEnd end{.reason = ending_reason()};
    end.status = {.code = protocol::errc::closed,
                  .message = transport_error ? "connection lost: " + transport_error.message()
                                             : "the connection closed"};
    close_streams(end);
    writable_.clear();
    admitted_.reset();
    node_.forget(this);
}

}  // namespace cyxp2p::net
