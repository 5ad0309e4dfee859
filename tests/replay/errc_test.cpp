#include <set>
#include <string>

#include <gtest/gtest.h>

#include <cyxp2p/replay/errc.hpp>

namespace cyxp2p::replay {
namespace {

TEST(ReplayErrc, EveryReasonHasANameAndAMessage) {
    std::set<std::string> names;
    for (int i = 1; i <= static_cast<int>(errc::sequence_too_old); ++i) {
        const auto e = static_cast<errc>(i);
        const std::error_code ec = e;
        EXPECT_STREQ(ec.category().name(), "cyxp2p.replay");
        EXPECT_NE(ec.message(), "unknown replay error") << i;
        EXPECT_NE(std::string(to_string(e)), "unknown") << i;
        names.insert(to_string(e));
    }
    EXPECT_EQ(names.size(), 6u);
    EXPECT_STREQ(to_string(errc::window_full), "window_full");
    EXPECT_STREQ(to_string(errc{}), "accepted");
}

TEST(ReplayErrc, VerdictConvertsToErrorCode) {
    EXPECT_FALSE(Verdict{}.error());
    EXPECT_TRUE(Verdict{}.accepted());
    const Verdict v{errc::duplicate_nonce, {}};
    EXPECT_FALSE(v);
    EXPECT_EQ(v.error(), errc::duplicate_nonce);
}

}  // namespace
}  // namespace cyxp2p::replay
