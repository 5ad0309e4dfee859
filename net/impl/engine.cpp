#include <list>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/net/detail/link.hpp>
#include <cyxp2p/net/detail/tls_info.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/content_fetch.hpp>
#include <cyxp2p/protocol/engine_session.hpp>

namespace cyxp2p::net {

namespace asio = detail::asio;
using detail::tcp;
using detail::TlsStream;
using Kind = protocol::Event::Kind;

namespace detail {

// TLS sessions for resumption, keyed by (node, pin set): the verify hook does not run on a resumed session,
// so a session may only be reused for exactly the pins it was verified against (check_established re-checks
// the stored peer certificate anyway).
class SessionCache {
  public:
    explicit SessionCache(std::size_t capacity) : capacity_(capacity) {}
    ~SessionCache() {
        for (auto& [k, s] : map_) SSL_SESSION_free(s);
    }
    SSL_SESSION* get(const std::string& key) {
        std::lock_guard lock(mutex_);
        auto it = map_.find(key);
        if (it == map_.end()) return nullptr;
        SSL_SESSION_up_ref(it->second);
        return it->second;
    }
    void put(const std::string& key, SSL_SESSION* s) {
        std::lock_guard lock(mutex_);
        if (auto it = map_.find(key); it != map_.end()) {
            SSL_SESSION_free(it->second);
            it->second = s;
            return;
        }
        if (capacity_ == 0) {
            SSL_SESSION_free(s);
            return;
        }
        if (map_.size() >= capacity_) {
            SSL_SESSION_free(map_.begin()->second);
            map_.erase(map_.begin());
        }
        map_[key] = s;
    }

  private:
    std::mutex mutex_;
    std::size_t capacity_;
    std::map<std::string, SSL_SESSION*> map_;
};

int cache_key_index() {
    static const int index = SSL_get_ex_new_index(
        0, nullptr, nullptr, nullptr,
        [](void*, void* p, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<std::string*>(p); });
    return index;
}
int cache_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

// OpenSSL hands TLS 1.3 tickets over after the handshake; store them under the connection's key.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* key = static_cast<std::string*>(SSL_get_ex_data(ssl, cache_key_index()));
    auto* cache = static_cast<SessionCache*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), cache_index()));
    if (key == nullptr || cache == nullptr) return 0;
    cache->put(*key, session);
    return 1;  // we took the reference
}

