// DagVerifier: the happy path, then one test per failure the issue lists, each with its own error.
#include <gtest/gtest.h>

#include <cyxp2p/content/dag_verifier.hpp>
#include <cyxp2p/content/errc.hpp>

#include "dag_fixture.hpp"

namespace c = cyxp2p::content;
namespace t = cyxp2p::content::testing;
using c::errc;

namespace {

const c::ImportOptions kSmallV0{0, false, 100, 4};  // 100-byte chunks, 4 links: deep DAGs from small files
const c::ImportOptions kSmallV1{1, true, 100, 4};

struct Outcome {
    std::error_code ec;  // first error (push or finish)
    std::string bytes;   // what the verifier released, placed at its offsets
    std::size_t pushed = 0;
};

Outcome run(const c::Cid& root, const std::vector<t::Block>& blocks, bool claim,
            const c::Limits& limits = {}) {
    c::DagVerifier v(root, limits);
    Outcome o;
    for (const auto& b : blocks) {
        c::VerifiedData out;
        o.ec = v.push(b.bytes, claim ? std::optional<c::Cid>(b.cid) : std::nullopt, out);
        if (o.ec) {
            EXPECT_TRUE(out.bytes.empty());
            return o;
        }
        ++o.pushed;
        EXPECT_EQ(out.offset, o.bytes.size());
        o.bytes.append(c::as_chars(out.bytes));
    }
    o.ec = v.finish();
    return o;
}

}  // namespace

TEST(DagVerifier, AcceptsImportedDagsInDfsOrder) {
    for (const auto& opt : {kSmallV0, kSmallV1, c::ImportOptions::kubo_default()}) {
        const std::string data = t::pattern(100 * 70 + 33);
        const t::Dag dag = t::import_dag(data, opt);
        ASSERT_GT(dag.dfs.size(), opt.chunk_size == 100 ? 70u : 0u);
        for (bool claim : {false, true}) {
            const Outcome o = run(dag.root, dag.dfs, claim);
            EXPECT_FALSE(o.ec) << o.ec.message();
            EXPECT_EQ(o.bytes, data);
        }
        c::DagVerifier v(dag.root);
        EXPECT_EQ(v.expected(), dag.root);
    }
}

TEST(DagVerifier, EmptyAndSingleBlockFiles) {
    for (const auto& data : {std::string(), std::string("hello world")}) {
        for (const auto& opt : {c::ImportOptions::kubo_default(), c::ImportOptions::kubo_cid_v1()}) {
            const t::Dag dag = t::import_dag(data, opt);
            ASSERT_EQ(dag.dfs.size(), 1u);
            const Outcome o = run(dag.root, dag.dfs, true);
            EXPECT_FALSE(o.ec);
            EXPECT_EQ(o.bytes, data);
        }
    }
}

TEST(DagVerifier, FlippedByteInLeafIsHashMismatch) {
    const t::Dag dag = t::import_dag(t::pattern(1000), kSmallV0);
    auto blocks = dag.dfs;
    const std::size_t leaf = blocks.size() - 1;
    blocks[leaf].bytes[blocks[leaf].bytes.size() / 2] ^= 0x01;
    const Outcome o = run(dag.root, blocks, false);
    EXPECT_EQ(o.ec, errc::hash_mismatch);
    EXPECT_EQ(o.pushed, leaf);
}

TEST(DagVerifier, FlippedByteInInternalNodeIsHashMismatch) {
    const t::Dag dag = t::import_dag(t::pattern(1000), kSmallV1);
    auto blocks = dag.dfs;
    blocks[1].bytes[3] ^= 0x80;  // an internal node below the root
    ASSERT_EQ(blocks[1].cid.codec(), c::Codec::dag_pb);
    const Outcome o = run(dag.root, blocks, true);
    EXPECT_EQ(o.ec, errc::hash_mismatch);
    EXPECT_EQ(o.pushed, 1u);
    EXPECT_TRUE(o.bytes.empty());  // no leaf byte released before the failure
}

TEST(DagVerifier, WrongFilesizeIsFilesizeMismatch) {
    const auto a = t::raw_block("aaaa"), b = t::raw_block("bb");
    const auto root = t::pb_node({a.cid, b.cid}, t::unixfs_file(7, {4, 2}));
    EXPECT_EQ(run(root.cid, {root, a, b}, true).ec, errc::filesize_mismatch);
    const auto good = t::pb_node({a.cid, b.cid}, t::unixfs_file(6, {4, 2}));
    const Outcome o = run(good.cid, {good, a, b}, true);
    EXPECT_FALSE(o.ec);
    EXPECT_EQ(o.bytes, "aaaabb");
}

