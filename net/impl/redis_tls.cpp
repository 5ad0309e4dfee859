// rediss:// (redis_tls.hpp): TCP connect and TLS handshake on the client thread within connect_timeout,
// then a relay thread per connection between a socketpair and the TLS session.
#include "redis_tls.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cyxp2p/net/errc.hpp>

namespace cyxp2p::net {
namespace {

using Clock = std::chrono::steady_clock;

// Bytes the relay holds in each direction. A pipeline of EVALSHA calls is a few hundred bytes per call, so
// 16 KiB moves dozens of calls per pass; the TLS record size is 16 KiB too.
constexpr std::size_t kRelayBuffer = 16 * 1024;

struct Fd {
    int fd = -1;
    Fd() = default;
    explicit Fd(int f) : fd(f) {}
    Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd = std::exchange(o.fd, -1);
        }
        return *this;
    }
    ~Fd() { reset(); }
    void reset() noexcept {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
};

struct CtxFree {
    void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
struct SslFree {
    void operator()(SSL* s) const noexcept { SSL_free(s); }
};
using Ctx = std::unique_ptr<SSL_CTX, CtxFree>;
using Ssl = std::unique_ptr<SSL, SslFree>;

// The oldest queued OpenSSL error as text (and the queue cleared: it is per thread and would leak into
// the next connection's message).
std::string openssl_error() {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return "no detail from OpenSSL";
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    return buf.data();
}

bool set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL, 0);
    return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

int ms_left(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60'000));
}

bool is_ip(const std::string& host) {
    in6_addr a6{};
    in_addr a4{};
    return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

std::string where(const RedisEndpoint& ep) {
    return (ep.host.find(':') != std::string::npos ? "[" + ep.host + "]" : ep.host) + ":" +
           std::to_string(ep.port);
}

// The client context for `ep`, built afresh for each connection so that a renewed CA or client certificate
// on disk is used at the next reconnect without a restart.
Ctx make_context(const RedisEndpoint& ep, std::error_code& ec, std::string& why) {
    auto file_error = [&](const std::string& what) -> Ctx {
        ec = errc::redis_tls_file;
        why = what + ": " + openssl_error();
        return nullptr;
    };
    Ctx ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) return file_error("TLS context");
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    // The relay writes whatever part of its buffer SSL_write takes and retries with the rest, from a buffer
    // that may have moved on.
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!ep.ca_file.empty()) {
        if (SSL_CTX_load_verify_locations(ctx.get(), ep.ca_file.c_str(), nullptr) != 1)
            return file_error("--redis-ca-file " + ep.ca_file.string() + " (PEM certificates)");
    } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
        return file_error("the system's CA store");
    }
    if (ep.cert_file.empty() != ep.key_file.empty()) {
        ec = errc::redis_tls_file;
        why = "--redis-cert and --redis-key go together (the client certificate and its key)";
        return nullptr;
    }
    if (!ep.cert_file.empty()) {
        // The key is a secret like the password file: refused when group or others could read it.
        struct stat st {};
        if (::stat(ep.key_file.c_str(), &st) != 0 || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
            ec = errc::redis_tls_file;
            why = "--redis-key " + ep.key_file.string() +
                  ": missing, or readable by group or others (chmod 600)";
            return nullptr;
        }
        if (SSL_CTX_use_certificate_chain_file(ctx.get(), ep.cert_file.c_str()) != 1)
            return file_error("--redis-cert " + ep.cert_file.string() + " (a PEM certificate chain)");
        if (SSL_CTX_use_PrivateKey_file(ctx.get(), ep.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
            return file_error("--redis-key " + ep.key_file.string() + " (a PEM private key)");
        if (SSL_CTX_check_private_key(ctx.get()) != 1)
            return file_error("--redis-key " + ep.key_file.string() + " does not match --redis-cert");
    }
    ERR_clear_error();
    return ctx;
}

// A non-blocking TCP connection to ep.host:ep.port (each resolved address in turn) before `deadline`.
Fd tcp_connect(const RedisEndpoint& ep, Clock::time_point deadline, std::string& why) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(ep.port);
    if (const int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
        why = "cannot resolve " + ep.host + ": " + ::gai_strerror(rc);
        return {};
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(res, &::freeaddrinfo);
    why = "no address for " + ep.host;
    for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        Fd s(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
        if (s.fd < 0 || !set_nonblocking(s.fd)) {
            why = std::string("socket: ") + std::strerror(errno);
            continue;
        }
        int err = 0;
        if (::connect(s.fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                why = "connect to " + where(ep) + ": " + std::strerror(errno);
                continue;
            }
            pollfd p{s.fd, POLLOUT, 0};
            const int n = ::poll(&p, 1, ms_left(deadline));
            if (n <= 0) {
                why = "connect to " + where(ep) + ": timed out";
                return {};  // the deadline is for the whole connect: no time left for another address
            }
            socklen_t len = sizeof err;
            ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
                why = "connect to " + where(ep) + ": " + std::strerror(err);
                continue;
            }
        }
        const int one = 1;
        ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // small pipelined commands
        return s;
    }
    return {};
}

}  // namespace

