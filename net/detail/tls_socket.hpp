// TLS over a TCP socket with OpenSSL reading and writing the socket itself (a custom BIO on the file
// descriptor), instead of asio::ssl::stream's memory-BIO pair.
//
// Why not asio::ssl::stream: every stream value-initialises two 17 KiB record buffers of its own and a
// 17 KiB BIO pair, and copies every byte socket -> its buffer -> BIO -> OpenSSL, one record per recv().
// Here OpenSSL reads straight from the socket with read-ahead (several records per recv()), and with
// SSL_MODE_RELEASE_BUFFERS it frees its record buffers whenever they are empty: an idle session holds no
// record buffer at all (docs/performance.md, "idle memory"). Readers wait for readability and then read
// synchronously into a buffer they own only for that moment (Link uses one buffer per I/O thread).
//
// Not thread-safe: every operation runs on the connection's strand, as with asio::ssl::stream. One read
// and one write may be outstanding at a time (OpenSSL allows SSL_read and SSL_write to interleave on one
// thread); async_shutdown may run while a reader waits.
#pragma once

#include <cstddef>
#include <span>

#include <openssl/ssl.h>

#include <cyxp2p/net/detail/asio.hpp>

namespace cyxp2p::net::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class TlsSocket {
  public:
    using executor_type = tcp::socket::executor_type;
    using lowest_layer_type = tcp::socket;

    /// What one OpenSSL call asks for next.
    enum class Want { nothing, read, write };

    TlsSocket(tcp::socket socket, asio::ssl::context& ctx);
    TlsSocket(const executor_type& ex, asio::ssl::context& ctx);
    TlsSocket(TlsSocket&& other) noexcept;
    TlsSocket& operator=(TlsSocket&&) = delete;
    TlsSocket(const TlsSocket&) = delete;
    TlsSocket& operator=(const TlsSocket&) = delete;
    ~TlsSocket();

    executor_type get_executor() { return socket_.get_executor(); }
    tcp::socket& lowest_layer() { return socket_; }
    tcp::socket& next_layer() { return socket_; }  // as asio::ssl::stream: socket options, NOTSENT_LOWAT
    SSL* native_handle() { return ssl_; }

    /// Reads decrypted bytes now, without waiting: 0 bytes and Want::read/write when nothing is available;
    /// asio::error::eof after the peer's close_notify; asio::ssl::error::stream_truncated when TCP closed
    /// without one.
    std::size_t read_some_now(std::span<std::uint8_t> out, Want& want, boost::system::error_code& ec);
    /// True if OpenSSL holds bytes already read from the socket (decrypted or not): a reader must call
    /// read_some_now before waiting for the socket.
    bool has_pending() const;

    /// Completes when read_some_now may return bytes (OpenSSL has buffered input, or the socket is
    /// readable). Holds no buffer while it waits.
    template <typename Token>
    auto async_wait_readable(Token&& token) {
        return async_op(Step{Step::wait_readable, nullptr, 0}, std::forward<Token>(token));
    }

    template <typename Token>
    auto async_handshake(asio::ssl::stream_base::handshake_type type, Token&& token) {
        return async_op(
            Step{type == asio::ssl::stream_base::client ? Step::connect : Step::accept, nullptr, 0},
            std::forward<Token>(token));
    }

    /// Writes all of `buffers` (the AsyncWriteStream requirement allows writing less; this writes everything
    /// unless an error occurs, so asio::async_write completes after one call).
    template <typename ConstBufferSequence, typename Token>
    auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
        return asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            WriteOp<ConstBufferSequence>{this, buffers}, token, socket_);
    }

    /// Sends close_notify and waits for the peer's (bidirectional shutdown, so that closing the socket
    /// afterwards cannot reset a connection whose last bytes the peer has not read yet).
    template <typename Token>
    auto async_shutdown(Token&& token) {
        return async_op(Step{Step::shutdown, nullptr, 0}, std::forward<Token>(token));
    }

  private:
    // One retried OpenSSL call.
    struct Step {
        enum Kind { wait_readable, connect, accept, shutdown } kind;
        const void* data;
        std::size_t size;
    };

    /// Runs `step` once: returns what it waits for, or Want::nothing with `ec` set or clear (done).
    Want perform(const Step& step, boost::system::error_code& ec);
    Want write_now(const void* data, std::size_t size, std::size_t& written, boost::system::error_code& ec);
    /// Maps the result of an SSL_* call like asio::ssl::stream does, so that error classification
    /// (classify_tls_failure, pinning::classify_failure) sees the same codes.
    Want result(int ret, boost::system::error_code& ec);
    bool attach(boost::system::error_code& ec);

    template <typename Self>
    void wait(Self& self, Want want) {
        socket_.async_wait(want == Want::read ? tcp::socket::wait_read : tcp::socket::wait_write,
                           std::move(self));
    }

    struct StepOp {
        TlsSocket* s;
        Step step;
        bool started = false;
        bool completing = false;
        boost::system::error_code result{};
        template <typename Self>
        void operator()(Self& self, boost::system::error_code ec = {}) {
            if (completing) return self.complete(result);
            // A wait for readability is done once the socket is readable: the reader reads.
            if (!ec && !(started && step.kind == Step::wait_readable)) {
                const Want w = s->perform(step, ec);
                if (w != Want::nothing && !ec) {
                    started = true;
                    return s->wait(self, w);
                }
            }
            if (started) return self.complete(ec);
            // Never complete inside the initiating call (as asio's own operations).
            completing = true;
            result = ec;
            asio::post(s->get_executor(), std::move(self));
        }
    };

    template <typename Token>
    auto async_op(Step step, Token&& token) {
        return asio::async_compose<Token, void(boost::system::error_code)>(StepOp{this, step}, token,
                                                                           socket_);
    }

    template <typename Buffers>
    struct WriteOp {
        TlsSocket* s;
        Buffers buffers;
        std::size_t done = 0;
        bool started = false;
        bool completing = false;
        boost::system::error_code result{};
        template <typename Self>
        void operator()(Self& self, boost::system::error_code ec = {}) {
            if (completing) return self.complete(result, done);
            while (!ec) {
                // The buffer holding byte `done` of the sequence, and the offset into it.
                std::size_t skip = done;
                const void* data = nullptr;
                std::size_t size = 0;
                for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
                     ++it) {
                    const asio::const_buffer b(*it);
                    if (skip < b.size()) {
                        data = static_cast<const std::uint8_t*>(b.data()) + skip;
                        size = b.size() - skip;
                        break;
                    }
                    skip -= b.size();
                }
                if (size == 0) break;
                std::size_t n = 0;
                const Want w = s->write_now(data, size, n, ec);
                done += n;
                if (w != Want::nothing && !ec) {
                    started = true;
                    return s->wait(self, w);
                }
            }
            if (started) return self.complete(ec, done);
            completing = true;
            result = ec;
            asio::post(s->get_executor(), std::move(self));
        }
    };

    tcp::socket socket_;
    SSL* ssl_ = nullptr;
    bool attached_ = false;
    bool role_set_ = false;
};

}  // namespace cyxp2p::net::detail
