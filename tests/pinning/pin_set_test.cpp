#include <gtest/gtest.h>

#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/pin_set.hpp>

namespace pinning = cyxp2p::pinning;
using pinning::errc;
using pinning::PinListError;
using pinning::PinSet;
using namespace std::chrono_literals;

namespace {

constexpr const char* kA = "sha256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
constexpr const char* kB = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
constexpr const char* kC = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

std::error_code pin_of(const char* s) {
    std::error_code ec;
    pinning::Pin::parse(s, ec);
    return ec;
}

TEST(PinSet, SingleAndMultipleRoundTrip) {
    for (std::string list :
         {std::string(kA), std::string(kA) + ";" + kB, std::string(kA) + ";" + kB + ";" + kC}) {
        PinListError err;
        auto set = PinSet::parse(list, &err);
        ASSERT_TRUE(set) << err.describe();
        EXPECT_EQ(set->to_string(), list);
        EXPECT_EQ(PinSet::parse(set->to_string()), set);
    }
}

TEST(PinSet, FirstIsCurrentRestAreBackups) {
    auto set = PinSet::parse(std::string(kB) + ";" + kA);
    ASSERT_TRUE(set);
    EXPECT_EQ(set->current().to_string(), kB);
    ASSERT_EQ(set->pins().size(), 2U);
    const auto now = PinSet::Clock::now();
    std::error_code ec;
    EXPECT_TRUE(set->matches(*pinning::Pin::parse(kA, ec), now));
    EXPECT_TRUE(set->matches(*pinning::Pin::parse(kB, ec), now));
    EXPECT_FALSE(set->matches(*pinning::Pin::parse(kC, ec), now));
}

struct BadList {
    std::string list;
    errc code;
    std::size_t entry;
    std::size_t offset;
};

class PinSetBad : public ::testing::TestWithParam<BadList> {};

TEST_P(PinSetBad, ReportsCodeEntryAndOffset) {
    const BadList& bad = GetParam();
    PinListError err;
    EXPECT_FALSE(PinSet::parse(bad.list, &err));
    EXPECT_EQ(err.code, bad.code) << err.describe();
    EXPECT_EQ(err.entry, bad.entry) << err.describe();
    EXPECT_EQ(err.offset, bad.offset) << err.describe();
    EXPECT_NE(err.describe().find("entry " + std::to_string(bad.entry)), std::string::npos);
}

const std::string a(kA);
INSTANTIATE_TEST_SUITE_P(
    Forms, PinSetBad,
    ::testing::Values(BadList{"", errc::empty_pin_list, 0, 0}, BadList{";", errc::empty_entry, 1, 0},
                      BadList{a + ";", errc::empty_entry, 2, a.size() + 1},
                      BadList{a + ";;" + kB, errc::empty_entry, 2, a.size() + 1},
                      BadList{";" + a, errc::empty_entry, 1, 0},
                      BadList{a + "; " + kB, errc::wrong_prefix, 2, a.size() + 1},
                      BadList{a + ";sha1//" + std::string(kB).substr(8), errc::wrong_prefix, 2, a.size() + 1},
                      BadList{a + ";sha256//!!!!", errc::bad_base64, 2, a.size() + 1},
                      BadList{"sha256//qZk+NkcGgWq6PiVxeFDCbJzQ2J0=;" + a, errc::wrong_digest_length, 1, 0},
                      BadList{a + ";" + kB + ";sha256//AAAA", errc::wrong_digest_length, 3,
                              2 * a.size() + 2}));

TEST(PinSet, ExpiredSetMatchesNothing) {
    auto set = PinSet::parse(kA);
    ASSERT_TRUE(set);
    const auto t0 = PinSet::Clock::time_point(1'700'000'000s);
    set->set_expiry(t0 + 30 * 24h);
    std::error_code ec;
    const auto pin = *pinning::Pin::parse(kA, ec);
    EXPECT_TRUE(set->matches(pin, t0));
    EXPECT_TRUE(set->matches(pin, t0 + 30 * 24h - 1s));
    EXPECT_FALSE(set->matches(pin, t0 + 30 * 24h));  // at the expiry instant: already expired
    EXPECT_TRUE(set->expired(t0 + 31 * 24h));
}

TEST(PinSet, TestVectorsAreValidPins) {
    EXPECT_FALSE(pin_of(kA));
    EXPECT_FALSE(pin_of(kB));
    EXPECT_FALSE(pin_of(kC));
}

}  // namespace
