#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <openssl/err.h>

#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/net/detail/link.hpp>
#include <cyxp2p/net/detail/tls_info.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/node.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/content_fetch.hpp>
#include <cyxp2p/protocol/node_session.hpp>
#include <cyxp2p/ratelimit/connection_limiter.hpp>
#include <cyxp2p/ratelimit/keyed_limiter.hpp>
#include <cyxp2p/replay/nonce_window.hpp>

namespace cyxp2p::net {

namespace asio = detail::asio;
using detail::tcp;
using detail::TlsStream;
using Kind = protocol::Event::Kind;

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(detail::now()).count();
}

std::optional<ratelimit::Address> address_of(const tcp::endpoint& ep) {
    const auto a = ep.address();
    if (a.is_v4()) return ratelimit::Address::v4(a.to_v4().to_bytes());
    if (a.to_v6().is_v4_mapped()) {
        return ratelimit::Address::v4(
            asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_bytes());  // one client, one key
    }
    return ratelimit::Address::v6(a.to_v6().to_bytes());
}

std::string describe(const tcp::endpoint& ep) {
    const auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

// TLS: ask for a client certificate but do not require one; any self-signed certificate is accepted here
// because it only matters when a token binds it (cnf.x5t#S256, checked against the token after TLS).
int accept_any_client_certificate(int, X509_STORE_CTX*) {
    return 1;
}

}  // namespace

struct MethodEntry {
    std::string scope;
    MethodHandlers handlers;
};

class NodeLink;

class Node::Impl {
  public:
    explicit Impl(NodeOptions o)
        : options(std::move(o)),
          nonces(options.replay),
          per_peer(options.rate.requests_per_peer),
          per_method(options.rate.requests_per_method),
          connections(options.rate.connections) {
        if (!options.keys || options.keys->empty())
            throw std::invalid_argument("Node needs a non-empty keyring");
        if (options.threads == 0) throw std::invalid_argument("Node needs at least one thread");
        std::error_code ec;
        auto ctx = pinning::make_node_context(options.identity, ec);
        if (!ctx) throw std::system_error(ec, "node TLS context");
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, accept_any_client_certificate);
        native_ctx = ctx;
        SSL_CTX_up_ref(ctx.get());
        tls = std::make_unique<asio::ssl::context>(ctx.get());
        for (unsigned i = 0; i < options.threads; ++i)
            contexts.push_back(std::make_unique<asio::io_context>(1));
        if (options.content) install_content_fetch();
    }

    void install_content_fetch();
    void accept();
    void on_accept(std::size_t index, boost::system::error_code ec, tcp::socket socket);
    void audit(AuditEvent e) const {
        if (!options.audit) return;
        e.time_ms = now_ms();
        e.node_id = options.identity.node_id();
        options.audit->record(e);
    }
    void forget(NodeLink* link) {
        std::lock_guard lock(links_mutex);
        links.erase(link);
    }

    NodeOptions options;
    std::map<std::string, MethodEntry, std::less<>> methods;
    pinning::SslCtxPtr native_ctx;
    std::unique_ptr<asio::ssl::context> tls;
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    std::vector<std::thread> threads;
    std::unique_ptr<tcp::acceptor> acceptor;
    std::size_t next = 0;
    replay::NonceWindow nonces;
    ratelimit::KeyedLimiter per_peer;
    ratelimit::KeyedLimiter per_method;
    ratelimit::ConnectionLimiter connections;
    Metrics metrics;
    std::mutex links_mutex;
    std::map<NodeLink*, std::weak_ptr<NodeLink>> links;
    std::atomic<bool> stopping{false};
    bool started = false;
};

// One accepted connection: TLS handshake under a deadline, then a NodeSession on the Link loops.
class NodeLink final : public detail::Link {
  public:
    NodeLink(Node::Impl& node, tcp::socket socket, ratelimit::ConnectionPermit permit, std::string peer)
        : Link(TlsStream(std::move(socket), *node.tls), node.options.shutdown_timeout),
          node_(node),
          permit_(std::move(permit)),
          peer_(std::move(peer)) {}

