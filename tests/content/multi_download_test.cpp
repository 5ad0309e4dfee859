// MultiDownload (content/multi_download.hpp) against blocks read out of a real Blockstore, with the
// sources played by the test: the plan, shares and work stealing, a source that sends a bad block, a hedge
// of the last unit, and the resume record (kept, reused, and discarded when the data file was changed).
#include <fstream>

#include <gtest/gtest.h>

#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/dag_walker.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/content/multi_download.hpp>

#include "dag_fixture.hpp"
#include "support.hpp"

namespace c = cyxp2p::content;
namespace t = cyxp2p::content::testing;
namespace fs = std::filesystem;
using c::errc;

namespace {

struct Dag {
    Dag(const cyxp2p::test::TempDir& dir, std::size_t size, c::ImportOptions opt)
        : data(t::pattern(size, 3)) {
        std::error_code ec;
        store.emplace(*c::Blockstore::open(dir / "store", ec));
        c::Importer imp(opt, store->sink());
        EXPECT_FALSE(imp.write(c::as_bytes(data)));
        root = imp.finish(ec)->root;
    }
    c::Bytes block(const c::Cid& cid) const {
        c::DagWalker w(*store, cid);
        std::error_code ec;
        auto b = w.next(ec);
        EXPECT_TRUE(b) << ec.message();
        return b->data;
    }
    // What an honest source sends for a unit: its subtree in DFS order.
    std::vector<c::DagWalker::Block> subtree(const c::Cid& cid) const {
        c::DagWalker w(*store, cid);
        std::vector<c::DagWalker::Block> out;
        std::error_code ec;
        while (auto b = w.next(ec)) out.push_back(std::move(*b));
        EXPECT_FALSE(ec) << ec.message();
        return out;
    }
    std::string data;
    std::optional<c::Blockstore> store;
    c::Cid root = c::Cid::v0(c::Digest{});
};

// 4 KiB chunks, 8 links a node: a 200 KB file is a DAG three levels deep.
c::ImportOptions deep(int version = 1) {
    return c::ImportOptions{version, version == 1, 4096, 8};
}

c::Limits small_units() {
    c::Limits l;
    l.multi_unit_bytes = 16 * 1024;
    l.checkpoint_bytes = 4096;
    return l;
}

void plan(c::MultiDownload& d, const Dag& dag) {
    for (int rounds = 0; !d.planned() && rounds < 100; ++rounds) {
        for (const auto& cid : d.next_upper()) ASSERT_FALSE(d.push_upper(cid, dag.block(cid)));
    }
    ASSERT_TRUE(d.planned());
}

void serve(c::MultiDownload& d, const Dag& dag, const c::MultiTask& task) {
    for (const auto& b : dag.subtree(task.cid)) ASSERT_FALSE(d.push(task, b.data, b.cid));
    ASSERT_FALSE(d.finish(task));
}

}  // namespace

