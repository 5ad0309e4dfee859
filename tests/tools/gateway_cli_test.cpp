// p2p-node run --gateway: the operator's switch for the trustless gateway. What --serve imports is
// fetchable by curl as a CAR that p2p-probe car extract turns back into the same file, and a bad --gateway
// value is refused before the node starts.
#include <random>

#include <gtest/gtest.h>
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

class GatewayCli : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(run({node(), "init", "--identity", (tmp_ / "id").string(), "--node-id", "gw"}).exit_code,
                  0);
        ASSERT_EQ(
            run({probe(), "key", "new", "--alg", "EdDSA", "--kid", "cs", "--out", (tmp_ / "cs.jwk").string()})
                .exit_code,
            0);
        fs::create_directory(tmp_ / "serve");
        std::mt19937 rng(18);
        std::string data(700'000, '\0');
        for (auto& c : data) c = static_cast<char>(rng());
        test::write_file(tmp_ / "serve" / "weights.bin", data);
        cid_ = trim(run({probe(), "cid", (tmp_ / "serve" / "weights.bin").string()}).out);
    }
    std::vector<std::string> argv(const std::string& gateway) {
        return {node(),       "run",
                "--identity", (tmp_ / "id").string(),
                "--keys",     (tmp_ / "cs.jwks").string(),
                "--listen",   "127.0.0.1:0",
                "--serve",    (tmp_ / "serve").string(),
                "--gateway",  gateway,
                "--threads",  "1"};
    }
    test::TempDir tmp_;
    std::string cid_;
};

}  // namespace

TEST_F(GatewayCli, ServedFilesAreFetchableAsVerifiedCars) {
    test::BackgroundProcess n(argv("127.0.0.1:0"));
    ASSERT_TRUE(n.wait_for_line("ready")) << n.output();
    const std::string base = trim(n.wait_for_line("gateway ").value_or(""));
    ASSERT_EQ(base.rfind("http://127.0.0.1:", 0), 0u) << n.output();
    const fs::path car = tmp_ / "got.car";
    auto got = run({"curl", "-sS", "-f", "-o", car.string(), base + cid_ + "?format=car"});
    ASSERT_EQ(got.exit_code, 0) << got.err;
    auto x =
        run({probe(), "car", "extract", car.string(), "--root", cid_, "-o", (tmp_ / "out.bin").string()});
    ASSERT_EQ(x.exit_code, 0) << x.err;
    EXPECT_EQ(test::read_file(tmp_ / "out.bin"), test::read_file(tmp_ / "serve" / "weights.bin"));
}

TEST_F(GatewayCli, ABadGatewayAddressIsAUsageError) {
    auto r = run(argv("not-an-address"));
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("--gateway must be IP:PORT"), std::string::npos) << r.err;
}
