#include <set>
#include <string>

#include <gtest/gtest.h>

#include <cyxp2p/ratelimit/errc.hpp>

namespace cyxp2p::ratelimit {
namespace {

TEST(RatelimitErrc, EveryReasonHasANameAndAMessage) {
    std::set<std::string> names;
    for (int i = 1; i <= errc_max; ++i) {
        const auto e = static_cast<errc>(i);
        const std::error_code ec = e;
        EXPECT_STREQ(ec.category().name(), "cyxp2p.ratelimit");
        EXPECT_NE(ec.message(), "unknown ratelimit error") << i;
        EXPECT_NE(std::string(to_string(e)), "unknown") << i;
        names.insert(to_string(e));
    }
    EXPECT_EQ(names.size(), 12u);
    EXPECT_EQ(static_cast<int>(errc::handshake_evicted), errc_max);
    EXPECT_STREQ(to_string(errc::connection_rate_limited), "connection_rate_limited");
    EXPECT_STREQ(to_string(errc{}), "allowed");
}

TEST(RatelimitErrc, DecisionConvertsToErrorCode) {
    EXPECT_FALSE(Decision{}.error());
    EXPECT_TRUE(Decision{}.allowed());
    const Decision d{errc::rate_limited, std::chrono::seconds(1)};
    EXPECT_FALSE(d);
    EXPECT_EQ(d.error(), errc::rate_limited);
}

}  // namespace
}  // namespace cyxp2p::ratelimit
