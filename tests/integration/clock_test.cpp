// The two clocks on real sockets (docs/net.md, "Clocks"): a ManualClock in NodeOptions, its wall
// clock stepped an hour either way mid-session. The rate-limit buckets neither refill nor freeze, the idle
// deadline follows monotonic time, and only the token's expiry follows the calendar. Time is stepped, never
// slept through; the only waits are for bytes on loopback.
#include "fixture.hpp"

namespace {
using it::Transport;

std::error_code request(net::Connection& c) {
    auto f = c.async_request("job.submit", protocol::encode(protocol::JobSubmit{"j", {}}),
                             boost::asio::use_future);
    if (f.wait_for(30s) != std::future_status::ready) return std::make_error_code(std::errc::timed_out);
    return std::get<0>(f.get());
}

// Two requests at once, then one per 10 s per token subject.
void one_per_ten_seconds(net::NodeOptions& o) {
    o.rate.requests_per_peer.rate = {.tokens = 1, .period = 10s, .burst = 2};
}

bool closes_within(net::Connection& c, std::chrono::milliseconds limit) {
    const auto t0 = std::chrono::steady_clock::now();
    while (c.open() && std::chrono::steady_clock::now() - t0 < limit) std::this_thread::sleep_for(10ms);
    return !c.open();
}

TEST_F(Transport, WallStepForwardKeepsTheBucketEmptyAndEndsOnlyTheToken) {
    auto clock = std::make_shared<net::ManualClock>();
    start_node(1, [&](net::NodeOptions& o) {
        o.clock = clock;
        one_per_ten_seconds(o);
    });
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_FALSE(request(*conn));
    ASSERT_FALSE(request(*conn));
    ASSERT_EQ(request(*conn), protocol::errc::rate_limited);
    // A PING round trip first: whatever the engine had queued (window credit, RTT probes) reaches the node
    // before the step, so the next frame it reads after the step is the OPEN below.
    auto pong = conn->async_ping(boost::asio::use_future);
    ASSERT_EQ(pong.wait_for(30s), std::future_status::ready);
    ASSERT_FALSE(std::get<0>(pong.get()));
    // An hour and a minute on the node's calendar: on wall time the bucket would hold 366 tokens again. Not
    // exactly an hour: the token was minted after the clock was made (seconds later on a loaded machine), so
    // a step of 1 h could leave it a second to live, on a monotonic clock that never reaches that second.
    clock->step_wall(1h + 1min);
    EXPECT_EQ(request(*conn), protocol::errc::rate_limited);
    // The same request showed the node its new calendar: the token (exp = the engine's now + 1 h) is past,
    // GOAWAY, and with no stream open the session ends. No monotonic deadline had come due. check_deadlines()
    // hands every session the clock's reading now, as the node's timer would.
    node_->check_deadlines();
    EXPECT_TRUE(closes_within(*conn, 20s));
    EXPECT_EQ(node_->metrics().rate_limited.load(), 2U);
}

TEST_F(Transport, WallStepBackFreezesNoBucketAndTheIdleDeadlineStillFires) {
    auto clock = std::make_shared<net::ManualClock>();
    start_node(1, [&](net::NodeOptions& o) {
        o.clock = clock;
        one_per_ten_seconds(o);
        o.session.idle_timeout = 20s;
        // One replay shard: its "latest wall time seen" is then the one of the requests before the step, so
        // the engine's timestamps (its clock did not step) pass; replay/nonce_window.hpp.
        o.replay.shards = 1;
    });
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_FALSE(request(*conn));
    ASSERT_FALSE(request(*conn));
    ASSERT_EQ(request(*conn), protocol::errc::rate_limited);
    // The node's calendar alone goes back an hour.
    clock->step_wall(-1h);
    node_->check_deadlines();
    EXPECT_EQ(request(*conn), protocol::errc::rate_limited);  // no refill
    // 10 s of real time on the node: a bucket on wall time would stay empty for the hour.
    clock->advance(10s);
    node_->check_deadlines();
    EXPECT_FALSE(request(*conn));
    EXPECT_TRUE(conn->open());
    // Another 10 s (the idle deadline is 20 s after the last frame, 10 s ago), a stream left open, and a
    // PING behind it: once the PONG is back, the node has every frame it will get.
    clock->advance(10s);
    node_->check_deadlines();
    EXPECT_TRUE(conn->open());
    std::promise<std::error_code> ended;
    auto opened = conn->async_open_stream(
        "job.submit", [](std::vector<std::uint8_t>) {}, [&ended](std::error_code e) { ended.set_value(e); },
        boost::asio::use_future);
    ASSERT_EQ(opened.wait_for(30s), std::future_status::ready);
    ASSERT_FALSE(std::get<0>(opened.get()));
    auto pong = conn->async_ping(boost::asio::use_future);
    ASSERT_EQ(pong.wait_for(30s), std::future_status::ready);
    ASSERT_FALSE(std::get<0>(pong.get()));
    // 20 s of monotonic time without a frame: the idle deadline fires then, not before.
    clock->advance(19s);
    node_->check_deadlines();
    EXPECT_TRUE(conn->open());
    clock->advance(1s);
    node_->check_deadlines();
    auto end = ended.get_future();
    ASSERT_EQ(end.wait_for(30s), std::future_status::ready);
    EXPECT_EQ(end.get(), protocol::errc::idle_timeout);
    EXPECT_TRUE(closes_within(*conn, 20s));
}

TEST_F(Transport, AnEngineOnAManualClockSendsItsKeepaliveWhenTheClockSaysSo) {
    auto clock = std::make_shared<net::ManualClock>();
    net::EngineOptions o;
    o.clock = clock;
    make_engine(std::move(o));
    start_node(1);
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec) << ec.message();
    // Let the RTT probe of the handshake complete: one sample, then a quiet session.
    auto first_sample = [&] {
        const auto t0 = std::chrono::steady_clock::now();
        while (conn->flow_stats().rtt_samples == 0 && std::chrono::steady_clock::now() - t0 < 5s)
            std::this_thread::sleep_for(10ms);
        return conn->flow_stats().rtt_samples;
    };
    const auto before = first_sample();
    ASSERT_GT(before, 0U);
    // An hour on the engine's calendar is no reason to PING; ping_interval of monotonic time is.
    clock->step_wall(1h);
    clock->advance(protocol::SessionLimits{}.ping_interval);
    conn->check_deadlines();
    const auto t0 = std::chrono::steady_clock::now();
    while (conn->flow_stats().rtt_samples == before && std::chrono::steady_clock::now() - t0 < 5s)
        std::this_thread::sleep_for(10ms);  // the PING and its PONG cross loopback
    EXPECT_EQ(conn->flow_stats().rtt_samples, before + 1);
    EXPECT_TRUE(conn->open());
}

}  // namespace