    void run() {
        auto self = std::static_pointer_cast<NodeLink>(shared_from_this());
        asio::co_spawn(
            get_executor(), [self]() { return self->handshake(); }, asio::detached);
    }

    // Graceful stop from Node::stop (any thread).
    void drain() {
        auto self = std::static_pointer_cast<NodeLink>(shared_from_this());
        asio::post(get_executor(), [self] {
            if (self->session_) {
                self->session_->go_away(detail::now());
                self->kick();
            } else {
                self->abort();
            }
        });
    }
    void hard_stop() {
        auto self = std::static_pointer_cast<NodeLink>(shared_from_this());
        asio::post(get_executor(), [self] { self->abort(); });
    }

    // Stream plumbing for ServerStreamImpl.
    protocol::NodeSession* session() { return session_.get(); }
    void stream_gone(std::uint32_t id) { streams_.erase(id); }
    void wants_writable(std::uint32_t id) { writable_.push_back(id); }
    Node::Impl& node() { return node_; }

  protected:
    void handle_input(std::span<const std::uint8_t> bytes, protocol::Time t) override {
        node_.metrics.bytes_in += bytes.size();
        session_->receive(bytes, t);
        dispatch_events();
    }
    std::vector<std::uint8_t> take_output() override {
        if (!session_) return {};
        auto out = session_->poll_output();
        node_.metrics.bytes_out += out.size();
        return out;
    }
    std::optional<protocol::Time> next_deadline() override {
        return session_ ? session_->next_timeout() : std::nullopt;
    }
    void handle_timeout(protocol::Time t) override {
        session_->on_timeout(t);
        dispatch_events();
    }
    bool session_closed() override { return session_ && session_->closed(); }
    void on_writable() override;
    void on_finished(std::error_code) override;

  private:
    asio::awaitable<void> handshake();
    void dispatch_events();
    void on_closed_event(const protocol::Event& e);

    Node::Impl& node_;
    ratelimit::ConnectionPermit permit_;
    std::string peer_;
    std::string client_thumbprint_;  // x5t#S256 of the client certificate, when one was presented
    std::unique_ptr<protocol::NodeSession> session_;
    std::map<std::uint32_t, std::shared_ptr<class ServerStreamImpl>> streams_;
    std::vector<std::uint32_t> writable_;
    bool authenticated_ = false;
    protocol::Time started_{};
};

class ServerStreamImpl final : public ServerStream, public std::enable_shared_from_this<ServerStreamImpl> {
  public:
    ServerStreamImpl(std::weak_ptr<NodeLink> link, std::uint32_t id, std::string method, auth::Claims claims,
                     std::string peer, const MethodEntry* entry)
        : link_(std::move(link)),
          id_(id),
          method_(std::move(method)),
          claims_(std::move(claims)),
          peer_(std::move(peer)),
          entry_(entry) {}

    std::uint32_t id() const override { return id_; }
    const std::string& method() const override { return method_; }
    const auth::Claims& claims() const override { return claims_; }
    const std::string& peer() const override { return peer_; }
    std::error_code send(std::span<const std::uint8_t> message) override {
        auto l = link_.lock();
        if (!l || closed_ || l->session() == nullptr) return make_error_code(errc::not_connected);
        auto ec = l->session()->send_message(id_, message);
        l->kick();
        return ec;
    }
    std::error_code finish() override {
        auto l = link_.lock();
        if (!l || closed_ || l->session() == nullptr) return make_error_code(errc::not_connected);
        auto ec = l->session()->finish(id_);
        writable_fn_ = nullptr;
        l->kick();
        return ec;
    }
    void fail(protocol::errc code, std::string_view message) override {
        auto l = link_.lock();
        if (!l || closed_ || l->session() == nullptr) return;
        writable_fn_ = nullptr;
        l->session()->reset(id_, code, message);
        l->kick();
    }
    std::size_t pending_bytes() const override {
        auto l = link_.lock();
        return l && l->session() ? l->session()->pending_bytes(id_) : 0;
    }
    bool closed() const override { return closed_; }
    void post(std::function<void()> fn) override {
        auto l = link_.lock();
        if (!l) return;
        asio::post(l->get_executor(), [weak = link_, fn = std::move(fn)] {
            if (auto alive = weak.lock(); alive && !alive->finished()) fn();
        });
    }
    void on_writable(std::function<void()> fn) override {
        writable_fn_ = std::move(fn);
        if (auto l = link_.lock()) {
            l->wants_writable(id_);
            l->kick();
        }
    }