TEST(DagVerifier, BlocksizesDisagreeingWithLinks) {
    const auto a = t::raw_block("aaaa"), b = t::raw_block("bb");
    // One blocksize for two links.
    const auto short_list = t::pb_node({a.cid, b.cid}, t::unixfs_file(6, {6}));
    EXPECT_EQ(run(short_list.cid, {short_list, a, b}, true).ec, errc::blocksizes_mismatch);
    // Self-consistent sums, but the children are not the sizes the list claims.
    const auto swapped = t::pb_node({a.cid, b.cid}, t::unixfs_file(6, {2, 4}));
    const Outcome o = run(swapped.cid, {swapped, a, b}, true);
    EXPECT_EQ(o.ec, errc::blocksizes_mismatch);
    EXPECT_TRUE(o.bytes.empty());
}

TEST(DagVerifier, OversizedBlockIsRejectedBeforeHashing) {
    const auto big = t::raw_block(std::string(2 * 1024 * 1024 + 1, 'x'));
    EXPECT_EQ(run(big.cid, {big}, true).ec, errc::block_too_large);
    const auto max = t::raw_block(std::string(2 * 1024 * 1024, 'x'));
    EXPECT_FALSE(run(max.cid, {max}, true).ec);
}

TEST(DagVerifier, OverDeepChainIsTooDeep) {
    const std::vector<t::Block> chain = t::deep_chain(40);
    EXPECT_EQ(run(chain.front().cid, chain, true).ec, errc::too_deep);
    c::Limits deep;
    deep.max_depth = 41;
    const Outcome o = run(chain.front().cid, chain, true, deep);
    EXPECT_FALSE(o.ec);
    EXPECT_EQ(o.bytes, "x");
}

TEST(DagVerifier, BlocksOutOfOrder) {
    const t::Dag dag = t::import_dag(t::pattern(1000), kSmallV1);
    auto blocks = dag.dfs;
    std::swap(blocks[2], blocks[3]);
    EXPECT_EQ(run(dag.root, blocks, true).ec, errc::block_out_of_order);
    // Without the sender's CIDs, the reordered block simply fails its hash.
    EXPECT_EQ(run(dag.root, blocks, false).ec, errc::hash_mismatch);
}

TEST(DagVerifier, MissingBlock) {
    const t::Dag dag = t::import_dag(t::pattern(1000), kSmallV1);
    auto blocks = dag.dfs;
    blocks.pop_back();
    const Outcome end = run(dag.root, blocks, true);
    EXPECT_EQ(end.ec, errc::missing_block);
    EXPECT_EQ(end.pushed, blocks.size());
    // A block missing from the middle shows up as its successor arriving early.
    auto middle = dag.dfs;
    middle.erase(middle.begin() + 2);
    EXPECT_EQ(run(dag.root, middle, true).ec, errc::block_out_of_order);
}

TEST(DagVerifier, ExtraBlock) {
    const t::Dag dag = t::import_dag(t::pattern(1000), kSmallV0);
    auto blocks = dag.dfs;
    blocks.push_back(t::raw_block("extra"));
    EXPECT_EQ(run(dag.root, blocks, true).ec, errc::extra_block);
    blocks.back() = dag.dfs.back();  // even a block of the DAG, once complete
    EXPECT_EQ(run(dag.root, blocks, false).ec, errc::extra_block);
}

TEST(DagVerifier, UnexpectedBlock) {
    const t::Dag dag = t::import_dag(t::pattern(1000), kSmallV0);
    auto blocks = dag.dfs;
    blocks[1] = t::raw_block("not from this DAG");
    EXPECT_EQ(run(dag.root, blocks, true).ec, errc::unexpected_block);
}

TEST(DagVerifier, NonFileNodesAndBadUnixFs) {
    const auto dir = t::pb_node({}, t::unixfs_file(std::nullopt, {}, {}, 1));
    EXPECT_EQ(run(dir.cid, {dir}, true).ec, errc::unixfs_unsupported_type);
    const auto no_data = t::pb_node({}, {});
    c::Bytes bytes;
    c::encode_dag_pb(c::PbNode{}, bytes);
    const t::Block empty{c::Cid::of_block(0, c::Codec::dag_pb, bytes), bytes};
    EXPECT_EQ(run(empty.cid, {empty}, true).ec, errc::unixfs_missing);
    const auto garbage = t::pb_node({}, c::Bytes{0xff, 0xff});
    EXPECT_EQ(run(garbage.cid, {garbage}, true).ec, errc::unixfs_malformed);
    (void)no_data;
}

TEST(DagVerifier, ErrorsAreSticky) {
    const t::Dag dag = t::import_dag(t::pattern(1000), kSmallV0);
    c::DagVerifier v(dag.root);
    c::VerifiedData out;
    auto bad = dag.dfs[0].bytes;
    bad[0] ^= 1;
    EXPECT_EQ(v.push(bad, std::nullopt, out), errc::hash_mismatch);
    EXPECT_EQ(v.push(dag.dfs[0].bytes, std::nullopt, out), errc::hash_mismatch);
    EXPECT_TRUE(out.bytes.empty());
    EXPECT_EQ(v.finish(), errc::hash_mismatch);
    EXPECT_FALSE(v.complete());
    EXPECT_FALSE(v.expected());
}
