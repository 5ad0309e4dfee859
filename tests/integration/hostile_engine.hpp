// The hostile-engine fixture: a real net::Node and, against it, a raw TLS client (the engine's own TLS
// context, pinned) or a bare TCP socket speaking frames by hand, plus the honest engine that must keep
// working. Shared by hostile_engine_test.cpp (frames, tokens, replays) and hostile_preauth_test.cpp
// (what happens before HELLO_ACK: deadlines, trickles, floods, eviction).
#pragma once

#include <future>
#include <random>
#include <thread>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <support.hpp>

#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/node.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/ratelimit/limits.hpp>

#include "raw_peer.hpp"

namespace net = cyxp2p::net;
namespace auth = cyxp2p::auth;
namespace pinning = cyxp2p::pinning;
namespace protocol = cyxp2p::protocol;
namespace content = cyxp2p::content;
namespace raw = cyxp2p::test::raw;
namespace wire = cyxp2p::protocol::wire;
using namespace std::chrono_literals;
using cyxp2p::test::TempDir;
using protocol::errc;
using protocol::FrameType;
using Kind = net::AuditEvent::Kind;

namespace hostile {

inline std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}
inline std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

inline std::string b64url(std::string_view in) {
    static constexpr char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char ch : in) {
        acc = (acc << 8) | static_cast<unsigned char>(ch);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += abc[(acc >> bits) & 0x3F];
        }
    }
    if (bits > 0) out += abc[(acc << (6 - bits)) & 0x3F];
    return out;
}

class MemoryAudit final : public net::AuditSink {
  public:
    void record(const net::AuditEvent& e) override {
        std::lock_guard lock(mutex_);
        events_.push_back(e);
    }
    std::size_t count(Kind k, std::string_view result = {}) {
        std::lock_guard lock(mutex_);
        return static_cast<std::size_t>(std::count_if(
            events_.begin(), events_.end(),
            [&](const net::AuditEvent& e) { return e.kind == k && (result.empty() || e.result == result); }));
    }

  private:
    std::mutex mutex_;
    std::vector<net::AuditEvent> events_;
};

class HostileEngine : public ::testing::Test {
  protected:
    void SetUp() override {
        std::error_code ec;
        identity_ = pinning::Identity::generate({.node_id = "node-e"}, ec);
        ASSERT_TRUE(identity_);
        key_ = auth::Jwk::generate(auth::Algorithm::eddsa, "central-1");
        old_key_ = auth::Jwk::generate(auth::Algorithm::eddsa, "central-0");
        auto keys = std::make_shared<auth::Keyring>();
        ASSERT_FALSE(keys->add(old_key_));
        ASSERT_FALSE(keys->add(key_));
        ASSERT_TRUE(keys->remove("central-0"));  // rotated out: tokens it signed must stop working
        keys_ = keys;
        ctx_ = pinning::make_engine_context(ec);
        ASSERT_TRUE(ctx_);
        io_thread_ = std::thread([this] { io_.run(); });
    }

    void TearDown() override {
        honest_.reset();
        if (node_) node_->stop();
        work_.reset();
        io_.stop();
        if (io_thread_.joinable()) io_thread_.join();
    }

    void start_node(std::function<void(net::NodeOptions&)> tweak = {}) {
        net::NodeOptions o{.identity = *identity_, .keys = keys_};  // NOLINT(missing-field-initializers)
        o.audit = audit_;
        o.tls_handshake_timeout = 1500ms;
        o.session.hello_timeout = 1500ms;
        // Every peer here is 127.0.0.1: room for the honest engine and a few hostile connections per test.
        o.rate.connections.new_connections_per_address = {100, std::chrono::seconds(1), 100};
        o.rate.connections.max_handshakes_per_address = 16;
        if (tweak) tweak(o);
        node_ = std::make_unique<net::Node>(std::move(o));
        node_->handle_unary("job.submit", "job:execute", [](const net::Request& r, std::error_code& ec) {
            auto job = protocol::decode_job_submit(r.body, ec);
            if (!job) return std::vector<std::uint8_t>{};
            return protocol::encode(protocol::Outcome{false, "echo", job->job_id});
        });
        // A stream that stays open until the engine goes: what too_many_streams counts.
        net::MethodHandlers h;
        h.on_open = [this](const net::StreamPtr& s) { held_.push_back(s); };
        node_->handle("metrics.subscribe", "metrics:read", std::move(h));
        if (extra_handlers_) extra_handlers_(*node_);
        ASSERT_FALSE(node_->start());
    }

