// Session lifetimes on real sockets: TLS policy against openssl, token expiry with and without REAUTH (the
// node's wall clock stepped, never slept through), 1,000 concurrent sessions, draining stops, silent peers,
// engine audit.
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cyxp2p/net/detail/tls_info.hpp>
#include <cyxp2p/pinning/detail/openssl.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>
#include <cyxp2p/protocol/engine_session.hpp>

#include "fixture.hpp"

namespace {
using it::MemoryAudit;
using it::Transport;
using it::unix_now;

std::tuple<std::error_code, std::vector<std::uint8_t>> request(net::Connection& c,
                                                               std::string method = "job.submit") {
    auto f = c.async_request(std::move(method), protocol::encode(protocol::JobSubmit{"j", {}}),
                             boost::asio::use_future);
    if (f.wait_for(30s) != std::future_status::ready) return {std::make_error_code(std::errc::timed_out), {}};
    return f.get();
}

TEST_F(Transport, OpensslClientCappedAtTls12IsRefused) {
    start_node(1);
    auto r = cyxp2p::test::run(
        {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(node_->local_port()), "-tls1_2",
         "-alpn", "cyx-p2p/1"},
        {}, 30s);
    EXPECT_NE(r.exit_code, 0);
    for (int i = 0; i < 200 && node_->metrics().tls_failures.load() == 0; ++i)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(node_->metrics().tls_failures.load(), 1U);
    EXPECT_TRUE(audit_->has(net::AuditEvent::Kind::tls_failed, "not_tls13"));
}

TEST_F(Transport, ReauthCarriesTheSessionPastTheFirstTokenExpiry) {
    auto clock = std::make_shared<net::ManualClock>();
    start_node(2, [&](net::NodeOptions& o) { o.clock = clock; });
    run_io();
    auto [ec, conn] = connect(options(token([](auth::Claims& c) { c.expires_at = unix_now() + 2; })));
    ASSERT_FALSE(ec) << ec.message();
    auto fresh = conn->async_reauth(token(), boost::asio::use_future);
    ASSERT_EQ(fresh.wait_for(30s), std::future_status::ready);
    ASSERT_FALSE(std::get<0>(fresh.get()));
    // Past the first token's expiry on the node's calendar (the node's token deadline is wall time).
    clock->advance(3s);
    node_->check_deadlines();
    auto [rec, body] = request(*conn);
    EXPECT_FALSE(rec) << rec.message();
    EXPECT_TRUE(conn->open());
}

TEST_F(Transport, WithoutReauthTheNodeSendsGoAwayAtExpiry) {
    auto clock = std::make_shared<net::ManualClock>();
    start_node(2, [&](net::NodeOptions& o) { o.clock = clock; });
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_FALSE(std::get<0>(request(*conn)));
    // A stream left open (a unary call whose request never ends), and a PING behind it to know it is in.
    std::promise<std::error_code> ended;
    auto opened = conn->async_open_stream(
        "job.submit", [](std::vector<std::uint8_t>) {}, [&ended](std::error_code e) { ended.set_value(e); },
        boost::asio::use_future);
    ASSERT_EQ(opened.wait_for(30s), std::future_status::ready);
    ASSERT_FALSE(std::get<0>(opened.get()));
    auto pong = conn->async_ping(boost::asio::use_future);
    ASSERT_EQ(pong.wait_for(30s), std::future_status::ready);
    ASSERT_FALSE(std::get<0>(pong.get()));
    // NTP steps the node's calendar 2 h ahead: the 1-hour token is over, though no real time passed. GOAWAY
    // token_expired: no new streams (refused locally, or by the node if the GOAWAY is still on its way).
    clock->step_wall(2h);
    node_->check_deadlines();
    auto [rec, body] = request(*conn);
    EXPECT_EQ(rec, protocol::errc::going_away) << rec.message();
    EXPECT_TRUE(conn->open());  // draining: the open stream gets drain_timeout of monotonic time
    clock->advance(protocol::SessionLimits{}.drain_timeout);
    node_->check_deadlines();
    auto end = ended.get_future();
    ASSERT_EQ(end.wait_for(30s), std::future_status::ready);
    EXPECT_EQ(end.get(), protocol::errc::going_away);
    // The close itself travels over loopback: wait for it (real I/O, not protocol time).
    for (int i = 0; i < 500 && conn->open(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(conn->open());
}

TEST_F(Transport, StopDrainsAnInFlightStream) {
    start_node(1, [](net::NodeOptions& o) { o.shutdown_timeout = 1s; });
    // A handler that answers 300 ms later, from another thread, through ServerStream::post.
    net::MethodHandlers slow;
    slow.on_end = [](const net::StreamPtr& s) {
        std::thread([s] {
            std::this_thread::sleep_for(300ms);
            s->post([s] {
                s->send(protocol::encode(protocol::Outcome{}));
                s->finish();
            });
        }).detach();
    };
    // handle() must come before start(): rebuild the node with the slow method.
    node_->stop();
    net::NodeOptions o{.identity = *identity_, .keys = keys_};
    o.shutdown_timeout = 1s;
    node_ = std::make_unique<net::Node>(std::move(o));
    node_->handle("job.submit", "job:execute", slow);
    ASSERT_FALSE(node_->start());
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec);
    auto reply = conn->async_request("job.submit", protocol::encode(protocol::JobSubmit{"j", {}}),
                                     boost::asio::use_future);
    std::this_thread::sleep_for(50ms);  // the request is in the handler now
    const auto t0 = std::chrono::steady_clock::now();
    node_->stop();
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_EQ(reply.wait_for(10s), std::future_status::ready);
    auto [rec, body] = reply.get();
    EXPECT_FALSE(rec) << rec.message();  // the in-flight stream finished despite the stop
    EXPECT_LT(took, 3s);
    EXPECT_EQ(node_->open_connections(), 0U);
    node_.reset();
}

// A peer that completes TLS and HELLO by hand and then never reads or answers again: no close_notify ever.
TEST_F(Transport, SilentPeerDoesNotHangStop) {
    start_node(1, [](net::NodeOptions& o) { o.shutdown_timeout = 500ms; });
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(node_->local_port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    std::error_code ec;
    auto ctx = pinning::make_engine_context(ec);
    pinning::detail::Owned<SSL> ssl(SSL_new(ctx.get()));
    ASSERT_FALSE(pinning::expect_pins(ssl.get(), pinning::PinSet(identity_->pin())));
    SSL_set_fd(ssl.get(), fd);
    ASSERT_EQ(SSL_connect(ssl.get()), 1);
    protocol::EngineConfig cfg;
    cfg.token = token();
    protocol::EngineSession session(cfg, net::system_clock()->now());
    auto hello = session.poll_output();
    ASSERT_EQ(SSL_write(ssl.get(), hello.data(), static_cast<int>(hello.size())),
              static_cast<int>(hello.size()));
    for (int i = 0; i < 500 && node_->metrics().handshakes_ok.load() == 0; ++i)
        std::this_thread::sleep_for(10ms);
    ASSERT_EQ(node_->metrics().handshakes_ok.load(), 1U);
    const auto t0 = std::chrono::steady_clock::now();
    node_->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
    EXPECT_EQ(node_->open_connections(), 0U);
    ::close(fd);
    node_.reset();
}

TEST_F(Transport, EngineAuditsAPinMismatch) {
    auto audit = std::make_shared<MemoryAudit>();
    net::EngineOptions eo;
    eo.audit = audit;
    make_engine(eo);
    start_node();
    run_io();
    std::error_code gen;
    auto other = pinning::Identity::generate({.node_id = "x"}, gen);
    auto o = options(token());
    o.pins = pinning::PinSet(other->pin());
    auto [ec, conn] = connect(std::move(o));
    EXPECT_EQ(ec, pinning::errc::pin_mismatch);
    EXPECT_TRUE(audit->has(net::AuditEvent::Kind::pin_mismatch, "pin_mismatch"));
    EXPECT_EQ(engine_->metrics().pin_mismatches.load(), 1U);
    auto [ok, c2] = connect(options(token()));
    ASSERT_FALSE(ok);
    EXPECT_EQ(engine_->metrics().connects_ok.load(), 1U);
    auto result = c2->async_fetch(root_, tmp_ / "f.bin", {}, boost::asio::use_future);
    ASSERT_EQ(result.wait_for(60s), std::future_status::ready);
    EXPECT_FALSE(std::get<0>(result.get()));
    EXPECT_GT(engine_->metrics().blocks_verified.load(), 10U);
    EXPECT_EQ(engine_->metrics().bytes_verified.load(), std::filesystem::file_size(source_));
}

// pin_from_token reads node_pin through auth/ (read_unverified_claims): the right pin connects, a token
// without the claim has no pins, and a pin of another key is refused at TLS.
TEST_F(Transport, PinFromTokenUsesTheNodePinClaim) {
    start_node();
    run_io();
    auto with_pin = [this](std::optional<std::string> pin) {
        auto o = options(token([&](auth::Claims& c) { c.node_pin = pin; }));
        o.pins.reset();
        o.pin_from_token = true;
        return connect(std::move(o)).first;
    };
    EXPECT_FALSE(with_pin(identity_->pin().to_string()));
    EXPECT_EQ(with_pin(std::nullopt), pinning::errc::no_pins_configured);
    std::error_code gen;
    auto other = pinning::Identity::generate({.node_id = "x"}, gen);
    ASSERT_TRUE(other);
    EXPECT_EQ(with_pin(other->pin().to_string()), pinning::errc::pin_mismatch);
}

// The deadline timer is re-armed lazily (net/impl/link.cpp): traffic moves the node's idle deadline later
// without re-arming; when the stale timer fires it must re-arm, so the idle close still happens on time.
TEST_F(Transport, IdleDeadlineMovedByTrafficStillCloses) {
    start_node(1, [](net::NodeOptions& o) { o.session.idle_timeout = 1s; });
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec) << ec.message();
    // 1.5 s of PINGs, 200 ms apart: past the first idle deadline, which each PING moved later.
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < 1500ms) {
        auto rtt = conn->async_ping(boost::asio::use_future);
        ASSERT_EQ(rtt.wait_for(10s), std::future_status::ready);
        ASSERT_FALSE(std::get<0>(rtt.get())) << "closed while traffic flowed";
        std::this_thread::sleep_for(200ms);  // the traffic pattern under test, not a wait for a deadline
    }
    const auto quiet = std::chrono::steady_clock::now();
    while (conn->open() && std::chrono::steady_clock::now() - quiet < 5s) std::this_thread::sleep_for(10ms);
    const auto closed_after = std::chrono::steady_clock::now() - quiet;
    EXPECT_FALSE(conn->open());
    EXPECT_GE(closed_after, 700ms);  // not on a stale deadline
    EXPECT_LT(closed_after, 2500ms);
}

TEST_F(Transport, SecondConnectionResumesTheTlsSessionAndIsStillPinned) {
    start_node(1);
    run_io();
    auto [e1, c1] = connect(options(token()));
    ASSERT_FALSE(e1);
    EXPECT_FALSE(c1->tls().resumed);
    EXPECT_FALSE(std::get<0>(request(*c1)));  // lets the TLS 1.3 ticket arrive
    auto [e2, c2] = connect(options(token()));
    ASSERT_FALSE(e2) << e2.message();
    EXPECT_TRUE(c2->tls().resumed);
    EXPECT_EQ(c2->tls().peer_pin, identity_->pin().to_string());
    // A cached session is only offered for the same pin set: other pins mean a full handshake, and fail.
    std::error_code gen;
    auto other = pinning::Identity::generate({.node_id = "y"}, gen);
    auto o = options(token());
    o.pins = pinning::PinSet(other->pin());
    auto [e3, c3] = connect(std::move(o));
    EXPECT_EQ(e3, pinning::errc::pin_mismatch);
}

TEST_F(Transport, UploadWithBackpressureAndAMetricsSubscription) {
    start_node(1);
    // The node counts what an engine reports, and streams five metrics updates to subscribers.
    node_->stop();
    node_ = std::make_unique<net::Node>(net::NodeOptions{.identity = *identity_, .keys = keys_});
    auto received = std::make_shared<std::atomic<std::uint64_t>>(0);
    net::MethodHandlers report;
    report.on_message = [received](const net::StreamPtr&, std::vector<std::uint8_t> m) {
        *received += m.size();
    };
    report.on_end = [received](const net::StreamPtr& s) {
        s->send(protocol::encode(protocol::Outcome{true, "", std::to_string(received->load())}));
        s->finish();
    };
    node_->handle("metrics.report", "metrics:report", report);
    net::MethodHandlers subscribe;
    subscribe.on_end = [](const net::StreamPtr& s) {
        for (std::uint64_t step = 1; step <= 5; ++step) {
            s->send(protocol::encode(
                protocol::MetricsUpdate{step, 1, {{"loss", 1.0 / static_cast<double>(step)}}}));
        }
        s->finish();
    };
    node_->handle("metrics.subscribe", "metrics:read", subscribe);
    ASSERT_FALSE(node_->start());
    run_io();
    auto [ec, conn] = connect(options(token([](auth::Claims& c) {
        c.scope = {"metrics:report", "metrics:read"};
    })));
    ASSERT_FALSE(ec);

    std::promise<std::error_code> report_done;
    std::vector<std::uint8_t> status_body;
    auto opened = conn->async_open_stream(
        "metrics.report", [&status_body](std::vector<std::uint8_t> m) { status_body = std::move(m); },
        [&report_done](std::error_code e) { report_done.set_value(e); }, boost::asio::use_future);
    ASSERT_EQ(opened.wait_for(30s), std::future_status::ready);
    auto [oec, stream] = opened.get();
    ASSERT_FALSE(oec);
    constexpr std::uint64_t kMessages = 80, kSize = 256 * 1024;  // 20 MiB, far beyond every window
    for (std::uint64_t i = 0; i < kMessages; ++i) {
        auto sent = stream->async_send(std::vector<std::uint8_t>(kSize, static_cast<std::uint8_t>(i)),
                                       boost::asio::use_future);
        ASSERT_EQ(sent.wait_for(30s), std::future_status::ready);
        ASSERT_FALSE(sent.get());
    }
    stream->finish();
    auto rf = report_done.get_future();
    ASSERT_EQ(rf.wait_for(30s), std::future_status::ready);
    EXPECT_FALSE(rf.get());
    std::error_code dec;
    auto status = protocol::decode_outcome(status_body, dec);
    ASSERT_TRUE(status);
    EXPECT_EQ(status->message, std::to_string(kMessages * kSize));

    std::promise<std::error_code> sub_done;
    std::vector<std::uint64_t> steps;
    conn->subscribe(
        "metrics.subscribe", {},
        [&steps](std::vector<std::uint8_t> m) {
            std::error_code e;
            if (auto u = protocol::decode_metrics_update(m, e)) steps.push_back(u->step);
        },
        [&sub_done](std::error_code e) { sub_done.set_value(e); });
    auto sf = sub_done.get_future();
    ASSERT_EQ(sf.wait_for(30s), std::future_status::ready);
    EXPECT_FALSE(sf.get());
    EXPECT_EQ(steps, (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
}

// RFC 8705: a token bound to a client certificate (cnf.x5t#S256) only works on a connection that presented
// it.
TEST_F(Transport, CertificateBoundTokensNeedTheirCertificate) {
    std::error_code gen;
    auto engine_id = pinning::Identity::generate({.node_id = "engine-cert"}, gen);
    auto other_id = pinning::Identity::generate({.node_id = "other-cert"}, gen);
    const std::string mine = net::detail::certificate_thumbprint(engine_id->certificate());
    const std::string theirs = net::detail::certificate_thumbprint(other_id->certificate());
    ASSERT_EQ(mine.size(), 43U);  // base64url of a SHA-256, no padding
    start_node();
    net::EngineOptions eo;
    eo.client_identity = *engine_id;
    make_engine(eo);
    run_io();
    auto bound = [&](const std::string& x5t) {
        return token([&](auth::Claims& c) { c.cnf_x5t_s256 = x5t; });
    };
    auto [ok, c1] = connect(options(bound(mine)));
    EXPECT_FALSE(ok) << ok.message();
    auto o = options(bound(theirs));
    auto report = o.report;
    auto [wrong, c2] = connect(std::move(o));
    EXPECT_EQ(wrong, protocol::errc::token_rejected);
    EXPECT_EQ(report->reject_detail, "cnf_mismatch");
    // An engine without any client certificate cannot use a bound token either.
    make_engine({});
    auto o2 = options(bound(mine));
    auto report2 = o2.report;
    auto [none, c3] = connect(std::move(o2));
    EXPECT_EQ(none, protocol::errc::token_rejected);
    EXPECT_EQ(report2->reject_detail, "cnf_no_client_certificate");
    // Unbound tokens are unaffected.
    auto [plain, c4] = connect(options(token()));
    EXPECT_FALSE(plain);
}

// A fetch cut off by the node going away resumes from the verified leaves the engine kept: only the rest
// crosses the network, and the file is identical.
TEST_F(Transport, AnInterruptedFetchResumesAgainstARestartedNode) {
    // No drain: the stop must cut the fetch off.
    start_node(1, [](net::NodeOptions& o) {
        o.shutdown_timeout = 100ms;
        o.session.drain_timeout = 0ms;
    });
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec);
    const auto dest = tmp_ / "resumed.bin";
    std::atomic<bool> stopping{false};
    std::thread stopper;
    auto first = conn->async_fetch(
        root_, dest,
        [&](std::uint64_t done, std::uint64_t) {
            std::this_thread::sleep_for(
                40ms);  // a slow engine disk: the transfer takes long enough to be cut
            if (done >= 700'000 && !stopping.exchange(true)) {
                stopper = std::thread([this] { node_->stop(); });
            }
        },
        boost::asio::use_future);
    ASSERT_EQ(first.wait_for(60s), std::future_status::ready);
    auto [e1, r1] = first.get();
    if (stopper.joinable()) stopper.join();
    ASSERT_TRUE(e1) << "the fetch finished before the node stopped; nothing to resume";
    EXPECT_FALSE(std::filesystem::exists(dest));
    ASSERT_TRUE(std::filesystem::exists(tmp_ / "resumed.bin.cyxp2p-partial"));
    // One copy of what verified: the partial file plus a small record, within file size + 1% + 64 KiB.
    const auto size = std::filesystem::file_size(source_);
    std::uint64_t on_disk = 0;
    for (const char* name : {"resumed.bin.cyxp2p-partial", "resumed.bin.cyxp2p-partial.meta"}) {
        struct stat st {};
        ASSERT_EQ(::stat((tmp_ / name).c_str(), &st), 0) << name;
        on_disk += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
    EXPECT_LE(on_disk, size + size / 100 + 64 * 1024);

    // The node comes back (same identity, same store); the engine fetches again to the same path.
    node_ = std::make_unique<net::Node>(
        net::NodeOptions{.identity = *identity_, .keys = keys_, .content = store_});
    ASSERT_FALSE(node_->start());
    auto [ec2, conn2] = connect(options(token()));
    ASSERT_FALSE(ec2) << ec2.message();
    auto second = conn2->async_fetch(root_, dest, {}, boost::asio::use_future);
    ASSERT_EQ(second.wait_for(60s), std::future_status::ready);
    auto [e2, r2] = second.get();
    ASSERT_FALSE(e2) << e2.message();
    EXPECT_GE(r2.resumed_blocks, 2U);
    EXPECT_EQ(cyxp2p::test::read_file(dest), cyxp2p::test::read_file(source_));
    EXPECT_FALSE(std::filesystem::exists(tmp_ / "resumed.bin.cyxp2p-partial"));
    EXPECT_FALSE(std::filesystem::exists(tmp_ / "resumed.bin.cyxp2p-partial.meta"));
    EXPECT_LT(node_->metrics().content_bytes_served.load(), std::filesystem::file_size(source_));
}

TEST_F(Transport, AThousandConcurrentSessions) {
    rlimit lim{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 8192);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
    if (lim.rlim_cur < 2200)
        GTEST_SKIP() << "needs 2,200 file descriptors, the hard limit is " << lim.rlim_max;
    start_node(2, [](net::NodeOptions& o) {
        o.rate.connections.max_connections_per_address = 2000;
        o.rate.connections.max_handshakes = 2000;
        o.rate.connections.max_handshakes_per_address = 2000;
        o.rate.connections.max_connections_per_network = 2000;  // all from 127.0.0.1, one /24
        o.rate.connections.max_handshakes_per_network = 2000;
        o.rate.connections.new_connections_per_address = {10000, std::chrono::seconds(1), 10000};
        o.rate.requests_per_method.rate = {10000, std::chrono::seconds(1),
                                           10000};  // 1,000 job.submit at once
    });
    run_io(2);
    constexpr int kSessions = 1000;
    std::vector<std::future<std::pair<std::error_code, std::shared_ptr<net::Connection>>>> pending;
    for (int i = 0; i < kSessions; ++i) {
        auto p =
            std::make_shared<std::promise<std::pair<std::error_code, std::shared_ptr<net::Connection>>>>();
        pending.push_back(p->get_future());
        engine_->async_connect(
            options(token([i](auth::Claims& c) { c.subject = "user-" + std::to_string(i); })),
            [p](std::error_code e, std::shared_ptr<net::Connection> c) {
                p->set_value({e, std::move(c)});
            });
    }
    std::vector<std::shared_ptr<net::Connection>> conns;
    for (auto& f : pending) {
        ASSERT_EQ(f.wait_for(120s), std::future_status::ready);
        auto [e, c] = f.get();
        ASSERT_FALSE(e) << e.message();
        conns.push_back(c);
    }
    EXPECT_EQ(node_->metrics().handshakes_ok.load(), static_cast<std::uint64_t>(kSessions));
    EXPECT_EQ(node_->open_connections(), static_cast<std::size_t>(kSessions))
        << "open gauge " << node_->metrics().connections_open.load() << " accepted "
        << node_->metrics().connections_accepted.load() << " refused "
        << node_->metrics().connections_refused.load();
    // Every one of them still answers.
    std::vector<std::future<std::tuple<std::error_code, std::vector<std::uint8_t>>>> replies;
    for (auto& c : conns) {
        replies.push_back(c->async_request("job.submit", protocol::encode(protocol::JobSubmit{"j", {}}),
                                           boost::asio::use_future));
    }
    int ok = 0;
    for (auto& r : replies) {
        ASSERT_EQ(r.wait_for(120s), std::future_status::ready);
        auto [rec, body] = r.get();
        EXPECT_FALSE(rec) << rec.category().name() << ":" << rec.value() << " " << rec.message();
        ok += !rec;
    }
    EXPECT_EQ(ok, kSessions);
}

}  // namespace
