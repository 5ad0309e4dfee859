// The job link's tagged messages: one decoder for every kind, the compatibility rule for unknown tags and
// keys, and failures that name the field (docs/protocol.md section 8).
#include <gtest/gtest.h>
#include <msgpack.hpp>

#include <cyxp2p/auth/scope.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/errc.hpp>

namespace p = cyxp2p::protocol;
using p::errc;

namespace {

// A map packed by msgpack-c itself from alternating key/value pairs, so that tests can send what our
// encoders never would.
template <class... T>
p::Bytes map_of(const T&... kv) {
    static_assert(sizeof...(T) % 2 == 0);
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pk.pack_map(sizeof...(T) / 2);
    (pk.pack(kv), ...);
    const auto* d = reinterpret_cast<const std::uint8_t*>(buf.data());
    return p::Bytes(d, d + buf.size());
}

p::JobMessage decode(const p::Bytes& b) {
    p::Status why;
    auto m = p::decode_job_message(b, why);
    EXPECT_TRUE(m) << why.message;
    EXPECT_TRUE(why.ok());
    return m ? std::move(*m) : p::JobMessage{};
}

p::Status refusal(const p::Bytes& b, const p::BodyLimits& limits = {}) {
    p::Status why;
    EXPECT_FALSE(p::decode_job_message(b, why, limits));
    EXPECT_FALSE(why.ok());
    return why;
}

TEST(BodyJob, EveryKindRoundTripsThroughOneDecoder) {
    const p::JobMessage sent[] = {
        p::JobSubmit{"job-1", map_of(std::string("epochs"), 3)},
        p::JobCommand{p::Command::checkpoint, "job-1", {}},
        p::JobCommand{p::Command::set_hyperparameters, "", {{"lr", 1e-4}, {"momentum", 0.9}}},
        p::JobProgress{120, 1000, 2, 10, "running"},
        p::MetricsUpdate{120, 2, {{"loss", 0.25}}},
        p::JobLog{p::LogLevel::warning, "gradient norm 1e9", 1'700'000'000'123},
        p::JobError{"out_of_memory", "CUDA out of memory at step 120", true},
        p::Outcome{false, "bad_config", "epochs must be positive"},
    };
    for (const auto& m : sent) {
        SCOPED_TRACE(std::string(p::tag_of(m)));
        const auto got = decode(p::encode(m));
        ASSERT_EQ(got.index(), m.index());
        EXPECT_EQ(p::tag_of(got), p::tag_of(m));
        std::visit(
            [&](const auto& g) {
                using T = std::decay_t<decltype(g)>;
                const auto& w = std::get<T>(m);
                if constexpr (std::is_same_v<T, p::JobSubmit>) {
                    EXPECT_EQ(g.job_id, w.job_id);
                    EXPECT_EQ(g.config, w.config);
                } else if constexpr (std::is_same_v<T, p::JobCommand>) {
                    EXPECT_EQ(g.command, w.command);
                    EXPECT_EQ(g.job_id, w.job_id);
                    EXPECT_EQ(g.hyperparameters, w.hyperparameters);
                } else if constexpr (std::is_same_v<T, p::JobProgress>) {
                    EXPECT_EQ(g.step, w.step);
                    EXPECT_EQ(g.total_steps, w.total_steps);
                    EXPECT_EQ(g.epoch, w.epoch);
                    EXPECT_EQ(g.total_epochs, w.total_epochs);
                    EXPECT_EQ(g.state, w.state);
                } else if constexpr (std::is_same_v<T, p::MetricsUpdate>) {
                    EXPECT_EQ(g.step, w.step);
                    EXPECT_EQ(g.epoch, w.epoch);
                    EXPECT_EQ(g.metrics, w.metrics);
                } else if constexpr (std::is_same_v<T, p::JobLog>) {
                    EXPECT_EQ(g.level, w.level);
                    EXPECT_EQ(g.line, w.line);
                    EXPECT_EQ(g.time_ms, w.time_ms);
                } else if constexpr (std::is_same_v<T, p::JobError>) {
                    EXPECT_EQ(g.code, w.code);
                    EXPECT_EQ(g.message, w.message);
                    EXPECT_EQ(g.fatal, w.fatal);
                } else if constexpr (std::is_same_v<T, p::Outcome>) {
                    EXPECT_EQ(g.ok, w.ok);
                    EXPECT_EQ(g.error, w.error);
                    EXPECT_EQ(g.message, w.message);
                } else {
                    ADD_FAILURE() << "unexpected kind";
                }
            },
            got);
    }
}

// A command has one name whether it travels alone (its method, auth's table) or in-band (its tag).
TEST(BodyJob, EachCommandsTagIsTheMethodThatCarriesIt) {
    for (auto c : {p::Command::pause, p::Command::resume, p::Command::cancel, p::Command::checkpoint,
                   p::Command::set_hyperparameters}) {
        const std::string tag = "job." + std::string(p::to_string(c));
        EXPECT_EQ(p::tag_of(p::JobCommand{c, "j", {}}), tag);
        EXPECT_EQ(cyxp2p::auth::required_scope(tag), cyxp2p::auth::scope::job_control) << tag;
    }
    EXPECT_EQ(cyxp2p::auth::required_scope(p::tag_of(p::JobSubmit{})), cyxp2p::auth::scope::job_execute);
}

TEST(BodyJob, UnknownTagsAreSkippedAndUnknownKeysIgnored) {
    // A kind from a newer version: decoded as Unknown with its tag, not an error.
    const auto u =
        decode(map_of(std::string("t"), std::string("job.telemetry"), std::string("gpu_temp"), 81));
    ASSERT_TRUE(std::holds_alternative<p::Unknown>(u));
    EXPECT_EQ(std::get<p::Unknown>(u).tag, "job.telemetry");
    EXPECT_EQ(p::tag_of(u), "job.telemetry");
    EXPECT_EQ(decode(p::encode(u)).index(), u.index());
    // A key this version does not know, in a kind it knows: ignored.
    const auto m = decode(map_of(std::string("t"), std::string("metrics.update"), std::string("step"), 5,
                                 std::string("epoch"), 1, std::string("metrics"),
                                 std::map<std::string, double>{}, std::string("gpu"), std::string("A100")));
    ASSERT_TRUE(std::holds_alternative<p::MetricsUpdate>(m));
    EXPECT_EQ(std::get<p::MetricsUpdate>(m).step, 5U);
    // Optional fields absent: their zero values.
    const auto g = decode(map_of(std::string("t"), std::string("job.progress"), std::string("step"), 7,
                                 std::string("epoch"), 0));
    ASSERT_TRUE(std::holds_alternative<p::JobProgress>(g));
    EXPECT_EQ(std::get<p::JobProgress>(g).total_steps, 0U);
    EXPECT_EQ(std::get<p::JobProgress>(g).state, "");
}

TEST(BodyJob, MalformedMessagesNameTheField) {
    const std::string t = "t";
    struct Case {
        p::Bytes body;
        std::string detail;
        std::string says;
    };
    const Case cases[] = {
        {map_of(std::string("job_id"), std::string("j")), "t", "job message: \"t\" is missing"},
        {map_of(t, 7), "t", "\"t\" must be a string"},
        {map_of(t, std::string(65, 'x')), "t", "max_tag (64)"},
        {map_of(t, std::string("job.progress"), std::string("epoch"), 1), "step",
         "job.progress: \"step\" is missing"},
        {map_of(t, std::string("job.progress"), std::string("step"), -3, std::string("epoch"), 1), "step",
         "job.progress: \"step\" must be an unsigned integer"},
        {map_of(t, std::string("metrics.update"), std::string("step"), 1, std::string("epoch"), 1ULL << 32,
                std::string("metrics"), std::map<std::string, double>{}),
         "epoch", "\"epoch\" exceeds 4294967295"},
        {map_of(t, std::string("metrics.update"), std::string("step"), 1, std::string("epoch"), 1,
                std::string("metrics"), std::map<std::string, std::string>{{"loss", "low"}}),
         "metrics", "entry \"loss\" is not a number"},
        {map_of(t, std::string("job.submit"), std::string("job_id"), std::string(""), std::string("config"),
                std::map<std::string, int>{}),
         "job_id", "job.submit: \"job_id\" must not be empty"},
        {map_of(t, std::string("job.submit"), std::string("job_id"), std::string("j"), std::string("config"),
                std::vector<int>{1}),
         "config", "\"config\" must be a map"},
        {map_of(t, std::string("job.pause"), std::string("hyperparameters"),
                std::map<std::string, double>{{"lr", 1}}),
         "hyperparameters", "is only for job.set_hyperparameters"},
        {map_of(t, std::string("job.log"), std::string("level"), std::string("loud"), std::string("line"),
                std::string("x")),
         "level", "must be debug, info, warning or error"},
        {map_of(t, std::string("job.error"), std::string("code"), std::string("oom"), std::string("code"),
                std::string("oom")),
         "code", "\"code\" appears twice"},
        {map_of(t, std::string("outcome"), std::string("ok"), false, std::string("message"),
                std::string("m")),
         "error", "outcome: \"error\" is missing"},
    };
    for (const auto& c : cases) {
        const auto why = refusal(c.body);
        EXPECT_EQ(why.code, errc::bad_message) << c.says;
        EXPECT_EQ(why.detail, c.detail) << c.says;
        EXPECT_NE(why.message.find(c.says), std::string::npos) << why.message;
        std::error_code ec;
        EXPECT_FALSE(p::decode_job_message(c.body, ec));
        EXPECT_EQ(ec, errc::bad_message);
    }
    // Not a map at all.
    msgpack::sbuffer buf;
    msgpack::pack(buf, std::vector<int>{1, 2});
    const auto* d = reinterpret_cast<const std::uint8_t*>(buf.data());
    const auto why = refusal(p::Bytes(d, d + buf.size()));
    EXPECT_EQ(why.message, "job message: the message is not a msgpack map");
}

TEST(BodyJob, LimitRefusalsNameTheLimit) {
    // Truncated at every length: bad_message, never a crash.
    const auto good = p::encode(p::JobProgress{1, 2, 3, 4, "running"});
    for (std::size_t n = 0; n < good.size(); ++n) {
        const auto why = refusal({good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)});
        EXPECT_EQ(why.code, errc::bad_message) << n;
        EXPECT_EQ(why.detail, "body") << n;
    }
    auto trailing = good;
    trailing.push_back(0xC0);
    EXPECT_EQ(refusal(trailing).message, "1 trailing bytes after the body's msgpack value");

    p::BodyLimits small;
    small.max_string = 8;
    EXPECT_NE(refusal(p::encode(p::JobLog{p::LogLevel::info, "a long line", 0}), small)
                  .message.find("max_string (8"),
              std::string::npos);
    p::Bytes deep{0x82, 0xA1, 't', 0xA1, 'x', 0xA1, 'd'};  // {"t": "x", "d": [[[...]]]}
    deep.insert(deep.end(), 40, 0x91);
    deep.push_back(0xC0);
    EXPECT_NE(refusal(deep).message.find("max_depth (16)"), std::string::npos);
    small = {};
    small.max_bytes = 8;
    const auto big = refusal(good, small);
    EXPECT_EQ(big.code, errc::message_too_large);
    EXPECT_NE(big.message.find("max_bytes (8)"), std::string::npos);
}

}  // namespace