    std::string token(std::function<void(auth::Claims&)> tweak = {}, const auth::Jwk* key = nullptr) {
        auth::Claims c;
        c.subject = "user-e";
        c.node_id = "node-e";
        c.session_id = "s-e";
        c.issued_at = unix_now();
        c.expires_at = c.issued_at + 3600;
        c.scope = {"job:execute", "metrics:read", "content:read"};
        if (tweak) tweak(c);
        std::error_code ec;
        auto t = auth::mint(c, key != nullptr ? *key : key_, ec);
        EXPECT_TRUE(t) << ec.message();
        return t.value_or("");
    }

    std::string nonce() {
        std::string n(16, '\0');
        for (auto& c : n) c = static_cast<char>(rng_());
        return n;
    }

    // The honest engine, connected before the attack and checked after it.
    void connect_honest() {
        net::ConnectOptions o{.host = "127.0.0.1",
                              .port = node_->local_port(),
                              .pins = pinning::PinSet(identity_->pin()),
                              .token = token(),
                              .expected_node_id = "node-e",
                              .report = nullptr};
        auto f = engine_.async_connect(std::move(o), boost::asio::use_future);
        ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
        auto [ec, c] = f.get();
        ASSERT_FALSE(ec) << ec.message();
        honest_ = c;
    }
    void expect_honest_works() {
        ASSERT_TRUE(honest_);
        auto r = honest_->async_request("job.submit", protocol::encode(protocol::JobSubmit{"still-here", {}}),
                                        boost::asio::use_future);
        ASSERT_EQ(r.wait_for(10s), std::future_status::ready);
        auto [ec, body] = r.get();
        ASSERT_FALSE(ec) << "honest session after the attack: " << ec.message();
        std::error_code dec;
        auto status = protocol::decode_outcome(body, dec);
        ASSERT_TRUE(status);
        EXPECT_EQ(status->message, "still-here");
    }

    // A raw TLS connection to the node, pinned like an engine; null if TLS fails.
    std::unique_ptr<raw::Tls> dial() {
        const int fd = raw::tcp_connect(node_->local_port());
        if (fd < 0) return nullptr;
        auto t = std::make_unique<raw::Tls>(ctx_.get(), fd, false);
        pinning::expect_pins(t->ssl(), pinning::PinSet(identity_->pin()));
        if (!t->handshake(raw::in(5s))) return nullptr;
        return t;
    }

    static wire::Hello hello(const std::string& tok, const std::string& n, std::int64_t ts) {
        wire::Hello h;
        h.set_token(tok);
        h.set_nonce(n);
        h.set_timestamp_ms(ts);
        h.set_engine_version("evil-engine/1");
        h.set_protocol_version(1);
        return h;
    }

    // HELLO and its answer: the HELLO_ACK, or the ERROR on stream 0 (nullopt if the node just closed).
    std::optional<raw::OwnedFrame> handshake(raw::Tls& t, const wire::Hello& h) {
        t.control(FrameType::hello, 0, h);
        return t.next(raw::in(5s));
    }
    std::unique_ptr<raw::Tls> session() {
        auto t = dial();
        if (!t) return nullptr;
        auto ack = handshake(*t, hello(token(), nonce(), now_ms()));
        if (!ack || ack->header.type != FrameType::hello_ack) return nullptr;
        return t;
    }

