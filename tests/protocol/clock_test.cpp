// The two clocks (docs/protocol.md section 7, "Clocks"): the wall clock stepped an hour either way
// mid-session neither refills nor freezes the rate-limit buckets, and neither fires nor holds back the
// monotonic deadlines; the token's expiry alone follows the wall clock. Engine and node keep separate clocks
// here, as two machines do.
#include <gtest/gtest.h>

#include <cyxp2p/protocol/engine_session.hpp>
#include <cyxp2p/protocol/node_session.hpp>
#include <cyxp2p/ratelimit/keyed_limiter.hpp>
#include <cyxp2p/replay/nonce_window.hpp>

#include "session_rig.hpp"

namespace p = cyxp2p::protocol;
using namespace std::chrono_literals;
using Kind = p::Event::Kind;
using cyxp2p::test::kT0;
using p::errc;

namespace {

// Two stream opens at once, then one per 10 s per token subject: a step that refilled the bucket would let
// the third open through at once, one that froze it would keep refusing after 10 s.
cyxp2p::ratelimit::KeyedLimits one_per_ten_seconds() {
    cyxp2p::ratelimit::KeyedLimits l;
    l.rate = {.tokens = 1, .period = 10s, .burst = 2};
    return l;
}

// One shard: the replay window's "highest now seen" is then the same for every nonce (with several, a shard
// that saw no request before a wall step back judges by the stepped clock; nonce_window.hpp).
cyxp2p::replay::Limits one_shard() {
    cyxp2p::replay::Limits l;
    l.nonce_capacity = 1024;
    l.shards = 1;
    return l;
}

class TwoClocks : public ::testing::Test {
  protected:
    TwoClocks() : rig_(trust_.keys, "node-1", one_shard()), limiter_(one_per_ten_seconds()) {
        rig_.services.requests_per_peer = &limiter_;
        node_.emplace(rig_.session(node_now_));
        engine_.emplace(cyxp2p::test::engine_config(trust_.mint(cyxp2p::test::p2p_claims())), engine_now_);
        pump();
        EXPECT_TRUE(engine_->ready());
        EXPECT_TRUE(node_->authenticated());
        node_events_.clear();
        engine_events_.clear();
    }

    // Time passes for both machines.
    void advance(p::Time d) {
        node_now_ += d;
        engine_now_ += d;
    }

    // cyxp2p::test::pump with a clock per side.
    void pump() {
        for (int i = 0; i < 1000; ++i) {
            auto a = engine_->poll_output();
            if (!a.empty()) node_->receive(a, node_now_);
            while (auto e = node_->poll_event(node_now_)) node_events_.push_back(std::move(*e));
            auto b = node_->poll_output();
            if (!b.empty()) engine_->receive(b, engine_now_);
            while (auto e = engine_->poll_event(engine_now_)) engine_events_.push_back(std::move(*e));
            if (a.empty() && b.empty()) return;
        }
        FAIL() << "the sessions did not fall quiet";
    }

    // Opens job.submit; the node's verdict: ok, or the code it refused the stream with.
    std::error_code open() {
        std::error_code ec;
        if (!engine_->open_stream("job.submit", engine_now_, ec)) return ec;
        node_events_.clear();
        pump();
        for (const auto& e : node_events_) {
            if (e.kind == Kind::stream_opened) return {};
            if (e.kind == Kind::stream_refused) return e.error;
        }
        return make_error_code(errc::internal);
    }

    std::optional<p::Event> node_event(Kind k) const {
        for (const auto& e : node_events_)
            if (e.kind == k) return e;
        return std::nullopt;
    }
    std::optional<p::Event> engine_event(Kind k) const {
        for (const auto& e : engine_events_)
            if (e.kind == k) return e;
        return std::nullopt;
    }

    // Empties the bucket: two opens pass, the third is refused until 10 s have passed.
    void drain_bucket() {
        ASSERT_FALSE(open());
        ASSERT_FALSE(open());
        ASSERT_EQ(open(), errc::rate_limited);
    }