bool check_redis_tls(const RedisEndpoint& ep, std::error_code& ec, std::string& why) {
    ec.clear();
    why.clear();
    if (!ep.tls) return true;
    return make_context(ep, ec, why) != nullptr;
}

namespace detail {

struct RedisTlsLink::Impl {
    Ctx ctx;
    Ssl ssl;
    Fd tcp;
    Fd mine;    // the relay's end of the socketpair
    Fd theirs;  // hiredis's end until release_client_fd()
    Fd stop;    // an eventfd: the destructor wakes the relay
    std::thread thread;
    mutable std::mutex mu;
    std::string failure;  // under mu

    void relay();
};

RedisTlsLink::RedisTlsLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RedisTlsLink::~RedisTlsLink() {
    if (impl_->thread.joinable()) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(impl_->stop.fd, &one, sizeof one);
        impl_->thread.join();
    }
}

std::string RedisTlsLink::failure() const {
    std::lock_guard lock(impl_->mu);
    return impl_->failure;
}

int RedisTlsLink::release_client_fd() noexcept {
    return std::exchange(impl_->theirs.fd, -1);
}

std::unique_ptr<RedisTlsLink> RedisTlsLink::open(const RedisEndpoint& ep, std::chrono::nanoseconds timeout,
                                                 std::error_code& ec, std::string& why) {
    const auto deadline = Clock::now() + timeout;
    auto impl = std::make_unique<Impl>();
    impl->ctx = make_context(ep, ec, why);
    if (!impl->ctx) return nullptr;
    impl->tcp = tcp_connect(ep, deadline, why);
    if (impl->tcp.fd < 0) {
        ec = errc::redis_unavailable;
        return nullptr;
    }
    impl->ssl.reset(SSL_new(impl->ctx.get()));
    SSL* ssl = impl->ssl.get();
    auto tls_failed = [&](const std::string& what) -> std::unique_ptr<RedisTlsLink> {
        ec = errc::redis_tls_failed;
        why = "TLS with " + where(ep) + ": " + what;
        return nullptr;
    };
    if (ssl == nullptr || SSL_set_fd(ssl, impl->tcp.fd) != 1) return tls_failed(openssl_error());
    // The certificate must name the host of the URL: an IP address is matched against its IP SANs, a name
    // against its DNS SANs (and sent as SNI).
    if (is_ip(ep.host)) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ep.host.c_str()) != 1)
            return tls_failed(openssl_error());
    } else if (SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,  // SNI (the macro
                        const_cast<char*>(ep.host.c_str())) != 1 ||                    // has a C cast)
               SSL_set1_host(ssl, ep.host.c_str()) != 1) {
        return tls_failed(openssl_error());
    }
    for (;;) {
        const int rc = SSL_connect(ssl);
        if (rc == 1) break;
        const int e = SSL_get_error(ssl, rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            const long verify = SSL_get_verify_result(ssl);
            if (verify != X509_V_OK) {
                ERR_clear_error();
                return tls_failed(std::string("the server's certificate is refused: ") +
                                  X509_verify_cert_error_string(verify) +
                                  " (check --redis-ca-file, and that the certificate names " + ep.host + ")");
            }
            const std::string detail = openssl_error();
            return tls_failed("handshake failed: " + detail +
                              " (a server that requires client certificates needs --redis-cert and "
                              "--redis-key; is this port TLS?)");
        }
        pollfd p{impl->tcp.fd, static_cast<short>(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
        if (::poll(&p, 1, ms_left(deadline)) <= 0) return tls_failed("handshake timed out");
    }
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        ec = errc::redis_unavailable;
        why = std::string("socketpair: ") + std::strerror(errno);
        return nullptr;
    }
    impl->mine = Fd(pair[0]);
    impl->theirs = Fd(pair[1]);
    impl->stop = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (impl->stop.fd < 0 || !set_nonblocking(impl->mine.fd)) {
        ec = errc::redis_unavailable;
        why = std::string("eventfd: ") + std::strerror(errno);
        return nullptr;
    }
    impl->thread = std::thread([p = impl.get()] { p->relay(); });
    ec.clear();
    return std::unique_ptr<RedisTlsLink>(new RedisTlsLink(std::move(impl)));
}