TEST(MultiDownload, PlansSubtreesAndAssemblesOneFileFromTwoSources) {
    cyxp2p::test::TempDir dir;
    Dag dag(dir, 200'000, deep());
    const fs::path out = dir / "out.bin";
    c::MultiDownload d(dag.root, out, small_units());
    ASSERT_FALSE(d.open());
    plan(d, dag);
    // No unit is larger than multi_unit_bytes (a leaf is 4 KiB; a subtree here is 32 KiB at most, split).
    EXPECT_GE(d.units(), 16u);
    d.set_sources(2);
    std::size_t served[2] = {0, 0};
    for (bool any = true; any;) {
        any = false;
        for (std::size_t s = 0; s < 2; ++s) {
            if (auto task = d.next_task(s)) {
                EXPECT_LE(task->size, 16u * 1024);
                serve(d, dag, *task);
                ++served[s];
                any = true;
            }
        }
    }
    EXPECT_GT(served[0], 0u);
    EXPECT_GT(served[1], 0u);
    ASSERT_TRUE(d.complete());
    ASSERT_FALSE(d.commit());
    EXPECT_EQ(cyxp2p::test::read_file(out), dag.data);
    EXPECT_FALSE(fs::exists(c::MultiDownload::partial_path(out)));
    EXPECT_FALSE(fs::exists(c::MultiDownload::record_path(out)));
}

TEST(MultiDownload, AnIdleSourceStealsTheFarHalfOfTheLargestShare) {
    cyxp2p::test::TempDir dir;
    Dag dag(dir, 200'000, c::ImportOptions{1, true, 4096, 174});  // root with 49 raw leaves
    c::MultiDownload d(dag.root, dir / "out.bin", c::Limits{});
    ASSERT_FALSE(d.open());
    plan(d, dag);
    ASSERT_EQ(d.units(), 50u);  // the root (expanded) + 49 leaves
    d.set_sources(2);
    // Source 0 drains its own share (the first 24 leaves, in order)...
    std::uint64_t expect = 0;
    for (int i = 0; i < 24; ++i) {
        auto task = d.next_task(0);
        ASSERT_TRUE(task);
        EXPECT_EQ(task->offset, expect);
        expect += task->size;
        serve(d, dag, *task);
    }
    // ...then takes the not-yet-started half of source 1's 25: leaves 36..48, starting at 36.
    auto stolen = d.next_task(0);
    ASSERT_TRUE(stolen);
    EXPECT_EQ(stolen->offset, 36u * 4096);
    // Source 1 still starts at the front of what is left of its share.
    auto own = d.next_task(1);
    ASSERT_TRUE(own);
    EXPECT_EQ(own->offset, 24u * 4096);
    serve(d, dag, *stolen);
    serve(d, dag, *own);
    while (auto task = d.next_task(0)) serve(d, dag, *task);
    ASSERT_TRUE(d.complete());
    ASSERT_FALSE(d.commit());
    EXPECT_EQ(cyxp2p::test::read_file(dir / "out.bin"), dag.data);
}

TEST(MultiDownload, ABadBlockFailsItsTaskAndTheDroppedSourcesShareIsFetchedByTheOthers) {
    cyxp2p::test::TempDir dir;
    Dag dag(dir, 200'000, deep(0));  // CIDv0, dag-pb leaves
    c::MultiDownload d(dag.root, dir / "out.bin", small_units());
    ASSERT_FALSE(d.open());
    plan(d, dag);
    d.set_sources(2);
    auto task = d.next_task(1);
    ASSERT_TRUE(task);
    auto blocks = dag.subtree(task->cid);
    auto& byte = blocks[0].data[blocks[0].data.size() / 2];
    byte = static_cast<std::uint8_t>(byte ^ 1u);
    EXPECT_EQ(d.push(*task, blocks[0].data, blocks[0].cid), errc::hash_mismatch);
    d.release(*task);
    d.drop_source(1);
    std::size_t n = 0;
    while (auto t0 = d.next_task(0)) {
        serve(d, dag, *t0);
        ++n;
    }
    EXPECT_GT(n, 0u);
    ASSERT_TRUE(d.complete());
    ASSERT_FALSE(d.commit());
    EXPECT_EQ(cyxp2p::test::read_file(dir / "out.bin"), dag.data);
}

TEST(MultiDownload, AnUpperNodeIsCheckedAgainstItsCid) {
    cyxp2p::test::TempDir dir;
    Dag dag(dir, 200'000, deep());
    c::MultiDownload d(dag.root, dir / "out.bin", small_units());
    ASSERT_FALSE(d.open());
    auto root = dag.block(dag.root);
    auto bad = root;
    bad.back() = static_cast<std::uint8_t>(bad.back() ^ 1u);
    EXPECT_EQ(d.push_upper(dag.root, bad), errc::hash_mismatch);
    // A block nobody asked for is refused, even a valid one.
    c::MultiDownload d2(dag.root, dir / "out2.bin", small_units());
    ASSERT_FALSE(d2.open());
    const auto child = dag.subtree(dag.root)[1];
    EXPECT_EQ(d2.push_upper(child.cid, child.data), errc::unexpected_block);
}

TEST(MultiDownload, WhenNothingIsUnstartedAnIdleSourceHedgesAndTheFirstCopyWins) {
    cyxp2p::test::TempDir dir;
    Dag dag(dir, 60'000, c::ImportOptions{1, true, 4096, 174});  // 15 leaves
    c::MultiDownload d(dag.root, dir / "out.bin", c::Limits{});
    ASSERT_FALSE(d.open());
    plan(d, dag);
    d.set_sources(2);
    auto slow = d.next_task(1);  // source 1 starts a unit and stalls
    ASSERT_TRUE(slow);
    std::vector<c::MultiTask> mine;
    while (auto task = d.next_task(0)) {
        if (task->unit == slow->unit) {
            serve(d, dag, *task);  // the hedge
            break;
        }
        serve(d, dag, *task);
    }
    EXPECT_TRUE(d.stale(*slow));
    EXPECT_FALSE(d.finish(*slow));  // a late copy is ignored, not an error
    ASSERT_TRUE(d.complete());
    ASSERT_FALSE(d.commit());
    EXPECT_EQ(cyxp2p::test::read_file(dir / "out.bin"), dag.data);
}

TEST(MultiDownload, AnInterruptedFetchResumesAndADamagedStateIsDiscarded) {
    cyxp2p::test::TempDir dir;
    Dag dag(dir, 200'000, c::ImportOptions{1, true, 4096, 174});
    const fs::path out = dir / "out.bin";
    {
        c::MultiDownload d(dag.root, out, small_units());
        ASSERT_FALSE(d.open());
        plan(d, dag);
        d.set_sources(1);
        for (int i = 0; i < 10; ++i) serve(d, dag, *d.next_task(0));
    }  // destroyed mid-way: checkpoints what verified
    ASSERT_TRUE(fs::exists(c::MultiDownload::record_path(out)));
    {
        c::MultiDownload d(dag.root, out, small_units());
        ASSERT_FALSE(d.open());
        EXPECT_TRUE(d.discarded_reason().empty()) << d.discarded_reason();
        plan(d, dag);
        EXPECT_EQ(d.units_resumed(), 10u);
        EXPECT_EQ(d.bytes_resumed(), 10u * 4096);
        d.set_sources(1);
        std::size_t fetched = 0;
        for (int i = 0; i < 5; ++i, ++fetched) serve(d, dag, *d.next_task(0));
        EXPECT_EQ(fetched, 5u);
    }
    // A byte of a held unit changed on disk: the whole state is refused and the fetch starts over.
    {
        std::fstream f(c::MultiDownload::partial_path(out), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(100);
        f.put(static_cast<char>(0x5a ^ dag.data[100]));
    }
    c::MultiDownload d(dag.root, out, small_units());
    ASSERT_FALSE(d.open());
    EXPECT_NE(d.discarded_reason().find("no longer hash"), std::string::npos) << d.discarded_reason();
    plan(d, dag);
    EXPECT_EQ(d.units_resumed(), 0u);
    d.set_sources(1);
    while (auto task = d.next_task(0)) serve(d, dag, *task);
    ASSERT_FALSE(d.commit());
    EXPECT_EQ(cyxp2p::test::read_file(out), dag.data);
}

TEST(MultiDownload, ARecordForAnotherRootIsNotUsed) {
    cyxp2p::test::TempDir dir;
    Dag dag(dir, 20'000, c::ImportOptions{1, true, 4096, 174});
    const fs::path out = dir / "out.bin";
    std::ofstream(c::MultiDownload::record_path(out))
        << "cyxp2p-multi 1 bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy\n";
    c::MultiDownload d(dag.root, out, c::Limits{});
    ASSERT_FALSE(d.open());
    EXPECT_EQ(d.discarded_reason(), "the record is for another CID");
}
