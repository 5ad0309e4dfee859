#include <gtest/gtest.h>
#include <msgpack.hpp>

#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/errc.hpp>

namespace p = cyxp2p::protocol;
using p::errc;

namespace {

template <class T>
p::Bytes pack(const T& v) {
    msgpack::sbuffer buf;
    msgpack::pack(buf, v);
    return p::Bytes(reinterpret_cast<const std::uint8_t*>(buf.data()),
                    reinterpret_cast<const std::uint8_t*>(buf.data()) + buf.size());
}

TEST(Body, JobSubmitRoundTripKeepsConfigOpaque) {
    std::map<std::string, int> config{{"epochs", 3}, {"batch", 64}};
    p::JobSubmit job{"job-42", pack(config)};
    std::error_code ec;
    auto back = p::decode_job_submit(p::encode(job), ec);
    ASSERT_TRUE(back) << ec.message();
    EXPECT_EQ(back->job_id, "job-42");
    auto oh = msgpack::unpack(reinterpret_cast<const char*>(back->config.data()), back->config.size());
    EXPECT_EQ((oh.get().as<std::map<std::string, int>>()), config);
}

TEST(Body, MetricsRoundTrip) {
    p::MetricsUpdate m{1234, 7, {{"loss", 0.25}, {"accuracy", 0.9}}};
    std::error_code ec;
    auto back = p::decode_metrics_update(p::encode(m), ec);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->step, 1234U);
    EXPECT_EQ(back->epoch, 7U);
    EXPECT_EQ(back->metrics, m.metrics);
}

TEST(Body, ContentBlockViewPointsIntoTheMessage) {
    const p::Bytes data(300'000, 0x5A);
    const auto m = p::encode(p::ContentBlock{{1, 2, 3}, data});
    std::error_code ec;
    for (int i = 0; i < 3; ++i) {  // the per-thread zone is reused
        auto v = p::decode_content_block_view(m, ec, p::content_block_limits(1 << 20));
        ASSERT_TRUE(v) << ec.message();
        EXPECT_TRUE(std::equal(v->cid.begin(), v->cid.end(), p::Bytes{1, 2, 3}.begin()));
        EXPECT_EQ(v->data.size(), data.size());
        // No copy: both views lie inside the message.
        EXPECT_GE(v->data.data(), m.data());
        EXPECT_LE(v->data.data() + v->data.size(), m.data() + m.size());
        EXPECT_GE(v->cid.data(), m.data());
    }
    // Under a smaller block limit the same message is refused, and trailing bytes are bad_message.
    EXPECT_FALSE(p::decode_content_block_view(m, ec, p::content_block_limits(100'000)));
    EXPECT_EQ(ec, p::errc::message_too_large);
    auto trailing = p::encode(p::ContentBlock{{1}, {2}});
    trailing.push_back(0xC0);
    EXPECT_FALSE(p::decode_content_block_view(trailing, ec));
    EXPECT_EQ(ec, p::errc::bad_message);
}

TEST(Body, ContentAndOutcomeRoundTrip) {
    std::error_code ec;
    auto f = p::decode_content_fetch(p::encode(p::ContentFetch{"bafyexample", 3}), ec);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->cid, "bafyexample");
    EXPECT_EQ(f->skip_blocks, 3U);
    auto b = p::decode_content_block(p::encode(p::ContentBlock{{1, 2, 3}, {4, 5}}), ec);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->cid, (p::Bytes{1, 2, 3}));
    EXPECT_EQ(b->data, (p::Bytes{4, 5}));
    auto okm = p::decode_outcome(p::encode(p::Outcome{true, "", "accepted job-1"}), ec);
    ASSERT_TRUE(okm);
    EXPECT_TRUE(okm->ok);
    EXPECT_EQ(okm->message, "accepted job-1");
    auto s = p::decode_outcome(p::encode(p::Outcome{false, "forbidden", "no"}), ec);
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->ok);
    EXPECT_EQ(s->error, "forbidden");
}

TEST(Body, MalformedBodiesAreBadMessage) {
    std::error_code ec;
    const auto good = p::encode(p::MetricsUpdate{1, 1, {{"loss", 1.0}}});
    // Truncated at every length.
    for (std::size_t n = 0; n < good.size(); ++n) {
        EXPECT_FALSE(p::decode_metrics_update({good.data(), n}, ec)) << n;
        EXPECT_EQ(ec, errc::bad_message);
    }
    // Trailing bytes.
    auto trailing = good;
    trailing.push_back(0xC0);
    EXPECT_FALSE(p::decode_metrics_update(trailing, ec));
    EXPECT_EQ(ec, errc::bad_message);
    // Not a map; wrong types; missing keys; negative step; unknown command.
    EXPECT_FALSE(p::decode_metrics_update(pack(std::vector<int>{1, 2}), ec));
    EXPECT_FALSE(p::decode_metrics_update(
        pack(std::map<std::string, std::string>{{"step", "1"}, {"epoch", "1"}}), ec));
    EXPECT_FALSE(p::decode_metrics_update(pack(std::map<std::string, int>{{"step", -1}, {"epoch", 1}}), ec));
    EXPECT_FALSE(p::decode_job_submit(
        pack(std::map<std::string, std::string>{{"t", "job.submit"}, {"job_id", "x"}}), ec));
    EXPECT_EQ(ec, errc::bad_message);
    // A typed decoder refuses another kind, and a message without its tag.
    EXPECT_FALSE(p::decode_job_submit(good, ec));
    EXPECT_EQ(ec, errc::bad_message);
    EXPECT_FALSE(p::decode_outcome(pack(std::map<std::string, bool>{{"ok", true}}), ec));
    EXPECT_EQ(ec, errc::bad_message);
}

TEST(Body, DuplicateKeysAreRefused) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pk.pack_map(3);
    pk.pack(std::string("cid"));
    pk.pack(std::string("a"));
    pk.pack(std::string("cid"));
    pk.pack(std::string("b"));
    pk.pack(std::string("skip_blocks"));
    pk.pack(0);
    std::error_code ec;
    EXPECT_FALSE(
        p::decode_content_fetch({reinterpret_cast<const std::uint8_t*>(buf.data()), buf.size()}, ec));
    EXPECT_EQ(ec, errc::bad_message);
}

TEST(Body, LimitsHoldAgainstBombs) {
    std::error_code ec;
    // An array header announcing 2^32-1 elements with no elements behind it.
    const p::Bytes array_bomb{0xDD, 0xFF, 0xFF, 0xFF, 0xFF};
    EXPECT_TRUE(p::validate_body(array_bomb));
    const p::Bytes map_bomb{0xDF, 0xFF, 0xFF, 0xFF, 0xFF};
    EXPECT_TRUE(p::validate_body(map_bomb));
    // Nesting deeper than max_depth: [[[[...]]]].
    p::Bytes deep(64, 0x91);
    deep.push_back(0xC0);
    EXPECT_EQ(p::validate_body(deep), errc::bad_message);
    p::Bytes shallow(10, 0x91);
    shallow.push_back(0xC0);
    EXPECT_FALSE(p::validate_body(shallow));
    // A string longer than max_string.
    p::BodyLimits small;
    small.max_string = 8;
    EXPECT_TRUE(p::validate_body(pack(std::string(9, 'x')), small));
    EXPECT_FALSE(p::validate_body(pack(std::string(8, 'x')), small));
    // The whole body over max_bytes.
    small.max_bytes = 16;
    EXPECT_EQ(p::validate_body(pack(std::vector<int>(20, 1)), small), errc::message_too_large);
}

}  // namespace
