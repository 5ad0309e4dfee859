// Includes only the umbrella header, to prove it is self-contained and offers the whole module.
#include <gtest/gtest.h>

#include <cyxp2p/ratelimit/ratelimit.hpp>

namespace rl = cyxp2p::ratelimit;

TEST(RatelimitUmbrella, BucketEmptiesAtItsBurst) {
    const rl::Rate rate{};
    rl::TokenBucket bucket(rate);
    const std::chrono::nanoseconds now{1};
    EXPECT_TRUE(bucket.try_acquire(rate.burst, now).reason == rl::errc{});
    EXPECT_EQ(bucket.try_acquire(now).reason, rl::errc::rate_limited);
}