    static void open(raw::Tls& t, std::uint32_t id, const std::string& method, const std::string& n,
                     std::int64_t ts) {
        wire::Open o;
        o.set_method(method);
        o.set_nonce(n);
        o.set_timestamp_ms(ts);
        t.control(FrameType::open, id, o);
    }

    // The node's connection error: ERROR on stream 0 followed by the close.
    static void expect_connection_error(raw::Tls& t, errc code, std::string_view detail = {}) {
        auto f = t.next_of(FrameType::error, raw::in(5s));
        ASSERT_TRUE(f) << "no ERROR frame, expected " << protocol::to_string(code);
        EXPECT_EQ(f->header.stream_id, 0U);
        const auto e = raw::parse_error(*f);
        EXPECT_EQ(e.code(), static_cast<std::uint32_t>(code))
            << "got " << protocol::to_string(protocol::from_wire(e.code())) << ": " << e.message();
        if (!detail.empty()) {
            EXPECT_EQ(e.detail(), detail);
        }
        EXPECT_TRUE(t.wait_closed(raw::in(5s))) << "the node kept the connection open";
    }

    // The node's stream error on `id` (the session goes on).
    static void expect_stream_error(raw::Tls& t, std::uint32_t id, errc code) {
        const auto deadline = raw::in(5s);
        while (auto f = t.next(deadline)) {
            if (f->header.type != FrameType::error) continue;
            ASSERT_EQ(f->header.stream_id, id) << raw::parse_error(*f).message();
            EXPECT_EQ(raw::parse_error(*f).code(), static_cast<std::uint32_t>(code))
                << raw::parse_error(*f).message();
            return;
        }
        FAIL() << "no ERROR on stream " << id;
    }

    // PING answered: the session is alive.
    static void expect_alive(raw::Tls& t) {
        const std::array<std::uint8_t, 8> opaque{1, 2, 3, 4, 5, 6, 7, 8};
        t.frame(FrameType::ping, 0, 0, opaque);
        // The node's own RTT PINGs (docs/protocol.md section 6) may come first: skip to the answer.
        auto f = t.next_of(FrameType::ping, raw::in(5s));
        while (f && !(f->header.flags & protocol::flags::ack)) f = t.next_of(FrameType::ping, raw::in(5s));
        ASSERT_TRUE(f) << "no PONG";
        EXPECT_TRUE(f->header.flags & protocol::flags::ack);
        EXPECT_EQ(f->payload, raw::Bytes(opaque.begin(), opaque.end()));
    }

    // Waits for a counter the node's threads move (the raw peer can see the close before the node counted
    // it).
    static void eventually(const std::function<bool()>& cond, std::string_view what) {
        const auto deadline = raw::in(5s);
        while (!cond() && raw::Clock::now() < deadline) std::this_thread::sleep_for(5ms);
        EXPECT_TRUE(cond()) << what;
    }

    TempDir tmp_;
    std::optional<pinning::Identity> identity_;
    auth::Jwk key_ = auth::Jwk::generate(auth::Algorithm::eddsa, "unused");
    auth::Jwk old_key_ = auth::Jwk::generate(auth::Algorithm::eddsa, "unused");
    std::shared_ptr<const auth::Keyring> keys_;
    pinning::SslCtxPtr ctx_;
    std::shared_ptr<MemoryAudit> audit_ = std::make_shared<MemoryAudit>();
    std::vector<net::StreamPtr> held_;
    std::function<void(net::Node&)> extra_handlers_;  // a test's own methods, registered before start()
    std::unique_ptr<net::Node> node_;
    std::mt19937_64 rng_{std::random_device{}()};
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
        boost::asio::make_work_guard(io_);
    net::Engine engine_{io_.get_executor()};
    std::shared_ptr<net::Connection> honest_;
    std::thread io_thread_;
};

}  // namespace hostile
