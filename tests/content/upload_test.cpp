// Upload (the node's receiving side of content.put) against DagSource (the engine's sending side, with its
// skip of held leaves), both over real Blockstores in a temp dir: a 16 MiB round trip, an interrupted upload
// resumed, a re-upload of held content, tampered, reordered and mis-sized DAGs, the disk budget, the bound on
// partial uploads, the sweep of expired ones, a tampered staged block found on resume.
#include <fcntl.h>

#include <fstream>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/dag_source.hpp>
#include <cyxp2p/content/dag_verifier.hpp>
#include <cyxp2p/content/dag_walker.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/content/upload.hpp>

#include "dag_fixture.hpp"
#include "support.hpp"

namespace c = cyxp2p::content;
namespace t = cyxp2p::content::testing;
namespace fs = std::filesystem;
using c::errc;

namespace {

constexpr std::size_t kSize = 16 << 20;

c::Blockstore open_store(const fs::path& dir) {
    std::error_code ec;
    auto store = c::Blockstore::open(dir, ec);
    EXPECT_FALSE(ec) << ec.message();
    return *store;
}

// The engine's side: a file imported into its own store, sent with DagSource.
struct Sender {
    Sender(const fs::path& dir, std::size_t size, c::ImportOptions opt = {}, std::uint32_t seed = 1)
        : data(t::pattern(size, seed)), store(open_store(dir)) {
        std::error_code ec;
        c::Importer imp(opt, store.sink());
        EXPECT_FALSE(imp.write(c::as_bytes(data)));
        root = imp.finish(ec)->root;
    }
    std::vector<c::DagWalker::Block> blocks(std::uint64_t skip = 0) const {
        c::DagSource source(store, root, skip, c::Limits{});
        std::vector<c::DagWalker::Block> out;
        std::error_code ec;
        while (auto b = source.next(ec)) out.push_back(std::move(*b));
        EXPECT_FALSE(ec) << ec.message();
        return out;
    }
    std::string data;
    c::Blockstore store;
    c::Cid root = c::Cid::v0(c::Digest{});
};

// The file as the receiver's store serves it, verified from the root; empty when it cannot be read whole.
std::string read_back(const c::Blockstore& store, const c::Cid& root) {
    c::DagWalker walker(store, root);
    c::DagVerifier verifier(root);
    std::string out;
    std::error_code ec;
    while (auto b = walker.next(ec)) {
        c::VerifiedData v;
        if (verifier.push(b->data, b->cid, v)) return {};
        out.append(c::as_chars(v.bytes));
    }
    if (ec || verifier.finish()) return {};
    return out;
}

std::size_t count_leaves(const std::vector<c::DagWalker::Block>& blocks, std::size_t first_n) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < first_n; ++i) n += blocks[i].leaf ? 1u : 0u;
    return n;
}

// Nothing of the DAG is servable: no block of it is among the store's blocks.
void expect_nothing_servable(const c::Blockstore& store, const Sender& sender) {
    for (const auto& b : sender.blocks()) EXPECT_FALSE(store.has(b.cid)) << b.cid.to_string();
}

std::size_t staged_blocks(const fs::path& dir) {
    std::size_t n = 0;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        n += it->path().extension() == ".block" ? 1u : 0u;
    return n;
}

}  // namespace

TEST(Upload, SixteenMiBRoundTripIsServableOnlyAfterCommit) {
    cyxp2p::test::TempDir dir;
    Sender sender(dir / "engine", kSize);
    const auto receiver = open_store(dir / "node");
    const auto blocks = sender.blocks();
    ASSERT_EQ(blocks.size(), 65u);  // 64 leaves of 256 KiB and their root

    c::Upload up(receiver, sender.root, kSize);
    ASSERT_FALSE(up.begin()) << up.error_detail();
    EXPECT_EQ(up.resumed().leaves, 0u);
    EXPECT_FALSE(up.resumed().complete);
    EXPECT_EQ(up.resumed().reserved, c::Upload::reservation(kSize, c::Limits{}));
    for (const auto& b : blocks) ASSERT_FALSE(up.push(b.data, b.cid)) << up.error_detail();
    // Every block verified and staged, none servable before commit().
    EXPECT_EQ(staged_blocks(c::Upload::staging_path(receiver, sender.root)), blocks.size());
    expect_nothing_servable(receiver, sender);
    ASSERT_FALSE(up.commit()) << up.error_detail();
    EXPECT_TRUE(up.committed());
    EXPECT_TRUE(receiver.has(sender.root));
    EXPECT_FALSE(fs::exists(c::Upload::staging_path(receiver, sender.root)));
    EXPECT_EQ(read_back(receiver, sender.root), sender.data);
}

