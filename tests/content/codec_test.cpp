// Varint, multibase, CID and dag-pb codecs: spec vectors and one test per kind of malformed input.
#include <gtest/gtest.h>

#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/multibase.hpp>
#include <cyxp2p/content/unixfs.hpp>
#include <cyxp2p/content/varint.hpp>

namespace c = cyxp2p::content;
using c::errc;

namespace {

c::Bytes B(std::initializer_list<int> v) {
    c::Bytes out;
    for (int x : v) out.push_back(static_cast<std::uint8_t>(x));
    return out;
}

std::error_code read_one(const c::Bytes& b, std::uint64_t& v) {
    c::ByteView in(b);
    return c::read_varint(in, v);
}

}  // namespace

TEST(Varint, RoundTripsSpecExamples) {
    // unsigned-varint README examples.
    const std::pair<std::uint64_t, c::Bytes> cases[] = {
        {1, B({0x01})},         {127, B({0x7f})},       {128, B({0x80, 0x01})},
        {255, B({0xff, 0x01})}, {300, B({0xac, 0x02})}, {16384, B({0x80, 0x80, 0x01})}};
    for (const auto& [value, bytes] : cases) {
        c::Bytes out;
        c::append_varint(out, value);
        EXPECT_EQ(out, bytes);
        EXPECT_EQ(c::varint_size(value), bytes.size());
        std::uint64_t v = 0;
        EXPECT_FALSE(read_one(bytes, v));
        EXPECT_EQ(v, value);
    }
}

TEST(Varint, RejectsMalformed) {
    std::uint64_t v = 0;
    EXPECT_EQ(read_one(B({0x80}), v), errc::varint_truncated);
    EXPECT_EQ(read_one(B({}), v), errc::varint_truncated);
    EXPECT_EQ(read_one(B({0x81, 0x00}), v), errc::varint_not_minimal);
    EXPECT_EQ(read_one(B({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}), v),
              errc::varint_overflow);
    // 9 bytes is the maximum the spec allows.
    EXPECT_FALSE(read_one(B({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}), v));
    EXPECT_EQ(v, (1ull << 63) - 1);
}

TEST(Multibase, Base58AndBase32) {
    EXPECT_EQ(c::base58btc_encode(c::as_bytes("hello world")), "StV1DL6CwTryKyV");
    EXPECT_EQ(c::base32_lower_encode(c::as_bytes("f")), "my");
    EXPECT_EQ(c::base32_lower_encode(c::as_bytes("foobar")), "mzxw6ytboi");
    c::Bytes out;
    EXPECT_FALSE(c::multibase_decode("bmzxw6ytboi", out));
    EXPECT_EQ(c::as_chars(out), "foobar");
    EXPECT_FALSE(c::multibase_decode("BMZXW6YTBOI", out));
    EXPECT_EQ(c::as_chars(out), "foobar");
    EXPECT_FALSE(c::multibase_decode("zStV1DL6CwTryKyV", out));
    EXPECT_EQ(c::as_chars(out), "hello world");
    EXPECT_FALSE(c::multibase_decode("f666f6f626172", out));
    EXPECT_EQ(c::as_chars(out), "foobar");
    EXPECT_FALSE(c::multibase_decode("mZm9vYmFy", out));
    EXPECT_EQ(c::as_chars(out), "foobar");
    EXPECT_EQ(c::multibase_decode("", out), errc::empty_string);
    EXPECT_EQ(c::multibase_decode("Xabc", out), errc::bad_multibase_prefix);
    EXPECT_EQ(c::multibase_decode("bmzxw6ytbo1", out), errc::bad_base_digit);  // '1' is not base32
    EXPECT_EQ(c::multibase_decode("bMZXW6YTBOI", out), errc::bad_base_digit);  // mixed case
    EXPECT_EQ(c::multibase_decode("bmz", out), errc::bad_base_digit);          // non-zero leftover bits
    EXPECT_EQ(c::multibase_decode("z0OIl", out), errc::bad_base_digit);        // not base58btc
}

