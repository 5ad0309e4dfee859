// Issue 15: the tools under bad input, run as a new user and an operator would. Every case asserts the exit
// code, the message and that nothing was left behind; no case may print the token.
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <support.hpp>
#include <sys/stat.h>

#include <cyxp2p/content/cid.hpp>

namespace test = cyxp2p::test;
namespace fs = std::filesystem;
using test::run;
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
bool has(const std::string& hay, std::string_view needle) {
    return hay.find(needle) != std::string::npos;
}

// The names in a directory, to prove a failed command left nothing behind.
std::set<std::string> listing(const fs::path& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
    return out;
}

class BadInput : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(
            run({node(), "init", "--identity", (tmp_ / "id").string(), "--node-id", "node-15"}).exit_code, 0);
        ASSERT_EQ(
            run({probe(), "key", "new", "--alg", "EdDSA", "--kid", "cs", "--out", (tmp_ / "cs.jwk").string()})
                .exit_code,
            0);
        fs::create_directory(tmp_ / "serve");
        fs::create_directory(tmp_ / "work");
        std::mt19937 rng(15);
        std::string data(1'500'000, '\0');
        for (auto& c : data) c = static_cast<char>(rng());
        test::write_file(tmp_ / "serve" / "weights.bin", data);
        cid_ = trim(run({probe(), "cid", (tmp_ / "serve" / "weights.bin").string()}).out);
        pin_ = trim(run({probe(), "pin", (tmp_ / "id" / "node.crt").string()}).out);
        token_ = mint("node-15");
        test::write_file(tmp_ / "token", token_);
    }

    std::string mint(const std::string& node_id, std::vector<std::string> extra = {}) {
        std::vector<std::string> argv = {probe(), "token",  "mint",      "--key", (tmp_ / "cs.jwk").string(),
                                         "--sub", "user-1", "--node-id", node_id};
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto r = run(argv);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return trim(r.out);
    }
    std::string token_file(const std::string& token) {
        const auto p = tmp_ / ("token-" + std::to_string(files_++));
        test::write_file(p, token + "\n");
        return p.string();
    }

    std::unique_ptr<test::BackgroundProcess> start(std::vector<std::string> extra = {}) {
        std::vector<std::string> argv = {node(),       "run",
                                         "--identity", (tmp_ / "id").string(),
                                         "--keys",     (tmp_ / "cs.jwks").string(),
                                         "--listen",   "127.0.0.1:0",
                                         "--serve",    (tmp_ / "serve").string(),
                                         "--metrics",  "127.0.0.1:0",
                                         "--threads",  "1"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto p = std::make_unique<test::BackgroundProcess>(argv);
        EXPECT_TRUE(p->wait_for_line("ready")) << p->output();
        port_ = trim(p->wait_for_line("listening 127.0.0.1:").value_or(""));
        metrics_ = trim(p->wait_for_line("metrics ").value_or(""));
        return p;
    }
    std::string target() const { return "127.0.0.1:" + port_; }
    std::string metrics() { return run({"curl", "-s", metrics_}).out; }

    // A fetch with the real token to `out`, against `where` (default: a closed port: nothing listens on 1).
    test::ProcessResult fetch(const std::string& out, std::vector<std::string> extra = {},
                              const std::string& where = "127.0.0.1:1") {
        std::vector<std::string> argv = {probe(), "fetch", where, cid_,      "-o",
                                         out,     "--pin", pin_,  "--token", (tmp_ / "token").string()};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return run(argv);
    }

    test::TempDir tmp_;
    std::string cid_, pin_, token_, port_, metrics_;
    int files_ = 0;
};

// --- token input -----------------------------------------------------------------------------------------

