// p2p-node run and p2p-probe connect | ping | fetch, as operators and engineers run them.
#include <signal.h>
#include <unistd.h>

#include <random>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <support.hpp>
#include <sys/socket.h>
#include <sys/stat.h>

namespace test = cyxp2p::test;
using test::run;
using test::TempDir;
using namespace std::chrono_literals;

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

class NodeCli : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(
            run({node(), "init", "--identity", (tmp_ / "id").string(), "--node-id", "node-cli"}).exit_code,
            0);
        ASSERT_EQ(
            run({probe(), "key", "new", "--alg", "EdDSA", "--kid", "cs", "--out", (tmp_ / "cs.jwk").string()})
                .exit_code,
            0);
        std::filesystem::create_directory(tmp_ / "serve");
        std::mt19937 rng(7);
        std::string data(1'500'000, '\0');
        for (auto& c : data) c = static_cast<char>(rng());
        test::write_file(tmp_ / "serve" / "weights.bin", data);
        cid_ = trim(run({probe(), "cid", (tmp_ / "serve" / "weights.bin").string()}).out);
        token_ = mint("node-cli");
    }

    std::string mint(const std::string& node_id, const std::string& scope = "content:read,job:execute") {
        auto r = run({probe(), "token", "mint", "--key", (tmp_ / "cs.jwk").string(), "--sub", "user-1",
                      "--node-id", node_id, "--scope", scope});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        const auto path = tmp_ / ("token-" + node_id + "-" + std::to_string(tokens_++));
        test::write_file(path, r.out);
        return path.string();
    }

    std::unique_ptr<test::BackgroundProcess> start(std::vector<std::string> extra = {}) {
        std::vector<std::string> argv = {node(),       "run",
                                         "--identity", (tmp_ / "id").string(),
                                         "--keys",     (tmp_ / "cs.jwks").string(),
                                         "--listen",   "127.0.0.1:0",
                                         "--serve",    (tmp_ / "serve").string(),
                                         "--threads",  "1"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto p = std::make_unique<test::BackgroundProcess>(argv);
        auto ready = p->wait_for_line("ready");
        EXPECT_TRUE(ready) << p->output();
        port_ = trim(p->wait_for_line("listening 127.0.0.1:").value_or(""));
        pin_ = trim(p->wait_for_line("pin ").value_or(""));
        return p;
    }

    std::string target() const { return "127.0.0.1:" + port_; }

    TempDir tmp_;
    std::string cid_, token_, port_, pin_;
    int tokens_ = 0;
};

TEST_F(NodeCli, LogsIdentityListenAddressAndEveryServedCid) {
    auto n = start();
    const std::string out = n->output();
    EXPECT_NE(out.find("node_id node-cli"), std::string::npos) << out;
    EXPECT_NE(out.find("serving " + cid_ + " weights.bin"), std::string::npos) << out;
    EXPECT_EQ(pin_, trim(run({probe(), "pin", (tmp_ / "id" / "node.crt").string()}).out));
    // Served by reference: the blockstore holds no copy of the 1.5 MB of leaves.
    std::uint64_t stored = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(tmp_ / "id" / "blocks")) {
        if (e.is_regular_file()) stored += e.file_size();
    }
    EXPECT_LT(stored, 100'000U);
    EXPECT_EQ(n->stop(SIGTERM), 0);
    EXPECT_NE(n->output().find("stopped"), std::string::npos);
}

