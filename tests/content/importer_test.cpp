// The importer against kubo's CIDs (`ipfs add --only-hash` with the same options) and the layout rules
// of kubo's balanced builder.
#include <map>

#include <gtest/gtest.h>

#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/content/unixfs.hpp>

#include "support.hpp"

namespace c = cyxp2p::content;

namespace {

std::string cid_of(std::string_view bytes, const c::ImportOptions& opt, std::size_t split = 0) {
    c::Importer imp(opt);
    if (split == 0) split = bytes.size() + 1;
    for (std::size_t i = 0; i < bytes.size(); i += split) {
        EXPECT_FALSE(imp.write(c::as_bytes(bytes.substr(i, split))));
    }
    std::error_code ec;
    auto r = imp.finish(ec);
    EXPECT_TRUE(r) << ec.message();
    return r ? r->root.to_string() : "";
}

// Deterministic bytes (an LCG), so that no chunk repeats another.
std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    std::uint32_t x = 12345;
    for (auto& ch : s) {
        x = x * 1103515245u + 12345u;
        ch = static_cast<char>(x >> 24);
    }
    return s;
}

struct Store {
    std::map<std::string, c::Bytes> blocks;
    std::vector<std::string> order;
    c::BlockSink sink() {
        return [this](const c::ImportedBlock& b) {
            blocks[b.cid.to_string()] = c::Bytes(b.bytes.begin(), b.bytes.end());
            order.push_back(b.cid.to_string());
            return std::error_code{};
        };
    }
};

}  // namespace