TEST_F(BadInput, AnEmptyOrBlankTokenIsRefusedBeforeAnyConnection) {
    test::write_file(tmp_ / "empty", "");
    test::write_file(tmp_ / "blank", " \n\t\n");
    const auto before = listing(tmp_ / "work");
    // Port 1 is closed: a connection attempt would exit 10, so exit 4 proves the check came first.
    for (const auto& file : {"empty", "blank"}) {
        for (const std::string cmd : {"connect", "ping", "fetch", "bench"}) {
            std::vector<std::string> argv = {probe(), cmd, "127.0.0.1:1"};
            if (cmd == "fetch") argv.insert(argv.end(), {cid_, "-o", (tmp_ / "work" / "x").string()});
            if (cmd == "bench") argv.insert(argv.end(), {"--cid", cid_});
            argv.insert(argv.end(), {"--pin", pin_, "--token", (tmp_ / file).string(), "--json"});
            auto r = run(argv);
            EXPECT_EQ(r.exit_code, 4) << cmd << " " << file << ": " << r.out << r.err;
            EXPECT_EQ(nlohmann::json::parse(r.out)["error"], "empty_token") << cmd;
        }
    }
    auto piped = run({probe(), "ping", "127.0.0.1:1", "--pin", pin_, "--token", "-"}, "\n");
    EXPECT_EQ(piped.exit_code, 4) << piped.err;
    EXPECT_TRUE(has(piped.err, "standard input")) << piped.err;
    EXPECT_TRUE(has(piped.err, "holds no token")) << piped.err;
    EXPECT_EQ(listing(tmp_ / "work"), before);
}

TEST_F(BadInput, ATokenPastedWhereTheFileNameGoesIsRecognisedAndNeverEchoed) {
    auto r = run({probe(), "connect", "127.0.0.1:1", "--pin", pin_, "--token", token_});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_TRUE(has(r.err, "--token takes a file or -")) << r.err;
    EXPECT_TRUE(has(r.err, "[token_not_a_file]"));
    EXPECT_FALSE(has(r.out + r.err, token_.substr(0, 20)));
    auto mangled =
        run({probe(), "connect", "127.0.0.1:1", "--pin", pin_, "--token", token_file("x" + token_ + "\"")});
    EXPECT_EQ(mangled.exit_code, 4) << mangled.err;
    EXPECT_TRUE(has(mangled.err, "is not a JWT")) << mangled.err;
}

// --- local checks before the network ---------------------------------------------------------------------

TEST_F(BadInput, AMalformedCidExits4WithoutConnecting) {
    auto r = run({probe(), "fetch", "127.0.0.1:1", "QmNotACid", "-o", (tmp_ / "work" / "x").string(), "--pin",
                  pin_, "--token", (tmp_ / "token").string()});
    EXPECT_EQ(r.exit_code, 4) << r.err;
    EXPECT_TRUE(has(r.err, "'QmNotACid' is not a CID")) << r.err;
    EXPECT_TRUE(listing(tmp_ / "work").empty());
}

