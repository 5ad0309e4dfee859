// CAR v1: header bytes, round trip through the blockstore, and every reader error.
#include <algorithm>
#include <random>
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

namespace {

// A stream that cannot seek, like a pipe: tellg() is -1.
class NoSeekBuf : public std::stringbuf {
  public:
    explicit NoSeekBuf(const std::string& s) : std::stringbuf(s) {}

  protected:
    pos_type seekoff(off_type, std::ios_base::seekdir, std::ios_base::openmode) override {
        return pos_type(off_type(-1));
    }
    pos_type seekpos(pos_type, std::ios_base::openmode) override { return pos_type(off_type(-1)); }
};

std::vector<t::Block> unique_blocks(const t::Dag& dag) {
    std::vector<t::Block> out;
    for (const auto& b : dag.dfs) {
        if (std::none_of(out.begin(), out.end(), [&](const t::Block& o) { return o.cid == b.cid; }))
            out.push_back(b);
    }
    return out;
}

}  // namespace

// The CAR v1 spec fixes no block order: leaves first (what @ipld/car writes from an importer's blocks),
// shuffled, or deduplicated (a repeated chunk once) must verify and extract byte for byte.
TEST(Car, AnyBlockOrderVerifiesThroughAnIndex) {
    cyxp2p::test::TempDir dir;
    const std::string data = t::pattern(100 * 40 + 7);
    const t::Dag dag = t::import_dag(data, c::ImportOptions{0, false, 100, 4});
    ASSERT_GT(dag.dfs.size(), 10u);
    std::vector<t::Block> reversed(dag.dfs.rbegin(), dag.dfs.rend());
    std::vector<t::Block> shuffled = dag.dfs;
    std::mt19937 rng(7);
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    shuffled.insert(shuffled.begin() + 3, t::raw_block("not in the DAG"));  // ignored, as kubo does
    for (const auto* order : {&reversed, &shuffled}) {
        const fs::path dest = dir / "out.bin";
        fs::remove(dest);
        std::istringstream in(car_of(dag, *order));
        std::error_code ec;
        auto r = c::verify_car(in, dag.root, ec, &dest);
        ASSERT_TRUE(r) << ec.message();
        EXPECT_EQ(r->file_size, data.size());
        EXPECT_EQ(r->blocks, dag.dfs.size());
        EXPECT_EQ(cyxp2p::test::read_file(dest), data);
    }
    // Identical chunks: the DAG names one leaf several times; a CAR holds it once.
    const std::string same(100 * 12, 'z');
    const t::Dag repeated = t::import_dag(same, c::ImportOptions{1, true, 100, 4});
    const auto once = unique_blocks(repeated);
    ASSERT_LT(once.size(), repeated.dfs.size());
    const fs::path dest = dir / "same.bin";
    const auto same_ec = verify(car_of(repeated, once), repeated.root, &dest);
    ASSERT_FALSE(same_ec) << same_ec.message();
    EXPECT_EQ(cyxp2p::test::read_file(dest), same);
}

