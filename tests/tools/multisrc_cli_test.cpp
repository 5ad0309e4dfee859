// p2p-probe fetch CID -o FILE --sources SOURCES.json against real p2p-node processes holding the same file
// (each its own identity, store and copy) and one node's trustless gateway: all sources contribute and the
// output is the file; a node whose copy changed after import is dropped and the fetch still succeeds; a
// node behind a WAN emulator dripping bytes costs only its share; every source bad is a clear failure with
// nothing at the output; a fetch stopped by a full disk resumes from its one resume state.
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <support.hpp>

namespace test = cyxp2p::test;
namespace fs = std::filesystem;
using test::run;

namespace {

std::string probe() {
    return test::tool("p2p-probe").string();
}
std::string node() {
    return test::tool("p2p-node").string();
}
std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// p2p-probe under a file size limit (KiB; SIGXFSZ ignored): a write past it fails as a full disk would.
std::vector<std::string> with_file_limit(int kib, std::vector<std::string> argv) {
    std::vector<std::string> out = {
        "bash", "-c", "trap '' XFSZ; ulimit -f " + std::to_string(kib) + "; exec \"$0\" \"$@\""};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

struct RunningNode {
    std::unique_ptr<test::BackgroundProcess> process;
    std::string address, pin, token_file, gateway;
    fs::path served;
};

class MultiSourceCli : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(
            run({probe(), "key", "new", "--alg", "EdDSA", "--kid", "cs", "--out", (tmp_ / "cs.jwk").string()})
                .exit_code,
            0);
        // 16 leaves of 256 KiB: enough units for every source to hold a share.
        std::mt19937 rng(18);
        data_.assign(4 * 1024 * 1024, '\0');
        for (auto& c : data_) c = static_cast<char>(rng());
        test::write_file(tmp_ / "original.bin", data_);
        cid_ = trim(run({probe(), "cid", (tmp_ / "original.bin").string()}).out);
        ASSERT_FALSE(cid_.empty());
    }

    RunningNode start(const std::string& name, bool gateway = false) {
        RunningNode n;
        const fs::path home = tmp_ / name;
        fs::create_directories(home / "serve");
        n.served = home / "serve" / "weights.bin";
        test::write_file(n.served, data_);
        EXPECT_EQ(run({node(), "init", "--identity", (home / "id").string(), "--node-id", name}).exit_code,
                  0);
        auto minted = run({probe(), "token", "mint", "--key", (tmp_ / "cs.jwk").string(), "--sub", "user-1",
                           "--node-id", name, "--scope", "content:read"});
        EXPECT_EQ(minted.exit_code, 0) << minted.err;
        n.token_file = (home / "token").string();
        test::write_file(n.token_file, minted.out);
        std::vector<std::string> argv = {node(),       "run",
                                         "--identity", (home / "id").string(),
                                         "--keys",     (tmp_ / "cs.jwks").string(),
                                         "--listen",   "127.0.0.1:0",
                                         "--serve",    (home / "serve").string(),
                                         "--threads",  "1"};
        if (gateway) {
            argv.push_back("--gateway");
            argv.push_back("127.0.0.1:0");
        }
        n.process = std::make_unique<test::BackgroundProcess>(argv);
        EXPECT_TRUE(n.process->wait_for_line("ready")) << n.process->output();
        n.address = "127.0.0.1:" + trim(n.process->wait_for_line("listening 127.0.0.1:").value_or(""));
        n.pin = trim(n.process->wait_for_line("pin ").value_or(""));
        if (gateway) {
            // "gateway http://127.0.0.1:PORT/ipfs/": the source is the origin.
            std::string base = trim(n.process->wait_for_line("gateway ").value_or(""));
            n.gateway = base.substr(0, base.find("/ipfs/"));
        }
        return n;
    }

    static nlohmann::json node_source(const RunningNode& n) {
        return {{"address", n.address}, {"pin", n.pin}, {"token_file", n.token_file}};
    }

    std::string sources(const nlohmann::json& list) {
        const auto path = tmp_ / ("sources-" + std::to_string(files_++) + ".json");
        test::write_file(path, list.dump(2));
        return path.string();
    }

    std::vector<std::string> fetch(const std::string& sources_file, const fs::path& out) {
        return {probe(), "fetch", cid_, "-o", out.string(), "--sources", sources_file, "--json"};
    }

    test::TempDir tmp_;
    std::string data_, cid_;
    int files_ = 0;
};

}  // namespace

TEST_F(MultiSourceCli, TwoNodesAndAGatewayEachSupplyAShareOfOneVerifiedFile) {
    auto a = start("node-a", /*gateway=*/true);
    auto b = start("node-b");
    ASSERT_FALSE(a.gateway.empty()) << a.process->output();
    const fs::path out = tmp_ / "out.bin";
    auto r = run(fetch(sources({node_source(a), node_source(b), {{"gateway", a.gateway}}}), out));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(test::read_file(out), data_);
    auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["sources"].size(), 3u);
    std::uint64_t total = 0;
    for (const auto& s : j["sources"]) {
        EXPECT_GT(s["bytes"].get<std::uint64_t>(), 0u) << s.dump() << r.err;
        EXPECT_TRUE(s["error"].is_null()) << s.dump();
        total += s["bytes"].get<std::uint64_t>();
    }
    EXPECT_EQ(total, data_.size());  // every unit credited once, hedges not counted twice
    EXPECT_EQ(j["sources"][2]["source"], a.gateway);
    EXPECT_FALSE(fs::exists(tmp_ / "out.bin.cyxp2p-multi"));
    EXPECT_FALSE(fs::exists(tmp_ / "out.bin.cyxp2p-multi.meta"));
}