TEST_F(BadInput, AnUnusableOutputPathExits3BeforeDownloadingAndKeepsWhatIsThere) {
    fs::create_directory(tmp_ / "work" / "dir");
    auto dir = fetch((tmp_ / "work" / "dir").string(), {"--json"});
    EXPECT_EQ(dir.exit_code, 3) << dir.out;
    EXPECT_EQ(nlohmann::json::parse(dir.out)["error"], "output_is_directory");
    auto nodir = fetch((tmp_ / "work" / "nodir" / "x.bin").string());
    EXPECT_EQ(nodir.exit_code, 3) << nodir.err;
    EXPECT_TRUE(has(nodir.err, "does not exist")) << nodir.err;
    test::write_file(tmp_ / "work" / "keep.bin", "precious");
    ASSERT_EQ(::chmod((tmp_ / "work" / "keep.bin").c_str(), 0644), 0);
    auto exists = fetch((tmp_ / "work" / "keep.bin").string());
    EXPECT_EQ(exists.exit_code, 3) << exists.err;
    EXPECT_TRUE(has(exists.err, "--force")) << exists.err;
    EXPECT_EQ(test::read_file(tmp_ / "work" / "keep.bin"), "precious");
    EXPECT_EQ(
        fs::status(tmp_ / "work" / "keep.bin").permissions() & fs::perms::all,
        fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
    // car extract refuses to replace a file the same way.
    ASSERT_EQ(run({probe(), "car", "export", (tmp_ / "serve" / "weights.bin").string(), "-o",
                   (tmp_ / "w.car").string()})
                  .exit_code,
              0);
    auto car = run(
        {probe(), "car", "extract", (tmp_ / "w.car").string(), "-o", (tmp_ / "work" / "keep.bin").string()});
    EXPECT_EQ(car.exit_code, 3) << car.err;
    EXPECT_EQ(test::read_file(tmp_ / "work" / "keep.bin"), "precious");
    EXPECT_EQ(listing(tmp_ / "work"), (std::set<std::string>{"dir", "keep.bin"}));  // no partial, no temp
    auto forced = run({probe(), "car", "extract", (tmp_ / "w.car").string(), "-o",
                       (tmp_ / "work" / "keep.bin").string(), "--force"});
    EXPECT_EQ(forced.exit_code, 0) << forced.err;
    EXPECT_EQ(test::read_file(tmp_ / "work" / "keep.bin"), test::read_file(tmp_ / "serve" / "weights.bin"));
    // Replaced, it keeps its mode (as cp does); a new file stays private.
    EXPECT_EQ(
        fs::status(tmp_ / "work" / "keep.bin").permissions() & fs::perms::all,
        fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
}

TEST_F(BadInput, AnOutputDirectoryWithoutWritePermissionExits3) {
    if (::geteuid() == 0)
        GTEST_SKIP() << "root may write anywhere: run as a user to check output_not_writable";
    fs::create_directory(tmp_ / "work" / "ro");
    ASSERT_EQ(::chmod((tmp_ / "work" / "ro").c_str(), 0555), 0);
    auto r = fetch((tmp_ / "work" / "ro" / "x.bin").string(), {"--json"});
    ::chmod((tmp_ / "work" / "ro").c_str(), 0755);
    EXPECT_EQ(r.exit_code, 3) << r.out;
    EXPECT_EQ(nlohmann::json::parse(r.out)["error"], "output_not_writable");
    EXPECT_TRUE(listing(tmp_ / "work" / "ro").empty());
}

TEST_F(BadInput, PinListsAcceptSpacesAndSayExactlyWhatIsWrong) {
    const std::string other = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    auto ok = run({probe(), "pin", (tmp_ / "id" / "node.crt").string(), "--check", other + " ; " + pin_});
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    auto no_eq = run({probe(), "connect", "127.0.0.1:1", "--pin", pin_.substr(0, pin_.size() - 1)});
    EXPECT_EQ(no_eq.exit_code, 4);
    EXPECT_TRUE(has(no_eq.err, "is the trailing '=' missing?")) << no_eq.err;
    EXPECT_TRUE(has(no_eq.err, "44 base64 characters")) << no_eq.err;
}

TEST_F(BadInput, PinFromTokenWithoutANodePinClaimSaysSoOnceBeforeConnecting) {
    auto r =
        run({probe(), "connect", "127.0.0.1:1", "--pin-from-token", "--token", (tmp_ / "token").string()});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_TRUE(has(r.err, "no node_pin claim")) << r.err;
    EXPECT_EQ(r.err.find("node_pin"), r.err.rfind("node_pin"));  // said once
}

// --- version, help, configuration -------------------------------------------------------------------------

TEST_F(BadInput, BothToolsPrintVersionCommitAndLibraries) {
    for (const auto& tool : {probe(), node()}) {
        auto r = run({tool, "--version"});
        EXPECT_EQ(r.exit_code, 0);
        EXPECT_TRUE(has(r.out, "0.1.0 (commit ")) << r.out;
        EXPECT_TRUE(has(r.out, "OpenSSL 3.")) << r.out;
        EXPECT_TRUE(has(r.out, "Boost 1.")) << r.out;
    }
}

TEST_F(BadInput, EverySubcommandHasItsOwnHelpWithDefaults) {
    auto mint = run({probe(), "token", "mint", "--help"});
    EXPECT_EQ(mint.exit_code, 0);
    EXPECT_TRUE(has(mint.out, "content.fetch       content:read")) << mint.out;
    EXPECT_TRUE(has(mint.out, "[default: job:execute,metrics:read,content:read]")) << mint.out;
    EXPECT_TRUE(has(mint.out, "p2p 3600"));
    auto verify = run({probe(), "token", "verify", "--help"});
    EXPECT_TRUE(has(verify.out, "--keys JWKS"));
    EXPECT_FALSE(has(verify.out, "--sub"));
    auto fetch_help = run({probe(), "fetch", "--help"});
    EXPECT_TRUE(has(fetch_help.out, "--force"));
    EXPECT_TRUE(has(fetch_help.out, "[default: 10000]"));
    auto run_help = run({node(), "run", "--help"});
    for (const auto* flag :
         {"--config FILE", "--print-config", "--json", "--drain-timeout-ms", "second SIGINT"})
        EXPECT_TRUE(has(run_help.out, flag)) << flag;
    // The default scopes now fetch: a minted token carries content:read.
    auto decoded = run({probe(), "token", "decode", "--json", "-"}, token_);
    EXPECT_EQ(nlohmann::json::parse(decoded.out)["payload"]["scope"],
              (nlohmann::json{"job:execute", "metrics:read", "content:read"}));
}

TEST_F(BadInput, ConfigFilesAreParsedStrictlyWithFileAndLine) {
    const std::vector<std::string> base = {node(),           "run",
                                           "--identity",     (tmp_ / "id").string(),
                                           "--keys",         (tmp_ / "cs.jwks").string(),
                                           "--print-config", "--config"};
    auto with = [&](const std::string& text) {
        test::write_file(tmp_ / "node.conf", text);
        auto argv = base;
        argv.push_back((tmp_ / "node.conf").string());
        return run(argv);
    };
    const std::string conf = (tmp_ / "node.conf").string();
    auto quoted = with("threads = 2\nlisten = \"127.0.0.1:7400\"\n");
    EXPECT_EQ(quoted.exit_code, 2);
    EXPECT_TRUE(has(quoted.err, conf + ":2: the value of listen is quoted")) << quoted.err;
    auto dup = with("threads = 2\n# again\nthreads = 3\n");
    EXPECT_EQ(dup.exit_code, 2);
    EXPECT_TRUE(has(dup.err, conf + ":3: threads is already set on line 1")) << dup.err;
    auto range = with("leeway-s = 600\n");
    EXPECT_EQ(range.exit_code, 2);
    EXPECT_TRUE(has(range.err, conf + ":1: bad value for leeway-s: '600' (expected seconds, 0..60)"))
        << range.err;
    auto streams = with("max-streams = 0\n");
    EXPECT_TRUE(has(streams.err, "(expected an integer 1..4294967295)")) << streams.err;
    // Slower rates than one per second, and today's RATE/BURST unchanged.
    auto rates = with(
        "requests-per-peer = 10/min/20\nrequests-per-method = 5/40\nnew-connections-per-address = 2/h/4\n");
    ASSERT_EQ(rates.exit_code, 0) << rates.err;
    EXPECT_TRUE(has(rates.out, "requests-per-peer = 10/min/20\n")) << rates.out;
    EXPECT_TRUE(has(rates.out, "requests-per-method = 5/40\n"));
    EXPECT_TRUE(has(rates.out, "new-connections-per-address = 2/h/4\n"));
    auto bad_unit = with("requests-per-peer = 10/day/20\n");
    EXPECT_EQ(bad_unit.exit_code, 2);
    EXPECT_TRUE(has(bad_unit.err, "UNIT s, min or h")) << bad_unit.err;
    // What --print-config prints is a configuration run accepts: feed it back and get the same.
    auto printed = with("max-streams = 7\n");
    ASSERT_EQ(printed.exit_code, 0) << printed.err;
    auto again = with(printed.out);
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(again.out, printed.out);
}

TEST_F(BadInput, PrintConfigValidatesExactlyAsRun) {
    for (const std::string listen : {"127.0.0.1", "localhost:7400", "127.0.0.1:99999"}) {
        auto r = run({node(), "run", "--identity", (tmp_ / "id").string(), "--keys",
                      (tmp_ / "cs.jwks").string(), "--listen", listen, "--print-config"});
        EXPECT_EQ(r.exit_code, 2) << listen << ": " << r.out;
        EXPECT_TRUE(has(r.err, "--listen must be IP:PORT")) << r.err;
    }
    auto no_keys = run({node(), "run", "--identity", (tmp_ / "id").string(), "--print-config"});
    EXPECT_EQ(no_keys.exit_code, 2);
    auto bad_jwks = run({node(), "run", "--identity", (tmp_ / "id").string(), "--keys",
                         (tmp_ / "serve" / "weights.bin").string(), "--print-config"});
    EXPECT_EQ(bad_jwks.exit_code, 4) << bad_jwks.err;
    auto json = run({node(), "run", "--identity", (tmp_ / "id").string(), "--keys",
                     (tmp_ / "cs.jwks").string(), "--print-config", "--json"});
    ASSERT_EQ(json.exit_code, 0) << json.err;
    EXPECT_EQ(nlohmann::json::parse(json.out)["settings"]["max-streams"], "64");
}

// --- the token never appears in any output
// ------------------------------------------------------------------

TEST_F(BadInput, NoFailingCommandPrintsTheToken) {
    auto n = start();
    fs::create_directory(tmp_ / "work" / "dir");
    const std::string tok = (tmp_ / "token").string();
    const std::string wrong_pin = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{probe(), "connect", "127.0.0.1:1", "--pin", pin_, "--token", tok}, ""},
        {{probe(), "connect", target(), "--pin", wrong_pin, "--token", tok}, ""},
        {{probe(), "connect", target(), "--pin", pin_, "--token", token_file(mint("other-node"))}, ""},
        {{probe(), "connect", target(), "--pin", pin_, "--token", tok, "--node-id", "someone-else"}, ""},
        {{probe(), "connect", target(), "--pin", pin_, "--token", token_}, ""},
        {{probe(), "connect", target(), "--pin", pin_, "--token", "-"}, token_ + "garbage\"\n"},
        {{probe(), "fetch", target(), "QmNotACid", "-o", (tmp_ / "work" / "x").string(), "--pin", pin_,
          "--token", tok},
         ""},
        {{probe(), "fetch", target(), cid_, "-o", (tmp_ / "work" / "dir").string(), "--pin", pin_, "--token",
          tok},
         ""},
        {{probe(), "fetch", target(), cid_, "-o", (tmp_ / "work" / "f").string(), "--pin", pin_, "--token",
          token_file(mint("node-15", {"--scope", "job:execute"}))},
         ""},
        {{probe(), "ping", target(), "--pin", pin_, "--token", tok, "--count", "0"}, ""},
        {{probe(), "bench", target(), "--pin", pin_, "--token", tok, "--cid", "QmNotACid", "--json"}, ""},
        {{probe(), "token", "verify", "--keys", (tmp_ / "cs.jwks").string(), "--node-id", "node-x", token_},
         ""},
        {{probe(), "token", "verify", "--keys", (tmp_ / "cs.jwks").string(), "--node-id", "node-x", "-"},
         token_},
        {{probe(), "token", "verify", "--keys", (tmp_ / "missing.jwks").string(), "--node-id", "n", token_},
         ""},
        {{probe(), "token", "decode", token_ + "x.y"}, ""},
    };
    // Any 16-character piece of the token would identify it; the signature alone is a usable secret.
    std::vector<std::string> pieces;
    for (std::size_t i = 0; i + 16 <= token_.size(); i += 8) pieces.push_back(token_.substr(i, 16));
    const std::string signature = token_.substr(token_.rfind('.') + 1);
    for (const auto& [argv, input] : cases) {
        auto r = run(argv, input);
        const std::string what = argv[1] + " " + argv[2] + " " + argv[3];
        EXPECT_NE(r.exit_code, 0) << what;
        EXPECT_LT(r.exit_code, 128) << what;  // no crash
        for (const auto& p : pieces)
            ASSERT_FALSE(has(r.out + r.err, p)) << what << " printed the token: " << r.err;
        EXPECT_FALSE(has(r.out + r.err, signature)) << what;
    }
    EXPECT_FALSE(has(n->output(), signature));
}

