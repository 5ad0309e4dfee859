// A malicious engine against the real net::Node before HELLO_ACK: silence, a ClientHello or a HELLO
// trickled one byte at a time, a ClientHello then silence, deadlines that shrink as the handshake table
// fills, eviction of the oldest handshake, and a handshake flood from one address. Each case checks the
// node's close, its metrics and audit events, and that an honest engine keeps working.
#include "flood_peer.hpp"
#include "hostile_engine.hpp"

namespace {

using namespace hostile;

TEST_F(HostileEngine, SilentConnectionsAreClosedAtTheirDeadlines) {
    start_node([](net::NodeOptions& o) {
        o.tls_handshake_timeout = 400ms;
        o.session.hello_timeout = 400ms;
    });
    connect_honest();
    {  // TCP only, never a ClientHello
        const int fd = raw::tcp_connect(node_->local_port());
        ASSERT_GE(fd, 0);
        const auto t0 = raw::Clock::now();
        EXPECT_TRUE(raw::wait_tcp_closed(fd, raw::in(3s)));
        const auto took = raw::Clock::now() - t0;
        EXPECT_GE(took, 300ms);
        EXPECT_LT(took, 2s);
        ::close(fd);
    }
    eventually([&] { return audit_->count(Kind::tls_failed, "tls_timeout") == 1; },
               "audit: tls_failed tls_timeout");
    EXPECT_EQ(node_->metrics().tls_failures.load(), 1U);
    {  // TLS, then never a HELLO
        auto t = dial();
        ASSERT_TRUE(t);
        const auto t0 = raw::Clock::now();
        expect_connection_error(*t, errc::hello_timeout);
        EXPECT_LT(raw::Clock::now() - t0, 2s);
    }
    eventually([&] { return audit_->count(Kind::handshake, "hello_timeout") == 1; },
               "audit: handshake hello_timeout");
    expect_honest_works();
}

// Sends `bytes` one at a time, `gap` apart (the attacker's pace, not a wait for the node), until the node
// closes the socket or the bytes run out. Returns how many were sent before the close was seen.
std::size_t trickle(int fd, const raw::Bytes& bytes, std::chrono::milliseconds gap,
                    raw::Clock::time_point until) {
    std::size_t sent = 0;
    for (; sent < bytes.size() && raw::Clock::now() < until; ++sent) {
        if (::send(fd, &bytes[sent], 1, MSG_NOSIGNAL) != 1) return sent;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(gap.count())) > 0) {
            std::uint8_t b[4096];
            const ssize_t n = ::recv(fd, b, sizeof b, MSG_PEEK);
            if (n == 0 || (n < 0 && errno != EAGAIN)) return sent + 1;
            (void)::recv(fd, b, sizeof b, 0);  // ServerHello and the rest: read and drop
            std::this_thread::sleep_for(gap);
        }
    }
    return sent;
}

TEST_F(HostileEngine, SlowClientHelloIsCutAtTheTlsDeadline) {
    start_node();  // tls_handshake_timeout 1.5 s
    connect_honest();
    const raw::Bytes hello = raw::client_hello(ctx_.get());
    ASSERT_GT(hello.size(), 100U);
    const int fd = raw::tcp_connect(node_->local_port());
    ASSERT_GE(fd, 0);
    const auto t0 = raw::Clock::now();
    const std::size_t sent = trickle(fd, hello, 1s, raw::in(10s));  // one byte per second
    EXPECT_TRUE(raw::wait_tcp_closed(fd, raw::in(3s)));
    EXPECT_LT(raw::Clock::now() - t0, 4s);
    EXPECT_LE(sent, 4U) << "the node waited for " << sent << " bytes of a " << hello.size()
                        << "-byte ClientHello";
    ::close(fd);
    eventually([&] { return audit_->count(Kind::tls_failed, "tls_timeout") == 1; }, "audit: tls_timeout");
    expect_honest_works();
}

