#include <limits>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include <cyxp2p/replay/sequence_window.hpp>

namespace cyxp2p::replay {
namespace {

TEST(SequenceWindow, DefaultIsRfc6479With2048Bits) {
    SequenceWindow w;
    EXPECT_EQ(w.window(), 1984u);
    EXPECT_TRUE(w.empty());
}

TEST(SequenceWindow, AcceptsOnceRejectsDuplicates) {
    SequenceWindow w(128);
    EXPECT_TRUE(w.accept(0));
    EXPECT_EQ(w.accept(0).reason, errc::duplicate_sequence);
    EXPECT_TRUE(w.accept(2));
    EXPECT_TRUE(w.accept(1));  // late but inside the window
    EXPECT_EQ(w.accept(1).reason, errc::duplicate_sequence);
    EXPECT_EQ(w.accept(2).reason, errc::duplicate_sequence);
    EXPECT_EQ(w.highest(), 2u);
}

TEST(SequenceWindow, CheckDoesNotRecord) {
    SequenceWindow w(128);
    EXPECT_TRUE(w.check(5));
    EXPECT_TRUE(w.check(5));
    EXPECT_TRUE(w.empty());
    ASSERT_TRUE(w.accept(5));
    EXPECT_EQ(w.check(5).reason, errc::duplicate_sequence);
    EXPECT_TRUE(w.check(6));
    EXPECT_EQ(w.highest(), 5u);
}

TEST(SequenceWindow, WindowEdgeIsExact) {
    SequenceWindow w(128);  // two words: window 64
    ASSERT_EQ(w.window(), 64u);
    ASSERT_TRUE(w.accept(1000));
    EXPECT_EQ(w.check(1000 - 65).reason, errc::sequence_too_old);
    EXPECT_TRUE(w.accept(1000 - 64));
    EXPECT_EQ(w.accept(1000 - 64).reason, errc::duplicate_sequence);
    for (std::uint64_t s = 1000 - 63; s < 1000; ++s) EXPECT_TRUE(w.accept(s)) << s;
    EXPECT_EQ(w.accept(0).reason, errc::sequence_too_old);
}

TEST(SequenceWindow, InOrderAcrossManyWrapsOfTheWords) {
    SequenceWindow w(128);
    for (std::uint64_t s = 0; s < 10'000; ++s) {
        ASSERT_TRUE(w.accept(s)) << s;
        ASSERT_EQ(w.accept(s).reason, errc::duplicate_sequence) << s;
        if (s >= 64) {
            ASSERT_EQ(w.check(s - 64).reason, errc::duplicate_sequence) << s;
        }
        if (s >= 65) {
            ASSERT_EQ(w.check(s - 65).reason, errc::sequence_too_old) << s;
        }
    }
}

TEST(SequenceWindow, AdvancingClearsTheWordsItReuses) {
    SequenceWindow w(128);
    ASSERT_TRUE(w.accept(11));  // word 0, bit 11
    // 139 = 128 + 11 lands in the same ring slot as 11; the slot must have been zeroed on the way.
    ASSERT_TRUE(w.accept(138));
    EXPECT_TRUE(w.check(139));
    EXPECT_TRUE(w.accept(139));
    // 75..127 were never seen and are within 64 of 139.
    EXPECT_TRUE(w.accept(75));
    EXPECT_EQ(w.check(74).reason, errc::sequence_too_old);
}

TEST(SequenceWindow, FarJumpClearsEverything) {
    SequenceWindow w(256);
    for (std::uint64_t s = 0; s < 256; ++s) ASSERT_TRUE(w.accept(s));
    const std::uint64_t far = 1'000'000'007;
    ASSERT_TRUE(w.accept(far));
    for (std::uint64_t s = far - w.window(); s < far; ++s) ASSERT_TRUE(w.accept(s)) << s;  // all fresh
    EXPECT_EQ(w.check(far - w.window() - 1).reason, errc::sequence_too_old);
    EXPECT_EQ(w.check(255).reason, errc::sequence_too_old);
}

TEST(SequenceWindow, ExtremeNumbers) {
    constexpr auto max = std::numeric_limits<std::uint64_t>::max();
    SequenceWindow w(128);
    ASSERT_TRUE(w.accept(max));
    EXPECT_EQ(w.accept(max).reason, errc::duplicate_sequence);
    EXPECT_TRUE(w.accept(max - 64));
    EXPECT_EQ(w.check(max - 65).reason, errc::sequence_too_old);
    EXPECT_EQ(w.check(0).reason, errc::sequence_too_old);
}

TEST(SequenceWindow, MatchesAReferenceModel) {
    // A set of everything accepted is the obvious specification; the bitmap must agree with it on every
    // call, over random walks that mix small steps, reorderings, duplicates and far jumps.
    for (std::size_t bits : {128u, 256u, 2048u}) {
        SequenceWindow w(bits);
        std::set<std::uint64_t> seen;
        std::uint64_t top = 0;
        std::mt19937_64 rng(bits);
        std::uint64_t base = 1000;
        for (int i = 0; i < 200'000; ++i) {
            const auto r = rng() % 100;
            std::uint64_t s;
            if (r < 2) base += rng() % (4 * bits);  // jump
            if (r < 50)
                s = base + rng() % 64;
            else if (r < 90)
                s = base > bits ? base - rng() % bits : rng() % (base + 1);
            else
                s = seen.empty() ? base : *std::next(seen.begin(), static_cast<long>(rng() % seen.size()));
            if (r % 7 == 0) ++base;

            errc want{};
            if (!seen.empty() && s <= top) {
                if (top - s > w.window())
                    want = errc::sequence_too_old;
                else if (seen.count(s) != 0)
                    want = errc::duplicate_sequence;
            }
            ASSERT_EQ(w.check(s).reason, want) << "bits " << bits << " step " << i << " seq " << s;
            ASSERT_EQ(w.accept(s).reason, want) << "bits " << bits << " step " << i << " seq " << s;
            if (want == errc{}) {
                seen.insert(s);
                top = std::max(top, s);
                if (seen.size() > 4096) seen.erase(seen.begin(), seen.lower_bound(top - w.window()));
            }
        }
    }
}

TEST(SequenceWindow, RejectsSizesThatAreNotAPowerOfTwo) {
    EXPECT_THROW(SequenceWindow{64}, std::invalid_argument);
    EXPECT_THROW(SequenceWindow{192}, std::invalid_argument);
    EXPECT_THROW(SequenceWindow{0}, std::invalid_argument);
    EXPECT_NO_THROW(SequenceWindow{128});
}

}  // namespace
}  // namespace cyxp2p::replay
