#include <cerrno>
#include <cstdint>
#include <new>
#include <utility>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <cyxp2p/net/detail/tls_socket.hpp>

namespace cyxp2p::net::detail {

namespace {

// With read-ahead OpenSSL fills its read buffer with as much as the socket has: four full records per recv()
// in bulk transfers. The buffer exists only while it holds bytes (SSL_MODE_RELEASE_BUFFERS).
constexpr std::size_t read_ahead_bytes = 4 * (16 * 1024 + 256 + 5);

// A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own socket BIO uses write(), which raises SIGPIPE
// on a connection the peer reset, and a library must not depend on its host ignoring SIGPIPE.
int fd_of(BIO* b) {
    return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b)));
}

bool transient(int e) {
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

int bio_write(BIO* b, const char* data, int len) {
    BIO_clear_retry_flags(b);
    const ssize_t n = ::send(fd_of(b), data, static_cast<std::size_t>(len), MSG_NOSIGNAL);
    if (n < 0 && transient(errno)) BIO_set_retry_write(b);
    return static_cast<int>(n);
}

int bio_read(BIO* b, char* data, int len) {
    BIO_clear_retry_flags(b);
    const ssize_t n = ::recv(fd_of(b), data, static_cast<std::size_t>(len), 0);
    if (n == 0) BIO_set_flags(b, BIO_FLAGS_IN_EOF);  // BIO_eof(): lets OpenSSL report an unexpected EOF
    if (n < 0 && transient(errno)) BIO_set_retry_read(b);
    return static_cast<int>(n);
}

long bio_ctrl(BIO* b, int cmd, long /*num*/, void* /*ptr*/) {
    switch (cmd) {
        case BIO_CTRL_FLUSH:
            return 1;  // send() has no user-space buffer to flush
        case BIO_CTRL_EOF:
            return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
        default:
            return 0;
    }
}

int bio_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

BIO_METHOD* socket_method() {
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cyxp2p socket");
        if (m == nullptr || BIO_meth_set_write(m, bio_write) != 1 || BIO_meth_set_read(m, bio_read) != 1 ||
            BIO_meth_set_ctrl(m, bio_ctrl) != 1 || BIO_meth_set_create(m, bio_create) != 1) {
            throw std::bad_alloc();
        }
        return m;
    }();
    return method;
}

SSL* new_ssl(asio::ssl::context& ctx) {
    SSL* ssl = SSL_new(ctx.native_handle());
    if (ssl == nullptr) throw std::bad_alloc();
    // Partial writes and a moving buffer: a write resumed after EAGAIN passes the unsent rest, wherever it
    // now is. Release buffers: no record buffer held while idle.
    SSL_set_mode(
        ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    SSL_set_read_ahead(ssl, 1);
    SSL_set_default_read_buffer_len(ssl, read_ahead_bytes);
    return ssl;
}

}  // namespace

TlsSocket::TlsSocket(tcp::socket socket, asio::ssl::context& ctx)
    : socket_(std::move(socket)), ssl_(new_ssl(ctx)) {}

TlsSocket::TlsSocket(const executor_type& ex, asio::ssl::context& ctx) : socket_(ex), ssl_(new_ssl(ctx)) {}

TlsSocket::TlsSocket(TlsSocket&& other) noexcept
    : socket_(std::move(other.socket_)),
      ssl_(std::exchange(other.ssl_, nullptr)),
      attached_(std::exchange(other.attached_, false)),
      role_set_(std::exchange(other.role_set_, false)) {}

TlsSocket::~TlsSocket() {
    if (ssl_ != nullptr) SSL_free(ssl_);  // frees the BIO; the socket closes the descriptor
}