TEST(Cid, ParsesAndFormatsKuboVectors) {
    std::error_code ec;
    const auto v0 = c::Cid::parse("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", ec);
    ASSERT_TRUE(v0) << ec.message();
    EXPECT_EQ(v0->version(), 0);
    EXPECT_EQ(v0->codec(), c::Codec::dag_pb);
    EXPECT_EQ(v0->to_string(), "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
    EXPECT_EQ(v0->bytes().size(), 34u);
    // `ipfs cid base32 QmbFMke1...` (same block as CIDv1 dag-pb).
    EXPECT_EQ(v0->to_v1().to_string(), "bafybeif7ztnhq65lumvvtr4ekcwd2ifwgm3awq4zfr3srh462rwyinlb4y");
    const auto raw = c::Cid::parse("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e", ec);
    ASSERT_TRUE(raw) << ec.message();
    EXPECT_EQ(raw->codec(), c::Codec::raw);
    EXPECT_TRUE(raw->matches(c::as_bytes("hello world")));
    EXPECT_FALSE(raw->matches(c::as_bytes("hello world!")));
    // kubo also reads other bases: the same CID in base58btc and base32 upper.
    const auto z = c::Cid::parse("z" + c::base58btc_encode(raw->bytes()), ec);
    ASSERT_TRUE(z);
    EXPECT_EQ(*z, *raw);
    const auto from_bytes = c::Cid::from_bytes(raw->bytes(), ec);
    ASSERT_TRUE(from_bytes);
    EXPECT_EQ(*from_bytes, *raw);
}

TEST(Cid, RejectsEachKindOfMalformedInput) {
    std::error_code ec;
    const c::Digest d{};
    auto bytes_of = [](std::initializer_list<int> prefix) {
        c::Bytes b = B(prefix);
        b.resize(b.size() + 32, 0xab);
        return b;
    };
    EXPECT_FALSE(c::Cid::parse("", ec));
    EXPECT_EQ(ec, errc::empty_string);
    EXPECT_FALSE(c::Cid::parse("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQ0", ec));
    EXPECT_EQ(ec, errc::bad_base_digit);
    EXPECT_FALSE(c::Cid::from_bytes(bytes_of({0x02, 0x70, 0x12, 0x20}), ec));
    EXPECT_EQ(ec, errc::bad_cid_version);
    EXPECT_FALSE(c::Cid::from_bytes(bytes_of({0x01, 0x71, 0x12, 0x20}), ec));
    EXPECT_EQ(ec, errc::unsupported_codec);
    EXPECT_FALSE(c::Cid::from_bytes(bytes_of({0x01, 0x55, 0x13, 0x20}), ec));
    EXPECT_EQ(ec, errc::unsupported_multihash);
    EXPECT_FALSE(c::Cid::from_bytes(bytes_of({0x01, 0x55, 0x12, 0x1f}), ec));
    EXPECT_EQ(ec, errc::wrong_digest_length);
    EXPECT_FALSE(c::Cid::from_bytes(bytes_of({0x12, 0x21}), ec));
    EXPECT_EQ(ec, errc::wrong_digest_length);
    c::Bytes truncated = c::Cid::v1(c::Codec::raw, d).bytes();
    truncated.pop_back();
    EXPECT_FALSE(c::Cid::from_bytes(truncated, ec));
    EXPECT_EQ(ec, errc::truncated_input);
    c::Bytes trailing = c::Cid::v0(d).bytes();
    trailing.push_back(0);
    EXPECT_FALSE(c::Cid::from_bytes(trailing, ec));
    EXPECT_EQ(ec, errc::cid_trailing_bytes);
    EXPECT_FALSE(c::Cid::from_bytes(B({0x01, 0xf0, 0x00}), ec));
    EXPECT_EQ(ec, errc::varint_not_minimal);
}

TEST(ErrorCategory, NamesAndMessages) {
    const std::error_code ec = errc::hash_mismatch;
    EXPECT_STREQ(ec.category().name(), "cyxp2p.content");
    EXPECT_STREQ(c::to_string(errc::hash_mismatch), "hash_mismatch");
    EXPECT_STREQ(c::to_string(errc::io_error), "io_error");
    EXPECT_NE(ec.message().find("hash"), std::string::npos);
    EXPECT_NE(std::error_code(errc::car_section_too_large).message(),
              std::error_code(errc::car_header_too_large).message());
}

namespace {

c::Bytes link_node(const c::Cid& child) {
    c::Bytes out;
    c::encode_dag_pb(c::PbNode{{c::PbLink{child, std::string_view{}, 7}}, c::ByteView(B({0x08, 0x02}))}, out);
    return out;
}

}  // namespace

TEST(DagPb, EncodesLinksBeforeDataWithEmptyName) {
    const c::Cid child = c::Cid::v0(c::Digest{});
    const c::Bytes enc = link_node(child);
    // 0x12 = Links (field 2) first; inside: Hash, Name "" (0x12 0x00), Tsize 7; then Data 0x0a.
    ASSERT_GE(enc.size(), 4u);
    EXPECT_EQ(enc[0], 0x12);
    const c::Bytes tail(enc.end() - 8, enc.end());
    EXPECT_EQ(tail, B({0x12, 0x00, 0x18, 0x07, 0x0a, 0x02, 0x08, 0x02}));
    c::PbNode node;
    ASSERT_FALSE(c::decode_dag_pb(enc, node, 10));
    ASSERT_EQ(node.links.size(), 1u);
    EXPECT_EQ(node.links[0].hash, child);
    EXPECT_EQ(node.links[0].name, std::string_view{});
    EXPECT_EQ(node.links[0].tsize, 7u);
    ASSERT_TRUE(node.data);
    EXPECT_EQ(node.data->size(), 2u);
}

TEST(DagPb, AcceptsDataBeforeLinks) {
    c::Bytes enc = link_node(c::Cid::v0(c::Digest{}));
    // Move the 4-byte Data field to the front (IPIP-550: decoders accept both orders).
    c::Bytes swapped(enc.end() - 4, enc.end());
    swapped.insert(swapped.end(), enc.begin(), enc.end() - 4);
    c::PbNode node;
    ASSERT_FALSE(c::decode_dag_pb(swapped, node, 10));
    EXPECT_EQ(node.links.size(), 1u);
    EXPECT_TRUE(node.data);
}

TEST(DagPb, RejectsEachFieldError) {
    c::PbNode node;
    const c::Bytes one = link_node(c::Cid::v0(c::Digest{}));
    const c::Bytes link(one.begin(), one.end() - 4);
    const c::Bytes data(one.end() - 4, one.end());
    auto cat = [](std::initializer_list<c::Bytes> parts) {
        c::Bytes out;
        for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
        return out;
    };
    EXPECT_EQ(c::decode_dag_pb(cat({data, data}), node, 10), errc::pb_duplicate_field);
    EXPECT_EQ(c::decode_dag_pb(cat({link, data, link}), node, 10), errc::pb_field_order);
    EXPECT_EQ(c::decode_dag_pb(B({0x1a, 0x00}), node, 10), errc::pb_unknown_field);
    EXPECT_EQ(c::decode_dag_pb(B({0x08, 0x01}), node, 10), errc::pb_bad_wire_type);
    EXPECT_EQ(c::decode_dag_pb(B({0x0a, 0x05, 0x01}), node, 10), errc::pb_truncated);
    EXPECT_EQ(c::decode_dag_pb(cat({link, link, link}), node, 2), errc::too_many_links);
    // PBLink: Name before Hash, a missing Hash, a duplicate Name, a bad Name, a bad Hash.
    EXPECT_EQ(c::decode_dag_pb(B({0x12, 0x04, 0x12, 0x00, 0x0a, 0x00}), node, 10), errc::pb_field_order);
    EXPECT_EQ(c::decode_dag_pb(B({0x12, 0x02, 0x18, 0x01}), node, 10), errc::pb_missing_hash);
    EXPECT_EQ(c::decode_dag_pb(B({0x12, 0x04, 0x12, 0x00, 0x12, 0x00}), node, 10), errc::pb_duplicate_field);
    EXPECT_EQ(c::decode_dag_pb(B({0x12, 0x03, 0x12, 0x01, 0xff}), node, 10), errc::pb_bad_name);
    EXPECT_EQ(c::decode_dag_pb(B({0x12, 0x06, 0x0a, 0x04, 0x01, 0x55, 0x13, 0x20}), node, 10),
              errc::unsupported_multihash);
    EXPECT_EQ(c::decode_dag_pb(B({0x12, 0x02, 0x18, 0x80}), node, 10), errc::pb_truncated);
    EXPECT_EQ(c::decode_dag_pb(B({0x0a, 0x81, 0x00}), node, 10), errc::varint_not_minimal);
}

TEST(UnixFs, RejectsMalformedData) {
    c::UnixFsNode n;
    EXPECT_EQ(c::decode_unixfs(B({0x18, 0x00}), n), errc::unixfs_malformed);  // no Type
    EXPECT_EQ(c::decode_unixfs(B({0xff}), n), errc::unixfs_malformed);
    ASSERT_FALSE(c::decode_unixfs(B({0x08, 0x02, 0x18, 0x03, 0x20, 0x01, 0x20, 0x02}), n));
    EXPECT_EQ(n.type, c::UnixFsType::file);
    EXPECT_EQ(n.filesize, 3u);
    EXPECT_EQ(n.blocksizes, (std::vector<std::uint64_t>{1, 2}));
    // proto2: blocksizes written unpacked, one key (0x20) per value.
    c::Bytes out;
    const std::uint64_t sizes[] = {1, 2};
    c::encode_file_node_data(3, sizes, out);
    EXPECT_EQ(out, B({0x08, 0x02, 0x18, 0x03, 0x20, 0x01, 0x20, 0x02}));
}
