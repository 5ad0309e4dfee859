// p2p-node's commands for the packaged daemon (docs/operations.md): `config-template`, which writes the
// packaged /etc/cyxp2p/node.conf, and `init --if-missing`, the systemd unit's ExecStartPre.
// GCC 12 with -fsanitize=address at -O1 reports the std::function inside libstdc++'s <regex> executor as
// maybe-uninitialized: a known false positive of that compiler in the standard library, not in this file.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <support.hpp>
#include <sys/stat.h>

namespace test = cyxp2p::test;
namespace fs = std::filesystem;
using test::run;

namespace {

std::string node() {
    return test::tool("p2p-node").string();
}
std::string probe() {
    return test::tool("p2p-probe").string();
}

// The setting names `p2p-node run --help` lists (its "--name  help [default: ...]" lines).
std::vector<std::string> run_help_settings() {
    const auto help = run({node(), "run", "--help"}).out;
    const std::set<std::string> run_only = {"config", "print-config", "json", "help"};
    std::vector<std::string> names;
    const std::regex line("\n  --([a-z0-9-]+) ");
    for (std::sregex_iterator it(help.begin(), help.end(), line), end; it != end; ++it) {
        if (!run_only.count((*it)[1])) names.push_back((*it)[1]);
    }
    return names;
}

class NodePackage : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(
            run({probe(), "key", "new", "--alg", "EdDSA", "--kid", "cs", "--out", (tmp_ / "cs.jwk").string()})
                .exit_code,
            0);
    }
    // `run --print-config` with a config file: what `run` would accept, or its error.
    test::ProcessResult check(const fs::path& conf, const fs::path& identity) {
        return run({node(), "run", "--config", conf.string(), "--identity", identity.string(), "--keys",
                    (tmp_ / "cs.jwks").string(), "--print-config"});
    }
    test::TempDir tmp_;
};

TEST_F(NodePackage, ConfigTemplateHasEverySettingWithItsDefault) {
    const auto names = run_help_settings();
    ASSERT_GT(names.size(), 30u);
    auto t = run({node(), "config-template"});
    ASSERT_EQ(t.exit_code, 0) << t.err;
    for (const auto& name : names) {
        EXPECT_TRUE(std::regex_search(t.out, std::regex("\n#" + name + " =")))
            << name << " is in run --help but not in the template";
    }
    // Every default in the template is the one `run` applies: uncommented, the file prints exactly what
    // an empty config prints.
    ASSERT_EQ(run({node(), "init", "--identity", (tmp_ / "id").string()}).exit_code, 0);
    test::write_file(tmp_ / "empty.conf", "");
    test::write_file(tmp_ / "all.conf", std::regex_replace(t.out, std::regex("\n#([a-z0-9-]+ =)"), "\n$1"));
    auto empty = check(tmp_ / "empty.conf", tmp_ / "id");
    auto all = check(tmp_ / "all.conf", tmp_ / "id");
    ASSERT_EQ(empty.exit_code, 0) << empty.err;
    ASSERT_EQ(all.exit_code, 0) << all.err;
    EXPECT_EQ(all.out, empty.out);
}

TEST_F(NodePackage, ConfigTemplateWritesGivenSettingsAndChecksThem) {
    auto t = run({node(), "config-template", "--identity", "/var/lib/cyxp2p/identity", "--max-streams", "8"});
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_NE(t.out.find("\nidentity = /var/lib/cyxp2p/identity\n"), std::string::npos) << t.out;
    EXPECT_NE(t.out.find("\nmax-streams = 8\n"), std::string::npos);
    EXPECT_EQ(t.out.find("\n#max-streams ="), std::string::npos);

    auto bad = run({node(), "config-template", "--max-streams", "0"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("--max-streams: invalid value '0' (expected an integer 1.."), std::string::npos)
        << bad.err;
    EXPECT_TRUE(bad.out.empty());
    auto unknown = run({node(), "config-template", "--max-stream", "8"});
    EXPECT_EQ(unknown.exit_code, 2);
    EXPECT_NE(unknown.err.find("unknown option '--max-stream'"), std::string::npos) << unknown.err;
    auto missing = run({node(), "config-template", "--keys"});
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_NE(missing.err.find("--keys needs a value"), std::string::npos) << missing.err;
}

TEST_F(NodePackage, InitIfMissingCreatesOnceThenKeepsTheIdentity) {
    fs::create_directory(tmp_ / "state");  // the unit's StateDirectory=, which systemd creates
    const auto dir = tmp_ / "state" / "identity";
    auto first = run({node(), "init", "--identity", dir.string(), "--if-missing"});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    ASSERT_EQ(first.out.rfind("node_id ", 0), 0u) << first.out;
    const auto key = test::read_file(dir / "node.key");
    auto again = run({node(), "init", "--identity", dir.string(), "--if-missing", "--json"});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    const auto j = nlohmann::json::parse(again.out);
    EXPECT_EQ(j["created"], false);
    EXPECT_EQ(first.out,
              "node_id " + j["node_id"].get<std::string>() + "\npin " + j["pin"].get<std::string>() + "\n")
        << "the identity changed";
    EXPECT_EQ(test::read_file(dir / "node.key"), key);
    // Without --if-missing an existing identity is still refused (exit 2), as before.
    EXPECT_EQ(run({node(), "init", "--identity", dir.string()}).exit_code, 2);
    auto both = run({node(), "init", "--identity", dir.string(), "--if-missing", "--force"});
    EXPECT_EQ(both.exit_code, 2);
    EXPECT_NE(both.err.find("contradict"), std::string::npos) << both.err;
}

TEST_F(NodePackage, InitIfMissingRefusesABrokenIdentityAndKeepsIt) {
    const auto dir = tmp_ / "id";
    ASSERT_EQ(run({node(), "init", "--identity", dir.string()}).exit_code, 0);
    const auto key = test::read_file(dir / "node.key");
    // A key others can read: refused as `run` refuses it, and not replaced by a fresh one (engines pin it).
    ASSERT_EQ(::chmod((dir / "node.key").c_str(), 0644), 0);
    auto open = run({node(), "init", "--identity", dir.string(), "--if-missing"});
    EXPECT_EQ(open.exit_code, 4) << open.err;
    EXPECT_NE(open.err.find("key_file_permissions"), std::string::npos) << open.err;
    EXPECT_EQ(test::read_file(dir / "node.key"), key);
    // Half an identity (the certificate gone): refused, the key kept.
    ASSERT_EQ(::chmod((dir / "node.key").c_str(), 0600), 0);
    fs::remove(dir / "node.crt");
    auto half = run({node(), "init", "--identity", dir.string(), "--if-missing"});
    EXPECT_NE(half.exit_code, 0);
    EXPECT_NE(half.err.find("an identity is there but cannot be used"), std::string::npos) << half.err;
    EXPECT_EQ(test::read_file(dir / "node.key"), key);
    EXPECT_FALSE(fs::exists(dir / "node.crt"));
}

}  // namespace
