// p2p-node run's fleet settings (docs/fleet.md), checked as run checks them (--print-config): the URL forms,
// rediss:// and its TLS files, the password file's mode, the policy names, and --redis-* without
// --redis. The fleet itself is tested in tests/integration/fleet_test.cpp.
#include <gtest/gtest.h>
#include <support.hpp>
#include <sys/stat.h>

namespace test = cyxp2p::test;
using test::run;

namespace {

bool has(const std::string& hay, std::string_view needle) {
    return hay.find(needle) != std::string::npos;
}

class FleetCli : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(run({test::tool("p2p-node").string(), "init", "--identity", (tmp_ / "id").string(),
                       "--node-id", "node-20"})
                      .exit_code,
                  0);
        ASSERT_EQ(run({test::tool("p2p-probe").string(), "key", "new", "--alg", "EdDSA", "--kid", "cs",
                       "--out", (tmp_ / "cs.jwk").string()})
                      .exit_code,
                  0);
    }
    test::ProcessResult print(std::vector<std::string> extra) {
        std::vector<std::string> argv{
            test::tool("p2p-node").string(), "run",           "--identity", (tmp_ / "id").string(), "--keys",
            (tmp_ / "cs.jwks").string(),     "--print-config"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return run(argv);
    }
    test::TempDir tmp_;
};

TEST_F(FleetCli, SettingsArePrintedAndFedBack) {
    auto r = print({"--redis", "unix:///run/redis/r.sock", "--redis-unavailable", "local",
                    "--redis-deadline-ms", "20", "--redis-prefix", "fleet-a:"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(has(r.out, "redis = unix:///run/redis/r.sock\n")) << r.out;
    EXPECT_TRUE(has(r.out, "redis-unavailable = local\n"));
    EXPECT_TRUE(has(r.out, "redis-deadline-ms = 20\n"));
    EXPECT_TRUE(has(r.out, "redis-prefix = fleet-a:\n"));
    auto defaults = print({});
    ASSERT_EQ(defaults.exit_code, 0);
    EXPECT_TRUE(has(defaults.out, "redis = \n")) << defaults.out;  // off
    EXPECT_TRUE(has(defaults.out, "redis-unavailable = refuse\n"));
    EXPECT_TRUE(has(defaults.out, "redis-deadline-ms = 50\n"));  // net::RedisLimits::call_deadline
    auto help = run({test::tool("p2p-node").string(), "run", "--help"});
    EXPECT_TRUE(has(help.out, "--redis-unavailable")) << help.out;
}

TEST_F(FleetCli, WhatCannotBeHonouredIsRefusedBeforeStarting) {
    auto tls = print({"--redis", "rediss://cache:6380"});  // the system CA store: nothing to check
    EXPECT_EQ(tls.exit_code, 0) << tls.err;
    EXPECT_TRUE(has(tls.out, "redis = rediss://cache:6380\n")) << tls.out;
    auto no_ca =
        print({"--redis", "rediss://cache:6380", "--redis-ca-file", (tmp_ / "missing.pem").string()});
    EXPECT_EQ(no_ca.exit_code, 4);
    EXPECT_TRUE(has(no_ca.err, "redis_tls_file")) << no_ca.err;
    EXPECT_TRUE(has(no_ca.err, "--redis-ca-file")) << no_ca.err;
    auto plain_ca = print({"--redis", "redis://cache", "--redis-ca-file", (tmp_ / "x.pem").string()});
    EXPECT_EQ(plain_ca.exit_code, 2);
    EXPECT_TRUE(has(plain_ca.err, "need a rediss:// URL")) << plain_ca.err;
    auto half = print({"--redis", "rediss://cache", "--redis-cert", (tmp_ / "c.pem").string()});
    EXPECT_EQ(half.exit_code, 2);
    EXPECT_TRUE(has(half.err, "go together")) << half.err;
    auto bad = print({"--redis", "redis://user:pw@cache"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_TRUE(has(bad.err, "redis://HOST[:PORT][/DB]")) << bad.err;
    auto policy = print({"--redis", "redis://cache", "--redis-unavailable", "maybe"});
    EXPECT_EQ(policy.exit_code, 2);
    EXPECT_TRUE(has(policy.err, "refuse or local")) << policy.err;
    auto orphan = print({"--redis-prefix", "x:"});
    EXPECT_EQ(orphan.exit_code, 2);
    EXPECT_TRUE(has(orphan.err, "need --redis")) << orphan.err;
}

TEST_F(FleetCli, PasswordFileReadableByOthersIsRefused) {
    const auto pw = tmp_ / "redis.pw";
    test::write_file(pw, "secret-value\n");
    ::chmod(pw.c_str(), 0644);
    auto open = print({"--redis", "redis://cache", "--redis-password-file", pw.string()});
    EXPECT_EQ(open.exit_code, 4);
    EXPECT_TRUE(has(open.err, "chmod 600")) << open.err;
    EXPECT_FALSE(has(open.err + open.out, "secret-value"));
    ::chmod(pw.c_str(), 0600);
    auto ok = print({"--redis", "redis://cache", "--redis-password-file", pw.string()});
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    EXPECT_FALSE(has(ok.out, "secret-value"));  // the file name is printed, never the password
}

}  // namespace
