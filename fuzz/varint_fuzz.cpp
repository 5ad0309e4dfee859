// Multiformats unsigned varints: read every varint off the input. Each one read must be the minimal encoding
// of its value, so append_varint writes back exactly the bytes consumed.
#include <cyxp2p/content/varint.hpp>

#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cyxp2p::content;
    ByteView in(data, size);
    while (!in.empty()) {
        const ByteView before = in;
        std::uint64_t v = 0;
        if (auto ec = read_varint(in, v)) {
            CYXP2P_FUZZ_CHECK(in.data() == before.data() || in.size() <= before.size());
            break;
        }
        const std::size_t used = before.size() - in.size();
        CYXP2P_FUZZ_CHECK(used >= 1 && used <= kMaxVarintBytes);
        CYXP2P_FUZZ_CHECK(v < (std::uint64_t{1} << 63));
        CYXP2P_FUZZ_CHECK(varint_size(v) == used);
        Bytes out;
        append_varint(out, v);
        CYXP2P_FUZZ_CHECK(out.size() == used && std::equal(out.begin(), out.end(), before.begin()));
    }
    return 0;
}