    const p::SessionLimits limits_{};
    p::Now node_now_ = cyxp2p::test::at(kT0 + 10);
    // The engine's machine booted at another time: same calendar, another monotonic reading.
    p::Now engine_now_{.mono = 777s, .wall = node_now_.wall};
    cyxp2p::test::Trust trust_;
    cyxp2p::test::NodeRig rig_;
    cyxp2p::ratelimit::KeyedLimiter limiter_;
    std::optional<p::NodeSession> node_;
    std::optional<p::EngineSession> engine_;
    std::vector<p::Event> node_events_, engine_events_;
};

TEST_F(TwoClocks, WallStepForwardRefillsNoBucketAndFiresOnlyTheTokenDeadline) {
    drain_bucket();
    const p::Time engine_deadline = *engine_->next_timeout();
    // An hour on the calendar, a millisecond of real time, on both machines (one NTP server).
    advance(1ms);
    node_now_.wall += 1h;
    engine_now_.wall += 1h;
    EXPECT_EQ(open(), errc::rate_limited);  // a bucket on wall time would have refilled: 360 tokens
    // The engine's keepalive and idle deadlines did not move by the hour, and none of them passed.
    ASSERT_TRUE(engine_->next_timeout());
    EXPECT_GT(*engine_->next_timeout(), engine_now_.mono);
    EXPECT_LE(*engine_->next_timeout() - engine_deadline, 1ms);
    engine_->on_timeout(engine_now_);
    EXPECT_TRUE(engine_->poll_output().empty());  // no keepalive PING, no close
    EXPECT_FALSE(engine_->closed());
    // The node: kT0 + 3610 is past the token's exp (kT0 + 3600). That deadline, and only it, is due now.
    ASSERT_TRUE(node_->next_timeout());
    EXPECT_EQ(*node_->next_timeout(), node_now_.mono);
    node_->on_timeout(node_now_);
    pump();
    const auto away = engine_event(Kind::going_away);
    ASSERT_TRUE(away);
    EXPECT_EQ(away->error, errc::token_expired);
    EXPECT_FALSE(node_->closed());  // a drain (GOAWAY), not an idle or ping timeout
    EXPECT_FALSE(node_event(Kind::closed));
}

TEST_F(TwoClocks, WallStepBackFreezesNoBucketAndHoldsBackNoDeadline) {
    drain_bucket();
    const auto refused = open();
    ASSERT_EQ(refused, errc::rate_limited);
    // The node's wall clock alone goes back an hour (a bad NTP source); the engine's stays right. The
    // replay window keeps the latest wall time it saw, so the engine's timestamps still pass it.
    advance(1ms);
    node_now_.wall -= 1h;
    EXPECT_EQ(open(), errc::rate_limited);  // and no refill
    // One token per 10 s of real time: a bucket on wall time would stay empty for the hour.
    advance(10s);
    EXPECT_FALSE(open());
    // The token now has an hour more by the node's calendar; the idle deadline is still 300 s of real
    // time after the last frame, and fires then.
    const p::Time last_frame = node_now_.mono;
    ASSERT_TRUE(node_->next_timeout());
    EXPECT_EQ(*node_->next_timeout(), last_frame + limits_.idle_timeout);
    node_->on_timeout(node_now_ + (limits_.idle_timeout - 1ms));
    EXPECT_FALSE(node_->closed());
    node_->on_timeout(node_now_ + limits_.idle_timeout);
    EXPECT_TRUE(node_->closed());
    while (auto e = node_->poll_event()) node_events_.push_back(std::move(*e));
    const auto closed = node_event(Kind::closed);
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->error, errc::idle_timeout);
}

TEST_F(TwoClocks, TokenExpiryFollowsTheWallClock) {
    ASSERT_FALSE(open());
    // Two hours on the calendar with no real time passing: no monotonic deadline is due, the token is over.
    node_now_.wall += 2h;
    engine_now_.wall += 2h;
    node_->on_timeout(node_now_);
    pump();
    const auto away = engine_event(Kind::going_away);
    ASSERT_TRUE(away);
    EXPECT_EQ(away->error, errc::token_expired);
    std::error_code ec;
    EXPECT_FALSE(engine_->open_stream("job.submit", engine_now_, ec));
    EXPECT_EQ(ec, errc::going_away);  // REAUTH before exp, or reconnect with a fresh token (docs/protocol.md)
    EXPECT_FALSE(engine_->closed());
}

TEST_F(TwoClocks, ATokenStillValidByTheWallClockOutlivesAnHourOfMonotonicTime) {
    // The node's calendar is stepped back an hour right after HELLO: by its wall clock the token (exp
    // kT0 + 3600) has almost two hours left. The engine keeps the link alive (keepalive PINGs) meanwhile.
    node_now_.wall -= 1h;
    const p::Time exp_wall = cyxp2p::test::at(kT0 + 3600).wall;
    p::Time real_time{};
    while (node_now_.wall < exp_wall) {
        node_->on_timeout(node_now_);
        pump();
        ASSERT_FALSE(engine_event(Kind::going_away))
            << "token ended after " << std::chrono::duration_cast<std::chrono::seconds>(real_time).count()
            << " s";
        advance(30s);
        real_time += 30s;
        engine_->on_timeout(engine_now_);
        pump();
    }
    EXPECT_GT(real_time, 1h);
    node_->on_timeout(node_now_);
    pump();
    const auto away = engine_event(Kind::going_away);
    ASSERT_TRUE(away);  // and once the node's calendar reaches exp, it ends
    EXPECT_EQ(away->error, errc::token_expired);
    // No stream was open, so the drain ends at once: an orderly close, not an idle or ping timeout.
    const auto closed = node_event(Kind::closed);
    ASSERT_TRUE(closed);
    EXPECT_FALSE(closed->error) << closed->error.message();
}

}  // namespace
