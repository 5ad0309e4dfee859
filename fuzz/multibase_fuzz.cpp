// Multibase and base58btc text. Decoded bytes encode and decode back to themselves; base58btc is a
// bijection, so its text also comes back unchanged.
#include <cyxp2p/content/multibase.hpp>

#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cyxp2p::content;
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    Bytes out;
    if (!multibase_decode(text, out)) {
        // Appended, not "b" + string: GCC 12 -Wrestrict false positive at -O3 (GCC bug 105329).
        Bytes again;
        CYXP2P_FUZZ_CHECK(!multibase_decode(std::string("b").append(base32_lower_encode(out)), again) &&
                          again == out);
        again.clear();
        CYXP2P_FUZZ_CHECK(!multibase_decode(std::string("z").append(base58btc_encode(out)), again) &&
                          again == out);
    }

    out.clear();
    if (!base58btc_decode(text, out)) {
        CYXP2P_FUZZ_CHECK(base58btc_encode(out) == text);
    }
    return 0;
}
