// Real TLS handshakes between contexts built by the policy, over an in-memory BIO pair.
#include <cstring>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cyxp2p/pinning/detail/openssl.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>

namespace pinning = cyxp2p::pinning;
using pinning::errc;
using pinning::detail::Owned;
using namespace std::chrono_literals;

namespace {

struct Outcome {
    bool client_ok = false;
    bool server_ok = false;
    std::error_code client_error;  // check_established or classify_failure
    std::error_code server_error;
};

// Drives both ends until each finished or failed. The BIO pair carries bytes between them.
Outcome handshake(SSL* client, SSL* server) {
    BIO* client_bio = nullptr;
    BIO* server_bio = nullptr;
    EXPECT_EQ(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0), 1);
    SSL_set_bio(client, client_bio, client_bio);
    SSL_set_bio(server, server_bio, server_bio);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    Outcome out;
    bool client_done = false, server_done = false;
    for (int round = 0; round < 20 && !(client_done && server_done); ++round) {
        auto step = [](SSL* ssl, bool& done, bool& ok, std::error_code& err) {
            if (done) return;
            ERR_clear_error();
            const int rc = SSL_do_handshake(ssl);
            if (rc == 1) {
                done = ok = true;
                err = pinning::check_established(ssl);
                return;
            }
            const int e = SSL_get_error(ssl, rc);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                done = true;
                err = pinning::classify_failure(ssl, ERR_peek_last_error());
            }
        };
        step(client, client_done, out.client_ok, out.client_error);
        step(server, server_done, out.server_ok, out.server_error);
    }
    return out;
}

class TlsPolicy : public ::testing::Test {
  protected:
    void SetUp() override {
        std::error_code ec;
        node_ = *pinning::Identity::generate({.node_id = "node-under-test"}, ec);
        other_ = *pinning::Identity::generate({.node_id = "impostor"}, ec);
        node_ctx_ = pinning::make_node_context(*node_, ec);
        ASSERT_TRUE(node_ctx_) << ec.message();
        engine_ctx_ = pinning::make_engine_context(ec);
        ASSERT_TRUE(engine_ctx_) << ec.message();
    }

    Owned<SSL> engine_ssl(const pinning::PinSet& pins) {
        Owned<SSL> ssl(SSL_new(engine_ctx_.get()));
        EXPECT_FALSE(pinning::expect_pins(ssl.get(), pins));
        return ssl;
    }

    std::optional<pinning::Identity> node_, other_;
    pinning::SslCtxPtr node_ctx_, engine_ctx_;
};

TEST_F(TlsPolicy, RightPinSucceedsWithTls13AndAlpn) {
    auto client = engine_ssl(pinning::PinSet(node_->pin()));
    Owned<SSL> server(SSL_new(node_ctx_.get()));
    const Outcome out = handshake(client.get(), server.get());
    ASSERT_TRUE(out.client_ok);
    ASSERT_TRUE(out.server_ok);
    EXPECT_FALSE(out.client_error) << out.client_error.message();
    EXPECT_FALSE(out.server_error) << out.server_error.message();
    EXPECT_EQ(SSL_version(client.get()), TLS1_3_VERSION);
    const unsigned char* alpn = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(client.get(), &alpn, &len);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(alpn), len), "cyx-p2p/1");
    const pinning::PinCheck* check = pinning::pin_check(client.get());
    ASSERT_NE(check, nullptr);
    EXPECT_TRUE(check->ran);
    EXPECT_EQ(check->actual, node_->pin());
}

TEST_F(TlsPolicy, BackupPinIsAccepted) {
    auto client = engine_ssl(pinning::PinSet(other_->pin(), {node_->pin()}));
    Owned<SSL> server(SSL_new(node_ctx_.get()));
    const Outcome out = handshake(client.get(), server.get());
    EXPECT_TRUE(out.client_ok);
    EXPECT_FALSE(out.client_error);
}

TEST_F(TlsPolicy, WrongPinIsAPinMismatchNamingBothPins) {
    auto client = engine_ssl(pinning::PinSet(other_->pin()));
    Owned<SSL> server(SSL_new(node_ctx_.get()));
    const Outcome out = handshake(client.get(), server.get());
    EXPECT_FALSE(out.client_ok);
    EXPECT_FALSE(out.server_ok);
    EXPECT_EQ(out.client_error, errc::pin_mismatch);
    const pinning::PinCheck* check = pinning::pin_check(client.get());
    ASSERT_NE(check, nullptr);
    const std::string text = check->describe();
    EXPECT_NE(text.find(node_->pin().to_string()), std::string::npos) << text;   // actual
    EXPECT_NE(text.find(other_->pin().to_string()), std::string::npos) << text;  // expected
}

TEST_F(TlsPolicy, ExpiredPinSetFailsClosedEvenWhenThePinIsRight) {
    pinning::PinSet pins(node_->pin(), {}, pinning::PinSet::Clock::now() - 1s);
    auto client = engine_ssl(pins);
    Owned<SSL> server(SSL_new(node_ctx_.get()));
    const Outcome out = handshake(client.get(), server.get());
    EXPECT_FALSE(out.client_ok);
    EXPECT_EQ(out.client_error, errc::pins_expired);
}

TEST_F(TlsPolicy, NoPinsAttachedFailsClosed) {
    Owned<SSL> client(SSL_new(engine_ctx_.get()));
    Owned<SSL> server(SSL_new(node_ctx_.get()));
    const Outcome out = handshake(client.get(), server.get());
    EXPECT_FALSE(out.client_ok);
    EXPECT_EQ(out.client_error, errc::no_pins_configured);
}

