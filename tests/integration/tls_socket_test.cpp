// net::detail::TlsSocket on loopback: the TLS stream Link runs on (OpenSSL reading and writing the socket
// through a MSG_NOSIGNAL BIO). Both ends are TlsSockets on one io_context, with the production contexts.
#include <csignal>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include <cyxp2p/net/detail/asio.hpp>
#include <cyxp2p/net/detail/tls_socket.hpp>
#include <cyxp2p/pinning/identity.hpp>
#include <cyxp2p/pinning/pin_set.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>

namespace {

namespace asio = boost::asio;
using cyxp2p::net::detail::TlsSocket;
using tcp = asio::ip::tcp;
using boost::system::error_code;

class TlsSocketTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::error_code ec;
        identity_ = cyxp2p::pinning::Identity::generate({.node_id = "tls-socket"}, ec);
        ASSERT_TRUE(identity_);
        auto server = cyxp2p::pinning::make_node_context(*identity_, ec);
        ASSERT_TRUE(server);
        auto client = cyxp2p::pinning::make_engine_context(ec);
        ASSERT_TRUE(client);
        SSL_CTX_up_ref(server.get());
        SSL_CTX_up_ref(client.get());
        server_ctx_.emplace(server.get());
        client_ctx_.emplace(client.get());

        tcp::acceptor acceptor(io_, {asio::ip::address_v4::loopback(), 0});
        tcp::socket a(io_);
        tcp::socket b(io_);
        a.connect(acceptor.local_endpoint());
        acceptor.accept(b);
        client_.emplace(std::move(a), *client_ctx_);
        server_.emplace(std::move(b), *server_ctx_);
        ASSERT_FALSE(cyxp2p::pinning::expect_pins(client_->native_handle(),
                                                  cyxp2p::pinning::PinSet(identity_->pin())));
        error_code ce = asio::error::would_block, se = asio::error::would_block;
        client_->async_handshake(asio::ssl::stream_base::client, [&](error_code e) { ce = e; });
        server_->async_handshake(asio::ssl::stream_base::server, [&](error_code e) { se = e; });
        io_.run();
        io_.restart();
        ASSERT_FALSE(ce) << ce.message();
        ASSERT_FALSE(se) << se.message();
    }

    /// Reads from `s` until `want` bytes arrived or an error: the way Link's reader does.
    std::vector<std::uint8_t> read_all(TlsSocket& s, std::size_t want, error_code& ec) {
        std::vector<std::uint8_t> got;
        std::vector<std::uint8_t> buf(64 * 1024);
        std::function<void()> step = [&] {
            s.async_wait_readable([&](error_code e) {
                if (e) {
                    ec = e;
                    return;
                }
                TlsSocket::Want w = TlsSocket::Want::nothing;
                for (;;) {
                    const std::size_t n = s.read_some_now(buf, w, ec);
                    if (n == 0) break;
                    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
                }
                if (!ec && got.size() < want) step();
            });
        };
        step();
        io_.run();
        io_.restart();
        return got;
    }

    asio::io_context io_;
    std::optional<cyxp2p::pinning::Identity> identity_;
    std::optional<asio::ssl::context> server_ctx_;
    std::optional<asio::ssl::context> client_ctx_;
    std::optional<TlsSocket> client_;
    std::optional<TlsSocket> server_;
};

TEST_F(TlsSocketTest, BulkArrivesIntactThenCloseNotifyIsEof) {
    // 8 MiB in one async_write: many records, many EAGAINs on the loopback socket's buffer.
    std::vector<std::uint8_t> data(8 << 20);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 2654435761U >> 24);
    error_code we = asio::error::would_block;
    std::size_t written = 0;
    asio::async_write(*server_, asio::buffer(data), [&](error_code e, std::size_t n) {
        we = e;
        written = n;
    });
    error_code re;
    const auto got = read_all(*client_, data.size(), re);
    EXPECT_FALSE(we) << we.message();
    EXPECT_EQ(written, data.size());
    EXPECT_FALSE(re) << re.message();
    EXPECT_TRUE(got == data);

    // Server closes cleanly (and waits for the client's close_notify); the client reads eof, then shuts down.
    error_code se = asio::error::would_block, ce = asio::error::would_block;
    server_->async_shutdown([&](error_code e) { se = e; });
    client_->async_wait_readable([&](error_code e) {
        ASSERT_FALSE(e);
        TlsSocket::Want w = TlsSocket::Want::nothing;
        std::vector<std::uint8_t> buf(16);
        EXPECT_EQ(client_->read_some_now(buf, w, re), 0U);
        EXPECT_EQ(re, asio::error::eof);
        client_->async_shutdown([&](error_code x) { ce = x; });
    });
    io_.run();
    EXPECT_FALSE(se) << se.message();
    EXPECT_FALSE(ce) << ce.message();
}

TEST_F(TlsSocketTest, TcpCloseWithoutCloseNotifyIsStreamTruncated) {
    server_->lowest_layer().close();
    error_code re;
    read_all(*client_, 1, re);
    EXPECT_EQ(re, asio::ssl::error::stream_truncated) << re.message();
}

TEST_F(TlsSocketTest, WritingToAResetPeerIsAnErrorNotSigpipe) {
    // With OpenSSL's own socket BIO (write(2)) this kills the process: SIGPIPE's default action.
    const auto previous = std::signal(SIGPIPE, SIG_DFL);
    client_->lowest_layer().set_option(asio::socket_base::linger(true, 0));
    client_->lowest_layer().close();  // RST
    std::vector<std::uint8_t> data(1 << 20);
    error_code we;
    for (int i = 0; i < 8 && !we; ++i) {
        asio::async_write(*server_, asio::buffer(data), [&](error_code e, std::size_t) { we = e; });
        io_.run();
        io_.restart();
    }
    std::signal(SIGPIPE, previous);
    EXPECT_TRUE(we == asio::error::broken_pipe || we == asio::error::connection_reset) << we.message();
}

TEST_F(TlsSocketTest, AClosedSocketIsNeverTouchedAgain) {
    // Link::finish and the timeout guards close the socket under a pending operation; the descriptor number
    // may be reused at once, so the operation must end without another OpenSSL call on it.
    error_code e;
    TlsSocket::Want w = TlsSocket::Want::nothing;
    std::vector<std::uint8_t> buf(16);
    EXPECT_EQ(client_->read_some_now(buf, w, e), 0U);  // reads the session tickets: no application data
    ASSERT_FALSE(e);
    ASSERT_EQ(w, TlsSocket::Want::read);
    e = asio::error::would_block;
    client_->async_wait_readable([&](error_code x) { e = x; });
    asio::post(io_, [&] { client_->lowest_layer().close(); });
    io_.run();
    io_.restart();
    EXPECT_EQ(e, asio::error::operation_aborted);
    EXPECT_EQ(client_->read_some_now(buf, w, e), 0U);
    EXPECT_EQ(e, asio::error::operation_aborted);
}

}  // namespace
