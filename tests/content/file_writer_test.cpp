// FileWriter: the file appears only after the whole DAG verified, and every failure leaves nothing at
// the destination (nor a temporary file) behind.
#include <gtest/gtest.h>

#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/file_writer.hpp>

#include "dag_fixture.hpp"
#include "support.hpp"

namespace c = cyxp2p::content;
namespace t = cyxp2p::content::testing;
namespace fs = std::filesystem;
using c::errc;

namespace {

const c::ImportOptions kSmall{0, false, 100, 4};

std::size_t entries(const fs::path& dir) {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}));
}

// Feeds `blocks` and commits; returns the first error.
std::error_code write(const c::Cid& root, const fs::path& dest, const std::vector<t::Block>& blocks,
                      const c::Limits& limits = {}) {
    c::FileWriter w(root, dest, limits);
    for (const auto& b : blocks) {
        if (auto ec = w.push(b.bytes, b.cid)) return ec;
        EXPECT_FALSE(fs::exists(dest));  // nothing at the destination before commit
        EXPECT_TRUE(fs::exists(w.temp_path()));
    }
    return w.commit();
}

}  // namespace

TEST(FileWriter, WritesVerifiedFileAtomically) {
    cyxp2p::test::TempDir dir;
    const std::string data = t::pattern(100 * 30 + 7);
    const t::Dag dag = t::import_dag(data, kSmall);
    EXPECT_FALSE(write(dag.root, dir / "out.bin", dag.dfs));
    EXPECT_EQ(cyxp2p::test::read_file(dir / "out.bin"), data);
    EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(FileWriter, EmptyFile) {
    cyxp2p::test::TempDir dir;
    const t::Dag dag = t::import_dag("", c::ImportOptions{});
    EXPECT_FALSE(write(dag.root, dir / "empty", dag.dfs));
    EXPECT_TRUE(fs::exists(dir / "empty"));
    EXPECT_EQ(fs::file_size(dir / "empty"), 0u);
}

TEST(FileWriter, EveryFailureLeavesNothing) {
    const std::string data = t::pattern(100 * 30 + 7);
    const t::Dag dag = t::import_dag(data, kSmall);
    const auto a = t::raw_block("aaaa"), b = t::raw_block("bb");
    const auto bad_size = t::pb_node({a.cid, b.cid}, t::unixfs_file(7, {4, 2}));
    const auto bad_list = t::pb_node({a.cid, b.cid}, t::unixfs_file(6, {2, 4}));
    const auto big = t::raw_block(std::string(2 * 1024 * 1024 + 1, 'x'));
    const std::vector<t::Block> chain = t::deep_chain(40);

    struct Case {
        const char* name;
        c::Cid root;
        std::vector<t::Block> blocks;
        errc expected;
    };
    std::vector<Case> cases;
    {
        auto bl = dag.dfs;
        bl.back().bytes[10] ^= 1;
        cases.push_back({"flipped leaf byte", dag.root, bl, errc::hash_mismatch});
    }
    {
        auto bl = dag.dfs;
        bl[1].bytes[5] ^= 1;
        cases.push_back({"flipped internal byte", dag.root, bl, errc::hash_mismatch});
    }
    cases.push_back({"wrong filesize", bad_size.cid, {bad_size, a, b}, errc::filesize_mismatch});
    cases.push_back({"blocksizes disagree", bad_list.cid, {bad_list, a, b}, errc::blocksizes_mismatch});
    cases.push_back({"oversized block", big.cid, {big}, errc::block_too_large});
    cases.push_back({"over-deep chain", chain.front().cid, chain, errc::too_deep});
    {
        auto bl = dag.dfs;
        std::swap(bl[bl.size() - 1], bl[bl.size() - 2]);  // two sibling leaves
        cases.push_back({"out of order", dag.root, bl, errc::block_out_of_order});
    }
    {
        auto bl = dag.dfs;
        bl.pop_back();
        cases.push_back({"missing block", dag.root, bl, errc::missing_block});
    }
    {
        auto bl = dag.dfs;
        bl.push_back(a);
        cases.push_back({"extra block", dag.root, bl, errc::extra_block});
    }
    {
        auto bl = dag.dfs;
        bl[2] = a;
        cases.push_back({"unexpected block", dag.root, bl, errc::unexpected_block});
    }
    for (const auto& tc : cases) {
        cyxp2p::test::TempDir dir;
        EXPECT_EQ(write(tc.root, dir / "out.bin", tc.blocks), tc.expected) << tc.name;
        EXPECT_FALSE(fs::exists(dir / "out.bin")) << tc.name;
        EXPECT_EQ(entries(dir.path()), 0u) << tc.name << ": temporary file left behind";
    }
}

TEST(FileWriter, DestroyedWithoutCommitLeavesNothing) {
    cyxp2p::test::TempDir dir;
    const t::Dag dag = t::import_dag(t::pattern(1000), kSmall);
    {
        c::FileWriter w(dag.root, dir / "out.bin");
        for (const auto& b : dag.dfs) ASSERT_FALSE(w.push(b.bytes));
    }
    EXPECT_EQ(entries(dir.path()), 0u);
}

TEST(FileWriter, UnwritableDirectoryIsAnIoError) {
    cyxp2p::test::TempDir dir;
    const t::Dag dag = t::import_dag("x", kSmall);
    c::FileWriter w(dag.root, dir / "no" / "such" / "dir" / "out");
    EXPECT_EQ(w.open(), std::errc::no_such_file_or_directory);
}
