// Includes only the umbrella header, to prove it is self-contained and offers the whole module.
#include <gtest/gtest.h>

#include <cyxp2p/pinning/pinning.hpp>

namespace pinning = cyxp2p::pinning;

TEST(PinningUmbrella, OffersPinsPinSetsAndErrors) {
    const std::vector<std::uint8_t> spki(44, 0x5a);
    const auto pin = pinning::Pin::of_spki_der(spki);
    const pinning::PinSet set(pin);
    auto parsed = pinning::PinSet::parse(set.to_string());
    ASSERT_TRUE(parsed);
    EXPECT_TRUE(parsed->matches(pin, pinning::PinSet::Clock::now()));
    std::error_code ec;
    EXPECT_FALSE(pinning::Pin::parse("sha1//AAAA", ec));
    EXPECT_EQ(ec.category(), std::error_code(pinning::errc{}).category());
}
