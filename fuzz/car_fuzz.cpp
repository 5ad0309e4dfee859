// CAR v1 reading: the header payload decoder, CarReader section by section (next() and the index pass's
// next_location(), which must agree), and verify_car (streamed, or indexed when the blocks are not in DFS
// order) both trusting the header's root and trusting the fixed DAG's root. Nothing is extracted.
#include <algorithm>
#include <sstream>

#include <cyxp2p/content/car.hpp>

#include "check.hpp"
#include "content_fixture.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cyxp2p::content;
    const auto limits = cyxp2p::fuzz::content_limits();
    const std::string text(reinterpret_cast<const char*>(data), size);

    // The input as a bare header payload: what decodes re-encodes to roots that decode the same.
    std::vector<Cid> roots;
    if (!decode_car_header(ByteView(data, size), roots)) {
        std::vector<Cid> again;
        CYXP2P_FUZZ_CHECK(!decode_car_header(encode_car_header(roots), again) && again == roots);
    }

    {
        std::istringstream in(text);
        CarReader reader(in, limits);
        if (!reader.read_header()) {
            Cid cid = Cid::v0(Digest{});
            Bytes block;
            std::error_code ec;
            while (reader.next(cid, block, ec)) CYXP2P_FUZZ_CHECK(block.size() <= limits.max_block_size);
        }
    }
    // The index pass (next_location) sees the same sections as next(): same CIDs, and each block where
    // next() found it.
    {
        std::istringstream a(text), b(text);
        CarReader streamed(a, limits), indexed(b, limits);
        if (!streamed.read_header() && !indexed.read_header()) {
            Cid c1 = Cid::v0(Digest{}), c2 = c1;
            Bytes block;
            std::uint64_t offset = 0;
            std::size_t length = 0;
            std::error_code e1, e2;
            for (;;) {
                const bool s1 = streamed.next(c1, block, e1);
                const bool s2 = indexed.next_location(c2, offset, length, e2);
                CYXP2P_FUZZ_CHECK(s1 == s2);
                if (!s1) break;
                CYXP2P_FUZZ_CHECK(c1 == c2 && length == block.size() && offset + length <= text.size());
                CYXP2P_FUZZ_CHECK(std::equal(block.begin(), block.end(), data + offset));
            }
        }
    }
    // The push parser (bytes as they arrive) sees what CarReader sees, wherever the input is split.
    {
        std::istringstream in(text);
        CarReader reader(in, limits);
        std::vector<std::pair<Cid, Bytes>> pulled;
        std::error_code pull_ec = reader.read_header();
        if (!pull_ec) {
            Cid cid = Cid::v0(Digest{});
            Bytes block;
            while (reader.next(cid, block, pull_ec)) pulled.emplace_back(cid, block);
        }
        std::vector<std::pair<Cid, Bytes>> pushed;
        CarStreamParser parser(
            [&](const Cid& cid, ByteView block) {
                pushed.emplace_back(cid, Bytes(block.begin(), block.end()));
                return std::error_code{};
            },
            limits);
        const std::size_t split = size == 0 ? 0 : data[0] % (size + 1);
        std::error_code push_ec = parser.feed(ByteView(data, split));
        if (!push_ec) push_ec = parser.feed(ByteView(data + split, size - split));
        if (!push_ec) push_ec = parser.finish();
        CYXP2P_FUZZ_CHECK(pushed.size() <= pulled.size());
        for (std::size_t i = 0; i < std::min(pushed.size(), pulled.size()); ++i)
            CYXP2P_FUZZ_CHECK(pushed[i] == pulled[i]);
        if (!pull_ec) CYXP2P_FUZZ_CHECK(!push_ec && pushed.size() == pulled.size());
    }
    for (bool fixed_root : {false, true}) {
        std::istringstream in(text);
        std::error_code ec;
        std::optional<Cid> root;
        if (fixed_root) root = cyxp2p::fuzz::fixed_dag().root;
        auto r = verify_car(in, root, ec, nullptr, limits);
        CYXP2P_FUZZ_CHECK(r.has_value() != static_cast<bool>(ec));
    }
    return 0;
}
