// import_file on several threads gives the DAG of the one-thread path: the same root, and the same blocks
// handed to the sink in the same order, for every profile and the sizes where chunking and levels change.
#include <random>

#include <gtest/gtest.h>

#include <cyxp2p/content/importer.hpp>

#include "dag_fixture.hpp"
#include "support.hpp"

namespace c = cyxp2p::content;
namespace t = cyxp2p::content::testing;

namespace {

struct Imported {
    std::string root;
    std::uint64_t blocks = 0;
    std::vector<std::pair<std::string, c::Bytes>> sunk;  // (CID, block) in sink order
};

Imported import(const std::filesystem::path& f, c::ImportOptions opt, unsigned threads, bool with_sink) {
    opt.threads = threads;
    Imported run;
    c::BlockSink sink;
    if (with_sink) {
        sink = [&run](const c::ImportedBlock& b) {
            run.sunk.emplace_back(b.cid.to_string(), c::Bytes(b.bytes.begin(), b.bytes.end()));
            return std::error_code{};
        };
    }
    std::error_code ec;
    auto r = c::import_file(f, opt, sink, ec);
    EXPECT_TRUE(r) << ec.message();
    if (r) {
        run.root = r->root.to_string();
        run.blocks = r->blocks;
    }
    return run;
}

}  // namespace

TEST(ImportThreads, SameDagAsOneThreadForEveryProfileAndSize) {
    cyxp2p::test::TempDir dir;
    std::mt19937 rng(20261201);
    struct Case {
        const char* name;
        c::ImportOptions opt;
        std::size_t levels_size;  // a size that needs three levels with this profile's chunks
    };
    std::error_code ec;
    const std::vector<Case> cases = {
        {"CIDv0 256 KiB", c::ImportOptions::kubo_default(), 0},
        {"CIDv1 raw leaves", c::ImportOptions::kubo_cid_v1(), 0},
        {"unixfs-v1-2025", *c::ImportOptions::profile("unixfs-v1-2025", ec), 0},
        {"CIDv0, 256 B x 4 links", c::ImportOptions{0, false, 256, 4}, 256 * 4 * 4 * 4 + 1},
        {"CIDv1, 100 B x 3 links", c::ImportOptions{1, true, 100, 3}, 100 * 3 * 3 * 3 * 3 + 50},
    };
    for (const auto& k : cases) {
        const std::size_t chunk = k.opt.chunk_size;
        std::vector<std::size_t> sizes = {0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk + 77};
        if (k.levels_size) sizes.push_back(k.levels_size);
        for (int i = 0; i < 3; ++i)
            sizes.push_back(std::uniform_int_distribution<std::size_t>(0, 9 * chunk)(rng));
        for (const auto size : sizes) {
            const auto f = dir / "f.bin";
            cyxp2p::test::write_file(f, t::pattern(size, static_cast<std::uint32_t>(size)));
            for (const bool with_sink : {false, true}) {
                const Imported one = import(f, k.opt, 1, with_sink);
                for (const unsigned threads : {2U, 3U, 8U}) {
                    const Imported many = import(f, k.opt, threads, with_sink);
                    EXPECT_EQ(many.root, one.root) << k.name << " size " << size << " threads " << threads;
                    EXPECT_EQ(many.blocks, one.blocks) << k.name << " size " << size;
                    EXPECT_TRUE(many.sunk == one.sunk)
                        << k.name << " size " << size << " threads " << threads;
                }
            }
        }
    }
}

TEST(ImportThreads, DefaultThreadCountMatchesTheInMemoryImporter) {
    cyxp2p::test::TempDir dir;
    const std::string data = t::pattern(5 * 256 * 1024 + 3);
    cyxp2p::test::write_file(dir / "f.bin", data);
    const auto expected = t::import_dag(data, c::ImportOptions::kubo_default());
    EXPECT_EQ(import(dir / "f.bin", c::ImportOptions::kubo_default(), 0, false).root,
              expected.root.to_string());
}

TEST(ImportThreads, AMissingFileIsAnError) {
    cyxp2p::test::TempDir dir;
    std::error_code ec;
    c::ImportOptions opt;
    opt.threads = 4;
    EXPECT_FALSE(c::import_file(dir / "missing", opt, {}, ec));
    EXPECT_EQ(ec, std::errc::no_such_file_or_directory);
}

TEST(ImportThreads, ASinkErrorStopsTheWorkersAndIsReturned) {
    cyxp2p::test::TempDir dir;
    cyxp2p::test::write_file(dir / "f.bin", t::pattern(64 * 1000 + 5));
    for (const unsigned threads : {2U, 4U}) {
        c::ImportOptions opt{1, true, 1000, 4};
        opt.threads = threads;
        int calls = 0;
        std::error_code ec;
        auto r = c::import_file(
            dir / "f.bin", opt,
            [&calls](const c::ImportedBlock&) {
                return ++calls == 7 ? std::make_error_code(std::errc::no_space_on_device) : std::error_code{};
            },
            ec);
        EXPECT_FALSE(r);
        EXPECT_EQ(ec, std::errc::no_space_on_device);
        EXPECT_EQ(calls, 7);  // nothing reached the sink after the failure
    }
}