// Random bytes as token files and pin lists through the real CLI (deterministic seed, bounded): always a
// classified exit code, never a crash, never an unparsable --json answer.
TEST_F(BadInput, RandomTokenFilesAndPinListsNeverCrashTheCli) {
    std::mt19937 rng(1515);
    for (int i = 0; i < 60; ++i) {
        std::string bytes(rng() % 300, '\0');
        for (auto& c : bytes) c = static_cast<char>(rng());
        if (i % 3 == 0) bytes = "eyJ" + bytes + "." + token_.substr(0, rng() % token_.size());
        const auto file = token_file(bytes);
        auto r = run({probe(), "connect", "127.0.0.1:1", "--pin", pin_, "--token", file, "--json"});
        EXPECT_TRUE(r.exit_code == 4 || r.exit_code == 10) << i << ": " << r.exit_code << r.err;
        EXPECT_FALSE(nlohmann::json::parse(r.out, nullptr, false).is_discarded()) << r.out;
        std::string pins(rng() % 120, '\0');
        for (auto& c : pins) c = static_cast<char>(rng() % 255 + 1);  // argv cannot hold NUL
        if (i % 2 == 0) pins = pin_ + (i % 4 == 0 ? " ;" : ";") + pins;
        auto p = run({probe(), "pin", (tmp_ / "id" / "node.crt").string(), "--check", pins, "--json"});
        EXPECT_TRUE(p.exit_code == 0 || p.exit_code == 4 || p.exit_code == 12) << p.exit_code << p.err;
        EXPECT_FALSE(nlohmann::json::parse(p.out, nullptr, false).is_discarded()) << p.out;
    }
}