    void mark_closed() {
        closed_ = true;
        writable_fn_ = nullptr;
    }
    void run_writable() {
        if (writable_fn_ && !closed_) {
            auto fn = writable_fn_;  // the callback may replace or clear itself
            fn();
        }
    }
    bool has_writable() const { return static_cast<bool>(writable_fn_); }
    std::shared_ptr<void>& state() override { return state_; }
    const MethodEntry* entry() const { return entry_; }

  private:
    std::weak_ptr<NodeLink> link_;
    std::uint32_t id_;
    std::string method_;
    auth::Claims claims_;
    std::string peer_;
    const MethodEntry* entry_;
    std::function<void()> writable_fn_;
    std::shared_ptr<void> state_;
    bool closed_ = false;
};

asio::awaitable<void> NodeLink::handshake() {
    auto self = std::static_pointer_cast<NodeLink>(shared_from_this());
    started_ = detail::now();
    asio::steady_timer guard(get_executor(), node_.options.tls_handshake_timeout);
    bool timed_out = false;
    guard.async_wait([self, &timed_out](boost::system::error_code e) {
        if (!e) {
            timed_out = true;
            boost::system::error_code ignored;
            self->stream_.lowest_layer().close(ignored);
        }
    });
    boost::system::error_code ec;
    ERR_clear_error();
    co_await stream_.async_handshake(asio::ssl::stream_base::server,
                                     asio::redirect_error(asio::use_awaitable, ec));
    guard.cancel();
    std::error_code policy = ec ? std::error_code{} : pinning::check_established(stream_.native_handle());
    if (ec || policy) {
        node_.metrics.tls_failures++;
        const std::error_code why = timed_out ? make_error_code(errc::tls_timeout)
                                    : policy  ? policy
                                              : detail::classify_tls_failure(stream_.native_handle(), ec);
        const std::string reason = why.category() == pinning::category()
                                       ? pinning::to_string(static_cast<pinning::errc>(why.value()))
                                       : to_string(static_cast<errc>(why.value()));
        node_.audit(
            {.kind = AuditEvent::Kind::tls_failed, .peer = peer_, .result = reason, .detail = ec.message()});
        abort();
        co_return;
    }
    client_thumbprint_ = detail::peer_certificate_thumbprint(stream_.native_handle());

    protocol::NodeConfig config;
    config.node_id = node_.options.identity.node_id();
    config.issuer = node_.options.issuer;
    config.leeway_s = node_.options.leeway_s;
    config.limits = node_.options.session;
    protocol::NodeServices services;
    services.keys = node_.options.keys.get();
    services.nonces = &node_.nonces;
    services.requests_per_peer = &node_.per_peer;
    services.requests_per_method = &node_.per_method;
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
    session_ = std::make_unique<protocol::NodeSession>(config, services, detail::now());
    start();
    co_return;
}