TEST(Upload, InterruptedUploadResumesWithOnlyTheMissingBlocks) {
    cyxp2p::test::TempDir dir;
    Sender sender(dir / "engine", kSize);
    const auto receiver = open_store(dir / "node");
    const auto blocks = sender.blocks();
    const std::size_t half = blocks.size() / 2;
    {
        c::Upload up(receiver, sender.root, kSize);
        ASSERT_FALSE(up.begin());
        for (std::size_t i = 0; i < half; ++i) ASSERT_FALSE(up.push(blocks[i].data, blocks[i].cid));
    }  // destroyed: the engine went away
    EXPECT_FALSE(receiver.has(sender.root));
    c::Upload up(receiver, sender.root, kSize);
    ASSERT_FALSE(up.begin()) << up.error_detail();
    const std::size_t held = count_leaves(blocks, half);
    EXPECT_EQ(up.resumed().leaves, held);
    EXPECT_EQ(up.resumed().bytes, held * 256 * 1024);
    EXPECT_EQ(up.resumed().discarded, 0u);
    const auto rest = sender.blocks(up.resumed().leaves);
    EXPECT_EQ(rest.size(), blocks.size() - held);  // the leaves held are not sent again (the root is)
    for (const auto& b : rest) ASSERT_FALSE(up.push(b.data, b.cid)) << up.error_detail();
    ASSERT_FALSE(up.commit()) << up.error_detail();
    EXPECT_EQ(up.blocks_received(), rest.size());
    EXPECT_EQ(read_back(receiver, sender.root), sender.data);
}

TEST(Upload, ReuploadOfHeldContentCompletesAtOnce) {
    cyxp2p::test::TempDir dir;
    Sender sender(dir / "engine", 1 << 20);
    // The node's own store holds the DAG already (imported there, as --serve does).
    {
        c::Upload up(sender.store, sender.root, 1 << 20);
        ASSERT_FALSE(up.begin()) << up.error_detail();
        EXPECT_TRUE(up.resumed().complete);
        EXPECT_EQ(up.resumed().leaves, 4u);
        EXPECT_EQ(sender.blocks(up.resumed().leaves).size(), 1u);  // only the root would be sent: none needed
        EXPECT_EQ(up.push(sender.blocks()[0].data, sender.root), errc::extra_block);
    }
    c::Upload again(sender.store, sender.root, 1 << 20);
    ASSERT_FALSE(again.begin());
    EXPECT_FALSE(again.commit());
    EXPECT_EQ(read_back(sender.store, sender.root), sender.data);
}

TEST(Upload, TamperedBlockIsRefusedAndNothingIsServable) {
    cyxp2p::test::TempDir dir;
    Sender sender(dir / "engine", kSize);
    const auto receiver = open_store(dir / "node");
    auto blocks = sender.blocks();
    blocks[5].data[100] ^= 1;
    c::Upload up(receiver, sender.root, kSize);
    ASSERT_FALSE(up.begin());
    for (std::size_t i = 0; i < 5; ++i) ASSERT_FALSE(up.push(blocks[i].data, blocks[i].cid));
    EXPECT_EQ(up.push(blocks[5].data, blocks[5].cid), errc::hash_mismatch);
    EXPECT_NE(up.error_detail().find("block 5"), std::string::npos) << up.error_detail();
    EXPECT_EQ(up.push(blocks[6].data, blocks[6].cid), errc::hash_mismatch);  // stays failed
    EXPECT_EQ(up.commit(), errc::hash_mismatch);
    expect_nothing_servable(receiver, sender);
    // The documented rule: the verified prefix stays staged for a resume, the bad block is not among it.
    EXPECT_EQ(staged_blocks(c::Upload::staging_path(receiver, sender.root)), 5u);
}

TEST(Upload, BlockOutOfOrderIsRefused) {
    cyxp2p::test::TempDir dir;
    Sender sender(dir / "engine", kSize);
    const auto receiver = open_store(dir / "node");
    const auto blocks = sender.blocks();
    c::Upload up(receiver, sender.root, kSize);
    ASSERT_FALSE(up.begin());
    ASSERT_FALSE(up.push(blocks[0].data, blocks[0].cid));
    EXPECT_EQ(up.push(blocks[2].data, blocks[2].cid), errc::block_out_of_order);
    EXPECT_EQ(up.commit(), errc::block_out_of_order);
    expect_nothing_servable(receiver, sender);
}

TEST(Upload, RootClaimingAnotherSizeIsRefusedBeforeItIsStaged) {
    cyxp2p::test::TempDir dir;
    Sender sender(dir / "engine", kSize);
    const auto receiver = open_store(dir / "node");
    const auto blocks = sender.blocks();
    for (std::uint64_t declared : {kSize - 1, kSize + 1}) {
        c::Upload up(receiver, sender.root, declared);
        ASSERT_FALSE(up.begin());
        EXPECT_EQ(up.push(blocks[0].data, blocks[0].cid), errc::upload_size_mismatch);
        EXPECT_NE(up.error_detail().find(std::to_string(kSize)), std::string::npos) << up.error_detail();
        EXPECT_NE(up.error_detail().find(std::to_string(declared)), std::string::npos) << up.error_detail();
        EXPECT_EQ(staged_blocks(c::Upload::staging_path(receiver, sender.root)), 0u);
        up.discard();
    }
    expect_nothing_servable(receiver, sender);
}

