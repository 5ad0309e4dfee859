// p2p-probe key new and token mint|verify|decode, run as a user runs them.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <support.hpp>
#include <sys/stat.h>

namespace test = cyxp2p::test;
using nlohmann::json;
using test::run;
using test::TempDir;

namespace {

constexpr const char* kNow = "1764000000";

std::string probe() {
    return test::tool("p2p-probe").string();
}

mode_t mode_of(const std::filesystem::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 0777;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

class AuthCli : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        auto r = run({probe(), "key", "new", "--alg", GetParam(), "--kid", "cs-1", "--out", key().string()});
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    std::filesystem::path key() const { return tmp / "cs.jwk"; }
    std::filesystem::path jwks() const { return tmp / "cs.jwks"; }
    std::string mint(std::vector<std::string> extra = {}) {
        std::vector<std::string> argv{probe(),
                                      "token",
                                      "mint",
                                      "--key",
                                      key().string(),
                                      "--sub",
                                      "user-1",
                                      "--node-id",
                                      "node-a",
                                      "--session-id",
                                      "s-1",
                                      "--scope",
                                      "job:execute,metrics:read",
                                      "--now",
                                      kNow};
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto r = run(argv);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return trim(r.out);
    }
    test::ProcessResult verify(const std::string& token, std::vector<std::string> extra = {}) {
        std::vector<std::string> argv{probe(),     "token",  "verify", "--keys", jwks().string(),
                                      "--node-id", "node-a", "--now",  kNow};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back(token);
        return run(argv);
    }
    TempDir tmp;
};

TEST_P(AuthCli, KeyNewWritesPrivateKey0600AndJwksBesideIt) {
    EXPECT_EQ(mode_of(key()), 0600U);
    const auto jwks_doc = json::parse(test::read_file(jwks()));
    ASSERT_EQ(jwks_doc["keys"].size(), 1U);
    EXPECT_EQ(jwks_doc["keys"][0]["kid"], "cs-1");
    EXPECT_EQ(jwks_doc["keys"][0]["alg"], GetParam());
    if (GetParam() == "EdDSA") {
        EXPECT_EQ(mode_of(jwks()), 0644U);
        EXPECT_FALSE(jwks_doc["keys"][0].contains("d"));  // public only
    } else {
        EXPECT_EQ(mode_of(jwks()), 0600U);  // the HS256 "JWKS" is the shared secret
    }
    // No silent overwrite.
    auto again = run({probe(), "key", "new", "--alg", GetParam(), "--out", key().string()});
    EXPECT_EQ(again.exit_code, 3);
}

TEST_P(AuthCli, MintThenVerifyPrintsTheClaims) {
    const auto token = mint();
    auto r = verify(token, {"--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    const auto out = json::parse(r.out);
    EXPECT_EQ(out["ok"], true);
    EXPECT_EQ(out["claims"]["sub"], "user-1");
    EXPECT_EQ(out["claims"]["node_id"], "node-a");
    EXPECT_EQ(out["claims"]["scope"], json({"job:execute", "metrics:read"}));
    EXPECT_EQ(out["claims"]["exp"].get<std::int64_t>() - out["claims"]["iat"].get<std::int64_t>(), 3600);
    // From standard input, with echo's newline.
    auto s = run(
        {probe(), "token", "verify", "--keys", jwks().string(), "--node-id", "node-a", "--now", kNow, "-"},
        token + "\n");
    EXPECT_EQ(s.exit_code, 0) << s.err;
    EXPECT_EQ(json::parse(s.out)["sub"], "user-1");
}

TEST_P(AuthCli, VerifyFailureGivesExit13AndTheCodeName) {
    const auto token = mint({"--ttl", "600"});
    auto expired = verify(token, {"--now", "1764000700", "--json"});
    EXPECT_EQ(expired.exit_code, 13);
    auto j = json::parse(expired.out);
    EXPECT_EQ(j["ok"], false);
    EXPECT_EQ(j["error"], "expired");
    auto wrong = run(
        {probe(), "token", "verify", "--keys", jwks().string(), "--node-id", "node-b", "--now", kNow, token});
    EXPECT_EQ(wrong.exit_code, 13);
    EXPECT_NE(wrong.err.find("wrong_node"), std::string::npos) << wrong.err;
    auto tampered = token;
    tampered[tampered.size() - 4] = tampered[tampered.size() - 4] == 'A' ? 'B' : 'A';
    auto bad = verify(tampered);
    EXPECT_EQ(bad.exit_code, 13);
    EXPECT_NE(bad.err.find("bad_signature"), std::string::npos) << bad.err;
    EXPECT_EQ(bad.out, "");  // nothing that looks like claims on failure
}

TEST_P(AuthCli, MintRefusesATokenLongerThanAnHour) {
    auto r = run(
        {probe(), "token", "mint", "--key", key().string(), "--sub", "u", "--node-id", "n", "--ttl", "3601"});
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_NE(r.err.find("lifetime_too_long"), std::string::npos) << r.err;
}

TEST_P(AuthCli, DecodeIsLabelledUnverified) {
    const auto token = mint();
    auto r = run({probe(), "token", "decode", "--json", token});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = json::parse(r.out);
    EXPECT_EQ(j["verified"], false);
    EXPECT_EQ(j["header"]["kid"], "cs-1");
    EXPECT_EQ(j["payload"]["session_id"], "s-1");
    auto text = run({probe(), "token", "decode", token});
    EXPECT_NE(text.out.find("UNVERIFIED"), std::string::npos);
    auto bad = run({probe(), "token", "decode", "--json", "not-a-token"});
    EXPECT_EQ(bad.exit_code, 4);
    EXPECT_EQ(json::parse(bad.out)["error"], "malformed");
}

INSTANTIATE_TEST_SUITE_P(Algorithms, AuthCli, ::testing::Values("HS256", "EdDSA"));

TEST(AuthCliKeys, SecretKeyReadableByOthersIsRefused) {
    TempDir tmp;
    const auto key = tmp / "k.jwk";
    ASSERT_EQ(run({probe(), "key", "new", "--alg", "HS256", "--out", key.string()}).exit_code, 0);
    ::chmod(key.c_str(), 0644);
    auto r = run({probe(), "token", "mint", "--key", key.string(), "--sub", "u", "--node-id", "n"});
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_NE(r.err.find("key_file_permissions"), std::string::npos) << r.err;
    ::chmod((tmp / "k.jwks").c_str(), 0644);
    auto v =
        run({probe(), "token", "verify", "--keys", (tmp / "k.jwks").string(), "--node-id", "n", "x.y.z"});
    EXPECT_EQ(v.exit_code, 4);
    EXPECT_NE(v.err.find("key_file_permissions"), std::string::npos) << v.err;
    auto missing =
        run({probe(), "token", "verify", "--keys", (tmp / "nope").string(), "--node-id", "n", "x.y.z"});
    EXPECT_EQ(missing.exit_code, 3);
}

}  // namespace