// --- against a running node --------------------------------------------------------------------------------

TEST_F(BadInput, ForbiddenNamesTheMissingScopeAndAdvisesNoResume) {
    auto n = start();
    const auto before = listing(tmp_ / "work");
    auto r = run({probe(), "fetch", target(), cid_, "-o", (tmp_ / "work" / "f.bin").string(), "--pin", pin_,
                  "--token", token_file(mint("node-15", {"--scope", "job:execute"}))});
    EXPECT_EQ(r.exit_code, 13) << r.err;
    EXPECT_TRUE(has(r.err, "lacks the scope content:read that content.fetch needs")) << r.err;
    EXPECT_TRUE(has(r.err, "--scope content:read"));
    EXPECT_FALSE(has(r.err, "resume")) << r.err;  // nothing useful is kept, so nothing to resume
    EXPECT_EQ(listing(tmp_ / "work"), before);    // not even an empty resume file
    EXPECT_TRUE(has(metrics(), "cyxp2p_node_streams_refused_total{reason=\"forbidden\"} 1\n")) << metrics();
}

TEST_F(BadInput, AChangedServedFileIsLoggedCountedAndBlamedOnTheNodesCopy) {
    auto n = start();
    const auto original = test::read_file(tmp_ / "serve" / "weights.bin");
    auto changed = original;
    changed[1'400'000] = static_cast<char>(changed[1'400'000] ^ 1);  // the last leaf: the first five verify
    test::write_file(tmp_ / "serve" / "weights.bin", changed);
    const auto out = tmp_ / "work" / "w.bin";
    auto r = fetch(out.string(), {}, target());
    EXPECT_EQ(r.exit_code, 15) << r.err;
    EXPECT_TRUE(has(r.err, "the node's copy no longer matches the CID it advertised")) << r.err;
    EXPECT_TRUE(has(r.err, "verified blocks")) << r.err;  // true advice: verified data is kept ...
    EXPECT_TRUE(has(r.err, "run the same fetch again to resume"));
    EXPECT_FALSE(fs::exists(out));
    EXPECT_TRUE(fs::exists(out.string() + ".cyxp2p-partial"));  // ... and it is there
    ASSERT_TRUE(n->wait_for_line("p2p-node: served file changed or vanished after import: " + cid_ +
                                 " (weights.bin)"))
        << n->output();
    EXPECT_TRUE(has(n->output(), "restart p2p-node to re-import"));
    EXPECT_TRUE(has(metrics(), "cyxp2p_node_content_fetches_total{result=\"corrupt\"} 1\n")) << metrics();
    // The operator restores the file: the rerun resumes from the kept blocks.
    test::write_file(tmp_ / "serve" / "weights.bin", original);
    auto again = fetch(out.string(), {"--json"}, target());
    ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
    EXPECT_GT(nlohmann::json::parse(again.out)["resumed_blocks"].get<int>(), 0);
    EXPECT_EQ(test::read_file(out), original);
    EXPECT_EQ(listing(tmp_ / "work"), (std::set<std::string>{"w.bin"}));
    // A served file that vanished is reported the same way, never as an attack on the transfer.
    fs::remove(tmp_ / "serve" / "weights.bin");
    auto gone = fetch((tmp_ / "work" / "gone.bin").string(), {"--json"}, target());
    EXPECT_EQ(gone.exit_code, 15) << gone.out;
    auto j = nlohmann::json::parse(gone.out);
    EXPECT_TRUE(
        has(j["message"].get<std::string>(), "the node's copy no longer matches the CID it advertised"));
    EXPECT_EQ(j["resumable"], false);
    EXPECT_TRUE(has(metrics(), "cyxp2p_node_content_fetches_total{result=\"corrupt\"} 2\n"));
    EXPECT_EQ(listing(tmp_ / "work"), (std::set<std::string>{"w.bin"}));
}