// Moves bytes both ways until either side closes or fails, then shuts its end of the socketpair so that
// hiredis reads end-of-file ("connection closed") and the client reconnects. Each pass tries every
// direction before it polls: TLS may hold decrypted bytes that no poll on the socket would announce.
void RedisTlsLink::Impl::relay() {
    SSL* s = ssl.get();
    std::vector<char> up(kRelayBuffer), down(kRelayBuffer);  // up: hiredis -> Redis
    std::size_t up_len = 0, up_off = 0, down_len = 0, down_off = 0;
    std::string why;
    auto tls_wants = [s, &why](int rc, short& events) {
        switch (SSL_get_error(s, rc)) {
            case SSL_ERROR_WANT_READ:
                events |= POLLIN;
                return true;
            case SSL_ERROR_WANT_WRITE:
                events |= POLLOUT;
                return true;
            case SSL_ERROR_ZERO_RETURN:
                why = "the server closed the TLS session";
                return false;
            default:  // failed, or the TCP connection closed without close_notify: the connection is over
                why = "TLS: " + openssl_error();
                return false;
        }
    };
    bool clean = false;  // hiredis closed its end: say close_notify to the server
    for (;;) {
        bool progress = false;
        short tcp_events = 0, pair_events = 0;
        if (down_len == 0) {
            std::size_t n = 0;
            const int rc = SSL_read_ex(s, down.data(), down.size(), &n);
            if (rc == 1) {
                down_len = n;
                down_off = 0;
                progress = true;
            } else if (!tls_wants(rc, tcp_events)) {
                break;
            }
        }
        if (down_len > 0) {
            const ssize_t n = ::send(mine.fd, down.data() + down_off, down_len - down_off, MSG_NOSIGNAL);
            if (n > 0) {
                down_off += static_cast<std::size_t>(n);
                if (down_off == down_len) down_len = 0;
                progress = true;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                pair_events |= POLLOUT;
            } else if (errno != EINTR) {
                break;
            }
        }
        if (up_len == 0) {
            const ssize_t n = ::recv(mine.fd, up.data(), up.size(), 0);
            if (n > 0) {
                up_len = static_cast<std::size_t>(n);
                up_off = 0;
                progress = true;
            } else if (n == 0) {
                clean = true;
                break;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                pair_events |= POLLIN;
            } else if (errno != EINTR) {
                break;
            }
        }
        if (up_len > 0) {
            std::size_t n = 0;
            const int rc = SSL_write_ex(s, up.data() + up_off, up_len - up_off, &n);
            if (rc == 1) {
                up_off += n;
                if (up_off == up_len) up_len = 0;
                progress = true;
            } else if (!tls_wants(rc, tcp_events)) {
                break;
            }
        }
        if (progress) continue;
        // A side with nothing to wait for is left out (fd -1): a hung-up socket would otherwise wake the
        // poll at once, again and again, while the other side drains.
        std::array<pollfd, 3> p{{{tcp_events != 0 ? tcp.fd : -1, tcp_events, 0},
                                 {pair_events != 0 ? mine.fd : -1, pair_events, 0},
                                 {stop.fd, POLLIN, 0}}};
        if (::poll(p.data(), p.size(), -1) < 0 && errno != EINTR) break;
        if (p[2].revents != 0) break;
    }
    if (clean) SSL_shutdown(s);  // best effort, non-blocking
    ERR_clear_error();
    {
        std::lock_guard lock(mu);
        failure = std::move(why);
    }
    ::shutdown(mine.fd, SHUT_RDWR);
}

}  // namespace detail
}  // namespace cyxp2p::net
