// Engine and its connect flow: resolve, TCP under connect_timeout, TLS 1.3 with the pin check (resuming a
// session verified against the same pins) under tls_timeout, then HELLO / HELLO_ACK on an EngineLink.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/net/detail/tls_info.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/impl/engine_link.hpp>
#include <cyxp2p/net/impl/timeout_guard.hpp>
#include <cyxp2p/net/window_budget.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>

namespace cyxp2p::net {

namespace asio = detail::asio;
using detail::tcp;
using detail::TlsStream;

namespace detail {

EngineCore::EngineCore(EngineOptions o) : options(std::move(o)), cache(options.session_cache_size) {
    if (!options.window_budget) options.window_budget = process_window_budget();
    if (!options.clock) options.clock = system_clock();
    std::error_code ec;
    auto ctx = pinning::make_engine_context(ec);
    if (!ctx) throw std::system_error(ec, "engine TLS context");
    if (options.client_identity) {
        if (SSL_CTX_use_certificate(ctx.get(), options.client_identity->certificate()) != 1 ||
            SSL_CTX_use_PrivateKey(ctx.get(), options.client_identity->private_key()) != 1) {
            throw std::system_error(make_error_code(pinning::errc::crypto_failure), "client identity");
        }
    }
    cache.attach(ctx.get());
    native = ctx;
    SSL_CTX_up_ref(ctx.get());
    tls = std::make_unique<asio::ssl::context>(ctx.get());
}

namespace {

// The token is not verified here (the node does that); the pin is as trustworthy as the channel the token
// came over (net/engine.hpp, ConnectOptions::pin_from_token).
std::optional<pinning::PinSet> pin_from_token(const std::string& token) {
    std::error_code ec;
    auto claims = auth::read_unverified_claims(token, auth::TokenType::p2p, ec);
    if (!claims || !claims->node_pin) return std::nullopt;
    return pinning::PinSet::parse(*claims->node_pin);
}

std::chrono::microseconds since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
}

asio::awaitable<void> connect_flow(std::shared_ptr<EngineCore> core, ConnectOptions o,
                                   std::function<void(std::error_code, std::shared_ptr<Connection>)> done) {
    auto ex = co_await asio::this_coro::executor;
    auto report = o.report ? o.report : std::make_shared<ConnectReport>();
    const std::string peer = o.host + ":" + std::to_string(o.port);
    const auto started = std::chrono::steady_clock::now();
    done = [core, done, report, peer, started](std::error_code ec, std::shared_ptr<Connection> c) {
        if (!ec) {
            if (c) {
                core->metrics.connects_ok++;
                core->metrics.connect_duration.observe(std::chrono::steady_clock::now() - started);
            }
        } else {
            core->metrics.connects_failed++;
            if (ec == pinning::errc::pin_mismatch || ec == pinning::errc::pins_expired) {
                core->metrics.pin_mismatches++;
                core->audit({.kind = AuditEvent::Kind::pin_mismatch,
                             .peer = peer,
                             .result = error_name(ec, "pin_mismatch"),
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
    // The guards' actions refer to `stream`: each guard is cancelled before `stream` moves or goes.
    auto close_socket = [&stream] {
        boost::system::error_code ignored;
        stream.lowest_layer().close(ignored);
    };
    detail::TimeoutGuard tcp_guard(ex, core->options.connect_timeout, close_socket);
    co_await asio::async_connect(stream.lowest_layer(), endpoints,
                                 asio::redirect_error(asio::use_awaitable, ec));
    tcp_guard.cancel();
    report->tcp_time = since(t0);
    if (ec) {
        co_return fail("tcp",
                       make_error_code(tcp_guard.fired() ? errc::connect_timeout : errc::connect_failed));
    }
    stream.lowest_layer().set_option(tcp::no_delay(true), ec);

    // TLS 1.3 with the pin check, under tls_timeout; resume a session verified against the same pins.
    const auto t1 = std::chrono::steady_clock::now();
    SSL* ssl = stream.native_handle();
    if (auto pe = pinning::expect_pins(ssl, *o.pins)) co_return fail("tls", pe);
    const std::string key =
        (o.expected_node_id.empty() ? o.host + ":" + std::to_string(o.port) : o.expected_node_id) + "|" +
        o.pins->to_string();
    core->cache.prepare(ssl, key);
    detail::TimeoutGuard tls_guard(ex, core->options.tls_timeout, close_socket);
    ERR_clear_error();
    co_await stream.async_handshake(asio::ssl::stream_base::client,
                                    asio::redirect_error(asio::use_awaitable, ec));
    tls_guard.cancel();
    report->tls_time = since(t1);
    if (const auto* check = pinning::pin_check(ssl); check != nullptr && check->ran)
        report->pin_check = check->describe();
    if (ec) {
        co_return fail("tls", tls_guard.fired() ? make_error_code(errc::tls_timeout)
                                                : detail::classify_tls_failure(ssl, ec));
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
    config.window_budget = core->options.window_budget.get();
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

}  // namespace cyxp2p::net