TEST_F(TlsPolicy, ClientCappedAtTls12Fails) {
    auto client = engine_ssl(pinning::PinSet(node_->pin()));
    ASSERT_EQ(SSL_set_min_proto_version(client.get(), TLS1_2_VERSION), 1);
    ASSERT_EQ(SSL_set_max_proto_version(client.get(), TLS1_2_VERSION), 1);
    Owned<SSL> server(SSL_new(node_ctx_.get()));
    const Outcome out = handshake(client.get(), server.get());
    EXPECT_FALSE(out.client_ok);
    EXPECT_FALSE(out.server_ok);
    EXPECT_EQ(out.server_error, errc::not_tls13);
}

TEST_F(TlsPolicy, ServerCappedAtTls12Fails) {
    pinning::SslCtxPtr tls12(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    SSL_CTX_set_max_proto_version(tls12.get(), TLS1_2_VERSION);
    SSL_CTX_use_certificate(tls12.get(), node_->certificate());
    SSL_CTX_use_PrivateKey(tls12.get(), node_->private_key());
    auto client = engine_ssl(pinning::PinSet(node_->pin()));
    Owned<SSL> server(SSL_new(tls12.get()));
    const Outcome out = handshake(client.get(), server.get());
    EXPECT_FALSE(out.client_ok);
    EXPECT_EQ(out.client_error, errc::not_tls13);
}

TEST_F(TlsPolicy, ClientWithoutAlpnIsRefused) {
    auto client = engine_ssl(pinning::PinSet(node_->pin()));
    ASSERT_EQ(SSL_set_alpn_protos(client.get(), nullptr, 0), 0);  // clears ALPN
    Owned<SSL> server(SSL_new(node_ctx_.get()));
    const Outcome out = handshake(client.get(), server.get());
    EXPECT_FALSE(out.server_ok);
    EXPECT_FALSE(out.client_ok);
    EXPECT_EQ(out.server_error, errc::alpn_mismatch);
}

TEST_F(TlsPolicy, ClientOfferingOnlyAnotherAlpnIsRefused) {
    auto client = engine_ssl(pinning::PinSet(node_->pin()));
    static constexpr unsigned char h2[] = {2, 'h', '2'};
    ASSERT_EQ(SSL_set_alpn_protos(client.get(), h2, sizeof h2), 0);
    Owned<SSL> server(SSL_new(node_ctx_.get()));
    const Outcome out = handshake(client.get(), server.get());
    EXPECT_FALSE(out.server_ok);
    EXPECT_EQ(out.server_error, errc::alpn_mismatch);
    EXPECT_EQ(out.client_error, errc::alpn_mismatch);
}

TEST_F(TlsPolicy, ServerThatIgnoresAlpnIsRejectedByTheEngine) {
    // A TLS 1.3 server with the right key but no ALPN support: the engine must not proceed.
    pinning::SslCtxPtr plain(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    SSL_CTX_use_certificate(plain.get(), node_->certificate());
    SSL_CTX_use_PrivateKey(plain.get(), node_->private_key());
    auto client = engine_ssl(pinning::PinSet(node_->pin()));
    Owned<SSL> server(SSL_new(plain.get()));
    const Outcome out = handshake(client.get(), server.get());
    ASSERT_TRUE(out.client_ok);
    EXPECT_EQ(out.client_error, errc::alpn_mismatch);
}

TEST_F(TlsPolicy, OnlyAeadSuitesAndPreferredGroupsAreUsed) {
    auto client = engine_ssl(pinning::PinSet(node_->pin()));
    Owned<SSL> server(SSL_new(node_ctx_.get()));
    ASSERT_TRUE(handshake(client.get(), server.get()).client_ok);
    const std::string suite = SSL_CIPHER_get_name(SSL_get_current_cipher(client.get()));
    EXPECT_TRUE(suite == "TLS_AES_128_GCM_SHA256" || suite == "TLS_AES_256_GCM_SHA384" ||
                suite == "TLS_CHACHA20_POLY1305_SHA256")
        << suite;
    EXPECT_EQ(SSL_get_negotiated_group(client.get()), NID_X25519);
    EXPECT_EQ(SSL_get_current_compression(client.get()), nullptr);
}

TEST_F(TlsPolicy, EngineOfferingOnlyUnsupportedGroupFails) {
    auto client = engine_ssl(pinning::PinSet(node_->pin()));
    ASSERT_EQ(SSL_set1_groups_list(client.get(), "P-521"), 1);
    Owned<SSL> server(SSL_new(node_ctx_.get()));
    EXPECT_FALSE(handshake(client.get(), server.get()).server_ok);
}

TEST_F(TlsPolicy, P256NodeIdentityWorksToo) {
    std::error_code ec;
    auto p256 = pinning::Identity::generate({.key_type = pinning::KeyType::p256, .node_id = "p"}, ec);
    auto ctx = pinning::make_node_context(*p256, ec);
    auto client = engine_ssl(pinning::PinSet(p256->pin()));
    Owned<SSL> server(SSL_new(ctx.get()));
    const Outcome out = handshake(client.get(), server.get());
    EXPECT_TRUE(out.client_ok);
    EXPECT_FALSE(out.client_error);
}

}  // namespace
