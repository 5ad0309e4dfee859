// DagVerifier fed arbitrary blocks. Byte 0 picks the trusted root and how blocks are claimed:
//   bit 0 clear: the fixed DAG's root (content_fixture.hpp); set: the CID of the first block itself, so an
//                arbitrary first block passes the hash check and reaches the dag-pb / UnixFS checks;
//   bit 1:       with bit 0, name that first block as raw instead of dag-pb;
//   bit 2:       pass the expected CID as the sender's claim (as a CAR section does) instead of nothing.
// Then blocks, each varint(length) block; a bad or overlong length makes the rest of the input one block.
// Verified bytes must come out contiguous, and a complete DAG yields exactly its file size.
#include <cyxp2p/content/dag_verifier.hpp>
#include <cyxp2p/content/varint.hpp>

#include "check.hpp"
#include "content_fixture.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cyxp2p::content;
    if (size < 1) return 0;
    const std::uint8_t mode = data[0];
    ByteView in(data + 1, size - 1);

    std::vector<ByteView> blocks;
    while (!in.empty()) {
        ByteView cur = in;
        std::uint64_t len = 0;
        if (read_varint(cur, len) || len > cur.size()) {
            blocks.push_back(in);
            break;
        }
        blocks.push_back(cur.first(static_cast<std::size_t>(len)));
        in = cur.subspan(static_cast<std::size_t>(len));
    }

    Cid root = cyxp2p::fuzz::fixed_dag().root;
    if ((mode & 1U) && !blocks.empty()) {
        root = Cid::of_block(1, (mode & 2U) ? Codec::raw : Codec::dag_pb, blocks.front());
    }
    DagVerifier v(root, cyxp2p::fuzz::content_limits());
    bool failed = false;
    for (const auto& b : blocks) {
        std::optional<Cid> claimed;
        if (mode & 4U) claimed = v.expected();
        const std::uint64_t before = v.bytes_verified();
        VerifiedData out;
        if (auto ec = v.push(b, claimed, out)) {
            CYXP2P_FUZZ_CHECK(out.bytes.empty());
            failed = true;
            continue;
        }
        CYXP2P_FUZZ_CHECK(!failed);  // after an error every push fails
        CYXP2P_FUZZ_CHECK(out.bytes.empty() || out.offset == before);
        CYXP2P_FUZZ_CHECK(v.bytes_verified() == before + out.bytes.size());
        CYXP2P_FUZZ_CHECK(v.bytes_verified() <= v.file_size());
    }
    const auto ec = v.finish();
    if (!ec && !failed) {
        CYXP2P_FUZZ_CHECK(v.complete());
        CYXP2P_FUZZ_CHECK(v.bytes_verified() == v.file_size());
    }
    return 0;
}