TEST_F(NodeCli, ConnectReportsEveryPhase) {
    auto n = start();
    auto r = run({probe(), "connect", target(), "--pin", pin_, "--token", token_, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["tls"]["version"], "TLSv1.3");
    EXPECT_EQ(j["tls"]["alpn"], "cyx-p2p/1");
    EXPECT_EQ(j["tls"]["group"], "X25519");
    EXPECT_EQ(j["tls"]["peer_pin"], pin_);
    EXPECT_EQ(j["node"]["node_id"], "node-cli");
    EXPECT_EQ(j["node"]["limits"]["max_concurrent_streams"], 64);
    auto text = run({probe(), "connect", target(), "--pin", pin_, "--token", token_});
    EXPECT_EQ(text.exit_code, 0);
    EXPECT_NE(text.out.find("verdict: OK"), std::string::npos) << text.out;
    // Without a token: TLS only.
    auto tls = run({probe(), "connect", target(), "--pin", pin_});
    EXPECT_EQ(tls.exit_code, 0) << tls.err;
    EXPECT_NE(tls.out.find("HELLO not tried"), std::string::npos);
}

TEST_F(NodeCli, FailureClassesHaveTheirExitCodes) {
    auto n = start({"--requests-per-peer", "1/1"});
    const std::string wrong = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    auto pin = run({probe(), "connect", target(), "--pin", wrong, "--token", token_});
    EXPECT_EQ(pin.exit_code, 12);
    EXPECT_NE(pin.err.find(pin_), std::string::npos) << pin.err;  // actual
    EXPECT_NE(pin.err.find(wrong), std::string::npos);            // expected
    auto other =
        run({probe(), "connect", target(), "--pin", pin_, "--token", mint("another-node"), "--json"});
    EXPECT_EQ(other.exit_code, 13);
    EXPECT_EQ(nlohmann::json::parse(other.out)["error"], "wrong_node");
    auto refused = run({probe(), "connect", "127.0.0.1:1", "--pin", pin_, "--token", token_});
    EXPECT_EQ(refused.exit_code, 10);
    EXPECT_EQ(run({probe(), "connect", target(), "--token", token_}).exit_code, 2);  // no pin: refused
    // Rate limit: the first fetch spends the subject's only token, the second is refused with exit 14.
    EXPECT_EQ(
        run({probe(), "fetch", target(), cid_, "-o", (tmp_ / "a").string(), "--pin", pin_, "--token", token_})
            .exit_code,
        0);
    auto limited = run(
        {probe(), "fetch", target(), cid_, "-o", (tmp_ / "b").string(), "--pin", pin_, "--token", token_});
    EXPECT_EQ(limited.exit_code, 14) << limited.err;
    EXPECT_FALSE(std::filesystem::exists(tmp_ / "b"));
}

TEST_F(NodeCli, ANodeAtItsConnectionLimitIsExit14NotATlsFailure) {
    // One connection allowed, held by a silent TCP client: the node closes the probe's connection before
    // TLS. The probe must say the node may be limiting, and exit 14 (rate limited), not 11 (TLS failed).
    auto n = start({"--max-connections", "1", "--max-handshakes", "1", "--client-hello-timeout-ms", "60000",
                    "--tls-handshake-timeout-ms", "60000"});
    const int held = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(port_)));
    ASSERT_EQ(::connect(held, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    auto r = run({probe(), "connect", target(), "--pin", pin_, "--token", token_, "--json"});
    EXPECT_EQ(r.exit_code, 14) << r.out << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["error"], "connection_refused_by_limit");
    EXPECT_NE(j["advice"].get<std::string>().find("overloaded or limiting connections"), std::string::npos)
        << j["advice"];
    ::close(held);
}

TEST_F(NodeCli, FetchWritesExactlyTheServedFile) {
    auto n = start();
    const auto dest = tmp_ / "fetched.bin";
    auto r = run(
        {probe(), "fetch", target(), cid_, "-o", dest.string(), "--pin", pin_, "--token", token_, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["verified"], true);
    EXPECT_EQ(test::read_file(dest), test::read_file(tmp_ / "serve" / "weights.bin"));
    // A token without content:read cannot fetch, and nothing is written.
    auto forbidden = run({probe(), "fetch", target(), cid_, "-o", (tmp_ / "no.bin").string(), "--pin", pin_,
                          "--token", mint("node-cli", "job:execute")});
    EXPECT_EQ(forbidden.exit_code, 13);
    EXPECT_FALSE(std::filesystem::exists(tmp_ / "no.bin"));
    auto ping = run({probe(), "ping", target(), "--pin", pin_, "--token", token_, "--count", "2", "--json"});
    EXPECT_EQ(ping.exit_code, 0);
    EXPECT_EQ(nlohmann::json::parse(ping.out)["rtt_ms"].size(), 2U);
}

TEST_F(NodeCli, AFlippedByteInTheStoreIsAContentMismatchAndWritesNothing) {
    auto n = start();
    // The node serves by reference: flip one byte of the original file behind its back.
    auto data = test::read_file(tmp_ / "serve" / "weights.bin");
    data[700'000] = static_cast<char>(data[700'000] ^ 0x20);
    test::write_file(tmp_ / "serve" / "weights.bin", data);
    const auto dest = tmp_ / "tampered.bin";
    auto r = run(
        {probe(), "fetch", target(), cid_, "-o", dest.string(), "--pin", pin_, "--token", token_, "--json"});
    EXPECT_EQ(r.exit_code, 15) << r.out << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["error"], "content_mismatch");
    EXPECT_FALSE(std::filesystem::exists(dest));
    // Only the resume state of verified blocks may remain, never a file that could pass for the model.
    for (const auto& e : std::filesystem::directory_iterator(tmp_.path())) {
        const auto name = e.path().filename().string();
        if (name.find("tampered") == std::string::npos) continue;
        EXPECT_TRUE(name == "tampered.bin.cyxp2p-partial" || name == "tampered.bin.cyxp2p-partial.meta")
            << "left behind: " << e.path();
        EXPECT_TRUE(e.is_regular_file());
    }
}

