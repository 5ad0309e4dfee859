// Strict dag-pb decoding. A decoded node encodes (canonical: Links, then Data) and decodes to the same node;
// canonical input encodes back to the same bytes.
#include <cyxp2p/content/dag_pb.hpp>

#include "check.hpp"

namespace {

using namespace cyxp2p::content;

bool same(const PbNode& a, const PbNode& b) {
    if (a.links.size() != b.links.size() || a.data.has_value() != b.data.has_value()) return false;
    if (a.data && !std::equal(a.data->begin(), a.data->end(), b.data->begin(), b.data->end())) return false;
    for (std::size_t i = 0; i < a.links.size(); ++i) {
        const auto& x = a.links[i];
        const auto& y = b.links[i];
        if (!(x.hash == y.hash) || x.name != y.name || x.tsize != y.tsize) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView block(data, size);
    PbNode node;
    if (decode_dag_pb(block, node, 64)) return 0;
    CYXP2P_FUZZ_CHECK(node.links.size() <= 64);
    Bytes out;
    encode_dag_pb(node, out);
    PbNode again;
    CYXP2P_FUZZ_CHECK(!decode_dag_pb(out, again, 64));
    CYXP2P_FUZZ_CHECK(same(node, again));
    Bytes twice;
    encode_dag_pb(again, twice);
    CYXP2P_FUZZ_CHECK(twice == out);
    return 0;
}