TEST_F(BadInput, ACorruptResumeStateIsDiscardedWithAMessageAndRefetched) {
    auto n = start();
    const auto out = tmp_ / "work" / "w.bin";
    // A resume state for this CID whose record is not a record at all (content::Download's format:
    // FILE.cyxp2p-partial + FILE.cyxp2p-partial.meta).
    test::write_file(out.string() + ".cyxp2p-partial", std::string(4096, 'x'));
    test::write_file(out.string() + ".cyxp2p-partial.meta",
                     "not a resume record, but long enough to be read");
    auto r = fetch(out.string(), {}, target());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(has(r.err, "was corrupt (")) << r.err;
    EXPECT_TRUE(has(r.err, "): discarded, fetching from the start")) << r.err;
    EXPECT_EQ(test::read_file(out), test::read_file(tmp_ / "serve" / "weights.bin"));
    EXPECT_EQ(listing(tmp_ / "work"), (std::set<std::string>{"w.bin"}));
}

TEST_F(BadInput, MetricsHaveLabelsBuildInfoHistogramsHeadAndQueryStrings) {
    auto n = start();
    auto expired = mint("node-15", {"--now", "1000000000"});
    EXPECT_EQ(run({probe(), "connect", target(), "--pin", pin_, "--token", token_file(expired)}).exit_code,
              13);
    EXPECT_EQ(
        run({probe(), "connect", target(), "--pin", pin_, "--token", (tmp_ / "token").string()}).exit_code,
        0);
    auto get = run({"curl", "-s", "-w", "%{http_code}", metrics_ + "?name[]=x&y=1"});
    EXPECT_TRUE(has(get.out, "cyxp2p_build_info{version=\"0.1.0\",commit=\"")) << get.out;
    EXPECT_TRUE(has(get.out, "cyxp2p_node_tokens_rejected_total{reason=\"expired\"} 1\n")) << get.out;
    EXPECT_TRUE(has(get.out, "cyxp2p_node_received_bytes_total "));
    EXPECT_FALSE(has(get.out, "bytes_in_total"));
    EXPECT_TRUE(has(get.out, "# TYPE cyxp2p_node_handshake_duration_seconds histogram\n"));
    EXPECT_TRUE(has(get.out, "cyxp2p_node_handshake_duration_seconds_bucket{le=\"+Inf\"} 1\n")) << get.out;
    EXPECT_TRUE(has(get.out, "cyxp2p_node_handshake_duration_seconds_count 1\n"));
    EXPECT_EQ(get.out.substr(get.out.size() - 3), "200");
    auto head = run({"curl", "-s", "-I", metrics_});
    EXPECT_TRUE(has(head.out, "HTTP/1.1 200")) << head.out;
    EXPECT_TRUE(has(head.out, "Content-Length: ")) << head.out;
    EXPECT_FALSE(has(head.out, "cyxp2p_"));  // headers only
    auto post = run({"curl", "-s", "-i", "-X", "POST", metrics_});
    EXPECT_TRUE(has(post.out, "405")) << post.out;
    EXPECT_TRUE(has(post.out, "Allow: GET, HEAD")) << post.out;
}