TEST_F(NodeCli, AnExpiredTokenIsRefusedWithItsReason) {
    auto n = start();
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    auto minted = run({probe(), "token", "mint", "--key", (tmp_ / "cs.jwk").string(), "--sub", "user-1",
                       "--node-id", "node-cli", "--now", std::to_string(now - 7200)});
    ASSERT_EQ(minted.exit_code, 0) << minted.err;
    test::write_file(tmp_ / "expired", minted.out);
    auto r =
        run({probe(), "connect", target(), "--pin", pin_, "--token", (tmp_ / "expired").string(), "--json"});
    EXPECT_EQ(r.exit_code, 13);
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["error"], "token_rejected");
    EXPECT_EQ(j["reject_detail"], "expired");
}

TEST_F(NodeCli, MisconfigurationStopsAtOnceWithAFix) {
    ASSERT_EQ(::chmod((tmp_ / "id" / "node.key").c_str(), 0644), 0);
    auto perms =
        run({node(), "run", "--identity", (tmp_ / "id").string(), "--keys", (tmp_ / "cs.jwks").string()});
    EXPECT_EQ(perms.exit_code, 4);
    EXPECT_NE(perms.err.find("chmod 600"), std::string::npos) << perms.err;
    ASSERT_EQ(::chmod((tmp_ / "id" / "node.key").c_str(), 0600), 0);
    test::write_file(tmp_ / "bad.jwks", "{\"keys\": 5}");
    auto jwks =
        run({node(), "run", "--identity", (tmp_ / "id").string(), "--keys", (tmp_ / "bad.jwks").string()});
    EXPECT_EQ(jwks.exit_code, 4) << jwks.err;
    auto missing = run({node(), "run", "--keys", (tmp_ / "cs.jwks").string()});
    EXPECT_EQ(missing.exit_code, 2);
    auto bad_flag = run({node(), "run", "--identity", (tmp_ / "id").string(), "--keys",
                         (tmp_ / "cs.jwks").string(), "--max-streams", "lots"});
    EXPECT_EQ(bad_flag.exit_code, 2);
    EXPECT_NE(bad_flag.err.find("--max-streams"), std::string::npos);
    auto n = start();
    auto in_use = run({node(), "run", "--identity", (tmp_ / "id").string(), "--keys",
                       (tmp_ / "cs.jwks").string(), "--listen", target()});
    EXPECT_EQ(in_use.exit_code, 3);
    EXPECT_NE(in_use.err.find("address_in_use"), std::string::npos) << in_use.err;
}

