// CIDs as text (Cid::parse) and as bytes (Cid::from_bytes, Cid::read). Binary CIDs are strict (minimal
// varints, sha2-256 only), so what parses is exactly what bytes() writes; text goes through to_string().
#include <cyxp2p/content/cid.hpp>

#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cyxp2p::content;
    std::error_code ec;

    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto c = Cid::parse(text, ec)) {
        auto again = Cid::parse(c->to_string(), ec);
        CYXP2P_FUZZ_CHECK(again && *again == *c);
        auto v1 = Cid::parse(c->to_v1().to_string(), ec);
        CYXP2P_FUZZ_CHECK(v1 && *v1 == c->to_v1());
    } else {
        CYXP2P_FUZZ_CHECK(ec);
    }

    const ByteView bytes(data, size);
    if (auto c = Cid::from_bytes(bytes, ec)) {
        const Bytes b = c->bytes();
        CYXP2P_FUZZ_CHECK(b.size() == size && std::equal(b.begin(), b.end(), data));
    } else {
        CYXP2P_FUZZ_CHECK(ec);
    }

    // A stream of CIDs, as CAR sections and dag-pb links hold them.
    ByteView in = bytes;
    while (!in.empty()) {
        const std::size_t before = in.size();
        auto c = Cid::read(in, ec);
        if (!c) {
            CYXP2P_FUZZ_CHECK(ec && in.size() == before);
            break;
        }
        CYXP2P_FUZZ_CHECK(before - in.size() == c->bytes().size());
    }
    return 0;
}