TEST_F(BadInput, ANewConnectionRefusedByTheLimiterSaysTheNodeMayBeLimiting) {
    // One new connection per hour per address (RATE/UNIT/BURST): the second is closed before TLS.
    auto n = start({"--new-connections-per-address", "1/h/1"});
    EXPECT_EQ(run({probe(), "connect", target(), "--pin", pin_}).exit_code, 0);
    auto r = run({probe(), "connect", target(), "--pin", pin_, "--token", (tmp_ / "token").string()});
    // Closed before the ServerHello: connection_refused_by_limit, exit 14 (issue 21), not a TLS failure.
    EXPECT_EQ(r.exit_code, 14) << r.err;
    EXPECT_TRUE(has(r.err, "[connection_refused_by_limit]")) << r.err;
    EXPECT_TRUE(has(r.err,
                    "the node closed the connection before TLS (it may be overloaded or limiting "
                    "connections)"))
        << r.err;
    EXPECT_TRUE(has(metrics(), "cyxp2p_node_connections_refused_total{reason=\"")) << metrics();
}

// A fetch whose engine stops reading (SIGSTOP) keeps the node's drain waiting.
class StalledTransfer : public BadInput {
  protected:
    void SetUp() override {
        BadInput::SetUp();
        std::mt19937 rng(7);
        std::string big(48 << 20, '\0');
        for (std::size_t i = 0; i < big.size(); i += 4) {
            const auto v = rng();
            std::memcpy(big.data() + i, &v, 4);
        }
        test::write_file(tmp_ / "serve" / "big.bin", big);
        big_cid_ = trim(run({probe(), "cid", (tmp_ / "serve" / "big.bin").string()}).out);
    }

