// p2p-probe bench against a p2p-node run, as bench/run drives it: tiny sizes, sane output.
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <support.hpp>

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

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

class BenchCli : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(
            run({node(), "init", "--identity", (tmp_ / "id").string(), "--node-id", "node-bench"}).exit_code,
            0);
        ASSERT_EQ(
            run({probe(), "key", "new", "--alg", "EdDSA", "--kid", "cs", "--out", (tmp_ / "cs.jwk").string()})
                .exit_code,
            0);
        std::filesystem::create_directory(tmp_ / "serve");
        std::mt19937 rng(11);
        std::string data(700'000, '\0');  // three 256 KiB leaves
        for (auto& c : data) c = static_cast<char>(rng());
        test::write_file(tmp_ / "serve" / "data.bin", data);
        cid_ = trim(run({probe(), "cid", (tmp_ / "serve" / "data.bin").string()}).out);
        test::write_file(tmp_ / "serve" / "rtt.bin", data.substr(0, 1024));  // one block: --latency's probe
        rtt_cid_ = trim(run({probe(), "cid", (tmp_ / "serve" / "rtt.bin").string()}).out);
        auto t = run({probe(), "token", "mint", "--key", (tmp_ / "cs.jwk").string(), "--sub", "bench",
                      "--node-id", "node-bench", "--scope", "content:read"});
        ASSERT_EQ(t.exit_code, 0) << t.err;
        test::write_file(tmp_ / "token", t.out);
        // Handshake loops open connections faster than the default per-address rate allows.
        node_ = std::make_unique<test::BackgroundProcess>(std::vector<std::string>{
            node(), "run", "--identity", (tmp_ / "id").string(), "--keys", (tmp_ / "cs.jwks").string(),
            "--listen", "127.0.0.1:0", "--serve", (tmp_ / "serve").string(), "--threads", "1",
            "--new-connections-per-address", "1000/1000"});
        ASSERT_TRUE(node_->wait_for_line("ready")) << node_->output();
        target_ = "127.0.0.1:" + trim(node_->wait_for_line("listening 127.0.0.1:").value_or(""));
        pin_ = trim(node_->wait_for_line("pin ").value_or(""));
    }

    std::vector<std::string> bench(std::vector<std::string> extra) {
        std::vector<std::string> argv = {
            probe(), "bench", target_, "--pin", pin_, "--token", (tmp_ / "token").string()};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    }

    TempDir tmp_;
    std::unique_ptr<test::BackgroundProcess> node_;
    std::string cid_, rtt_cid_, target_, pin_;
};

TEST_F(BenchCli, BulkThroughputOverSeveralStreamsCountsEveryByte) {
    auto r = run(bench({"--cid", cid_, "--bytes", "2000000", "--streams", "2", "--json"}));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["mode"], "bytes");
    EXPECT_EQ(j["streams"], 2);
    // At least the asked bytes, in whole fetches of the 700,000-byte file (plus message framing).
    EXPECT_GE(j["bytes"].get<std::uint64_t>(), 2'000'000U);
    EXPECT_GE(j["fetches"].get<std::uint64_t>(), 3U);
    EXPECT_GE(j["messages"].get<std::uint64_t>(), 3U * j["fetches"].get<std::uint64_t>());
    EXPECT_GT(j["mib_per_s"].get<double>(), 0.0);
    EXPECT_GT(j["seconds"].get<double>(), 0.0);
    EXPECT_EQ(j["cipher"], "TLS_AES_128_GCM_SHA256");
}

TEST_F(BenchCli, HandshakesReportFullAndResumedRates) {
    auto r = run(bench({"--handshakes", "5", "--json"}));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["mode"], "handshakes");
    EXPECT_EQ(j["count"], 5);
    EXPECT_GT(j["full_per_s"].get<double>(), 0.0);
    EXPECT_GT(j["resumed_per_s"].get<double>(), 0.0);
    EXPECT_GT(j["full_connect_ms"].get<double>(), 0.0);
    EXPECT_LE(j["resumed"].get<std::uint64_t>(), 5U);
}

TEST_F(BenchCli, TextOutputAndUsageErrors) {
    auto r = run(bench({"--cid", cid_, "--bytes", "100000"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("MiB/s"), std::string::npos) << r.out;
    // Neither --cid nor --handshakes, or both: usage (exit 2).
    EXPECT_EQ(run(bench({})).exit_code, 2);
    EXPECT_EQ(run(bench({"--cid", cid_, "--handshakes", "3"})).exit_code, 2);
    EXPECT_EQ(run(bench({"--cid", cid_, "--streams", "0"})).exit_code, 2);
    // A wrong pin fails as a pin mismatch (exit 12), before any token is sent.
    auto wrong = run({probe(), "bench", target_, "--pin",
                      "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "--token",
                      (tmp_ / "token").string(), "--handshakes", "1"});
    EXPECT_EQ(wrong.exit_code, 12) << wrong.err;
}

// Through the WAN emulator (10 ms each way), so every round trip has a known floor: 2 x 10 ms.
TEST_F(BenchCli, LatencyReportsBulkRateAndRoundTripsIdleAndLoaded) {
    test::BackgroundProcess proxy({test::tool("cyxp2p-wan-proxy").string(), "--connect", target_,
                                   "--delay-ms", "10", "--rate-mibps", "100"});
    const auto listening = proxy.wait_for_line("listening 127.0.0.1:");
    ASSERT_TRUE(listening && proxy.wait_for_line("ready")) << proxy.output();
    target_ = "127.0.0.1:" + trim(*listening);
    auto r = run(bench({"--cid", cid_, "--latency", "--rtt-cid", rtt_cid_, "--probes", "10", "--json"}));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["mode"], "latency");
    EXPECT_EQ(j["probes"], 10);
    EXPECT_GT(j["bulk_mib_per_s"].get<double>(), 0.0);
    EXPECT_GT(j["bulk_bytes"].get<std::uint64_t>(), 0U);
    const auto idle50 = j["idle_rtt_us_p50"].get<double>();
    const auto idle99 = j["idle_rtt_us_p99"].get<double>();
    const auto loaded50 = j["loaded_rtt_us_p50"].get<double>();
    const auto loaded99 = j["loaded_rtt_us_p99"].get<double>();
    EXPECT_GE(idle50, 20'000.0) << "a round trip through a 20 ms RTT path took less than 20 ms";
    EXPECT_GE(loaded50, 20'000.0);
    EXPECT_GE(idle99, idle50);
    EXPECT_GE(loaded99, loaded50);
    EXPECT_LT(loaded99, 10e6) << "a round trip took longer than the probe's 10 s timeout";
    // --latency without the probe's CID is a usage error.
    EXPECT_EQ(run(bench({"--cid", cid_, "--latency"})).exit_code, 2);
}

}  // namespace
