// Blockstore: flatfs-like layout, atomic writes, verification on read, and filestore references.
#include <fcntl.h>

#include <ctime>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/errc.hpp>

#include "dag_fixture.hpp"
#include "support.hpp"

namespace c = cyxp2p::content;
namespace t = cyxp2p::content::testing;
namespace fs = std::filesystem;
using c::errc;

TEST(Blockstore, PutGetAndLayout) {
    cyxp2p::test::TempDir dir;
    std::error_code ec;
    auto store = c::Blockstore::open(dir / "store", ec);
    ASSERT_TRUE(store) << ec.message();
    const auto b = t::raw_block("hello world");
    ASSERT_FALSE(store->put(b.cid, b.bytes));
    EXPECT_TRUE(store->has(b.cid));
    // flatfs key of bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e's multihash.
    const fs::path p = store->data_path(b.cid);
    EXPECT_EQ(p.filename().string().substr(0, 3), "CIQ");
    EXPECT_EQ(p.parent_path().filename().string().size(), 2u);
    auto got = store->get(b.cid, ec);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, b.bytes);
    // Same digest named as dag-pb v0 or raw v1 shares the file.
    EXPECT_TRUE(store->has(c::Cid::v0(b.cid.digest())));
    EXPECT_EQ(store->put(b.cid, c::as_bytes("other bytes")), errc::hash_mismatch);
    EXPECT_FALSE(store->get(t::raw_block("absent").cid, ec));
    EXPECT_EQ(ec, errc::block_not_found);
    EXPECT_EQ(store->put(t::raw_block(std::string(2 * 1024 * 1024 + 1, 'x')).cid,
                         c::as_bytes(std::string(2 * 1024 * 1024 + 1, 'x'))),
              errc::block_too_large);
}

TEST(Blockstore, CorruptedCopyIsNeverServed) {
    cyxp2p::test::TempDir dir;
    std::error_code ec;
    auto store = c::Blockstore::open(dir.path(), ec);
    const auto b = t::raw_block("payload");
    ASSERT_FALSE(store->put(b.cid, b.bytes));
    cyxp2p::test::write_file(store->data_path(b.cid), "pAyload");
    EXPECT_FALSE(store->get(b.cid, ec));
    EXPECT_EQ(ec, errc::hash_mismatch);
}

TEST(Blockstore, ReferencesIntoTheOriginalFile) {
    cyxp2p::test::TempDir dir;
    const std::string data = t::pattern(1000 * 5 + 1);
    cyxp2p::test::write_file(dir / "model.bin", data);
    for (bool raw : {false, true}) {
        std::error_code ec;
        auto store = c::Blockstore::open(dir / (raw ? "s1" : "s0"), ec);
        const c::ImportOptions opt{raw ? 1 : 0, raw, 1000, 174};
        auto r = c::import_file(dir / "model.bin", opt, store->sink(dir / "model.bin"), ec);
        ASSERT_TRUE(r) << ec.message();
        const t::Dag expected = t::import_dag(data, opt);
        std::uintmax_t stored = 0;
        for (const auto& e : fs::recursive_directory_iterator(store->root())) {
            if (e.is_regular_file()) stored += e.file_size();
        }
        EXPECT_LT(stored, data.size() / 4) << "leaves must be references, not copies";
        for (const auto& b : expected.dfs) {
            auto got = store->get(b.cid, ec);
            ASSERT_TRUE(got) << ec.message();
            EXPECT_EQ(*got, b.bytes);
        }
        // The original changes: the referenced blocks are refused, not served.
        std::string changed = data;
        changed[1500] ^= 1;
        cyxp2p::test::write_file(dir / "model.bin", changed);
        EXPECT_FALSE(store->get(expected.dfs[2].cid, ec));
        EXPECT_EQ(ec, errc::source_changed);
        cyxp2p::test::write_file(dir / "model.bin", data);
    }
}

TEST(Blockstore, RemoveForgetsACopyAndAReferenceButNotTheFile) {
    cyxp2p::test::TempDir dir;
    const std::string data = t::pattern(1000 * 3 + 7);
    cyxp2p::test::write_file(dir / "model.bin", data);
    std::error_code ec;
    auto store = c::Blockstore::open(dir / "store", ec);
    ASSERT_TRUE(store) << ec.message();
    const c::ImportOptions opt{0, false, 1000, 174};
    auto r = c::import_file(dir / "model.bin", opt, store->sink(dir / "model.bin"), ec);
    ASSERT_TRUE(r) << ec.message();
    const t::Dag dag = t::import_dag(data, opt);
    const c::Cid root = dag.dfs.front().cid;  // an internal node: a copy
    const c::Cid leaf = dag.dfs.back().cid;   // a leaf: a reference into model.bin
    ASSERT_TRUE(fs::exists(store->data_path(root)));
    ASSERT_FALSE(fs::exists(store->data_path(leaf)));
    for (const auto& cid : {root, leaf}) {
        ASSERT_TRUE(store->has(cid));
        EXPECT_FALSE(store->remove(cid));
        EXPECT_FALSE(store->has(cid));
        EXPECT_FALSE(store->get(cid, ec));
        EXPECT_EQ(ec, errc::block_not_found);
        EXPECT_FALSE(store->remove(cid)) << "removing an absent block is not an error";
    }
    EXPECT_EQ(cyxp2p::test::read_file(dir / "model.bin"), data);
    EXPECT_TRUE(store->get(dag.dfs[1].cid, ec)) << "the other blocks stay: " << ec.message();
}