    std::unique_ptr<test::BackgroundProcess> stalled_fetch(bool stall = true) {
        const auto out = tmp_ / "work" / "big.bin";
        auto p = std::make_unique<test::BackgroundProcess>(
            std::vector<std::string>{probe(), "fetch", target(), big_cid_, "-o", out.string(), "--pin", pin_,
                                     "--token", (tmp_ / "token").string()});
        const auto partial = out.string() + ".cyxp2p-partial";
        for (int i = 0; i < 3000; ++i) {  // wait until blocks arrive, then stall the reader
            std::error_code ec;
            if (fs::file_size(partial, ec) > 300'000 && !ec) break;
            std::this_thread::sleep_for(5ms);
        }
        if (stall) p->signal(SIGSTOP);
        return p;
    }

    std::string big_cid_;
};

TEST_F(StalledTransfer, ATransferNeverRunsPastTheDrainTimeout) {
    // Only the drain (the one knob: the node's stop and the sessions' GOAWAY limit) is short: close_notify's
    // limit (--shutdown-timeout-ms, 5 s) keeps its default, and must not stretch it.
    auto n = start({"--drain-timeout-ms", "300"});
    auto engine = stalled_fetch(false);
    const auto t0 = std::chrono::steady_clock::now();
    n->signal(SIGTERM);
    const int rc = engine->stop(0, 30s);  // signal 0: just wait for the fetch to end
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took, 2500ms) << "the transfer ran "
                            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                            << " ms after SIGTERM with --drain-timeout-ms 300";
    if (rc != 0) {
        EXPECT_TRUE(has(engine->output(), "run the same fetch again to resume")) << engine->output();
    }
    EXPECT_EQ(n->stop(0, 30s), 0) << n->output();
}

TEST_F(StalledTransfer, ASecondSigtermStopsAtOnceAndSaysSo) {
    auto n = start({"--drain-timeout-ms", "60000"});
    auto engine = stalled_fetch();
    n->signal(SIGTERM);
    ASSERT_TRUE(n->wait_for_line("stopping (SIGTERM)")) << n->output();
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(n->stop(SIGTERM, 10s), 128 + SIGTERM);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // not the 60 s drain
    EXPECT_TRUE(has(n->output(), "second SIGTERM: stopping now")) << n->output();
    engine->signal(SIGCONT);
    engine->stop(SIGKILL);
}

TEST_F(StalledTransfer, DrainKnobsBoundTheStopAndTheAbortedTransferIsAudited) {
    auto n = start({"--drain-timeout-ms", "300", "--shutdown-timeout-ms", "300", "--audit",
                    (tmp_ / "audit.jsonl").string()});
    auto engine = stalled_fetch();
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(n->stop(SIGTERM, 20s), 0) << n->output();
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took, 2500ms) << "drain 300 ms + shutdown 300 ms took "
                            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
    EXPECT_TRUE(has(n->output(), "transfer of " + big_cid_ + " (big.bin)")) << n->output();
    EXPECT_TRUE(has(n->output(), "aborted after"));
    const auto audit = test::read_file(tmp_ / "audit.jsonl");
    EXPECT_TRUE(has(audit, "\"result\":\"aborted\"")) << audit;
    engine->signal(SIGCONT);
    auto code = engine->stop(SIGKILL);
    (void)code;
    EXPECT_FALSE(fs::exists(tmp_ / "work" / "big.bin"));  // never a file that could pass for the model
}

}  // namespace