TEST_F(NodeCli, ConfigFileFlagsAndPrintConfig) {
    test::write_file(tmp_ / "node.conf", "# limits\nmax-streams = 7\nthreads = 3\n");
    auto r = run({node(), "run", "--identity", (tmp_ / "id").string(), "--keys", (tmp_ / "cs.jwks").string(),
                  "--config", (tmp_ / "node.conf").string(), "--threads", "2", "--print-config"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("max-streams = 7\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("threads = 2\n"), std::string::npos);  // the flag wins over the file
    EXPECT_NE(r.out.find("max-frame-size = 65536\n"), std::string::npos);
    test::write_file(tmp_ / "bad.conf", "max-streamz = 7\n");
    auto bad = run({node(), "run", "--config", (tmp_ / "bad.conf").string(), "--print-config"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("bad.conf:1: unknown setting 'max-streamz'"), std::string::npos) << bad.err;
    auto help = run({node(), "run", "--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("--max-connections-per-address"), std::string::npos);
    EXPECT_NE(help.out.find("[default: 16]"), std::string::npos);
}

}  // namespace

namespace {

// p2p-probe with a file size limit (RLIMIT_FSIZE, in KiB) and SIGXFSZ ignored: writes past it fail with
// EFBIG, the path ENOSPC takes, without a root-only mount of a small file system.
std::vector<std::string> with_file_limit(int kib, std::vector<std::string> argv) {
    std::vector<std::string> out = {
        "bash", "-c", "trap '' XFSZ; ulimit -f " + std::to_string(kib) + "; exec \"$0\" \"$@\""};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

std::uint64_t disk_use(const std::filesystem::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_blocks) * 512 : 0;
}

}  // namespace

TEST_F(NodeCli, AFullDiskExits3WithNothingAtTheOutputAndARetryResumes) {
    auto n = start();
    const auto dest = tmp_ / "full.bin";
    const std::vector<std::string> fetch = {probe(), "fetch", target(),  cid_,   "-o",    dest.string(),
                                            "--pin", pin_,    "--token", token_, "--json"};
    auto full = run(with_file_limit(600, fetch));
    EXPECT_EQ(full.exit_code, 3) << full.out << full.err;
    auto j = nlohmann::json::parse(full.out);
    EXPECT_EQ(j["error"], "no_space");
    const std::string message = j["message"];
    EXPECT_NE(message.find("full.bin.cyxp2p-partial"), std::string::npos) << message;
    EXPECT_NE(message.find("File too large"), std::string::npos) << message;
    EXPECT_FALSE(std::filesystem::exists(dest));
    // One copy on disk: the partial file (its verified prefix) and a small record.
    const auto size = std::filesystem::file_size(tmp_ / "serve" / "weights.bin");
    EXPECT_LE(disk_use(tmp_ / "full.bin.cyxp2p-partial") + disk_use(tmp_ / "full.bin.cyxp2p-partial.meta"),
              size + size / 100 + 64 * 1024);
    // Room again: the same command resumes, downloading only what was not held.
    auto retry = run(fetch);
    ASSERT_EQ(retry.exit_code, 0) << retry.out << retry.err;
    EXPECT_EQ(nlohmann::json::parse(retry.out)["resumed_blocks"], 2);
    EXPECT_EQ(test::read_file(dest), test::read_file(tmp_ / "serve" / "weights.bin"));
    EXPECT_FALSE(std::filesystem::exists(tmp_ / "full.bin.cyxp2p-partial"));
    EXPECT_FALSE(std::filesystem::exists(tmp_ / "full.bin.cyxp2p-partial.meta"));
}

TEST_F(NodeCli, ATamperedPartialFileIsDiscardedAndFetchedAgain) {
    auto n = start();
    const auto dest = tmp_ / "again.bin";
    const std::vector<std::string> fetch = {probe(), "fetch", target(),  cid_,   "-o",    dest.string(),
                                            "--pin", pin_,    "--token", token_, "--json"};
    ASSERT_EQ(run(with_file_limit(600, fetch)).exit_code, 3);
    auto partial = test::read_file(tmp_ / "again.bin.cyxp2p-partial");
    ASSERT_GT(partial.size(), 300'000U);
    partial[300'000] = static_cast<char>(partial[300'000] ^ 1);
    test::write_file(tmp_ / "again.bin.cyxp2p-partial", partial);
    auto r = run(fetch);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;  // not 15: the damage is local, and it is fetched again
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["resumed_blocks"], 0);
    // p2p-probe inspects the state before it connects (discarded_resume_state); Download::open() would
    // find the same damage (resume_discarded) if it got that far.
    ASSERT_TRUE(j.contains("discarded_resume_state") || j.contains("resume_discarded")) << r.out;
    const std::string why =
        j.contains("discarded_resume_state") ? j["discarded_resume_state"] : j["resume_discarded"];
    EXPECT_NE(why.find("does not match the record"), std::string::npos) << why;
    EXPECT_EQ(test::read_file(dest), test::read_file(tmp_ / "serve" / "weights.bin"));
    // Without --json the same fact is said on stderr.
    std::filesystem::remove(dest);
    ASSERT_EQ(run(with_file_limit(600, fetch)).exit_code, 3);
    test::write_file(tmp_ / "again.bin.cyxp2p-partial", partial);
    auto text =
        run({probe(), "fetch", target(), cid_, "-o", dest.string(), "--pin", pin_, "--token", token_});
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.err.find("discarded"), std::string::npos) << text.err;
}