TEST_F(MultiSourceCli, ANodeWhoseCopyChangedIsDroppedAndTheOthersSupplyItsShare) {
    auto a = start("node-a");
    auto b = start("node-b");
    // B's file changes after import (same size): B refuses to serve blocks that no longer hash.
    std::string changed = data_;
    for (std::size_t i = 0; i < changed.size(); i += 4096) changed[i] = static_cast<char>(changed[i] ^ 0x55);
    test::write_file(b.served, changed);
    const fs::path out = tmp_ / "out.bin";
    auto r = run(fetch(sources({node_source(b), node_source(a)}), out));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(test::read_file(out), data_);
    auto j = nlohmann::json::parse(r.out);
    EXPECT_FALSE(j["sources"][0]["error"].is_null()) << j.dump();
    EXPECT_TRUE(j["sources"][1]["error"].is_null()) << j.dump();
    EXPECT_EQ(j["sources"][1]["bytes"], data_.size());
    EXPECT_NE(r.err.find("source " + b.address + " dropped"), std::string::npos) << r.err;
}

TEST_F(MultiSourceCli, ADrippingNodeCostsOnlyItsShare) {
    auto a = start("node-a");
    auto b = start("node-b");
    // B behind the WAN emulator at 64 KiB/s: its share is taken over by A (work stealing, then a hedge).
    test::BackgroundProcess slow(
        {test::tool("cyxp2p-wan-proxy").string(), "--connect", b.address, "--rate-mibps", "0.0625"});
    const auto port = slow.wait_for_line("listening 127.0.0.1:");
    ASSERT_TRUE(port && slow.wait_for_line("ready")) << slow.output();
    b.address = "127.0.0.1:" + trim(*port);
    const fs::path out = tmp_ / "out.bin";
    auto r = run(fetch(sources({node_source(b), node_source(a)}), out));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(test::read_file(out), data_);
    auto j = nlohmann::json::parse(r.out);
    EXPECT_GT(j["sources"][1]["bytes"].get<std::uint64_t>(), data_.size() / 2) << j.dump();
}

TEST_F(MultiSourceCli, EverySourceBadIsAClearFailureWithNothingAtTheOutput) {
    auto b = start("node-b");
    std::string changed = data_;
    for (std::size_t i = 0; i < changed.size(); i += 4096) changed[i] = static_cast<char>(changed[i] ^ 0x55);
    test::write_file(b.served, changed);
    // A second "node" where nothing listens.
    nlohmann::json gone = node_source(b);
    gone["address"] = "127.0.0.1:1";
    const fs::path out = tmp_ / "out.bin";
    auto r = run(fetch(sources({node_source(b), gone}), out));
    EXPECT_EQ(r.exit_code, 15) << r.out << r.err;  // a source sent (or refused) bad content
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["error"], "no_source_left");
    const std::string message = j["message"];
    EXPECT_NE(message.find(b.address), std::string::npos) << message;
    EXPECT_NE(message.find("127.0.0.1:1"), std::string::npos) << message;
    EXPECT_NE(message.find("nothing was written"), std::string::npos) << message;
    EXPECT_FALSE(fs::exists(out));
}

TEST_F(MultiSourceCli, AFetchStoppedByAFullDiskResumesFromItsResumeState) {
    auto a = start("node-a");
    auto b = start("node-b");
    const fs::path out = tmp_ / "out.bin";
    const auto list = sources({node_source(a), node_source(b)});
    // 3 MiB allowed: the first share (the first 2 MiB) completes, the second fails past 3 MiB.
    auto full = run(with_file_limit(3 * 1024, fetch(list, out)));
    ASSERT_EQ(full.exit_code, 3) << full.out << full.err;
    auto j = nlohmann::json::parse(full.out);
    EXPECT_EQ(j["error"], "no_space");
    EXPECT_TRUE(j["resumable"]) << j.dump();
    EXPECT_FALSE(fs::exists(out));
    auto again = run(fetch(list, out));
    ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
    auto k = nlohmann::json::parse(again.out);
    EXPECT_GT(k["resumed_units"].get<std::uint64_t>(), 0u) << k.dump();
    std::uint64_t fetched = 0;
    for (const auto& s : k["sources"]) fetched += s["bytes"].get<std::uint64_t>();
    EXPECT_EQ(fetched + k["resumed_bytes"].get<std::uint64_t>(), data_.size()) << k.dump() << j.dump();
    EXPECT_EQ(test::read_file(out), data_);
}

TEST_F(MultiSourceCli, ABadSourcesFileIsRefusedBeforeAnyConnection) {
    const fs::path out = tmp_ / "out.bin";
    auto unknown = run(fetch(sources({{{"address", "127.0.0.1:1"}, {"pins", "x"}, {"token", "t"}}}), out));
    EXPECT_EQ(unknown.exit_code, 4) << unknown.out;
    EXPECT_NE(unknown.out.find("source 1: unknown key \\\"pins\\\""), std::string::npos) << unknown.out;
    auto no_pin = run(fetch(sources({{{"address", "127.0.0.1:1"}, {"token", "t"}}}), out));
    EXPECT_EQ(no_pin.exit_code, 4);
    EXPECT_NE(no_pin.out.find("missing \\\"pin\\\""), std::string::npos) << no_pin.out;
    auto bad_address = run(fetch(
        sources({{{"gateway", "http://127.0.0.1:8080"}}, {{"address", "nowhere"}, {"token", "t"}}}), out));
    EXPECT_EQ(bad_address.exit_code, 4);
    EXPECT_NE(bad_address.out.find("source 2: bad address"), std::string::npos) << bad_address.out;
    EXPECT_FALSE(fs::exists(out));
}
