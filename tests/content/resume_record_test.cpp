// The resume record (content/detail/resume_record.hpp): a record cut at any byte (a crash mid-append) or
// with any byte flipped yields a prefix of the leaves it held, never a leaf it did not hold, and a header
// for another root or version is refused with the reason.
#include <gtest/gtest.h>

#include <cyxp2p/content/detail/resume_record.hpp>

#include "dag_fixture.hpp"

namespace c = cyxp2p::content;
namespace d = cyxp2p::content::detail;

namespace {

d::HeldLeaf leaf(int i, bool raw) {
    const std::string bytes =
        c::testing::pattern(100 + static_cast<std::size_t>(i), static_cast<std::uint32_t>(i));
    d::HeldLeaf l{raw ? c::Cid::of_block(1, c::Codec::raw, c::as_bytes(bytes))
                      : c::Cid::of_block(0, c::Codec::dag_pb, c::as_bytes(bytes)),
                  static_cast<std::uint64_t>(i) * 1000,
                  static_cast<std::uint32_t>(100 + i),
                  {},
                  {}};
    if (!raw) {
        l.prefix = {0x0a, 0x0b, 0x08, 0x02, 0x12, 0x64};
        l.suffix = {0x18, 0x64};
    }
    return l;
}

bool same(const d::HeldLeaf& a, const d::HeldLeaf& b) {
    return a.cid == b.cid && a.offset == b.offset && a.length == b.length && a.prefix == b.prefix &&
           a.suffix == b.suffix;
}

struct Record {
    c::Cid root = c::Cid::of_block(1, c::Codec::raw, c::as_bytes("root"));
    std::vector<d::HeldLeaf> leaves;
    std::vector<std::size_t> batch_ends;  // record size after each batch
    c::Bytes bytes;
    Record() {
        d::encode_resume_header(root, bytes);
        int i = 0;
        for (std::size_t n : {3U, 1U, 4U}) {
            std::vector<d::HeldLeaf> batch;
            for (std::size_t k = 0; k < n; ++k, ++i) batch.push_back(leaf(i, i % 2 == 0));
            c::Bytes b;
            d::encode_resume_batch(batch, b);
            bytes.insert(bytes.end(), b.begin(), b.end());
            batch_ends.push_back(bytes.size());
            leaves.insert(leaves.end(), batch.begin(), batch.end());
        }
    }
};

}  // namespace

TEST(ResumeRecord, RoundTrips) {
    Record r;
    std::string why;
    bool foreign = false;
    auto got = d::decode_resume_record(r.bytes, r.root, why, foreign);
    ASSERT_TRUE(got) << why;
    ASSERT_EQ(got->leaves.size(), r.leaves.size());
    for (std::size_t i = 0; i < r.leaves.size(); ++i) EXPECT_TRUE(same(got->leaves[i], r.leaves[i])) << i;
    EXPECT_EQ(got->good_end, r.bytes.size());
}

TEST(ResumeRecord, ACutAtAnyByteKeepsTheWholeBatchesBeforeIt) {
    Record r;
    c::Bytes h;
    d::encode_resume_header(r.root, h);
    for (std::size_t cut = 0; cut <= r.bytes.size(); ++cut) {
        std::string why;
        bool foreign = false;
        auto got = d::decode_resume_record(c::ByteView(r.bytes).first(cut), r.root, why, foreign);
        if (cut < h.size()) {
            EXPECT_FALSE(got) << cut;  // the header itself is torn
            continue;
        }
        ASSERT_TRUE(got) << cut << ": " << why;
        std::size_t whole = 0, leaves = 0;
        for (std::size_t b = 0, n = 0; b < r.batch_ends.size(); ++b) {
            n += b == 0 ? 3 : b == 1 ? 1 : 4;
            if (r.batch_ends[b] <= cut) {
                whole = r.batch_ends[b];
                leaves = n;
            }
        }
        EXPECT_EQ(got->leaves.size(), leaves) << cut;
        EXPECT_EQ(got->good_end, whole == 0 ? h.size() : whole) << cut;
    }
}

TEST(ResumeRecord, AFlippedByteNeverYieldsALeafThatWasNotHeld) {
    Record r;
    for (std::size_t at = 0; at < r.bytes.size(); ++at) {
        auto damaged = r.bytes;
        damaged[at] ^= 0x40;
        std::string why;
        bool foreign = false;
        auto got = d::decode_resume_record(damaged, r.root, why, foreign);
        if (!got) continue;  // header damage: the whole state is refused
        ASSERT_LT(got->leaves.size(), r.leaves.size()) << at;
        for (std::size_t i = 0; i < got->leaves.size(); ++i) EXPECT_TRUE(same(got->leaves[i], r.leaves[i]));
    }
}

TEST(ResumeRecord, AnotherRootOrVersionIsRefusedWithTheReason) {
    Record r;
    std::string why;
    bool foreign = false;
    const auto other = c::Cid::of_block(1, c::Codec::raw, c::as_bytes("other"));
    EXPECT_FALSE(d::decode_resume_record(r.bytes, other, why, foreign));
    EXPECT_TRUE(foreign);
    EXPECT_NE(why.find("another CID (" + r.root.to_string() + ")"), std::string::npos) << why;
    auto v2 = r.bytes;
    v2[14 + 3] = 2;  // version, after the 14-byte magic
    EXPECT_FALSE(d::decode_resume_record(v2, r.root, why, foreign));
    EXPECT_NE(why.find("damaged"), std::string::npos) << why;  // the header checksum covers the version
    EXPECT_FALSE(foreign);
    EXPECT_FALSE(d::decode_resume_record(c::as_bytes("not a record at all"), r.root, why, foreign));
}

TEST(ResumeRecord, SplitLeafFindsTheFileBytesInTheBlock) {
    c::Bytes prefix, suffix;
    const c::Bytes block = {0x0a, 0x07, 0x08, 0x02, 0x12, 0x03, 'a', 'b', 'c', 0x18, 0x03};
    const std::string data = "abc";
    ASSERT_TRUE(d::split_leaf(block, c::as_bytes(data), prefix, suffix));
    EXPECT_EQ(prefix, c::Bytes(block.begin(), block.begin() + 6));
    EXPECT_EQ(suffix, c::Bytes(block.end() - 2, block.end()));
    EXPECT_FALSE(d::split_leaf(block, c::as_bytes("abd"), prefix, suffix));
    ASSERT_TRUE(d::split_leaf(block, {}, prefix, suffix));  // an empty leaf
    EXPECT_TRUE(prefix.empty());
}