void NodeLink::dispatch_events() {
    auto self = std::static_pointer_cast<NodeLink>(shared_from_this());
    while (auto e = session_->poll_event()) {
        switch (e->kind) {
            case Kind::authenticated:
                authenticated_ = true;
                permit_.handshake_done();
                node_.metrics.handshakes_ok++;
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
                auto stream = std::make_shared<ServerStreamImpl>(self, e->stream_id, e->method,
                                                                 *session_->claims(), peer_, &it->second);
                streams_[e->stream_id] = stream;
                if (it->second.handlers.on_open) it->second.handlers.on_open(stream);
                break;
            }
            case Kind::message: {
                auto it = streams_.find(e->stream_id);
                if (it != streams_.end() && it->second->entry()->handlers.on_message) {
                    auto stream = it->second;
                    stream->entry()->handlers.on_message(stream, std::move(e->body));
                }
                break;
            }
            case Kind::stream_end: {
                auto it = streams_.find(e->stream_id);
                if (it != streams_.end() && it->second->entry()->handlers.on_end) {
                    auto stream = it->second;
                    stream->entry()->handlers.on_end(stream);
                }
                break;
            }
            case Kind::stream_reset:
            case Kind::stream_closed: {
                auto it = streams_.find(e->stream_id);
                if (it == streams_.end()) break;
                auto stream = it->second;
                streams_.erase(it);
                stream->mark_closed();
                if (e->kind == Kind::stream_reset && stream->entry()->handlers.on_reset) {
                    stream->entry()->handlers.on_reset(stream, e->error);
                }
                break;
            }
            case Kind::closed:
                on_closed_event(*e);
                break;
            default:
                break;
        }
    }
    kick();
}

