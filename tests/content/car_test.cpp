// CAR v1: header bytes, round trip through the blockstore, and every reader error.
#include <sstream>

#include <gtest/gtest.h>

#include <cyxp2p/content/car.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/varint.hpp>

#include "dag_fixture.hpp"
#include "support.hpp"

namespace c = cyxp2p::content;
namespace t = cyxp2p::content::testing;
namespace fs = std::filesystem;
using c::errc;

namespace {

std::string car_of(const t::Dag& dag, const std::vector<t::Block>& blocks) {
    std::ostringstream out;
    c::CarWriter w(out, {dag.root});
    for (const auto& b : blocks) EXPECT_FALSE(w.add(b.cid, b.bytes));
    return out.str();
}

std::error_code verify(const std::string& car, std::optional<c::Cid> root = std::nullopt,
                       const fs::path* extract = nullptr) {
    std::istringstream in(car);
    std::error_code ec;
    auto r = c::verify_car(in, root, ec, extract);
    EXPECT_EQ(r.has_value(), !ec);
    return ec;
}

}  // namespace

TEST(Car, HeaderIsCanonicalDagCbor) {
    std::error_code ec;
    const auto root = *c::Cid::parse("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", ec);
    const c::Bytes h = c::encode_car_header({root});
    // a2 65 "roots" 81 d8 2a 58 23 00 <34 bytes> 67 "version" 01
    ASSERT_EQ(h.size(), 1u + 6 + 1 + 2 + 2 + 35 + 8 + 1);
    EXPECT_EQ(h[0], 0xa2);
    EXPECT_EQ(c::as_chars(c::ByteView(h).subspan(2, 5)), "roots");
    EXPECT_EQ(h[7], 0x81);
    EXPECT_EQ(h[8], 0xd8);
    EXPECT_EQ(h[9], 0x2a);
    EXPECT_EQ(h[10], 0x58);
    EXPECT_EQ(h[11], 35);
    EXPECT_EQ(h[12], 0x00);
    EXPECT_EQ(h.back(), 0x01);
    std::vector<c::Cid> roots;
    ASSERT_FALSE(c::decode_car_header(h, roots));
    EXPECT_EQ(roots, std::vector<c::Cid>{root});
    // {version: 2}: the CARv2 pragma.
    EXPECT_EQ(c::decode_car_header(c::Bytes{0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x02}, roots),
              errc::car_unsupported_version);
    EXPECT_EQ(c::decode_car_header(c::Bytes{0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01}, roots),
              errc::car_bad_header);
    EXPECT_EQ(c::decode_car_header(c::Bytes{0x80}, roots), errc::car_bad_header);
}

TEST(Car, ExportFromBlockstoreVerifiesAndExtracts) {
    cyxp2p::test::TempDir dir;
    const std::string data = t::pattern(100 * 50 + 3);
    const c::ImportOptions opt{0, false, 100, 4};
    std::error_code ec;
    auto store = c::Blockstore::open(dir / "store", ec);
    c::Importer imp(opt, store->sink());
    ASSERT_FALSE(imp.write(c::as_bytes(data)));
    auto r = imp.finish(ec);
    ASSERT_TRUE(r);
    std::ostringstream out;
    std::uint64_t n = 0;
    ASSERT_FALSE(c::export_car(*store, r->root, out, {}, &n));
    const t::Dag dag = t::import_dag(data, opt);
    EXPECT_EQ(n, dag.dfs.size());
    EXPECT_EQ(out.str(), car_of(dag, dag.dfs));  // DFS pre-order, byte for byte
    EXPECT_FALSE(verify(out.str()));
    EXPECT_FALSE(verify(out.str(), r->root));
    const fs::path dest = dir / "out.bin";
    EXPECT_FALSE(verify(out.str(), std::nullopt, &dest));
    EXPECT_EQ(cyxp2p::test::read_file(dest), data);
    // A block missing from the store stops the export.
    fs::remove(store->data_path(dag.dfs[3].cid));
    std::ostringstream partial;
    EXPECT_EQ(c::export_car(*store, r->root, partial), errc::block_not_found);
}

TEST(Car, ReaderErrors) {
    cyxp2p::test::TempDir dir;
    const t::Dag dag = t::import_dag(t::pattern(1000), c::ImportOptions{1, true, 100, 4});
    const std::string good = car_of(dag, dag.dfs);
    const fs::path dest = dir / "out.bin";
    // Truncated inside the last section: truncated_input, and no file at the destination.
    EXPECT_EQ(verify(good.substr(0, good.size() - 5), std::nullopt, &dest), errc::truncated_input);
    EXPECT_FALSE(fs::exists(dest));
    EXPECT_EQ(verify(good.substr(0, 20)), errc::truncated_input);
    EXPECT_EQ(verify(""), errc::truncated_input);
    // Cut at a section boundary: the DAG is incomplete.
    const std::string no_last = car_of(dag, {dag.dfs.begin(), dag.dfs.end() - 1});
    EXPECT_EQ(verify(no_last, std::nullopt, &dest), errc::missing_block);
    EXPECT_FALSE(fs::exists(dest));
    // A flipped byte inside a block.
    std::string flipped = good;
    flipped[flipped.size() - 3] ^= 1;
    EXPECT_EQ(verify(flipped, std::nullopt, &dest), errc::hash_mismatch);
    EXPECT_FALSE(fs::exists(dest));
    // A trusted root the header does not list.
    EXPECT_EQ(verify(good, t::raw_block("x").cid), errc::car_root_mismatch);
    // Caps: a header or section length beyond go-car's limits is refused before reading it.
    c::Bytes huge;
    c::append_varint(huge, (32ull << 20) + 1);
    EXPECT_EQ(verify(std::string(huge.begin(), huge.end())), errc::car_header_too_large);
    std::ostringstream big;
    c::CarWriter w(big, {dag.root});
    c::Bytes len;
    c::append_varint(len, (8ull << 20) + 1);
    big.write(reinterpret_cast<const char*>(len.data()), static_cast<std::streamsize>(len.size()));
    EXPECT_EQ(verify(big.str()), errc::car_section_too_large);
    // No roots and no --root.
    std::ostringstream rootless;
    c::CarWriter rw(rootless, {});
    EXPECT_EQ(verify(rootless.str()), errc::car_no_roots);
}
