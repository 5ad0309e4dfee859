// p2p-node init and p2p-probe pin, run as a user runs them.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <support.hpp>
#include <sys/stat.h>

namespace test = cyxp2p::test;
using test::run;
using test::TempDir;

namespace {

std::string probe() {
    return test::tool("p2p-probe").string();
}
std::string node() {
    return test::tool("p2p-node").string();
}

std::string pipeline(const std::filesystem::path& cert) {
    auto r = run({"sh", "-c",
                  "openssl x509 -in '" + cert.string() +
                      "' -pubkey -noout | openssl pkey -pubin -outform der | "
                      "openssl dgst -sha256 -binary | base64"});
    return "sha256//" + r.out;  // r.out ends in a newline, as p2p-probe's output must
}

TEST(ProbePin, PrintsExactlyTheOpensslPipelineValue) {
    TempDir tmp;
    for (std::vector<std::string> key : {std::vector<std::string>{"-newkey", "rsa:2048"},
                                         {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"},
                                         {"-newkey", "ed25519"}}) {
        std::vector<std::string> argv = {"openssl", "req",
                                         "-x509",   "-nodes",
                                         "-subj",   "/CN=t",
                                         "-days",   "1",
                                         "-keyout", (tmp / "k.pem").string(),
                                         "-out",    (tmp / "c.pem").string()};
        argv.insert(argv.end(), key.begin(), key.end());
        ASSERT_EQ(run(argv).exit_code, 0);
        auto r = run({probe(), "pin", (tmp / "c.pem").string()});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.out, pipeline(tmp / "c.pem")) << key[1];
        EXPECT_EQ(r.err, "");
        // From standard input too.
        auto s = run({probe(), "pin", "-"}, test::read_file(tmp / "c.pem"));
        EXPECT_EQ(s.out, r.out);
    }
}

TEST(ProbePin, FailureClassesHaveDistinctExitCodes) {
    TempDir tmp;
    EXPECT_EQ(run({probe(), "pin"}).exit_code, 2);
    EXPECT_EQ(run({probe(), "pin", "a", "b"}).exit_code, 2);
    EXPECT_EQ(run({probe(), "pin", "--bogus", "x"}).exit_code, 2);
    EXPECT_EQ(run({probe(), "nonsense"}).exit_code, 2);
    auto missing = run({probe(), "pin", (tmp / "missing.pem").string()});
    EXPECT_EQ(missing.exit_code, 3);
    EXPECT_NE(missing.err.find("missing.pem"), std::string::npos);
    test::write_file(tmp / "junk.pem", "hello");
    auto junk = run({probe(), "pin", (tmp / "junk.pem").string()});
    EXPECT_EQ(junk.exit_code, 4);
    EXPECT_NE(junk.err.find("bad_pem"), std::string::npos);
}

TEST(ProbePin, HelpExitsZero) {
    auto r = run({probe(), "pin", "--help"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("usage: p2p-probe pin"), std::string::npos);
    auto top = run({probe(), "--help"});
    EXPECT_EQ(top.exit_code, 0);
    EXPECT_NE(top.out.find("pin"), std::string::npos);
}

TEST(NodeInit, CreatesIdentityWhosePinProbeAgreesWith) {
    TempDir tmp;
    const auto dir = tmp / "id";
    auto r = run({node(), "init", "--identity", dir.string(), "--node-id", "node-7", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["ok"], true);
    EXPECT_EQ(j["node_id"], "node-7");
    auto pin = run({probe(), "pin", (dir / "node.crt").string()});
    EXPECT_EQ(j["pin"].get<std::string>() + "\n", pin.out);
    EXPECT_EQ(pin.out, pipeline(dir / "node.crt"));
    struct stat st {};
    ASSERT_EQ(::stat((dir / "node.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600U);
}

TEST(NodeInit, TextOutputAndP256) {
    TempDir tmp;
    auto r = run({node(), "init", "--identity", (tmp / "id").string(), "--key-type", "p256"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("node_id ", 0), 0U) << r.out;
    EXPECT_NE(r.out.find("\npin sha256//"), std::string::npos) << r.out;
    auto key = run({"openssl", "pkey", "-in", (tmp / "id" / "node.key").string(), "-noout", "-text"});
    EXPECT_NE(key.out.find("prime256v1"), std::string::npos);
}

TEST(NodeInit, RefusesToOverwriteWithoutForce) {
    TempDir tmp;
    const std::string dir = (tmp / "id").string();
    auto first = run({node(), "init", "--identity", dir, "--json"});
    ASSERT_EQ(first.exit_code, 0);
    const auto first_pin = nlohmann::json::parse(first.out)["pin"];
    auto again = run({node(), "init", "--identity", dir});
    EXPECT_EQ(again.exit_code, 2);
    EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
    EXPECT_EQ(run({probe(), "pin", dir + "/node.crt"}).out, first_pin.get<std::string>() + "\n");
    auto forced = run({node(), "init", "--identity", dir, "--force", "--json"});
    ASSERT_EQ(forced.exit_code, 0);
    EXPECT_NE(nlohmann::json::parse(forced.out)["pin"], first_pin);
}

TEST(NodeInit, BadArguments) {
    TempDir tmp;
    EXPECT_EQ(run({node(), "init"}).exit_code, 2);
    EXPECT_EQ(run({node(), "init", "--identity", (tmp / "a").string(), "--key-type", "rsa"}).exit_code, 2);
    auto bad_id = run({node(), "init", "--identity", (tmp / "b").string(), "--node-id", "a b", "--json"});
    EXPECT_EQ(bad_id.exit_code, 2);
    EXPECT_EQ(nlohmann::json::parse(bad_id.out)["error"], "bad_node_id");
    EXPECT_FALSE(std::filesystem::exists(tmp / "b"));
}

TEST(ProbePin, CheckSaysWhetherThePinIsListed) {
    TempDir tmp;
    auto init = run({node(), "init", "--identity", (tmp / "id").string(), "--json"});
    const std::string pin = nlohmann::json::parse(init.out)["pin"];
    const std::string cert = (tmp / "id" / "node.crt").string();
    const std::string other = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    EXPECT_EQ(run({probe(), "pin", cert, "--check", other + ";" + pin}).exit_code, 0);
    auto mismatch = run({probe(), "pin", cert, "--check", other});
    EXPECT_EQ(mismatch.exit_code, 12);
    EXPECT_NE(mismatch.err.find(pin), std::string::npos);    // actual
    EXPECT_NE(mismatch.err.find(other), std::string::npos);  // expected
    auto bad = run({probe(), "pin", cert, "--check", other + ";;", "--json"});
    EXPECT_EQ(bad.exit_code, 4);
    EXPECT_EQ(nlohmann::json::parse(bad.out)["error"], "empty_entry");
}

}  // namespace