TEST(Car, AnyBlockOrderStillRefusesWhatIsWrong) {
    cyxp2p::test::TempDir dir;
    const t::Dag dag = t::import_dag(t::pattern(100 * 20 + 1), c::ImportOptions{0, false, 100, 4});
    std::vector<t::Block> reversed(dag.dfs.rbegin(), dag.dfs.rend());
    const fs::path dest = dir / "out.bin";
    // A block the DAG needs is absent.
    std::vector<t::Block> missing = reversed;
    missing.erase(missing.begin() + 2);
    EXPECT_EQ(verify(car_of(dag, missing), std::nullopt, &dest), errc::missing_block);
    EXPECT_FALSE(fs::exists(dest));
    // A leaf's bytes changed under its CID.
    std::vector<t::Block> tampered = reversed;
    tampered[0].bytes[tampered[0].bytes.size() / 2] ^= 1;
    EXPECT_EQ(verify(car_of(dag, tampered), std::nullopt, &dest), errc::hash_mismatch);
    EXPECT_FALSE(fs::exists(dest));
    // The last section cut short: found while indexing, before anything is written.
    const std::string car = car_of(dag, reversed);
    EXPECT_EQ(verify(car.substr(0, car.size() - 5), std::nullopt, &dest), errc::truncated_input);
    EXPECT_FALSE(fs::exists(dest));
    // More blocks than the index may hold.
    {
        std::istringstream in(car);
        std::error_code ec;
        c::Limits small;
        small.max_car_index_blocks = 3;
        EXPECT_FALSE(c::verify_car(in, std::nullopt, ec, &dest, small));
        EXPECT_EQ(ec, errc::car_too_many_blocks);
        EXPECT_FALSE(fs::exists(dest));
    }
    // A pipe cannot be re-read: a clear error instead of a misleading content verdict.
    {
        NoSeekBuf buf(car);
        std::istream in(&buf);
        std::error_code ec;
        EXPECT_FALSE(c::verify_car(in, std::nullopt, ec, &dest));
        EXPECT_EQ(ec, errc::car_unordered_stream);
        EXPECT_FALSE(fs::exists(dest));
    }
    // The same CAR in DFS order through the pipe streams as before.
    {
        NoSeekBuf buf(car_of(dag, dag.dfs));
        std::istream in(&buf);
        std::error_code ec;
        EXPECT_TRUE(c::verify_car(in, std::nullopt, ec)) << ec.message();
    }
}

// Bytes as they arrive from a socket: any split gives the same sections as CarReader, and the same verdicts.
TEST(Car, StreamParserMatchesTheReaderAtAnySplit) {
    const t::Dag dag = t::import_dag(t::pattern(100 * 30 + 9), c::ImportOptions{1, true, 100, 4});
    const std::string car = car_of(dag, dag.dfs);
    const c::ByteView all = c::as_bytes(car);
    for (std::size_t step : {std::size_t{1}, std::size_t{7}, std::size_t{100}, car.size()}) {
        std::vector<c::Cid> cids;
        c::Bytes bytes;
        c::CarStreamParser p([&](const c::Cid& cid, c::ByteView block) {
            cids.push_back(cid);
            bytes.insert(bytes.end(), block.begin(), block.end());
            return std::error_code{};
        });
        for (std::size_t i = 0; i < all.size(); i += step)
            ASSERT_FALSE(p.feed(all.subspan(i, std::min(step, all.size() - i))));
        EXPECT_FALSE(p.finish());
        EXPECT_EQ(p.roots(), std::vector<c::Cid>{dag.root});
        ASSERT_EQ(cids.size(), dag.dfs.size()) << step;
        c::Bytes expected;
        for (std::size_t i = 0; i < cids.size(); ++i) {
            EXPECT_EQ(cids[i], dag.dfs[i].cid);
            expected.insert(expected.end(), dag.dfs[i].bytes.begin(), dag.dfs[i].bytes.end());
        }
        EXPECT_EQ(bytes, expected);
    }
    // Cut short: finish() says so; a section over the cap is refused before it is buffered.
    c::CarStreamParser cut([](const c::Cid&, c::ByteView) { return std::error_code{}; });
    EXPECT_FALSE(cut.feed(all.subspan(0, all.size() - 3)));
    EXPECT_EQ(cut.finish(), errc::truncated_input);
    std::ostringstream big;
    c::CarWriter w(big, {dag.root});
    c::Bytes len;
    c::append_varint(len, (8ull << 20) + 1);
    big.write(reinterpret_cast<const char*>(len.data()), static_cast<std::streamsize>(len.size()));
    c::CarStreamParser capped([](const c::Cid&, c::ByteView) { return std::error_code{}; });
    EXPECT_EQ(capped.feed(c::as_bytes(big.str())), errc::car_section_too_large);
    EXPECT_EQ(capped.feed(all), errc::car_section_too_large);  // stays failed
    // The callback's verdict stops the parse.
    c::CarStreamParser refusing(
        [](const c::Cid&, c::ByteView) { return make_error_code(errc::hash_mismatch); });
    EXPECT_EQ(refusing.feed(all), errc::hash_mismatch);
}
