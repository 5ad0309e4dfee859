// JwksUrlSource against a real HTTPS server (Python's http.server + ssl, tests/interop/jwks_server.py) with a
// certificate made by `openssl req`: the first fetch, the unknown-kid refetch, the last good set kept when
// the server is down or answers garbage, an oversized body, max-age on an injected clock, symmetric keys,
// a wrong CA and a wrong host name.
#include <unistd.h>

#include <algorithm>
#include <thread>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <support.hpp>
#include <sys/socket.h>

#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/jwks_url_source.hpp>

namespace auth = cyxp2p::auth;
namespace net = cyxp2p::net;
using cyxp2p::test::BackgroundProcess;
using cyxp2p::test::TempDir;
using cyxp2p::test::write_file;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

void make_cert(const TempDir& tmp, const std::string& name, const std::string& san) {
    auto r = cyxp2p::test::run({"openssl", "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:P-256", "-subj", "/CN=" + name, "-days", "2", "-addext",
                                "subjectAltName=" + san, "-keyout", (tmp / (name + ".key")).string(), "-out",
                                (tmp / (name + ".pem")).string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
}

std::string jwks(std::initializer_list<const char*> kids) {
    auth::Keyring ring;
    for (const char* kid : kids) EXPECT_FALSE(ring.add(auth::Jwk::generate(auth::Algorithm::eddsa, kid)));
    return ring.to_public_jwks();
}

class RecordingAudit final : public net::AuditSink {
  public:
    void record(const net::AuditEvent& e) override {
        std::lock_guard lock(mutex_);
        events_.push_back(e);
    }
    std::vector<net::AuditEvent> events() {
        std::lock_guard lock(mutex_);
        return events_;
    }

  private:
    std::mutex mutex_;
    std::vector<net::AuditEvent> events_;
};

class JwksUrl : public ::testing::Test {
  protected:
    void SetUp() override {
        make_cert(tmp_, "server", "DNS:localhost");
        make_cert(tmp_, "other", "DNS:localhost");
        std::filesystem::create_directory(tmp_ / "www");
        serve(jwks({"k1"}));
        start_server();
    }

    void start_server() {
        server_ = std::make_unique<BackgroundProcess>(std::vector<std::string>{
            "python3", (cyxp2p::test::source_dir() / "tests/interop/jwks_server.py").string(), "--dir",
            (tmp_ / "www").string(), "--cert", (tmp_ / "server.pem").string(), "--key",
            (tmp_ / "server.key").string(), "--port", std::to_string(port_)});
        auto line = server_->wait_for_line("listening ");
        ASSERT_TRUE(line) << server_->output();
        port_ = std::stoi(*line);
    }

    void serve(const std::string& body, const std::string& cache_control = "") {
        write_file(tmp_ / "www/body", body);
        if (cache_control.empty()) {
            std::filesystem::remove(tmp_ / "www/cache-control");
        } else {
            write_file(tmp_ / "www/cache-control", cache_control);
        }
    }

    // GETs the server has answered so far (counted on the server's side).
    int fetches() const {
        const std::string out = server_->output();
        int n = 0;
        for (std::size_t at = out.find("GET /jwks.json"); at != std::string::npos;
             at = out.find("GET /jwks.json", at + 1))
            ++n;
        return n;
    }

    net::JwksUrlOptions options(std::string host = "localhost") {
        net::JwksUrlOptions o;
        o.url = "https://" + host + ":" + std::to_string(port_) + "/jwks.json";
        o.ca_file = (tmp_ / "server.pem").string();
        o.background = false;
        o.clock = [this] { return now_; };
        o.audit = audit_;
        o.log = [this](const std::string& line) { log_.push_back(line); };
        o.timeout = 5s;
        return o;
    }

    std::shared_ptr<net::JwksUrlSource> open(net::JwksUrlOptions o) {
        std::error_code ec;
        std::string detail;
        auto s = net::JwksUrlSource::open(std::move(o), ec, &detail);
        EXPECT_TRUE(s) << ec.message() << ": " << detail;
        return s;
    }

    TempDir tmp_;
    int port_ = 0;
    std::unique_ptr<BackgroundProcess> server_;
    Clock::time_point now_ = Clock::time_point(1000h);
    std::shared_ptr<RecordingAudit> audit_ = std::make_shared<RecordingAudit>();
    std::vector<std::string> log_;
};

TEST_F(JwksUrl, FirstFetchPutsTheSetInForce) {
    auto s = open(options());
    ASSERT_TRUE(s);
    EXPECT_NE(s->current()->find("k1"), nullptr);
    EXPECT_EQ(fetches(), 1);
    EXPECT_EQ(s->status().loads_ok, 1U);
    auto events = audit_->events();
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].kind, net::AuditEvent::Kind::keys_loaded);
    EXPECT_EQ(events[0].result, "ok");
    EXPECT_EQ(events[0].value, 1);
}