TEST_F(HostileEngine, DeadlinesShrinkAsTheHandshakeTableFills) {
    // A 10 s TLS deadline, but 6 of 8 handshake slots held: the slow ClientHello, admitted as the 7th (87.5
    // %), gets 2.5 s (adaptive_deadline: 25 % to 100 % occupancy maps 10 s down to 1 s).
    start_node([](net::NodeOptions& o) {
        o.tls_handshake_timeout = 10s;
        o.rate.connections.client_hello_timeout = 10s;  // only the adaptive TLS deadline cuts here
        o.rate.connections.max_handshakes = 8;
    });
    connect_honest();
    raw::FloodPeers fillers(node_->local_port());
    for (std::uint8_t i = 0; i < 6; ++i)
        ASSERT_TRUE(
            fillers.open({127, 0, 1, static_cast<std::uint8_t>(10 + i)}, raw::FloodKind::record_header));
    eventually([&] { return node_->metrics().handshakes_in_progress.load() == 6; },
               "6 handshakes in progress");
    const int fd = raw::tcp_connect(node_->local_port());
    ASSERT_GE(fd, 0);
    const auto t0 = raw::Clock::now();
    (void)trickle(fd, raw::client_hello(ctx_.get()), 1s, raw::in(12s));
    EXPECT_TRUE(raw::wait_tcp_closed(fd, raw::in(2s)));
    const auto took = raw::Clock::now() - t0;
    EXPECT_GE(took, 1500ms);
    EXPECT_LT(took, 5s) << "the deadline did not shrink under pressure";
    ::close(fd);
    expect_honest_works();
}

TEST_F(HostileEngine, ClientHelloThenSilenceIsCutAtTheTlsDeadline) {
    start_node();
    connect_honest();
    const raw::Bytes hello = raw::client_hello(ctx_.get());
    const int fd = raw::tcp_connect(node_->local_port());
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL), static_cast<ssize_t>(hello.size()));
    const auto t0 = raw::Clock::now();
    std::size_t back = 0;
    EXPECT_TRUE(raw::wait_tcp_closed(fd, raw::in(5s), &back));
    EXPECT_GT(back, 100U);  // the node answered (ServerHello ... Finished), then waited for ours
    EXPECT_GE(raw::Clock::now() - t0, 1s);
    EXPECT_LT(raw::Clock::now() - t0, 3s);
    ::close(fd);
    eventually([&] { return audit_->count(Kind::tls_failed, "tls_timeout") == 1; }, "audit: tls_timeout");
    expect_honest_works();
}

TEST_F(HostileEngine, TrickledHelloIsCutAtTheHelloDeadline) {
    start_node();  // hello_timeout 1.5 s
    connect_honest();
    auto t = dial();
    ASSERT_TRUE(t);
    protocol::FrameEncoder enc;
    const std::string body = hello(token(), nonce(), now_ms()).SerializeAsString();
    enc.append(FrameType::hello, 0, 0, raw::as_span(body));
    const raw::Bytes frame = enc.take();
    const auto t0 = raw::Clock::now();
    std::size_t sent = 0;
    while (sent < frame.size() && !t->closed() && t->inbox.empty() && raw::Clock::now() - t0 < 10s) {
        t->raw({&frame[sent++], 1});
        t->flush(raw::in(1s));
        const auto next = raw::in(100ms);  // one byte per 100 ms: the attacker's pace
        while (raw::Clock::now() < next && !t->closed() && t->inbox.empty()) t->step(next);
    }
    EXPECT_LT(sent, frame.size()) << "the whole HELLO got through";
    expect_connection_error(*t, errc::hello_timeout);
    EXPECT_LT(raw::Clock::now() - t0, 4s);
    eventually([&] { return audit_->count(Kind::handshake, "hello_timeout") == 1; }, "audit: hello_timeout");
    expect_honest_works();
}

TEST_F(HostileEngine, SilentTcpIsCutAtTheClientHelloDeadline) {
    start_node([](net::NodeOptions& o) {
        o.tls_handshake_timeout = 10s;
        o.rate.connections.client_hello_timeout = 500ms;
    });
    connect_honest();
    const int fd = raw::tcp_connect(node_->local_port());
    ASSERT_GE(fd, 0);
    const auto t0 = raw::Clock::now();
    EXPECT_TRUE(raw::wait_tcp_closed(fd, raw::in(5s)));
    EXPECT_GE(raw::Clock::now() - t0, 400ms);
    EXPECT_LT(raw::Clock::now() - t0, 3s);
    ::close(fd);
    eventually([&] { return audit_->count(Kind::tls_failed, "client_hello_timeout") == 1; },
               "audit: client_hello_timeout");
    EXPECT_EQ(node_->metrics().client_hello_timeouts.load(), 1U);
    expect_honest_works();
}

