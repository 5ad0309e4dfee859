// p2p-probe cid / car export|verify|extract, run as a user would.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support.hpp"

namespace fs = std::filesystem;
using cyxp2p::test::run;

namespace {

std::string probe() {
    return cyxp2p::test::tool("p2p-probe").string();
}

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    std::uint32_t x = 7;
    for (auto& ch : s) {
        x = x * 1103515245u + 12345u;
        ch = static_cast<char>(x >> 24);
    }
    return s;
}

}  // namespace

TEST(ContentCli, CidMatchesKubo) {
    cyxp2p::test::TempDir dir;
    cyxp2p::test::write_file(dir / "hello", "hello world");
    auto r = run({probe(), "cid", (dir / "hello").string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD\n");
    r = run({probe(), "cid", "--cid-version", "1", (dir / "hello").string()});
    EXPECT_EQ(r.out, "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e\n");
    r = run({probe(), "cid", "-"}, "hello world");
    EXPECT_EQ(r.out, "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD\n");
    cyxp2p::test::write_file(dir / "empty", "");
    r = run({probe(), "cid", (dir / "empty").string(), "--json"});
    ASSERT_EQ(r.exit_code, 0);
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["cid"], "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
    EXPECT_EQ(j["size"], 0);
}

TEST(ContentCli, OptionsChangeTheCidLikeKubo) {
    cyxp2p::test::TempDir dir;
    cyxp2p::test::write_file(dir / "f", pattern(3 * 262144 + 5));
    const std::string f = (dir / "f").string();
    const auto v0 = run({probe(), "cid", f}).out;
    const auto v1 = run({probe(), "cid", "--cid-version", "1", f}).out;
    const auto v1_dagpb = run({probe(), "cid", "--cid-version", "1", "--no-raw-leaves", f}).out;
    const auto prof = run({probe(), "cid", "--profile", "unixfs-v1-2025", f}).out;
    const auto chunked = run({probe(), "cid", "--chunker", "size-1048576", "--cid-version=1", f}).out;
    EXPECT_EQ(v0.substr(0, 2), "Qm");
    EXPECT_EQ(v1.substr(0, 4), "bafy");
    EXPECT_NE(v1, v1_dagpb);
    EXPECT_NE(v1, prof);
    EXPECT_EQ(prof, chunked);  // 4 chunks of 1 MiB fit one node either way (174 or 1024 links)
    EXPECT_EQ(run({probe(), "cid", "--profile", "unixfs-v0-2015", f}).out, v0);
}

TEST(ContentCli, CidErrors) {
    EXPECT_EQ(run({probe(), "cid"}).exit_code, 2);
    EXPECT_EQ(run({probe(), "cid", "--chunk-size", "0", "x"}).exit_code, 2);
    EXPECT_EQ(run({probe(), "cid", "--chunk-size", "2000000", "x"}).exit_code, 2);
    EXPECT_EQ(run({probe(), "cid", "--profile", "nope", "x"}).exit_code, 2);
    EXPECT_EQ(run({probe(), "cid", "--cid-version", "2", "x"}).exit_code, 2);
    const auto r = run({probe(), "cid", "/no/such/file", "--json"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(nlohmann::json::parse(r.out)["ok"], false);
}

TEST(ContentCli, CarExportVerifyExtract) {
    cyxp2p::test::TempDir dir;
    const std::string data = pattern(175 * 1024 + 9);
    cyxp2p::test::write_file(dir / "model.bin", data);
    const std::string car = (dir / "model.car").string();
    auto r = run({probe(), "car", "export", (dir / "model.bin").string(), "-o", car, "--chunk-size", "1024"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string root = r.out.substr(0, r.out.size() - 1);
    EXPECT_EQ(run({probe(), "cid", "--chunk-size", "1024", (dir / "model.bin").string()}).out, r.out);
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{}),
              2);  // no scratch left

    r = run({probe(), "car", "verify", car, "--root", root, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["root"], root);
    EXPECT_EQ(j["size"], data.size());
    EXPECT_EQ(j["root_from"], "argument");

    r = run({probe(), "car", "extract", car, "-o", (dir / "out.bin").string(), "--root", root});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(cyxp2p::test::read_file(dir / "out.bin"), data);
}

TEST(ContentCli, CarFailuresLeaveNothing) {
    cyxp2p::test::TempDir dir;
    cyxp2p::test::write_file(dir / "f", pattern(20000));
    const std::string car = (dir / "f.car").string();
    auto r = run({probe(), "car", "export", (dir / "f").string(), "-o", car, "--chunk-size", "1000"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string bytes = cyxp2p::test::read_file(car);
    std::string flipped = bytes;
    flipped[flipped.size() - 100] ^= 1;
    cyxp2p::test::write_file(dir / "flipped.car", flipped);
    const std::string out = (dir / "out.bin").string();
    r = run({probe(), "car", "extract", (dir / "flipped.car").string(), "-o", out, "--json"});
    EXPECT_EQ(r.exit_code, 15);
    EXPECT_EQ(nlohmann::json::parse(r.out)["error"], "hash_mismatch");
    EXPECT_FALSE(fs::exists(out));
    cyxp2p::test::write_file(dir / "cut.car", bytes.substr(0, bytes.size() - 10));
    r = run({probe(), "car", "extract", (dir / "cut.car").string(), "-o", out, "--json"});
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_EQ(nlohmann::json::parse(r.out)["error"], "truncated_input");
    EXPECT_FALSE(fs::exists(out));
    r = run({probe(), "car", "verify", car, "--root", "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"});
    EXPECT_EQ(r.exit_code, 15);
    EXPECT_EQ(run({probe(), "car", "verify", car, "--root", "Qmnope"}).exit_code, 4);
    EXPECT_EQ(run({probe(), "car", "verify", (dir / "missing.car").string()}).exit_code, 3);
    EXPECT_EQ(run({probe(), "car", "frobnicate"}).exit_code, 2);
    // Only the inputs remain: no temporary or partial files.
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{}), 4);
}
