// p2p-node reloading while it runs (docs/operations.md "Key rotation", "Reload"): SIGHUP reloads the --keys
// file and the identity without dropping sessions, a broken file leaves the old keys in force, the live
// limits of the config file bite on sessions opened before (other changed settings are named), --serve
// is rescanned under a fetch in flight; --keys URL fetches the Central Server's JWKS from a real HTTPS server
// (tests/interop/jwks_server.py) and refetches it for an unknown kid. The engine side is the library's
// net::Engine, so a session can be held open across the reload.
#include <signal.h>

#include <future>
#include <sstream>
#include <thread>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <support.hpp>

#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/pin.hpp>
#include <cyxp2p/protocol/errc.hpp>

namespace test = cyxp2p::test;
namespace net = cyxp2p::net;
namespace pinning = cyxp2p::pinning;
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
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
    return s;
}

class NodeKeysCli : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(
            run({node(), "init", "--identity", (tmp_ / "id").string(), "--node-id", "node-keys"}).exit_code,
            0);
        for (const char* kid : {"cs-old", "cs-new"}) {
            auto r = run({probe(), "key", "new", "--alg", "EdDSA", "--kid", kid, "--out",
                          (tmp_ / (std::string(kid) + ".jwk")).string()});
            ASSERT_EQ(r.exit_code, 0) << r.err;
        }
        test::write_file(tmp_ / "keys.jwks", test::read_file(tmp_ / "cs-old.jwks"));
        io_thread_ = std::thread([this] { io_.run(); });
    }
    void TearDown() override {
        work_.reset();
        io_.stop();
        io_thread_.join();
    }

    std::string both_keys() {
        auto a = nlohmann::json::parse(test::read_file(tmp_ / "cs-old.jwks"));
        auto b = nlohmann::json::parse(test::read_file(tmp_ / "cs-new.jwks"));
        for (auto& k : b["keys"]) a["keys"].push_back(k);
        return a.dump();
    }

    std::string mint(const std::string& kid) {
        auto r = run({probe(), "token", "mint", "--key", (tmp_ / (kid + ".jwk")).string(), "--sub", "user-1",
                      "--node-id", "node-keys", "--scope", "content:read,job:execute"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return trim(r.out);
    }

    std::unique_ptr<test::BackgroundProcess> start(const std::string& keys,
                                                   std::vector<std::string> extra = {}) {
        std::vector<std::string> argv = {node(),      "run", "--identity", (tmp_ / "id").string(),
                                         "--keys",    keys,  "--listen",   "127.0.0.1:0",
                                         "--threads", "1",   "--metrics",  "127.0.0.1:0"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto p = std::make_unique<test::BackgroundProcess>(argv);
        EXPECT_TRUE(p->wait_for_line("ready")) << p->output();
        port_ = static_cast<std::uint16_t>(std::stoi(p->wait_for_line("listening 127.0.0.1:").value_or("0")));
        metrics_ = trim(p->wait_for_line("metrics ").value_or(""));
        std::error_code ec;
        pin_ = pinning::Pin::parse(trim(p->wait_for_line("pin ").value_or("")), ec);
        EXPECT_TRUE(pin_) << ec.message();
        return p;
    }

    std::pair<std::error_code, std::shared_ptr<net::Connection>> connect(
        const std::string& kid, std::optional<pinning::Pin> pin = {}) {
        net::ConnectOptions o;
        o.host = "127.0.0.1";
        o.port = port_;
        o.pins = pinning::PinSet(pin ? *pin : *pin_);
        o.token = mint(kid);
        auto f = engine_.async_connect(std::move(o), boost::asio::use_future);
        if (f.wait_for(30s) != std::future_status::ready)
            return {std::make_error_code(std::errc::timed_out), {}};
        auto [ec, conn] = f.get();
        return {ec, conn};
    }

    static std::error_code ping(net::Connection& c) {
        auto f = c.async_ping(boost::asio::use_future);
        if (f.wait_for(30s) != std::future_status::ready) return std::make_error_code(std::errc::timed_out);
        return std::get<0>(f.get());
    }

    std::string metric(const std::string& name) {
        auto r = run({"curl", "-sS", metrics_});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        const auto at = r.out.find("\n" + name + " ");
        if (at == std::string::npos) return "";
        const auto begin = at + name.size() + 2;
        return trim(r.out.substr(begin, r.out.find('\n', begin) - begin));
    }

    TempDir tmp_;
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
        boost::asio::make_work_guard(io_);
    std::thread io_thread_;
    net::Engine engine_{io_.get_executor()};
    std::uint16_t port_ = 0;
    std::string metrics_;
    std::optional<pinning::Pin> pin_;
};

TEST_F(NodeKeysCli, SighupReloadsTheKeyFileAndSessionsKeepRunning) {
    auto n = start((tmp_ / "keys.jwks").string());
    auto [ec, held] = connect("cs-old");
    ASSERT_FALSE(ec) << ec.message();
    auto [refused, none] = connect("cs-new");  // not published yet
    EXPECT_EQ(refused, cyxp2p::protocol::errc::token_rejected);

    // Rotation step 1: the new key is published next to the old one.
    test::write_file(tmp_ / "keys.jwks", both_keys());
    n->signal(SIGHUP);
    auto line = n->wait_for_line("reloaded keys ");
    ASSERT_TRUE(line) << n->output();
    EXPECT_NE(line->find("2 key(s)"), std::string::npos) << *line;
    auto [ec2, fresh] = connect("cs-new");
    EXPECT_FALSE(ec2) << ec2.message();
    // The session opened before the reload still works, and its REAUTH with the new key is accepted.
    EXPECT_FALSE(ping(*held));
    auto re = held->async_reauth(mint("cs-new"), boost::asio::use_future);
    ASSERT_EQ(re.wait_for(30s), std::future_status::ready);
    EXPECT_FALSE(std::get<0>(re.get()));
    EXPECT_EQ(metric("cyxp2p_node_keys"), "2");

    // A half-written file: refused, the two keys stay in force, and the node says so.
    test::write_file(tmp_ / "keys.jwks", "{\"keys\": [");
    n->signal(SIGHUP);
    auto why = n->wait_for_line("p2p-node: reload: keys ");
    ASSERT_TRUE(why) << n->output();
    EXPECT_NE(why->find("the previous 2 key(s) stay in force"), std::string::npos) << *why;
    auto [ec3, again] = connect("cs-old");
    EXPECT_FALSE(ec3) << ec3.message();
    EXPECT_FALSE(ping(*held));
    EXPECT_EQ(metric("cyxp2p_node_keys_last_attempt_failed"), "1");
    EXPECT_EQ(metric("cyxp2p_node_keys_loads_total{result=\"failed\"}"), "1");
    EXPECT_EQ(n->stop(SIGTERM), 0);
}

TEST_F(NodeKeysCli, SighupPresentsANewIdentityToNewConnectionsOnly) {
    auto n = start((tmp_ / "keys.jwks").string());
    auto [ec, held] = connect("cs-old");
    ASSERT_FALSE(ec) << ec.message();
    const auto old_pin = *pin_;
    ASSERT_EQ(run({node(), "init", "--identity", (tmp_ / "id").string(), "--node-id", "node-keys", "--force"})
                  .exit_code,
              0);
    n->signal(SIGHUP);
    auto line = n->wait_for_line("reloaded identity ");
    ASSERT_TRUE(line) << n->output();
    std::error_code pec;
    auto new_pin = pinning::Pin::of_certificate_pem(test::read_file(tmp_ / "id" / "node.crt"), pec);
    ASSERT_TRUE(new_pin) << pec.message();
    ASSERT_NE(new_pin->to_string(), old_pin.to_string());
    EXPECT_NE(line->find("pin " + new_pin->to_string()), std::string::npos) << *line;
    // New connections get the new key: an engine pinning only the old one is refused, the new pin passes.
    EXPECT_EQ(connect("cs-old", old_pin).first, pinning::errc::pin_mismatch);
    EXPECT_FALSE(connect("cs-old", *new_pin).first);
    // The session opened before keeps its TLS session and works.
    EXPECT_FALSE(ping(*held));

    // An identity for another node_id is refused: tokens name the node.
    ASSERT_EQ(
        run({node(), "init", "--identity", (tmp_ / "id").string(), "--node-id", "someone-else", "--force"})
            .exit_code,
        0);
    n->signal(SIGHUP);
    auto why = n->wait_for_line("p2p-node: reload: identity ");
    ASSERT_TRUE(why) << n->output();
    EXPECT_NE(why->find("another node_id"), std::string::npos) << *why;
    EXPECT_FALSE(connect("cs-old", *new_pin).first);
    EXPECT_EQ(n->stop(SIGTERM), 0);
}

TEST_F(NodeKeysCli, SighupNamesConfigSettingsThatNeedARestart) {
    test::write_file(tmp_ / "node.conf", "idle-timeout-ms = 300000\n");
    auto n = start((tmp_ / "keys.jwks").string(), {"--config", (tmp_ / "node.conf").string()});
    test::write_file(tmp_ / "node.conf", "idle-timeout-ms = 60000\n");
    n->signal(SIGHUP);
    auto line = n->wait_for_line("p2p-node: reload: idle-timeout-ms changed");
    ASSERT_TRUE(line) << n->output();
    EXPECT_NE(line->find("300000 -> 60000"), std::string::npos) << *line;
    test::write_file(tmp_ / "node.conf", "idle-timeout-ms = soon\n");
    n->signal(SIGHUP);
    auto bad = n->wait_for_line("p2p-node: reload: " + (tmp_ / "node.conf").string() + ":1:");
    ASSERT_TRUE(bad) << n->output();
    EXPECT_NE(bad->find("the running settings stay"), std::string::npos) << *bad;
    EXPECT_FALSE(connect("cs-old").first);
    EXPECT_EQ(n->stop(SIGTERM), 0);
}

// A CID the node does not hold: content.fetch of it passes every check of the OPEN (scope, rate, replay)
// and is then refused with content_not_found, so it tells "allowed" from "rate limited" without content.
constexpr const char* kAbsentCid = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";

std::error_code fetch(net::Connection& c, const std::string& cid, const std::filesystem::path& dest,
                      net::FetchProgress progress = {}) {
    auto f = c.async_fetch(cid, dest, std::move(progress), boost::asio::use_future);
    if (f.wait_for(60s) != std::future_status::ready) return std::make_error_code(std::errc::timed_out);
    return std::get<0>(f.get());
}

TEST_F(NodeKeysCli, SighupAppliesTheLiveLimitsToOpenSessionsAndABrokenConfigChangesNothing) {
    const auto conf = tmp_ / "node.conf";
    test::write_file(conf, "requests-per-peer = 50/100\nidle-timeout-ms = 300000\n");
    std::filesystem::create_directory(tmp_ / "empty");  // content.fetch is served with --serve only
    auto n = start((tmp_ / "keys.jwks").string(),
                   {"--config", conf.string(), "--serve", (tmp_ / "empty").string()});
    auto [ec, held] = connect("cs-old");
    ASSERT_FALSE(ec) << ec.message();
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(fetch(*held, kAbsentCid, tmp_ / "out"), cyxp2p::protocol::errc::content_not_found);

    test::write_file(conf, "requests-per-peer = 1/h/2\nidle-timeout-ms = 60000\n");
    n->signal(SIGHUP);
    auto applied = n->wait_for_line("p2p-node: reload: requests-per-peer changed in ");
    ASSERT_TRUE(applied) << n->output();
    EXPECT_NE(applied->find("(50/100 -> 1/h/2); applied"), std::string::npos) << *applied;
    auto later = n->wait_for_line("p2p-node: reload: idle-timeout-ms changed in ");
    ASSERT_TRUE(later) << n->output();
    EXPECT_NE(later->find("takes effect when p2p-node restarts"), std::string::npos) << *later;
    // The session opened before the reload: two opens in the new bucket, then rate_limited; still open.
    EXPECT_EQ(fetch(*held, kAbsentCid, tmp_ / "out"), cyxp2p::protocol::errc::content_not_found);
    EXPECT_EQ(fetch(*held, kAbsentCid, tmp_ / "out"), cyxp2p::protocol::errc::content_not_found);
    EXPECT_EQ(fetch(*held, kAbsentCid, tmp_ / "out"), cyxp2p::protocol::errc::rate_limited);
    EXPECT_FALSE(ping(*held));
    EXPECT_EQ(metric("cyxp2p_node_rate_limited_total"), "1");

    // A broken file: nothing changes, the lowered limit stays in force (not the default, not the old one).
    test::write_file(conf, "requests-per-peer = 1/h/2\nrequests-per-method = lots\n");
    n->signal(SIGHUP);
    auto bad = n->wait_for_line("p2p-node: reload: " + conf.string() + ":2:");
    ASSERT_TRUE(bad) << n->output();
    EXPECT_NE(bad->find("the running settings stay"), std::string::npos) << *bad;
    EXPECT_EQ(fetch(*held, kAbsentCid, tmp_ / "out"), cyxp2p::protocol::errc::rate_limited);
    EXPECT_FALSE(ping(*held));
    EXPECT_EQ(metric("cyxp2p_node_rate_limited_total"), "2");
    EXPECT_EQ(n->stop(SIGTERM), 0);
}

TEST_F(NodeKeysCli, SighupRaisesTheConnectionCapForNewConnections) {
    const auto conf = tmp_ / "node.conf";
    test::write_file(conf, "max-connections-per-address = 1\n");
    auto n = start((tmp_ / "keys.jwks").string(), {"--config", conf.string()});
    auto [ec, held] = connect("cs-old");
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(connect("cs-old").first, net::errc::connection_refused_by_limit);
    test::write_file(conf, "max-connections-per-address = 3\n");
    n->signal(SIGHUP);
    auto applied = n->wait_for_line("p2p-node: reload: max-connections-per-address changed in ");
    ASSERT_TRUE(applied) << n->output();
    EXPECT_NE(applied->find("(1 -> 3); applied"), std::string::npos) << *applied;
    auto [ec2, second] = connect("cs-old");
    EXPECT_FALSE(ec2) << ec2.message();
    EXPECT_FALSE(ping(*held));
    EXPECT_EQ(metric("cyxp2p_node_connections_refused_total{reason=\"too_many_connections_from_address\"}"),
              "1");
    EXPECT_EQ(n->stop(SIGTERM), 0);
}

// --serve on SIGHUP: a file added is served, a removed one and the old version of a changed one are
// content_not_found, and a fetch of an unchanged file that is in flight across the rescan completes intact.
TEST_F(NodeKeysCli, SighupRescansTheServedDirectory) {
    const auto dir = tmp_ / "serve";
    std::filesystem::create_directory(dir);
    auto bytes = [](std::size_t n, unsigned seed) {
        std::string s(n, '\0');
        for (auto& c : s) c = static_cast<char>(seed = seed * 1664525u + 1013904223u);
        return s;
    };
    const std::string big = bytes(4u << 20, 1);  // far more than the stream window the engine grants
    test::write_file(dir / "big.bin", big);
    test::write_file(dir / "gone.bin", bytes(300'000, 2));    // two leaves under a dag-pb root
    test::write_file(dir / "edited.bin", bytes(100'000, 3));  // one block: the root is the leaf
    auto n = start((tmp_ / "keys.jwks").string(), {"--serve", dir.string()});
    auto cid_of = [&](const std::string& name, const std::string& before) {
        // The last "serving CID NAME" line for NAME after the text `before` of the output.
        const std::string out = n->output();
        std::string cid;
        std::istringstream lines(out.substr(before.size()));
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind("serving ", 0) == 0 && line.size() > name.size() &&
                line.compare(line.size() - name.size() - 1, std::string::npos, " " + name) == 0)
                cid = line.substr(8, line.size() - name.size() - 9);
        }
        return cid;
    };
    const std::string big_cid = cid_of("big.bin", "");
    const std::string gone_cid = cid_of("gone.bin", "");
    const std::string edited_old = cid_of("edited.bin", "");
    ASSERT_FALSE(big_cid.empty() || gone_cid.empty() || edited_old.empty()) << n->output();
    auto [ec, conn] = connect("cs-old");
    ASSERT_FALSE(ec) << ec.message();

    // The fetch of big.bin stops in its first block: the engine's thread waits in the progress callback, so
    // it takes nothing more and the node's stream waits for window credit, mid-transfer, across the rescan.
    std::promise<void> started, resume;
    auto resumed = resume.get_future().share();
    bool first = true;
    auto in_flight = conn->async_fetch(
        big_cid, tmp_ / "big.out",
        [&](std::uint64_t, std::uint64_t) {
            if (!std::exchange(first, false)) return;
            started.set_value();
            resumed.wait();
        },
        boost::asio::use_future);
    ASSERT_EQ(started.get_future().wait_for(30s), std::future_status::ready);

    std::filesystem::remove(dir / "gone.bin");
    test::write_file(dir / "edited.bin", bytes(120'000, 4));
    test::write_file(dir / "new.bin", bytes(500'000, 5));
    const std::string before = n->output();
    n->signal(SIGHUP);
    auto counts = n->wait_for_line("rescanned --serve " + dir.string() + ": ");
    ASSERT_TRUE(counts) << n->output();
    EXPECT_EQ(*counts, "1 added, 1 changed, 1 removed, 1 unchanged, 0 failed");
    resume.set_value();
    ASSERT_EQ(in_flight.wait_for(60s), std::future_status::ready);
    auto [fec, result] = in_flight.get();
    EXPECT_FALSE(fec) << fec.message();
    EXPECT_EQ(result.bytes, big.size());
    EXPECT_EQ(test::read_file(tmp_ / "big.out"), big);

    const std::string new_cid = cid_of("new.bin", before);
    const std::string edited_new = cid_of("edited.bin", before);
    ASSERT_FALSE(new_cid.empty() || edited_new.empty()) << n->output();
    EXPECT_NE(edited_new, edited_old);
    EXPECT_FALSE(fetch(*conn, new_cid, tmp_ / "new.out"));
    EXPECT_EQ(test::read_file(tmp_ / "new.out"), bytes(500'000, 5));
    EXPECT_FALSE(fetch(*conn, edited_new, tmp_ / "edited.out"));
    EXPECT_EQ(test::read_file(tmp_ / "edited.out"), bytes(120'000, 4));
    EXPECT_EQ(fetch(*conn, gone_cid, tmp_ / "gone.out"), cyxp2p::protocol::errc::content_not_found);
    EXPECT_EQ(fetch(*conn, edited_old, tmp_ / "old.out"), cyxp2p::protocol::errc::content_not_found);
    EXPECT_NE(n->output().find("no longer serving " + gone_cid + " gone.bin"), std::string::npos)
        << n->output();
    EXPECT_EQ(n->stop(SIGTERM), 0);
}

class NodeKeysUrl : public NodeKeysCli {
  protected:
    void SetUp() override {
        NodeKeysCli::SetUp();
        auto r =
            run({"openssl", "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-subj", "/CN=localhost", "-days", "2", "-addext", "subjectAltName=DNS:localhost", "-keyout",
                 (tmp_ / "server.key").string(), "-out", (tmp_ / "server.pem").string()});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        std::filesystem::create_directory(tmp_ / "www");
        test::write_file(tmp_ / "www/body", test::read_file(tmp_ / "cs-old.jwks"));
        server_ = std::make_unique<test::BackgroundProcess>(std::vector<std::string>{
            "python3", (test::source_dir() / "tests/interop/jwks_server.py").string(), "--dir",
            (tmp_ / "www").string(), "--cert", (tmp_ / "server.pem").string(), "--key",
            (tmp_ / "server.key").string()});
        auto line = server_->wait_for_line("listening ");
        ASSERT_TRUE(line) << server_->output();
        url_ = "https://localhost:" + *line + "/jwks.json";
    }

    std::unique_ptr<test::BackgroundProcess> server_;
    std::string url_;
};

TEST_F(NodeKeysUrl, AKeyPublishedAfterStartIsAcceptedOnARetryAfterTheRefetch) {
    auto n = start(url_, {"--keys-ca", (tmp_ / "server.pem").string()});
    auto [ec, held] = connect("cs-old");
    ASSERT_FALSE(ec) << ec.message();
    test::write_file(tmp_ / "www/body", both_keys());
    // The first token naming cs-new is refused (the refetch is asynchronous); a retry after it passes.
    auto [first, none] = connect("cs-new");
    EXPECT_EQ(first, cyxp2p::protocol::errc::token_rejected);
    std::error_code last = first;
    for (int i = 0; i < 100 && last; ++i) {
        std::this_thread::sleep_for(100ms);  // waiting for the node's fetch over real sockets
        last = connect("cs-new").first;
    }
    EXPECT_FALSE(last) << last.message();
    EXPECT_FALSE(ping(*held));
    EXPECT_EQ(metric("cyxp2p_node_keys"), "2");

    // The key server goes down: SIGHUP's refetch fails, the node says so, the keys stay.
    server_->stop(SIGTERM);
    n->signal(SIGHUP);
    auto why = n->wait_for_line("p2p-node: keys: fetching ");
    ASSERT_TRUE(why) << n->output();
    EXPECT_NE(why->find("stay in force"), std::string::npos) << *why;
    EXPECT_FALSE(connect("cs-old").first);
    EXPECT_EQ(n->stop(SIGTERM), 0);
}

TEST_F(NodeKeysUrl, AFirstFetchThatFailsStopsTheStartWithExit17) {
    auto wrong_ca = run({node(), "run", "--identity", (tmp_ / "id").string(), "--keys", url_});
    EXPECT_EQ(wrong_ca.exit_code, 17) << wrong_ca.err;
    EXPECT_NE(wrong_ca.err.find("tls_failed"), std::string::npos) << wrong_ca.err;
    EXPECT_NE(wrong_ca.err.find("does not start without its token keys"), std::string::npos) << wrong_ca.err;

    auto secret =
        run({probe(), "key", "new", "--alg", "HS256", "--kid", "hs", "--out", (tmp_ / "hs.jwk").string()});
    ASSERT_EQ(secret.exit_code, 0) << secret.err;
    test::write_file(tmp_ / "www/body", "{\"keys\":[" + test::read_file(tmp_ / "hs.jwk") + "]}");
    auto hs = run({node(), "run", "--identity", (tmp_ / "id").string(), "--keys", url_, "--keys-ca",
                   (tmp_ / "server.pem").string()});
    EXPECT_EQ(hs.exit_code, 17) << hs.err;
    EXPECT_NE(hs.err.find("keys_secret_refused"), std::string::npos) << hs.err;

    auto plain =
        run({node(), "run", "--identity", (tmp_ / "id").string(), "--keys", "http://localhost/jwks.json"});
    EXPECT_EQ(plain.exit_code, 2) << plain.err;
}

}  // namespace
