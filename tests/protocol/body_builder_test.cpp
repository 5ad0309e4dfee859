// MapBuilder / ArrayBuilder: what they build is read back by msgpack-c itself (an independent reader), uses
// msgpack's smallest forms, and travels unchanged as a JobSubmit config.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>
#include <msgpack.hpp>

#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/body_builder.hpp>

namespace p = cyxp2p::protocol;

namespace {

// The value under `key` in a msgpack-c map object (fails the test when absent).
const msgpack::object& at(const msgpack::object& map, std::string_view key) {
    static const msgpack::object nil;
    EXPECT_EQ(map.type, msgpack::type::MAP);
    for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
        const auto& kv = map.via.map.ptr[i];
        if (kv.key.as<std::string>() == key) return kv.val;
    }
    ADD_FAILURE() << "no key " << key;
    return nil;
}

p::Bytes job_config() {
    const p::Bytes weights{0x00, 0xFF, 0x10};
    return p::MapBuilder()
        .add("model", "resnet50")
        .add("epochs", 90)
        .add("seed", -7)
        .add("max_steps", std::numeric_limits<std::uint64_t>::max())
        .add("lr", 0.1)
        .add("scale", 1.0)
        .add("shuffle", true)
        .add_nil("checkpoint_dir")
        .add_binary("init", weights)
        .add("optimizer", p::MapBuilder().add("name", std::string("sgd")).add("momentum", 0.9))
        .add("layers", p::ArrayBuilder().push(64).push("relu").push(false).push(p::ArrayBuilder().push(1.5)))
        .build();
}

TEST(BodyBuilder, AJobConfigReadsBackWithMsgpackC) {
    const auto bytes = job_config();
    const auto oh = msgpack::unpack(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const msgpack::object& m = oh.get();
    ASSERT_EQ(m.type, msgpack::type::MAP);
    EXPECT_EQ(m.via.map.size, 11U);
    EXPECT_EQ(at(m, "model").type, msgpack::type::STR);  // a literal is a string, not a bool
    EXPECT_EQ(at(m, "model").as<std::string>(), "resnet50");
    EXPECT_EQ(at(m, "epochs").type, msgpack::type::POSITIVE_INTEGER);  // a positive int is an unsigned one
    EXPECT_EQ(at(m, "epochs").as<int>(), 90);
    EXPECT_EQ(at(m, "seed").type, msgpack::type::NEGATIVE_INTEGER);
    EXPECT_EQ(at(m, "seed").as<int>(), -7);
    EXPECT_EQ(at(m, "max_steps").as<std::uint64_t>(), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(at(m, "lr").type, msgpack::type::FLOAT64);
    EXPECT_EQ(at(m, "lr").as<double>(), 0.1);
    EXPECT_EQ(at(m, "scale").type, msgpack::type::FLOAT64);  // an integral double stays a float
    EXPECT_EQ(at(m, "shuffle").as<bool>(), true);
    EXPECT_EQ(at(m, "checkpoint_dir").type, msgpack::type::NIL);
    EXPECT_EQ(at(m, "init").type, msgpack::type::BIN);
    EXPECT_EQ(at(m, "init").as<std::vector<char>>(),
              (std::vector<char>{0x00, static_cast<char>(0xFF), 0x10}));
    const auto& opt = at(m, "optimizer");
    EXPECT_EQ(at(opt, "name").as<std::string>(), "sgd");
    EXPECT_EQ(at(opt, "momentum").as<double>(), 0.9);
    const auto& layers = at(m, "layers");
    ASSERT_EQ(layers.type, msgpack::type::ARRAY);
    ASSERT_EQ(layers.via.array.size, 4U);
    EXPECT_EQ(layers.via.array.ptr[0].as<int>(), 64);
    EXPECT_EQ(layers.via.array.ptr[1].as<std::string>(), "relu");
    EXPECT_EQ(layers.via.array.ptr[2].as<bool>(), false);
    EXPECT_EQ(layers.via.array.ptr[3].as<std::vector<double>>(), std::vector<double>{1.5});
}

TEST(BodyBuilder, ConfigRoundTripsThroughJobSubmit) {
    const auto config = job_config();
    std::error_code ec;
    const auto back = p::decode_job_submit(p::encode(p::JobSubmit{"job-7", config}), ec);
    ASSERT_TRUE(back) << ec.message();
    EXPECT_EQ(back->config, config);  // the node gets the very bytes, floats still floats (1.0 too)
}

TEST(BodyBuilder, FloatsStayFloatsInMetricsToo) {
    std::error_code ec;
    const auto back =
        p::decode_metrics_update(p::encode(p::MetricsUpdate{1, 1, {{"a", 1.0}, {"b", -0.0}}}), ec);
    ASSERT_TRUE(back) << ec.message();
    EXPECT_TRUE(std::signbit(back->metrics[1].second));  // -0.0, not 0
}

TEST(BodyBuilder, UsesTheSmallestForms) {
    // msgpack spec: fixmap, fixstr, positive/negative fixint, uint 64, float 64, fixarray.
    EXPECT_EQ(p::MapBuilder().build(), (p::Bytes{0x80}));
    EXPECT_EQ(p::ArrayBuilder().build(), (p::Bytes{0x90}));
    EXPECT_EQ(p::MapBuilder().add("a", 1).build(), (p::Bytes{0x81, 0xA1, 'a', 0x01}));
    EXPECT_EQ(p::MapBuilder().add("a", -1).build(), (p::Bytes{0x81, 0xA1, 'a', 0xFF}));
    EXPECT_EQ(p::ArrayBuilder().push(std::uint64_t{1} << 40).build(),
              (p::Bytes{0x91, 0xCF, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00}));
    EXPECT_EQ(p::ArrayBuilder().push(1.0).build(), (p::Bytes{0x91, 0xCB, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(p::ArrayBuilder().push_nil().push(true).build(), (p::Bytes{0x92, 0xC0, 0xC3}));
}

TEST(BodyBuilder, AKeyAddedTwiceIsAProgrammerError) {
    p::MapBuilder b;
    b.add("epochs", 1);
    EXPECT_THROW(b.add("epochs", 2), std::invalid_argument);
    EXPECT_EQ(b.size(), 1U);
    EXPECT_EQ(b.build(), (p::Bytes{0x81, 0xA6, 'e', 'p', 'o', 'c', 'h', 's', 0x01}));
}

TEST(BodyBuilder, TheReceiverNotTheBuilderEnforcesLimits) {
    p::ArrayBuilder deep;
    for (int i = 0; i < 20; ++i) deep = p::ArrayBuilder().push(deep);
    const auto config = p::MapBuilder().add("deep", deep).build();
    EXPECT_EQ(p::validate_body(config), p::errc::bad_message);  // deeper than max_depth 16
    std::error_code ec;
    EXPECT_FALSE(p::decode_job_submit(p::encode(p::JobSubmit{"j", config}), ec));
    EXPECT_EQ(ec, p::errc::bad_message);
}

}  // namespace