bool TlsSocket::attach(boost::system::error_code& ec) {
    // Once closed (a timeout guard, Link::finish), the descriptor number may already belong to another
    // connection: never let OpenSSL touch it again.
    if (!socket_.is_open()) {
        ec = asio::error::operation_aborted;
        return false;
    }
    if (attached_) return true;
    socket_.non_blocking(true, ec);
    if (ec) return false;
    BIO* bio = BIO_new(socket_method());
    if (bio == nullptr) {
        ec = asio::error::no_memory;
        return false;
    }
    BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(socket_.native_handle())));
    SSL_set_bio(ssl_, bio, bio);
    attached_ = true;
    return true;
}

TlsSocket::Want TlsSocket::result(int ret, boost::system::error_code& ec) {
    const int saved_errno = errno;
    const int ssl_error = SSL_get_error(ssl_, ret);
    const unsigned long err = ERR_peek_error();
    switch (ssl_error) {
        case SSL_ERROR_NONE:
            ec = {};
            return Want::nothing;
        case SSL_ERROR_WANT_READ:
            ec = {};
            return Want::read;
        case SSL_ERROR_WANT_WRITE:
            ec = {};
            return Want::write;
        case SSL_ERROR_ZERO_RETURN:
            ec = asio::error::eof;
            return Want::nothing;
        case SSL_ERROR_SYSCALL:
            ERR_clear_error();
            if (err != 0)
                ec = boost::system::error_code(static_cast<int>(err), asio::error::get_ssl_category());
            else if (saved_errno != 0)
                ec = boost::system::error_code(saved_errno, boost::system::system_category());
            else
                ec = asio::ssl::error::stream_truncated;  // EOF without close_notify (OpenSSL 1.1 style)
            return Want::nothing;
        case SSL_ERROR_SSL:
            ERR_clear_error();
            ec = ERR_GET_LIB(err) == ERR_LIB_SSL && ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING
                     ? boost::system::error_code(asio::ssl::error::stream_truncated)
                     : boost::system::error_code(static_cast<int>(err), asio::error::get_ssl_category());
            return Want::nothing;
        default:
            ERR_clear_error();
            ec = asio::ssl::error::unexpected_result;
            return Want::nothing;
    }
}

TlsSocket::Want TlsSocket::perform(const Step& step, boost::system::error_code& ec) {
    if (!attach(ec)) return Want::nothing;
    ERR_clear_error();
    errno = 0;
    switch (step.kind) {
        case Step::wait_readable:
            ec = {};
            return has_pending() ? Want::nothing : Want::read;
        case Step::connect:
        case Step::accept:
            if (!role_set_) {
                role_set_ = true;
                if (step.kind == Step::connect)
                    SSL_set_connect_state(ssl_);
                else
                    SSL_set_accept_state(ssl_);
            }
            return result(SSL_do_handshake(ssl_), ec);
        case Step::shutdown: {
            // 1: both close_notify alerts done; 0: ours sent, the peer's not yet read (call again to read
            // it).
            int ret = SSL_shutdown(ssl_);
            if (ret == 0) ret = SSL_shutdown(ssl_);
            if (ret == 1) {
                ec = {};
                return Want::nothing;
            }
            return result(ret, ec);
        }
    }
    return Want::nothing;
}

TlsSocket::Want TlsSocket::write_now(const void* data, std::size_t size, std::size_t& written,
                                     boost::system::error_code& ec) {
    written = 0;
    if (!attach(ec)) return Want::nothing;
    ERR_clear_error();
    errno = 0;
    const int ret = SSL_write_ex(ssl_, data, size, &written);
    return result(ret, ec);
}

std::size_t TlsSocket::read_some_now(std::span<std::uint8_t> out, Want& want, boost::system::error_code& ec) {
    want = Want::nothing;
    if (!attach(ec)) return 0;
    ERR_clear_error();
    errno = 0;
    std::size_t n = 0;
    const int ret = SSL_read_ex(ssl_, out.data(), out.size(), &n);
    if (ret == 1) {
        ec = {};
        return n;
    }
    want = result(ret, ec);
    return 0;
}

bool TlsSocket::has_pending() const {
    return ssl_ != nullptr && SSL_has_pending(ssl_) == 1;
}

}  // namespace cyxp2p::net::detail