TEST_F(JwksUrl, AKeyAddedAfterStartIsFetchedOnItsUnknownKidAtMostOncePerInterval) {
    auto s = open(options());
    ASSERT_TRUE(s);
    serve(jwks({"k1", "k2"}));
    EXPECT_FALSE(s->tick());  // not due: nothing asked for a refetch yet
    s->unknown_kid("k2");
    EXPECT_TRUE(s->tick());
    EXPECT_NE(s->current()->find("k2"), nullptr);
    EXPECT_EQ(fetches(), 2);
    // Made-up kids cannot make the node hammer the key server: one refetch per min_refetch (30 s).
    now_ += 29s;
    s->unknown_kid("k9");
    EXPECT_FALSE(s->tick());
    now_ += 1s;
    s->unknown_kid("k9");
    EXPECT_TRUE(s->tick());
    EXPECT_EQ(fetches(), 3);
}

TEST_F(JwksUrl, TheBackgroundThreadRefetchesOnAnUnknownKid) {
    auto o = options();
    o.background = true;
    o.clock = nullptr;
    auto s = open(std::move(o));
    ASSERT_TRUE(s);
    serve(jwks({"k1", "k2"}));
    s->unknown_kid("k2");  // returns at once; the fetch runs on the source's thread
    const auto deadline = Clock::now() + 10s;
    while (s->current()->find("k2") == nullptr && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
    EXPECT_NE(s->current()->find("k2"), nullptr);
}

TEST_F(JwksUrl, ServerDownKeepsTheLastGoodSet) {
    auto s = open(options());
    ASSERT_TRUE(s);
    server_->stop(SIGTERM);
    EXPECT_EQ(s->refresh(), net::errc::connect_failed);
    EXPECT_NE(s->current()->find("k1"), nullptr);
    const auto st = s->status();
    EXPECT_EQ(st.loads_failed, 1U);
    EXPECT_EQ(st.last_error, net::errc::connect_failed);
    ASSERT_EQ(log_.size(), 1U);
    EXPECT_NE(log_[0].find("stay in force"), std::string::npos) << log_[0];
    auto events = audit_->events();
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[1].result, "connect_failed");
    EXPECT_EQ(events[1].value, 1);  // keys still in force
    // Retried at the lower bound, not after a whole max-age; back up, the next try succeeds.
    EXPECT_EQ(s->next_refresh(), now_ + 60s);
    start_server();
    serve(jwks({"k2"}));
    now_ += 60s;
    EXPECT_TRUE(s->tick());
    EXPECT_NE(s->current()->find("k2"), nullptr);
    EXPECT_FALSE(s->status().last_error);
}

TEST_F(JwksUrl, GarbageAndErrorsAreRefusedAndTheOldSetKept) {
    auto s = open(options());
    ASSERT_TRUE(s);
    serve("<html>maintenance</html>");
    EXPECT_EQ(s->refresh(), auth::errc::bad_key);
    serve("{\"keys\": []}");  // valid JSON, no key: never an empty set
    EXPECT_EQ(s->refresh(), auth::errc::unsupported_key);
    serve(jwks({"k2"}));
    write_file(tmp_ / "www/status", "503");
    EXPECT_EQ(s->refresh(), net::errc::keys_http_status);
    EXPECT_NE(s->current()->find("k1"), nullptr);
    EXPECT_EQ(s->current()->find("k2"), nullptr);
    EXPECT_EQ(s->status().loads_failed, 3U);
}

TEST_F(JwksUrl, AnOversizedBodyIsRefusedWithoutReadingIt) {
    auto s = open(options());
    ASSERT_TRUE(s);
    const auto limit = auth::Limits{}.max_jwks_bytes;
    EXPECT_EQ(s->options().max_body_bytes, limit);
    serve(std::string(limit + 1, ' ') + jwks({"k2"}));
    std::string detail;
    EXPECT_EQ(s->refresh(&detail), net::errc::keys_too_large);
    EXPECT_NE(s->current()->find("k1"), nullptr);
}

TEST_F(JwksUrl, MaxAgeIsHonouredAndClamped) {
    serve(jwks({"k1"}), "public, max-age=120");
    auto s = open(options());
    ASSERT_TRUE(s);
    EXPECT_EQ(s->refresh_interval(), 120s);
    serve(jwks({"k2"}), "max-age=5");
    now_ += 119s;
    EXPECT_FALSE(s->tick());
    EXPECT_EQ(fetches(), 1);
    now_ += 1s;
    EXPECT_TRUE(s->tick());
    EXPECT_NE(s->current()->find("k2"), nullptr);
    // max-age=5 is below the lower bound: the next refresh is 60 s away, not 5.
    EXPECT_EQ(s->refresh_interval(), 60s);
    now_ += 59s;
    EXPECT_FALSE(s->tick());
    serve(jwks({"k3"}), "max-age=31536000");  // a year: capped at a day
    now_ += 1s;
    EXPECT_TRUE(s->tick());
    EXPECT_EQ(s->refresh_interval(), 86400s);
    EXPECT_EQ(fetches(), 3);
    serve(jwks({"k4"}));  // no max-age: the default
    now_ += 86400s;
    EXPECT_TRUE(s->tick());
    EXPECT_EQ(s->refresh_interval(), net::Limits{}.keys_default_refresh);
}