TEST_F(HostileEngine, AFullHandshakeTableEvictsTheOldestAndClosesItAtOnce) {
    start_node([](net::NodeOptions& o) {
        o.tls_handshake_timeout = 10s;
        o.rate.connections.client_hello_timeout = 10s;
        o.rate.connections.max_handshakes = 2;
    });
    raw::FloodPeers oldest(node_->local_port()), younger(node_->local_port());
    ASSERT_TRUE(oldest.open({127, 0, 2, 1}, raw::FloodKind::record_header));
    eventually([&] { return node_->metrics().handshakes_in_progress.load() == 1; }, "first slot taken");
    ASSERT_TRUE(younger.open({127, 0, 3, 1}, raw::FloodKind::record_header));
    eventually([&] { return node_->metrics().handshakes_in_progress.load() == 2; }, "table full");
    // The honest engine takes the oldest one's slot and completes; the oldest is closed long before its
    // own 10 s deadline, the younger one is untouched.
    const auto t0 = raw::Clock::now();
    connect_honest();
    eventually([&] { return oldest.closed_by_node() == 1; }, "the evicted connection was closed");
    EXPECT_LT(raw::Clock::now() - t0, 5s);
    EXPECT_EQ(younger.closed_by_node(), 0U);
    EXPECT_EQ(node_->metrics().connections_evicted.load(), 1U);
    eventually([&] { return audit_->count(Kind::connection_evicted, "handshake_evicted") == 1; },
               "audit: connection_evicted");
    EXPECT_EQ(node_->metrics().tls_failures.load(), 0U);  // an eviction is not a TLS failure
    expect_honest_works();
}

TEST_F(HostileEngine, HandshakeFloodIsLimitedWhileAnEstablishedSessionKeepsTransferring) {
    // A 3 MiB file to fetch through the flood; the node's default per-address connection limits.
    std::error_code ec;
    const auto source = tmp_ / "model.bin";
    std::mt19937_64 rng(3);
    std::string data(3 * 1024 * 1024 + 5, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    cyxp2p::test::write_file(source, data);
    auto store = content::Blockstore::open(tmp_ / "blocks", ec);
    ASSERT_TRUE(store);
    auto imported =
        content::import_file(source, content::ImportOptions::kubo_default(), store->sink(source), ec);
    ASSERT_TRUE(imported);
    const cyxp2p::ratelimit::ConnectionLimits limits{};
    start_node([&](net::NodeOptions& o) {
        o.content = store;
        o.rate.connections = limits;
        o.tls_handshake_timeout = 2s;
    });
    connect_honest();
    // 40 connections from the same address that never finish TLS.
    std::vector<int> flood;
    for (int i = 0; i < 40; ++i) {
        const int fd = raw::tcp_connect(node_->local_port());
        if (fd >= 0) flood.push_back(fd);
    }
    eventually(
        [&] {
            return node_->metrics().connections_refused.load() +
                       node_->metrics().connections_accepted.load() >=
                   41;
        },
        "every flood connection reached the limiter");
    const auto admitted = node_->metrics().connections_accepted.load() - 1;
    EXPECT_LE(admitted, limits.max_handshakes_per_address);
    EXPECT_GE(node_->metrics().connections_refused.load(), 40 - limits.max_handshakes_per_address);
    // Every refusal is counted; the audit log gets a sample of them (ratelimit::Limits::preauth_audit).
    const auto& sample = cyxp2p::ratelimit::Limits{}.preauth_audit.rate;
    EXPECT_LE(audit_->count(Kind::connection_refused), sample.burst + 1);
    EXPECT_GE(audit_->count(Kind::connection_refused) + node_->metrics().audit_events_suppressed.load(),
              40 - limits.max_handshakes_per_address);
    // Meanwhile, with the half-open connections still held, the established session downloads 3 MiB.
    const auto dest = tmp_ / "fetched.bin";
    auto fetch = honest_->async_fetch(imported->root.to_string(), dest, {}, boost::asio::use_future);
    ASSERT_EQ(fetch.wait_for(20s), std::future_status::ready);
    auto [fec, r] = fetch.get();
    ASSERT_FALSE(fec) << fec.message();
    EXPECT_EQ(cyxp2p::test::read_file(dest), data);
    expect_honest_works();
    for (int fd : flood) ::close(fd);
}

}  // namespace
