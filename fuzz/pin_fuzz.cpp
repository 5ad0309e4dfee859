// SPKI pin lists (PinSet::parse, Pin::parse): whatever parses must round-trip, parse(to_string(x)) == x.
#include <cyxp2p/pinning/pin.hpp>
#include <cyxp2p/pinning/pin_set.hpp>

#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cyxp2p::pinning;
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    std::error_code ec;
    if (auto pin = Pin::parse(in, ec)) {
        const std::string text = pin->to_string();
        auto again = Pin::parse(text, ec);
        CYXP2P_FUZZ_CHECK(again && *again == *pin && again->to_string() == text);
    } else {
        CYXP2P_FUZZ_CHECK(ec);
    }

    PinListError error;
    if (auto set = PinSet::parse(in, &error)) {
        CYXP2P_FUZZ_CHECK(!set->pins().empty());
        const std::string text = set->to_string();
        auto again = PinSet::parse(text, &error);
        CYXP2P_FUZZ_CHECK(again && *again == *set && again->to_string() == text);
        for (const auto& p : set->pins()) CYXP2P_FUZZ_CHECK(set->matches(p, {}));
    } else {
        CYXP2P_FUZZ_CHECK(error.code);
        CYXP2P_FUZZ_CHECK(error.offset <= in.size());
        (void)error.describe();
    }
    return 0;
}