TEST_F(JwksUrl, AFixedRefreshOverridesMaxAge) {
    serve(jwks({"k1"}), "max-age=3600");
    auto o = options();
    o.refresh = 300s;
    auto s = open(std::move(o));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->refresh_interval(), 300s);
    EXPECT_EQ(s->next_refresh(), now_ + 300s);
}

TEST_F(JwksUrl, SymmetricKeysAreRefusedUnlessAllowed) {
    auth::Keyring ring;
    auto secret = auth::Jwk::generate(auth::Algorithm::hs256, "hs");
    ASSERT_FALSE(ring.add(secret));
    std::string body = "{\"keys\":[" + *secret.to_json(true) + "]}";
    serve(body);
    std::error_code ec;
    std::string detail;
    EXPECT_FALSE(net::JwksUrlSource::open(options(), ec, &detail));
    EXPECT_EQ(ec, net::errc::keys_secret_refused);
    EXPECT_EQ(detail.find(body.substr(body.find("\"k\""), 20)), std::string::npos);  // never the secret
    auto o = options();
    o.allow_secret = true;
    auto s = open(std::move(o));
    ASSERT_TRUE(s);
    EXPECT_NE(s->current()->find("hs"), nullptr);
}

TEST_F(JwksUrl, AServerCertificateFromAnotherCaIsRefused) {
    auto o = options();
    o.ca_file = (tmp_ / "other.pem").string();
    std::error_code ec;
    std::string detail;
    EXPECT_FALSE(net::JwksUrlSource::open(std::move(o), ec, &detail));
    EXPECT_EQ(ec, net::errc::tls_failed);
    EXPECT_NE(detail.find("certificate"), std::string::npos) << detail;
    o = options();
    o.ca_file.clear();  // the system store does not know a self-signed certificate either
    EXPECT_FALSE(net::JwksUrlSource::open(std::move(o), ec, &detail));
    EXPECT_EQ(ec, net::errc::tls_failed);
    EXPECT_EQ(fetches(), 0);
}

TEST_F(JwksUrl, TheHostNameMustMatchTheCertificate) {
    std::error_code ec;
    std::string detail;
    // The certificate names localhost only; the same server reached as 127.0.0.1 is refused.
    EXPECT_FALSE(net::JwksUrlSource::open(options("127.0.0.1"), ec, &detail));
    EXPECT_EQ(ec, net::errc::tls_failed);
    EXPECT_NE(detail.find("certificate"), std::string::npos) << detail;
    EXPECT_EQ(fetches(), 0);
}

TEST_F(JwksUrl, OnlyHttpsUrlsAreAccepted) {
    for (std::string url : {"http://localhost/jwks.json", "https://user@localhost/jwks.json", "https://",
                            "https://localhost:99999/x", "file:///etc/jwks.json"}) {
        auto o = options();
        o.url = url;
        std::error_code ec;
        EXPECT_FALSE(net::JwksUrlSource::open(std::move(o), ec)) << url;
        EXPECT_EQ(ec, net::errc::keys_bad_url) << url;
    }
}

TEST_F(JwksUrl, ASilentServerIsCutOffAtTheFetchDeadline) {
    // A listener that never accepts: TCP connects (the kernel's backlog), TLS never answers.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 8), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    auto o = options();
    o.url = "https://localhost:" + std::to_string(ntohs(addr.sin_port)) + "/jwks.json";
    o.timeout = 300ms;
    std::error_code ec;
    const auto started = Clock::now();
    EXPECT_FALSE(net::JwksUrlSource::open(std::move(o), ec));
    EXPECT_EQ(ec, net::errc::keys_timeout);
    EXPECT_LT(Clock::now() - started, 5s);
    ::close(fd);
}

TEST(MaxAge, ParsesCacheControl) {
    EXPECT_EQ(net::parse_max_age("max-age=60"), 60s);
    EXPECT_EQ(net::parse_max_age("public, MAX-AGE=3600 , must-revalidate"), 3600s);
    EXPECT_EQ(net::parse_max_age("max-age=\"90\""), 90s);
    EXPECT_EQ(net::parse_max_age("no-store"), 0s);
    EXPECT_EQ(net::parse_max_age("max-age=600, no-cache"), 0s);
    EXPECT_EQ(net::parse_max_age("max-age=99999999999999999999"), 2147483648s);
    EXPECT_FALSE(net::parse_max_age(""));
    EXPECT_FALSE(net::parse_max_age("max-age=-1"));
    EXPECT_FALSE(net::parse_max_age("max-age=abc, private"));
}

}  // namespace
