// Includes only the umbrella header, to prove it is self-contained and offers the whole module.
#include <gtest/gtest.h>

#include <cyxp2p/replay/replay.hpp>

namespace replay = cyxp2p::replay;

TEST(ReplayUmbrella, BothWindowsRefuseARepeat) {
    replay::SequenceWindow seq(replay::Limits{}.sequence_bits);
    EXPECT_TRUE(seq.accept(7));
    EXPECT_FALSE(seq.accept(7));

    replay::NonceWindow nonces;
    const std::array<std::uint8_t, 16> nonce{1, 2, 3};
    const std::chrono::nanoseconds now = std::chrono::seconds(1'700'000'000);
    EXPECT_TRUE(nonces.check("peer", nonce, now, now));
    EXPECT_EQ(nonces.check("peer", nonce, now, now).reason, replay::errc::duplicate_nonce);
}