void NodeLink::on_closed_event(const protocol::Event& e) {
    const auto code = static_cast<protocol::errc>(e.error.value());
    const bool ours = e.error.category() == protocol::category();
    if (!authenticated_) {
        node_.metrics.handshakes_failed++;
        if (ours && (code == protocol::errc::token_rejected || code == protocol::errc::wrong_node)) {
            node_.metrics.tokens_rejected++;
            node_.audit({.kind = AuditEvent::Kind::token_rejected,
                         .peer = peer_,
                         .result = e.detail,
                         .detail = e.error.message()});
        } else if (ours && code == protocol::errc::replayed) {
            node_.metrics.replays_rejected++;
            node_.audit({.kind = AuditEvent::Kind::replay_rejected, .peer = peer_, .result = e.detail});
        }
        node_.audit({.kind = AuditEvent::Kind::handshake,
                     .peer = peer_,
                     .result = e.error ? (ours ? protocol::to_string(code) : e.error.message()) : "closed",
                     .detail = e.detail});
    } else if (ours && code == protocol::errc::token_rejected) {
        node_.metrics.tokens_rejected++;
        node_.audit({.kind = AuditEvent::Kind::token_rejected,
                     .peer = peer_,
                     .result = e.detail,
                     .detail = "REAUTH refused"});
    }
    for (auto& [id, s] : streams_) s->mark_closed();
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

void NodeLink::on_finished(std::error_code) {
    node_.metrics.connections_open--;
    if (session_ && !session_->closed()) {
        // Transport died under a live session: still account for it.
        if (!authenticated_) node_.metrics.handshakes_failed++;
    }
    const auto* c = session_ ? session_->claims() : nullptr;
    node_.audit(
        {.kind = AuditEvent::Kind::session_closed,
         .peer = peer_,
         .subject = c ? c->subject : "",
         .session_id = c ? c->session_id : "",
         .bytes_in = bytes_in(),
         .bytes_out = bytes_out(),
         .duration_ms =
             std::chrono::duration_cast<std::chrono::milliseconds>(detail::now() - started_).count()});
    for (auto& [id, s] : streams_) s->mark_closed();
    streams_.clear();
    writable_.clear();
    permit_.reset();
    node_.forget(this);
}

void Node::Impl::install_content_fetch() {
    MethodHandlers h;
    // One request message per stream; a second one is a protocol misuse. The sender lives in the stream's
    // own state: handlers run on every I/O thread at once.
    h.on_message = [this](const StreamPtr& stream, std::vector<std::uint8_t> message) {
        if (stream->state())
            return stream->fail(protocol::errc::bad_message, "content.fetch takes one request message");
        std::error_code ec;
        auto req = protocol::decode_content_fetch(message, ec);
        if (!req) return stream->fail(protocol::errc::bad_message, "content.fetch: malformed request");
        auto root = content::Cid::parse(req->cid, ec);
        if (!root) return stream->fail(protocol::errc::bad_message, "content.fetch: not a CID: " + req->cid);
        if (!options.content->has(*root)) {
            return stream->fail(protocol::errc::content_not_found, "this node has no " + req->cid);
        }
        auto sender = std::make_shared<protocol::ContentSender>(
            *options.content, *root, options.session.producer_high_water, req->skip_blocks);
        stream->state() = sender;
        auto weak = std::weak_ptr<ServerStream>(stream);
        std::string cid_text = req->cid;
        stream->on_writable([this, sender, weak, cid_text] {
            auto s = weak.lock();
            if (!s) return;
            std::error_code wec;
            const auto before = sender->bytes_sent();
            const auto blocks_before = sender->blocks_sent();
            const auto status = sender->pump([&s](std::span<const std::uint8_t> m) { return s->send(m); },
                                             [&s] { return s->pending_bytes(); }, wec);
            metrics.content_blocks_served += sender->blocks_sent() - blocks_before;
            metrics.content_bytes_served += sender->bytes_sent() - before;
            if (status == protocol::ContentSender::Status::failed) {
                // Every block is re-hashed as it leaves the store: a corrupted or changed copy is refused
                // here, and the engine is told it is a content mismatch, not a transport fault.
                const bool corrupt =
                    wec == content::errc::hash_mismatch || wec == content::errc::source_changed;
                audit({.kind = AuditEvent::Kind::content_served,
                       .peer = s->peer(),
                       .subject = s->claims().subject,
                       .method = s->method(),
                       .result = corrupt ? "corrupt" : "failed",
                       .detail = cid_text + ": " + wec.message()});
                s->fail(corrupt ? protocol::errc::content_mismatch : protocol::errc::internal,
                        (corrupt ? "this node's copy of " + cid_text + " does not match its CID: "
                                 : std::string("stored content unreadable: ")) +
                            wec.message());
            } else if (status == protocol::ContentSender::Status::done) {
                audit({.kind = AuditEvent::Kind::content_served,
                       .peer = s->peer(),
                       .subject = s->claims().subject,
                       .method = s->method(),
                       .result = "ok",
                       .detail = cid_text,
                       .value = static_cast<std::int64_t>(sender->bytes_sent())});
                s->finish();
            }
        });
    };
    methods["content.fetch"] = MethodEntry{"content:read", std::move(h)};
}

void Node::Impl::accept() {
    const std::size_t index = next++ % contexts.size();
    acceptor->async_accept(*contexts[index], [this, index](boost::system::error_code ec, tcp::socket socket) {
        on_accept(index, ec, std::move(socket));
    });
}

void Node::Impl::on_accept(std::size_t index, boost::system::error_code ec, tcp::socket socket) {
    (void)index;
    if (stopping || ec == asio::error::operation_aborted) return;
    if (!ec) {
        boost::system::error_code pe;
        const auto remote = socket.remote_endpoint(pe);
        const std::string peer = pe ? std::string("unknown") : describe(remote);
        auto addr = pe ? std::nullopt : address_of(remote);
        auto admission = addr ? connections.admit(*addr, detail::now()) : ratelimit::Admission{};
        if (!addr || !admission) {
            metrics.connections_refused++;
            audit({.kind = AuditEvent::Kind::connection_refused,
                   .peer = peer,
                   .result = addr ? ratelimit::to_string(admission.decision.reason) : "no_address"});
            socket.close(pe);  // before TLS: refusing costs us nothing more
        } else {
            metrics.connections_accepted++;
            metrics.connections_open++;
            socket.set_option(tcp::no_delay(true), pe);
            auto link =
                std::make_shared<NodeLink>(*this, std::move(socket), std::move(admission.permit), peer);
            {
                std::lock_guard lock(links_mutex);
                links[link.get()] = link;
            }
            link->run();
        }
    }
    accept();
}

Node::Node(NodeOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Node::~Node() {
    // A node destroyed while running cuts its sessions after shutdown_timeout: no drain in a destructor.
    if (impl_->started) stop_within(std::chrono::milliseconds(0));
}

void Node::handle(std::string method, std::string scope, MethodHandlers handlers) {
    impl_->methods[std::move(method)] = MethodEntry{std::move(scope), std::move(handlers)};
}

void Node::handle_unary(std::string method, std::string scope, UnaryHandler handler) {
    MethodHandlers h;
    h.on_message = [](const StreamPtr& s, std::vector<std::uint8_t> message) {
        if (s->state())
            return s->fail(protocol::errc::bad_message, "a unary method takes exactly one request message");
        s->state() = std::make_shared<std::vector<std::uint8_t>>(std::move(message));
    };
    h.on_end = [handler = std::move(handler)](const StreamPtr& s) {
        auto body = std::static_pointer_cast<std::vector<std::uint8_t>>(s->state());
        if (!body) return s->fail(protocol::errc::bad_message, "no request message");
        Request r{s->method(), std::move(*body), &s->claims(), s->peer()};
        std::error_code ec;
        auto reply = handler(r, ec);
        if (ec) return s->fail(protocol::errc::handler_failed, ec.message());
        s->send(reply);
        s->finish();
    };
    handle(std::move(method), std::move(scope), std::move(h));
}

std::error_code Node::start() {
    auto& d = *impl_;
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(d.options.listen_address, ec);
    if (ec) return std::make_error_code(std::errc::invalid_argument);
    d.acceptor = std::make_unique<tcp::acceptor>(*d.contexts[0]);
    const tcp::endpoint ep(address, d.options.port);
    d.acceptor->open(ep.protocol(), ec);
    if (!ec) d.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) d.acceptor->bind(ep, ec);
    if (ec == asio::error::address_in_use) return make_error_code(errc::address_in_use);
    if (!ec) d.acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return std::error_code(ec.value(), ec.category());
    for (auto& ctx : d.contexts) d.guards.push_back(asio::make_work_guard(*ctx));
    asio::post(*d.contexts[0], [&d] { d.accept(); });
    for (auto& ctx : d.contexts) d.threads.emplace_back([c = ctx.get()] { c->run(); });
    d.started = true;
    return {};
}

std::uint16_t Node::local_port() const {
    boost::system::error_code ec;
    return impl_->acceptor ? impl_->acceptor->local_endpoint(ec).port() : 0;
}

void Node::stop() {
    stop_within(impl_->options.session.drain_timeout);
}

void Node::stop_within(std::chrono::milliseconds drain) {
    auto& d = *impl_;
    if (!d.started) return;
    d.stopping = true;
    asio::post(*d.contexts[0], [&d] {
        boost::system::error_code ec;
        d.acceptor->close(ec);
    });
    auto snapshot = [&d] {
        std::vector<std::shared_ptr<NodeLink>> out;
        std::lock_guard lock(d.links_mutex);
        for (auto& [p, w] : d.links) {
            if (auto s = w.lock()) out.push_back(s);
        }
        return out;
    };
    for (auto& link : snapshot()) link->drain();
    // Wait for sessions to drain (each closes itself at its drain_timeout) and close_notify to complete;
    // then cut whatever is left.
    const auto deadline = std::chrono::steady_clock::now() + drain + d.options.shutdown_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        {
            std::lock_guard lock(d.links_mutex);
            if (d.links.empty()) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (auto& link : snapshot()) link->hard_stop();
    d.guards.clear();
    for (auto& t : d.threads) t.join();
    d.threads.clear();
    d.started = false;
}

const Metrics& Node::metrics() const {
    return impl_->metrics;
}
const std::string& Node::node_id() const {
    return impl_->options.identity.node_id();
}
std::size_t Node::open_connections() const {
    std::lock_guard lock(impl_->links_mutex);
    return impl_->links.size();
}

}  // namespace cyxp2p::net