class EngineCore {
  public:
    explicit EngineCore(EngineOptions o) : options(std::move(o)), cache(options.session_cache_size) {
        std::error_code ec;
        auto ctx = pinning::make_engine_context(ec);
        if (!ctx) throw std::system_error(ec, "engine TLS context");
        if (options.client_identity) {
            if (SSL_CTX_use_certificate(ctx.get(), options.client_identity->certificate()) != 1 ||
                SSL_CTX_use_PrivateKey(ctx.get(), options.client_identity->private_key()) != 1) {
                throw std::system_error(make_error_code(pinning::errc::crypto_failure), "client identity");
            }
        }
        SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx.get(), on_new_session);
        SSL_CTX_set_ex_data(ctx.get(), cache_index(), &cache);
        native = ctx;
        SSL_CTX_up_ref(ctx.get());
        tls = std::make_unique<asio::ssl::context>(ctx.get());
    }
    void audit(AuditEvent e) const {
        if (!options.audit) return;
        e.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now()).count();
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
        : Link(std::move(stream), core->options.shutdown_timeout), core_(std::move(core)) {}

    // Strand only below.
    void begin(protocol::EngineConfig config, std::function<void(std::error_code)> ready) {
        on_ready_ = std::move(ready);
        session_ = std::make_unique<protocol::EngineSession>(std::move(config), now());
        start();
        kick();
    }

    std::uint32_t open(const std::string& method, std::span<const std::uint8_t> request, bool finish,
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
    void reset(std::uint32_t id, protocol::errc code, std::string_view why) {
        if (session_) session_->reset(id, code, why);
        kick();
    }
    std::error_code reauth(std::string token, std::function<void(std::error_code, std::int64_t)> done) {
        if (!session_ || session_->closed()) return make_error_code(errc::not_connected);
        if (auto ec = session_->reauth(std::move(token), now())) return ec;
        reauth_waiters_.push_back(std::move(done));
        kick();
        return {};
    }
    void ping(std::function<void(std::error_code, std::chrono::microseconds)> done) {
        if (!session_ || session_->closed()) return done(make_error_code(errc::not_connected), {});
        ping_waiters_.push_back({std::move(done), std::chrono::steady_clock::now()});
        session_->ping(now());
        kick();
    }
    void close(std::function<void(std::error_code)> done) {
        if (finished()) return done({});
        close_waiters_.push_back(std::move(done));
        if (session_) session_->close(now());
        kick();
    }

    bool is_open() const { return session_ && session_->ready() && !session_->closed() && !finished(); }

    // Backpressure for ClientStream::async_send: completes once the stream's queue is below
    // SessionLimits::producer_high_water.
    std::size_t high_water() const { return core_->options.session.producer_high_water; }
    std::error_code send(std::uint32_t id, std::span<const std::uint8_t> m) {
        if (!session_ || session_->closed()) return make_error_code(errc::not_connected);
        auto ec = session_->send_message(id, m);
        kick();
        return ec;
    }
    void when_writable(std::uint32_t id, std::function<void(std::error_code)> done) {
        if (!session_ || session_->closed()) return done(make_error_code(errc::not_connected));
        if (session_->pending_bytes(id) < high_water()) return done({});
        writable_waiters_.emplace_back(id, std::move(done));
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
    void handle_input(std::span<const std::uint8_t> bytes, protocol::Time t) override {
        session_->receive(bytes, t);
        dispatch();
    }
    std::vector<std::uint8_t> take_output() override {
        return session_ ? session_->poll_output() : std::vector<std::uint8_t>{};
    }
    std::optional<protocol::Time> next_deadline() override {
        return session_ ? session_->next_timeout() : std::nullopt;
    }
    void handle_timeout(protocol::Time t) override {
        session_->on_timeout(t);
        dispatch();
    }
    bool session_closed() override { return session_ && session_->closed(); }
    void on_writable() override {
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
    void on_finished(std::error_code ec) override {
        fail_all(closed_error_ ? closed_error_ : (ec ? ec : make_error_code(errc::connection_lost)));
        for (auto& w : close_waiters_) w({});
        close_waiters_.clear();
    }

  private:
    void dispatch() {
        while (auto e = session_->poll_event()) {
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
        kick();
    }

    void fail_all(std::error_code ec) {
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
};

namespace {

std::optional<pinning::PinSet> pin_from_token(const std::string& token) {
    std::error_code ec;
    auto u = auth::decode_unverified(token, ec);
    if (!u) return std::nullopt;
    auto j = nlohmann::json::parse(u->payload_json, nullptr, false);
    if (!j.is_object() || !j.contains("node_pin") || !j["node_pin"].is_string()) return std::nullopt;
    return pinning::PinSet::parse(j["node_pin"].get<std::string>());
}

std::chrono::microseconds since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
}

asio::awaitable<void> connect_flow(std::shared_ptr<EngineCore> core, ConnectOptions o,
                                   std::function<void(std::error_code, std::shared_ptr<Connection>)> done) {
    auto ex = co_await asio::this_coro::executor;
    auto report = o.report ? o.report : std::make_shared<ConnectReport>();
    const std::string peer = o.host + ":" + std::to_string(o.port);
    done = [core, done, report, peer](std::error_code ec, std::shared_ptr<Connection> c) {
        if (!ec) {
            if (c) core->metrics.connects_ok++;
        } else {
            core->metrics.connects_failed++;
            if (ec == pinning::errc::pin_mismatch || ec == pinning::errc::pins_expired) {
                core->metrics.pin_mismatches++;
                core->audit({.kind = AuditEvent::Kind::pin_mismatch,
                             .peer = peer,
                             .result = pinning::to_string(static_cast<pinning::errc>(ec.value())),
                             .detail = report->pin_check});
            } else if (ec.category() == protocol::category() && report->failed_phase == "hello") {
                core->metrics.tokens_rejected++;
            }
        }
        done(ec, std::move(c));
    };
    auto fail = [&](std::string phase, std::error_code ec) {
        report->failed_phase = std::move(phase);
        done(ec, nullptr);
    };
    if (!o.pins && o.pin_from_token) o.pins = pin_from_token(o.token);
    if (!o.pins) co_return fail("tls", make_error_code(pinning::errc::no_pins_configured));

    // TCP, under connect_timeout.
    const auto t0 = std::chrono::steady_clock::now();
    tcp::resolver resolver(ex);
    boost::system::error_code ec;
    auto endpoints = co_await resolver.async_resolve(o.host, std::to_string(o.port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return fail("resolve", make_error_code(errc::connect_failed));
    TlsStream stream(ex, *core->tls);
    bool timed_out = false;
    asio::steady_timer guard(ex, core->options.connect_timeout);
    guard.async_wait([&](boost::system::error_code e) {
        if (!e) {
            timed_out = true;
            boost::system::error_code ignored;
            stream.lowest_layer().close(ignored);
        }
    });
    co_await asio::async_connect(stream.lowest_layer(), endpoints,
                                 asio::redirect_error(asio::use_awaitable, ec));
    guard.cancel();
    report->tcp_time = since(t0);
    if (ec) co_return fail("tcp", make_error_code(timed_out ? errc::connect_timeout : errc::connect_failed));
    stream.lowest_layer().set_option(tcp::no_delay(true), ec);

    // TLS 1.3 with the pin check, under tls_timeout; resume a session verified against the same pins.
    const auto t1 = std::chrono::steady_clock::now();
    SSL* ssl = stream.native_handle();
    if (auto pe = pinning::expect_pins(ssl, *o.pins)) co_return fail("tls", pe);
    const std::string key =
        (o.expected_node_id.empty() ? o.host + ":" + std::to_string(o.port) : o.expected_node_id) + "|" +
        o.pins->to_string();
    SSL_set_ex_data(ssl, cache_key_index(), new std::string(key));
    if (SSL_SESSION* cached = core->cache.get(key)) {
        SSL_set_session(ssl, cached);
        SSL_SESSION_free(cached);
    }
    timed_out = false;
    asio::steady_timer tls_guard(ex, core->options.tls_timeout);
    tls_guard.async_wait([&](boost::system::error_code e) {
        if (!e) {
            timed_out = true;
            boost::system::error_code ignored;
            stream.lowest_layer().close(ignored);
        }
    });
    ERR_clear_error();
    co_await stream.async_handshake(asio::ssl::stream_base::client,
                                    asio::redirect_error(asio::use_awaitable, ec));
    tls_guard.cancel();
    report->tls_time = since(t1);
    if (const auto* check = pinning::pin_check(ssl); check != nullptr && check->ran)
        report->pin_check = check->describe();
    if (ec) {
        co_return fail(
            "tls", timed_out ? make_error_code(errc::tls_timeout) : detail::classify_tls_failure(ssl, ec));
    }
    report->tls = tls_info(ssl);
    if (auto pe = pinning::check_established(ssl)) co_return fail("tls", pe);
    if (o.tls_only) {
        boost::system::error_code ignored;
        stream.lowest_layer().close(ignored);
        done({}, nullptr);
        co_return;
    }

    // HELLO / HELLO_ACK.
    const auto t2 = std::chrono::steady_clock::now();
    auto link = std::make_shared<EngineLink>(core, std::move(stream));
    link->tls = report->tls;
    link->report = report;
    protocol::EngineConfig config;
    config.token = std::move(o.token);
    config.engine_version = core->options.engine_version;
    config.expected_node_id = o.expected_node_id;
    config.limits = core->options.session;
    link->begin(std::move(config), [link, report, t2, done](std::error_code e) {
        report->hello_time = since(t2);
        if (e) {
            report->failed_phase = "hello";
            link->abort();
            return done(e, nullptr);
        }
        done({}, std::make_shared<Connection>(link));
    });
}

}  // namespace
}  // namespace detail

Engine::Engine(asio::any_io_executor executor, EngineOptions options)
    : executor_(std::move(executor)), core_(std::make_shared<detail::EngineCore>(std::move(options))) {}
Engine::~Engine() = default;
const EngineMetrics& Engine::metrics() const {
    return core_->metrics;
}

void Engine::start_connect(ConnectOptions options, ConnectDone done) {
    // Each connection gets its own strand: its loops and callbacks never run concurrently.
    auto strand = asio::make_strand(executor_);
    asio::co_spawn(strand, detail::connect_flow(core_, std::move(options), std::move(done)), asio::detached);
}

Connection::Connection(std::shared_ptr<detail::EngineLink> link) : link_(std::move(link)) {}
Connection::~Connection() {
    auto link = link_;
    asio::post(link->get_executor(), [link] { link->close([](std::error_code) {}); });
}

const protocol::HandshakeInfo& Connection::handshake() const {
    return link_->info();
}
const TlsInfo& Connection::tls() const {
    return link_->tls;
}
bool Connection::open() const {
    return link_->is_open();
}
asio::any_io_executor Connection::get_executor() const {
    return link_->get_executor();
}

void Connection::start_request(std::string method, std::vector<std::uint8_t> body, RequestDone done) {
    asio::post(link_->get_executor(), [link = link_, method = std::move(method), body = std::move(body),
                                       done = std::move(done)]() mutable {
        auto reply = std::make_shared<std::optional<std::vector<std::uint8_t>>>();
        auto finished = std::make_shared<bool>(false);
        auto complete = [done, finished](std::error_code ec, std::vector<std::uint8_t> r) {
            if (*finished) return;
            *finished = true;
            done(ec, std::move(r));
        };
        detail::StreamOp op;
        std::uint32_t* id_slot = new std::uint32_t(0);
        std::shared_ptr<std::uint32_t> id(id_slot);
        op.on_message = [reply, link, id, complete](std::vector<std::uint8_t> m) {
            if (reply->has_value()) {  // a unary call has exactly one response
                link->reset(*id, protocol::errc::bad_message, "more than one response message");
                complete(make_error_code(protocol::errc::bad_message), {});
                return;
            }
            *reply = std::move(m);
        };
        op.on_done = [reply, complete](std::error_code ec) {
            if (!ec && !reply->has_value()) ec = make_error_code(protocol::errc::bad_message);
            complete(ec, ec ? std::vector<std::uint8_t>{} : std::move(**reply));
        };
        std::error_code ec;
        *id = link->open(method, body, true, std::move(op), ec);
        if (ec) complete(ec, {});
    });
}

void Connection::start_fetch(std::string cid, std::filesystem::path dest, FetchProgress progress,
                             FetchDone done) {
    asio::post(link_->get_executor(), [link = link_, cid = std::move(cid), dest = std::move(dest),
                                       progress = std::move(progress), done = std::move(done)]() mutable {
        std::error_code ec;
        auto root = content::Cid::parse(cid, ec);
        if (!root) return done(ec, {});
        // Verified leaves are logged beside the destination until the file is complete, so a failed fetch can
        // be resumed by fetching again to the same path (docs/tools.md).
        auto partial = dest;
        partial += ".cyxp2p-partial";
        auto receiver = std::make_shared<protocol::ContentReceiver>(*root, dest, partial);
        if (auto e = receiver->open()) return done(e, {});
        const std::uint64_t resume_from = receiver->leaves_held();
        auto finished = std::make_shared<bool>(false);
        auto id = std::make_shared<std::uint32_t>(0);
        auto complete = [done, finished, receiver](std::error_code e, FetchResult r) {
            if (*finished) return;
            *finished = true;
            if (e) receiver->abort();
            done(e, std::move(r));
        };
        detail::StreamOp op;
        op.on_message = [link, receiver, id, complete, progress, finished](std::vector<std::uint8_t> m) {
            if (*finished) return;
            // Verified against the CID its parent named before a byte reaches the file.
            const auto before = receiver->bytes_verified();
            if (auto e = receiver->on_message(m)) {
                auto& core = link->core();
                core.metrics.blocks_failed++;
                const bool content_error = e.category() == content::category();
                core.audit({.kind = AuditEvent::Kind::content_rejected,
                            .node_id = link->info().node_id,
                            .method = "content.fetch",
                            .result = content_error
                                          ? content::to_string(static_cast<content::errc>(e.value()))
                                          : e.message(),
                            .detail = e.message()});
                link->reset(*id,
                            e == protocol::errc::bad_message ? protocol::errc::bad_message
                                                             : protocol::errc::content_mismatch,
                            e.message());
                return complete(e, {});
            }
            link->core().metrics.blocks_verified++;
            link->core().metrics.bytes_verified += receiver->bytes_verified() - before;
            if (progress) progress(receiver->bytes_verified(), receiver->file_size());
        };
        op.on_done = [receiver, complete, cid, dest, resume_from](std::error_code e) {
            if (!e) e = receiver->finish();
            FetchResult r{cid, receiver->bytes_verified(), receiver->blocks_verified(), dest, resume_from};
            complete(e, e ? FetchResult{} : r);
        };
        *id = link->open("content.fetch", protocol::encode(protocol::ContentFetch{cid, resume_from}), true,
                         std::move(op), ec);
        if (ec) complete(ec, {});
    });
}

void Connection::start_reauth(std::string token, ExpiryDone done) {
    asio::post(link_->get_executor(),
               [link = link_, token = std::move(token), done = std::move(done)]() mutable {
                   if (auto ec = link->reauth(std::move(token), done)) done(ec, 0);
               });
}

void Connection::start_ping(PingDone done) {
    asio::post(link_->get_executor(),
               [link = link_, done = std::move(done)]() mutable { link->ping(std::move(done)); });
}

void Connection::start_close(CloseDone done) {
    asio::post(link_->get_executor(),
               [link = link_, done = std::move(done)]() mutable { link->close(std::move(done)); });
}

void Connection::subscribe(std::string method, std::vector<std::uint8_t> request,
                           std::function<void(std::vector<std::uint8_t>)> on_message,
                           std::function<void(std::error_code)> done) {
    asio::post(link_->get_executor(), [link = link_, method = std::move(method), request = std::move(request),
                                       on_message = std::move(on_message), done = std::move(done)]() mutable {
        detail::StreamOp op{std::move(on_message), done};
        std::error_code ec;
        link->open(method, request, true, std::move(op), ec);
        if (ec && done) done(ec);
    });
}

void Connection::start_open_stream(std::string method,
                                   std::function<void(std::vector<std::uint8_t>)> on_message,
                                   std::function<void(std::error_code)> done, OpenDone opened) {
    asio::post(link_->get_executor(),
               [link = link_, method = std::move(method), on_message = std::move(on_message),
                done = std::move(done), opened = std::move(opened)]() mutable {
                   detail::StreamOp op{std::move(on_message), std::move(done)};
                   std::error_code ec;
                   const auto id = link->open(method, {}, false, std::move(op), ec);
                   if (ec) return opened(ec, nullptr);
                   opened({}, std::make_shared<ClientStream>(link, id));
               });
}

asio::any_io_executor ClientStream::link_executor() const {
    return link_->get_executor();
}

void ClientStream::start_send(std::vector<std::uint8_t> message, std::function<void(std::error_code)> done) {
    asio::post(link_->get_executor(),
               [link = link_, id = id_, message = std::move(message), done = std::move(done)]() mutable {
                   if (auto ec = link->send(id, message)) return done(ec);
                   link->when_writable(id, std::move(done));
               });
}

void ClientStream::finish() {
    asio::post(link_->get_executor(), [link = link_, id = id_] { link->finish_stream(id); });
}

void ClientStream::cancel() {
    asio::post(link_->get_executor(), [link = link_, id = id_] {
        link->reset(id, protocol::errc::cancelled, "cancelled by the engine");
    });
}

}  // namespace cyxp2p::net