TEST(Upload, HeldRootWithAnotherSizeIsRefusedAtBegin) {
    cyxp2p::test::TempDir dir;
    Sender sender(dir / "engine", 1 << 20);
    c::Upload up(sender.store, sender.root, 1000);
    EXPECT_EQ(up.begin(), errc::upload_size_mismatch);
}

TEST(Upload, DeclaredSizeOverTheLimitIsRefused) {
    cyxp2p::test::TempDir dir;
    Sender sender(dir / "engine", 1 << 20);
    const auto receiver = open_store(dir / "node");
    c::Limits limits;
    limits.max_upload_size = (1 << 20) - 1;
    c::Upload up(receiver, sender.root, 1 << 20, limits);
    EXPECT_EQ(up.begin(), errc::upload_too_large);
    EXPECT_NE(up.error_detail().find("1048575"), std::string::npos) << up.error_detail();
    EXPECT_FALSE(fs::exists(c::Upload::staging_path(receiver, sender.root)));
}

TEST(Upload, DiskBudgetIsCheckedBeforeAnyByteIsWritten) {
    cyxp2p::test::TempDir dir;
    Sender sender(dir / "engine", kSize);
    const auto receiver = open_store(dir / "node");
    {
        // The node's budget for all uploads is below the declared size.
        c::Limits limits;
        limits.upload_disk_budget = kSize / 2;
        c::Upload up(receiver, sender.root, kSize, limits);
        EXPECT_EQ(up.begin(), errc::disk_budget_exceeded);
        EXPECT_NE(up.error_detail().find(std::to_string(kSize / 2)), std::string::npos) << up.error_detail();
        EXPECT_NE(up.error_detail().find("upload_disk_budget"), std::string::npos) << up.error_detail();
        EXPECT_FALSE(fs::exists(c::Upload::staging_path(receiver, sender.root)));
    }
    {
        // The reserve kept free is more than the file system has.
        c::Limits limits;
        limits.upload_disk_reserve = std::uint64_t{1} << 62;
        c::Upload up(receiver, sender.root, kSize, limits);
        EXPECT_EQ(up.begin(), errc::disk_budget_exceeded);
        EXPECT_NE(up.error_detail().find("upload_disk_reserve"), std::string::npos) << up.error_detail();
        EXPECT_FALSE(fs::exists(c::Upload::staging_path(receiver, sender.root)));
    }
    {
        // Another partial upload's reservation counts: room for one, not two.
        c::Limits limits;
        limits.upload_disk_budget = c::Upload::reservation(kSize, limits) * 3 / 2;
        Sender other(dir / "engine2", kSize, {}, 2);
        c::Upload first(receiver, other.root, kSize, limits);
        ASSERT_FALSE(first.begin()) << first.error_detail();
        first.abort();  // partial, waiting for a resume: still reserved
        c::Upload second(receiver, sender.root, kSize, limits);
        EXPECT_EQ(second.begin(), errc::disk_budget_exceeded);
        EXPECT_NE(second.error_detail().find("1 other partial upload"), std::string::npos)
            << second.error_detail();
    }
}

TEST(Upload, BlocksOverTheReservationAreRefused) {
    cyxp2p::test::TempDir dir;
    // 4 KiB chunks: each staged block costs about twice its bytes on disk.
    Sender sender(dir / "engine", 1 << 20, c::ImportOptions{0, false, 4096, 174});
    const auto receiver = open_store(dir / "node");
    c::Limits limits;
    limits.upload_overhead_slack = 0;
    c::Upload up(receiver, sender.root, 1 << 20, limits);
    ASSERT_FALSE(up.begin());
    std::error_code failure;
    std::size_t pushed = 0;
    for (const auto& b : sender.blocks()) {
        if ((failure = up.push(b.data, b.cid))) break;
        ++pushed;
    }
    EXPECT_EQ(failure, errc::upload_over_reservation);
    EXPECT_GT(pushed, 100u);  // refused on the way, not at the first block
    const auto staged = staged_blocks(c::Upload::staging_path(receiver, sender.root));
    EXPECT_EQ(staged, pushed);
}

