// Pins and the TLS policy against implementations others wrote: the openssl CLI and curl.
#include <unistd.h>

#include <thread>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <support.hpp>
#include <sys/socket.h>

#include <cyxp2p/pinning/detail/openssl.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>

namespace pinning = cyxp2p::pinning;
using cyxp2p::test::run;
using cyxp2p::test::TempDir;
using pinning::detail::Owned;

namespace {

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

// The pipeline the issue names, run by a shell exactly as a person would.
std::string openssl_pipeline_pin(const std::filesystem::path& cert) {
    auto r = run(
        {"sh", "-c",
         "openssl x509 -in '" + cert.string() +
             "' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return "sha256//" + trim(r.out);
}

class OpensslCertificates : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(OpensslCertificates, LibraryPinEqualsOpensslPipeline) {
    TempDir tmp;
    std::vector<std::string> argv = {"openssl", "req",
                                     "-x509",   "-nodes",
                                     "-subj",   "/CN=interop",
                                     "-days",   "2",
                                     "-keyout", (tmp / "k.pem").string(),
                                     "-out",    (tmp / "c.pem").string()};
    argv.insert(argv.end(), GetParam().begin(), GetParam().end());
    auto r = run(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::error_code ec;
    auto pin = pinning::Pin::of_certificate_pem(cyxp2p::test::read_file(tmp / "c.pem"), ec);
    ASSERT_TRUE(pin) << ec.message();
    EXPECT_EQ(pin->to_string(), openssl_pipeline_pin(tmp / "c.pem"));
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, OpensslCertificates,
                         ::testing::Values(std::vector<std::string>{"-newkey", "rsa:2048"},
                                           std::vector<std::string>{"-newkey", "ec", "-pkeyopt",
                                                                    "ec_paramgen_curve:P-256"},
                                           std::vector<std::string>{"-newkey", "ed25519"}));

TEST(OpensslPipeline, AgreesOnOurOwnIdentities) {
    TempDir tmp;
    for (auto type : {pinning::KeyType::ed25519, pinning::KeyType::p256}) {
        std::error_code ec;
        auto id = pinning::Identity::generate({.key_type = type, .node_id = "n"}, ec);
        ASSERT_TRUE(id);
        cyxp2p::test::write_file(tmp / "c.pem", id->certificate_pem());
        EXPECT_EQ(id->pin().to_string(), openssl_pipeline_pin(tmp / "c.pem"));
    }
}

// A loopback TCP listener that runs one TLS accept with the node policy and reports the outcome.
class LoopbackNode {
  public:
    explicit LoopbackNode(const pinning::Identity& id) {
        std::error_code ec;
        ctx_ = pinning::make_node_context(id, ec);
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ::listen(fd_, 4);
        socklen_t len = sizeof addr;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve_one(); });
    }
    ~LoopbackNode() {
        if (thread_.joinable()) thread_.join();
        ::close(fd_);
    }
    int port() const { return port_; }
    std::error_code result() {
        thread_.join();
        return result_;
    }

  private:
    void serve_one() {
        const int conn = ::accept(fd_, nullptr, nullptr);
        Owned<SSL> ssl(SSL_new(ctx_.get()));
        SSL_set_fd(ssl.get(), conn);
        const int rc = SSL_accept(ssl.get());
        if (rc == 1) {
            result_ = pinning::check_established(ssl.get());
            char buf[256];
            while (SSL_read(ssl.get(), buf, sizeof buf) > 0) {
            }
            SSL_shutdown(ssl.get());
        } else {
            result_ = pinning::classify_failure(ssl.get(), ERR_peek_last_error());
        }
        ::close(conn);
    }

    pinning::SslCtxPtr ctx_;
    int fd_ = -1;
    int port_ = 0;
    std::thread thread_;
    std::error_code result_ = pinning::errc::handshake_failed;
};

class SClient : public ::testing::Test {
  protected:
    void SetUp() override {
        std::error_code ec;
        id_ = pinning::Identity::generate({.node_id = "s-client-peer"}, ec);
        ASSERT_TRUE(id_);
    }
    std::optional<pinning::Identity> id_;
};

TEST_F(SClient, Tls13WithAlpnSucceeds) {
    LoopbackNode node(*id_);
    auto r = run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(node.port()), "-tls1_3",
                  "-alpn", "cyx-p2p/1"},
                 {}, std::chrono::seconds(30));
    EXPECT_FALSE(node.result());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("TLSv1.3"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ALPN protocol: cyx-p2p/1"), std::string::npos) << r.out;
}

TEST_F(SClient, Tls12IsRefused) {
    LoopbackNode node(*id_);
    auto r = run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(node.port()), "-tls1_2",
                  "-alpn", "cyx-p2p/1"},
                 {}, std::chrono::seconds(30));
    EXPECT_EQ(node.result(), pinning::errc::not_tls13);
    EXPECT_NE(r.exit_code, 0);
}

TEST_F(SClient, MissingAlpnIsRefused) {
    LoopbackNode node(*id_);
    auto r = run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(node.port()), "-tls1_3"},
                 {}, std::chrono::seconds(30));
    EXPECT_EQ(node.result(), pinning::errc::alpn_mismatch);
    EXPECT_NE(r.exit_code, 0);
}

TEST_F(SClient, ForeignAlpnIsRefused) {
    LoopbackNode node(*id_);
    auto r = run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(node.port()), "-tls1_3",
                  "-alpn", "h2,http/1.1"},
                 {}, std::chrono::seconds(30));
    EXPECT_EQ(node.result(), pinning::errc::alpn_mismatch);
    EXPECT_NE(r.exit_code, 0);
}

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

// curl --pinnedpubkey is the reference consumer of the sha256// form: our pin of our own identity must be
// exactly what curl accepts for a server presenting that identity (here, openssl s_server).
TEST(Curl, AcceptsOurPinAndRejectsAnother) {
    TempDir tmp;
    std::error_code ec;
    auto id = pinning::Identity::generate({.node_id = "curl-peer"}, ec);
    auto other = pinning::Identity::generate({.node_id = "other"}, ec);
    ASSERT_FALSE(id->save(tmp / "id"));
    const int port = free_port();
    std::thread server([&] {
        run({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
             (tmp / "id" / "node.crt").string(), "-key", (tmp / "id" / "node.key").string(), "-www",
             "-naccept", "2", "-quiet"},
            {}, std::chrono::seconds(30));
    });
    const std::string url = "https://127.0.0.1:" + std::to_string(port) + "/";
    cyxp2p::test::ProcessResult good;
    for (int attempt = 0; attempt < 100; ++attempt) {  // until s_server listens
        good = run({"curl", "-sS", "-k", "--tlsv1.3", "--pinnedpubkey", id->pin().to_string(), "-o",
                    "/dev/null", url});
        if (good.exit_code != 7) break;  // 7: could not connect yet
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    auto bad = run({"curl", "-sS", "-k", "--tlsv1.3", "--pinnedpubkey", other->pin().to_string(), "-o",
                    "/dev/null", url});
    server.join();
    EXPECT_EQ(good.exit_code, 0) << good.err;
    EXPECT_EQ(bad.exit_code, 90) << bad.err;  // CURLE_SSL_PINNEDPUBKEYNOTMATCH
}

}  // namespace