TEST(Blockstore, ConcurrentReadersSeeWholeBlocksOnly) {
    cyxp2p::test::TempDir dir;
    std::error_code ec;
    auto store = c::Blockstore::open(dir.path(), ec);
    const auto b = t::raw_block(t::pattern(512 * 1024));
    std::atomic<bool> done{false};
    std::atomic<int> bad{0};
    std::thread reader([&] {
        while (!done) {
            std::error_code rec;
            auto got = store->get(b.cid, rec);
            if (!got && rec != errc::block_not_found) ++bad;
        }
    });
    for (int i = 0; i < 20; ++i) {
        fs::remove(store->data_path(b.cid));
        ASSERT_FALSE(store->put(b.cid, b.bytes));
    }
    done = true;
    reader.join();
    EXPECT_EQ(bad, 0);
    // No temporary files are left in the shard directory.
    EXPECT_EQ(std::distance(fs::directory_iterator(store->data_path(b.cid).parent_path()),
                            fs::directory_iterator{}),
              1);
}

namespace {

// Sets a file's mtime to `seconds_ago` in the past (the import's settle rule wants an mtime older than
// Limits::reference_settle_ms), returning the timestamp set.
timespec age_file(const fs::path& p, int seconds_ago) {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    timespec times[2] = {now, now};
    times[1].tv_sec -= seconds_ago;
    EXPECT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0);
    return times[1];
}

void set_mtime(const fs::path& p, timespec mtime) {
    timespec times[2] = {mtime, mtime};
    EXPECT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0);
}

void overwrite_byte(const fs::path& p, std::size_t at) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    const char ch = static_cast<char>(f.get() ^ 1);
    f.seekp(static_cast<std::streamoff>(at));
    f.put(ch);
}

}  // namespace

TEST(Blockstore, AnUnchangedReferencedFileIsNotHashedAgain) {
    // The proof that no re-hash happens: change a byte but restore size and mtime (what a deliberate
    // forger would do; the engine's verification catches that block). get() then returns the changed
    // bytes. As soon as the identity differs (mtime here), the block is hashed and refused.
    cyxp2p::test::TempDir dir;
    const std::string data = t::pattern(4 * 1000 + 1);
    const auto file = dir / "model.bin";
    cyxp2p::test::write_file(file, data);
    const timespec mtime = age_file(file, 60);
    std::error_code ec;
    auto store = c::Blockstore::open(dir / "s", ec);
    const c::ImportOptions opt{1, true, 1000, 174};
    ASSERT_TRUE(c::import_file(file, opt, store->sink(file), ec)) << ec.message();
    const auto dag = t::import_dag(data, opt);
    const auto& leaf = dag.dfs[1];  // the first raw leaf: file bytes [0, 1000)
    overwrite_byte(file, 10);
    set_mtime(file, mtime);
    auto served = store->get(leaf.cid, ec);
    ASSERT_TRUE(served) << ec.message();
    EXPECT_NE(*served, leaf.bytes);  // served unhashed: the identity said unchanged
    EXPECT_FALSE(leaf.cid.matches(*served));
    set_mtime(file, timespec{mtime.tv_sec + 1, mtime.tv_nsec});
    EXPECT_FALSE(store->get(leaf.cid, ec));
    EXPECT_EQ(ec, errc::source_changed);
    // Changed back to the imported bytes (new mtime): hashed, matches, served.
    overwrite_byte(file, 10);
    auto again = store->get(leaf.cid, ec);
    ASSERT_TRUE(again) << ec.message();
    EXPECT_EQ(*again, leaf.bytes);
}

TEST(Blockstore, AFileModifiedJustBeforeImportIsAlwaysHashed) {
    // mtime within reference_settle_ms of the import: a write in the same timestamp tick could go unseen,
    // so no identity is recorded and every read re-hashes (the same forgery is caught here).
    cyxp2p::test::TempDir dir;
    const std::string data = t::pattern(3 * 1000);
    const auto file = dir / "fresh.bin";
    cyxp2p::test::write_file(file, data);
    const timespec mtime = age_file(file, 0);
    std::error_code ec;
    auto store = c::Blockstore::open(dir / "s", ec);
    const c::ImportOptions opt{1, true, 1000, 174};
    ASSERT_TRUE(c::import_file(file, opt, store->sink(file), ec)) << ec.message();
    const auto dag = t::import_dag(data, opt);
    overwrite_byte(file, 10);
    set_mtime(file, mtime);
    EXPECT_FALSE(store->get(dag.dfs[1].cid, ec));
    EXPECT_EQ(ec, errc::source_changed);
}