TEST(Importer, EmptyFileMatchesKubo) {
    EXPECT_EQ(cid_of("", c::ImportOptions::kubo_default()), "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
    // `ipfs add --cid-version 1` of an empty file: the empty raw block.
    EXPECT_EQ(cid_of("", c::ImportOptions::kubo_cid_v1()),
              "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
}

TEST(Importer, HelloWorldMatchesKubo) {
    EXPECT_EQ(cid_of("hello world", c::ImportOptions::kubo_default()),
              "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD");
    EXPECT_EQ(cid_of("hello world\n", c::ImportOptions::kubo_default()),
              "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
    EXPECT_EQ(cid_of("hello world", c::ImportOptions::kubo_cid_v1()),
              "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e");
    // --cid-version 1 --raw-leaves=false: a dag-pb leaf named by CIDv1 (= CIDv1 of Qmf412...).
    std::error_code ec;
    const auto v0 = c::Cid::parse("Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD", ec);
    ASSERT_TRUE(v0);
    EXPECT_EQ(cid_of("hello world", c::ImportOptions{1, false, 262144, 174}), v0->to_v1().to_string());
}

TEST(Importer, SplitOfWritesDoesNotMatter) {
    const std::string data = pattern(3 * 1000 + 17);
    const c::ImportOptions opt{0, false, 1000, 2};
    const std::string whole = cid_of(data, opt);
    EXPECT_EQ(cid_of(data, opt, 1), whole);
    EXPECT_EQ(cid_of(data, opt, 999), whole);
    EXPECT_EQ(cid_of(data, opt, 1001), whole);
    EXPECT_NE(cid_of(data + "x", opt), whole);
}

TEST(Importer, BalancedLayoutAndTsize) {
    // 175 chunks with 174 links: root -> [node of 174 leaves, node of 1 leaf] (kubo keeps the single-
    // child node: only a whole-file single leaf becomes the root itself).
    const std::size_t chunk = 64;
    const std::string data = pattern(175 * chunk);
    Store st;
    c::Importer imp(c::ImportOptions{0, false, chunk, 174}, st.sink());
    ASSERT_FALSE(imp.write(c::as_bytes(data)));
    std::error_code ec;
    auto r = imp.finish(ec);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->file_size, data.size());
    EXPECT_EQ(r->blocks, 175u + 3u);
    EXPECT_EQ(st.order.back(), r->root.to_string());  // children before parents
    const c::Bytes& root = st.blocks.at(r->root.to_string());
    c::PbNode node;
    ASSERT_FALSE(c::decode_dag_pb(root, node, 8192));
    ASSERT_EQ(node.links.size(), 2u);
    c::UnixFsNode fs;
    ASSERT_FALSE(c::decode_unixfs(*node.data, fs));
    EXPECT_EQ(fs.filesize, data.size());
    EXPECT_EQ(fs.blocksizes, (std::vector<std::uint64_t>{174 * chunk, chunk}));
    c::PbNode second;
    ASSERT_FALSE(c::decode_dag_pb(st.blocks.at(node.links[1].hash.to_string()), second, 8192));
    ASSERT_EQ(second.links.size(), 1u);
    // Tsize = the child's block plus everything below it.
    const c::Bytes& leaf = st.blocks.at(second.links[0].hash.to_string());
    EXPECT_EQ(second.links[0].tsize, leaf.size());
    EXPECT_EQ(node.links[1].tsize, st.blocks.at(node.links[1].hash.to_string()).size() + leaf.size());
    std::uint64_t total = root.size();
    for (const auto& l : node.links) total += *l.tsize;
    EXPECT_EQ(r->dag_size, total);
}

TEST(Importer, ExactlyFullNodeStaysOneLevel) {
    Store st;
    c::Importer imp(c::ImportOptions{1, true, 10, 4}, st.sink());
    ASSERT_FALSE(imp.write(c::as_bytes(pattern(40))));
    std::error_code ec;
    auto r = imp.finish(ec);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->blocks, 5u);  // 4 raw leaves + 1 root
    c::PbNode node;
    ASSERT_FALSE(c::decode_dag_pb(st.blocks.at(r->root.to_string()), node, 8192));
    EXPECT_EQ(node.links.size(), 4u);
    EXPECT_EQ(node.links[0].hash.codec(), c::Codec::raw);
    EXPECT_EQ(r->root.codec(), c::Codec::dag_pb);
    EXPECT_EQ(r->root.version(), 1);
}

TEST(Importer, ImportFileMatchesStreaming) {
    cyxp2p::test::TempDir dir;
    const std::string data = pattern(262144 * 2 + 5);
    cyxp2p::test::write_file(dir / "f", data);
    for (const auto& opt : {c::ImportOptions::kubo_default(), c::ImportOptions::kubo_cid_v1()}) {
        std::error_code ec;
        auto r = c::import_file(dir / "f", opt, {}, ec);
        ASSERT_TRUE(r) << ec.message();
        EXPECT_EQ(r->root.to_string(), cid_of(data, opt));
        EXPECT_EQ(r->file_size, data.size());
    }
    std::error_code ec;
    EXPECT_FALSE(c::import_file(dir / "missing", c::ImportOptions{}, {}, ec));
    EXPECT_EQ(ec, std::errc::no_such_file_or_directory);
}

TEST(Importer, LeafDataOffsetsPointAtFileBytes) {
    const std::string data = pattern(2500);
    for (bool raw : {false, true}) {
        c::Importer imp(c::ImportOptions{1, raw, 1000, 174}, [&](const c::ImportedBlock& b) {
            if (b.leaf) {
                EXPECT_EQ(c::as_chars(b.bytes.subspan(b.data_offset, b.data_size)),
                          std::string_view(data).substr(b.file_offset, b.data_size));
            }
            return std::error_code{};
        });
        ASSERT_FALSE(imp.write(c::as_bytes(data)));
        std::error_code ec;
        ASSERT_TRUE(imp.finish(ec));
    }
}

TEST(Importer, ProfilesAndOptionErrors) {
    std::error_code ec;
    auto p = c::ImportOptions::profile("unixfs-v1-2025", ec);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->chunk_size, 1048576u);
    EXPECT_EQ(p->max_links, 1024u);
    EXPECT_TRUE(p->raw_leaves);
    EXPECT_EQ(p->cid_version, 1);
    p = c::ImportOptions::profile("unixfs-v0-2015", ec);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->cid_version, 0);
    EXPECT_FALSE(c::ImportOptions::profile("nope", ec));
    EXPECT_EQ(ec, c::errc::bad_profile);
    EXPECT_EQ((c::ImportOptions{0, false, 1048577, 174}.validate()), c::errc::bad_chunk_size);
    EXPECT_EQ((c::ImportOptions{0, false, 0, 174}.validate()), c::errc::bad_chunk_size);
    EXPECT_EQ((c::ImportOptions{0, false, 1024, 1}.validate()), c::errc::bad_max_links);
    EXPECT_EQ((c::ImportOptions{2, false, 1024, 174}.validate()), c::errc::bad_cid_version);
    EXPECT_THROW(c::Importer(c::ImportOptions{0, false, 0, 174}), std::invalid_argument);
}

TEST(Importer, SinkErrorStopsImport) {
    c::Importer imp(c::ImportOptions{0, false, 10, 174},
                    [](const c::ImportedBlock&) { return make_error_code(c::errc::io_error); });
    EXPECT_EQ(imp.write(c::as_bytes(pattern(25))), c::errc::io_error);
}