TEST(Upload, PartialUploadsPerStoreAreBounded) {
    cyxp2p::test::TempDir dir;
    const auto receiver = open_store(dir / "node");
    c::Limits limits;
    limits.max_partial_uploads = 2;
    Sender a(dir / "a", 1000, {}, 1), b(dir / "b", 1000, {}, 2), d(dir / "d", 1000, {}, 3);
    {
        c::Upload ua(receiver, a.root, 1000, limits), ub(receiver, b.root, 1000, limits);
        ASSERT_FALSE(ua.begin());
        ASSERT_FALSE(ub.begin());
    }
    c::Upload ud(receiver, d.root, 1000, limits);
    EXPECT_EQ(ud.begin(), errc::too_many_uploads);
    EXPECT_NE(ud.error_detail().find("max_partial_uploads = 2"), std::string::npos) << ud.error_detail();
    // A resume of a partial upload the store keeps is not a new one.
    c::Upload resumed(receiver, a.root, 1000, limits);
    EXPECT_FALSE(resumed.begin()) << resumed.error_detail();
}

TEST(Upload, SecondUploadOfTheSameRootIsRefusedWhileTheFirstRuns) {
    cyxp2p::test::TempDir dir;
    Sender sender(dir / "engine", 1000);
    const auto receiver = open_store(dir / "node");
    c::Upload first(receiver, sender.root, 1000);
    ASSERT_FALSE(first.begin());
    c::Upload second(receiver, sender.root, 1000);
    EXPECT_EQ(second.begin(), errc::upload_in_progress);
    second.discard();  // refused: not its directory to remove
    EXPECT_TRUE(fs::exists(c::Upload::staging_path(receiver, sender.root)));
    first.abort();
    c::Upload third(receiver, sender.root, 1000);
    EXPECT_FALSE(third.begin());
}

TEST(Upload, SweepRemovesExpiredPartialUploadsOnly) {
    cyxp2p::test::TempDir dir;
    const auto receiver = open_store(dir / "node");
    Sender old_one(dir / "a", 1000, {}, 1), fresh(dir / "b", 1000, {}, 2), active(dir / "c", 1000, {}, 3);
    for (const auto* s : {&old_one, &fresh}) {
        c::Upload up(receiver, s->root, 1000);
        ASSERT_FALSE(up.begin());
    }
    c::Upload running(receiver, active.root, 1000);
    ASSERT_FALSE(running.begin());
    const auto now = std::chrono::system_clock::now();
    const auto age = [&](const c::Cid& root) {
        const auto then = std::chrono::system_clock::to_time_t(now - std::chrono::hours(25));
        struct timespec times[2] = {{then, 0}, {then, 0}};
        ASSERT_EQ(::utimensat(AT_FDCWD, c::Upload::staging_path(receiver, root).c_str(), times, 0), 0);
    };
    age(old_one.root);
    age(active.root);
    std::error_code ec;
    EXPECT_EQ(c::Upload::sweep(receiver, now, c::Limits{}, ec), 1u);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_FALSE(fs::exists(c::Upload::staging_path(receiver, old_one.root)));
    EXPECT_TRUE(fs::exists(c::Upload::staging_path(receiver, fresh.root)));
    EXPECT_TRUE(fs::exists(c::Upload::staging_path(receiver, active.root)));  // held open: kept
    // Past the bound for the fresh one too.
    running.abort();
    EXPECT_EQ(c::Upload::sweep(receiver, now + std::chrono::hours(25), c::Limits{}, ec), 2u);
}

TEST(Upload, TamperedStagedBlockIsDiscardedOnResume) {
    cyxp2p::test::TempDir dir;
    Sender sender(dir / "engine", kSize);
    const auto receiver = open_store(dir / "node");
    const auto blocks = sender.blocks();
    {
        c::Upload up(receiver, sender.root, kSize);
        ASSERT_FALSE(up.begin());
        for (std::size_t i = 0; i < 20; ++i) ASSERT_FALSE(up.push(blocks[i].data, blocks[i].cid));
    }
    // Leaf 7 (block 8) changed on disk while no upload ran.
    const auto staged =
        c::Upload::staging_path(receiver, sender.root) / (blocks[8].cid.to_v1().to_string() + ".block");
    ASSERT_TRUE(fs::exists(staged));
    {
        std::fstream f(staged, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(1000);
        f.put('!');
    }
    c::Upload up(receiver, sender.root, kSize);
    ASSERT_FALSE(up.begin()) << up.error_detail();
    EXPECT_EQ(up.resumed().discarded, 1u);
    EXPECT_EQ(up.resumed().leaves, 7u);  // the leaves before the damaged one
    EXPECT_FALSE(fs::exists(staged));
    for (const auto& b : sender.blocks(up.resumed().leaves))
        ASSERT_FALSE(up.push(b.data, b.cid)) << up.error_detail();
    ASSERT_FALSE(up.commit()) << up.error_detail();
    EXPECT_EQ(read_back(receiver, sender.root), sender.data);
}
