// The plain-OpenSSL baseline bench/run compares a cyx-p2p session against: the same TLS 1.3 cipher suites
// and groups (pinning::TlsOptions), the same certificate type (an Ed25519 pinning::Identity), blocking
// sockets on loopback, no framing, no tokens, no pins. Three measurements, each printed as one JSON line:
//
//   baseline_tls bulk --bytes N          one connection; after the handshake the client asks (one byte), the
//                                        server SSL_writes N bytes (256 KiB calls), the client SSL_reads
//                                        them: MiB/s from the request, which costs one round trip as a fetch
//                                        does.
//                                        --listen-port P --connect-port Q: the server listens on P, the
//                                        client dials Q (a WAN emulator forwarding to P: bench/run)
//   baseline_tls handshakes --count N    N fresh connections, full handshakes (then again resumed with the
//                                        server's session ticket): connect, handshake, bidirectional
//                                        close_notify, close; per second
//   baseline_tls idle --count N          N established, idle connections held by a forked server: its
//                                        VmRSS growth per connection (OpenSSL's own per-connection cost)
//
// --identity DIR loads node.key/node.crt (p2p-node init); without it an Ed25519 identity is generated.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cyxp2p/pinning/identity.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>

namespace pinning = cyxp2p::pinning;

namespace {

using Clock = std::chrono::steady_clock;
using CtxPtr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "baseline_tls: %s\n", what.c_str());
    ERR_print_errors_fp(stderr);
    std::exit(1);
}

// VmRSS of this process in KiB.
long rss_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    return 0;
}

// The policy's suites and groups, nothing else: this is the "what a user could use instead" program.
void common_policy(SSL_CTX* ctx) {
    const pinning::TlsOptions policy;
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, policy.ciphersuites.c_str()) != 1 ||
        SSL_CTX_set1_groups_list(ctx, policy.groups.c_str()) != 1) {
        die("TLS policy");
    }
}

CtxPtr server_context(const pinning::Identity& id) {
    CtxPtr ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    if (!ctx) die("SSL_CTX_new");
    common_policy(ctx.get());
    if (SSL_CTX_use_certificate(ctx.get(), id.certificate()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx.get(), id.private_key()) != 1) {
        die("certificate");
    }
    return ctx;
}

int new_session_cb(SSL* ssl, SSL_SESSION* session);

CtxPtr client_context() {
    CtxPtr ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    if (!ctx) die("SSL_CTX_new");
    common_policy(ctx.get());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // the baseline checks nothing: it is the floor
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx.get(), new_session_cb);
    return ctx;
}

SSL_SESSION* g_last_session = nullptr;  // the newest ticket the client received (resumption runs)

int new_session_cb(SSL*, SSL_SESSION* session) {
    if (g_last_session != nullptr) SSL_SESSION_free(g_last_session);
    g_last_session = session;
    return 1;  // we keep the reference
}

// Binds `port` (0: an ephemeral one, written back).
int listen_loopback(std::uint16_t& port, int backlog) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, backlog) != 0)
        die("bind/listen");
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    return fd;
}

int connect_loopback(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
    return fd;
}

SSL* tls_accept(SSL_CTX* ctx, int listener) {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) die("accept");
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) die("SSL_accept");
    return ssl;
}

SSL* tls_connect(SSL_CTX* ctx, std::uint16_t port, SSL_SESSION* resume = nullptr) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, connect_loopback(port));
    if (resume != nullptr) SSL_set_session(ssl, resume);
    if (SSL_connect(ssl) != 1) die("SSL_connect");
    return ssl;
}

void tls_free(SSL* ssl) {
    const int fd = SSL_get_fd(ssl);
    SSL_free(ssl);
    ::close(fd);
}

std::uint64_t parse_u64(const char* s) {
    char* end = nullptr;
    const auto v = std::strtoull(s, &end, 10);
    if (end == s || *end != '\0') die(std::string("not a number: ") + s);
    return v;
}

double mib(std::uint64_t bytes) {
    return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

int bulk(const pinning::Identity& id, std::uint64_t bytes, std::uint16_t port, std::uint16_t connect_port) {
    auto sctx = server_context(id);
    auto cctx = client_context();
    const int listener = listen_loopback(port, 4);
    std::thread server([&] {
        SSL* ssl = tls_accept(sctx.get(), listener);
        std::uint8_t ask = 0;
        if (SSL_read(ssl, &ask, 1) != 1) die("SSL_read (request)");
        std::vector<std::uint8_t> chunk(256U << 10);
        for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<std::uint8_t>(i * 131);
        for (std::uint64_t sent = 0; sent < bytes;) {
            const int n = static_cast<int>(std::min<std::uint64_t>(chunk.size(), bytes - sent));
            if (SSL_write(ssl, chunk.data(), n) != n) die("SSL_write");
            sent += static_cast<std::uint64_t>(n);
        }
        SSL_shutdown(ssl);
        tls_free(ssl);
    });
    SSL* ssl = tls_connect(cctx.get(), connect_port != 0 ? connect_port : port);
    const auto t0 = Clock::now();
    const std::uint8_t ask = 1;
    if (SSL_write(ssl, &ask, 1) != 1) die("SSL_write (request)");
    std::vector<std::uint8_t> buf(256U << 10);
    std::uint64_t got = 0;
    while (got < bytes) {
        const int n = SSL_read(ssl, buf.data(), static_cast<int>(buf.size()));
        if (n <= 0) die("SSL_read");
        got += static_cast<std::uint64_t>(n);
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    server.join();
    const std::string cipher = SSL_get_cipher_name(ssl);
    tls_free(ssl);
    ::close(listener);
    std::printf("{\"mode\":\"bulk\",\"bytes\":%llu,\"seconds\":%.6f,\"mib_per_s\":%.1f,\"cipher\":\"%s\"}\n",
                static_cast<unsigned long long>(got), secs, mib(got) / secs, cipher.c_str());
    return 0;
}

// The server side of a handshake loop: each connection handshakes, waits for the client's close_notify,
// answers it and closes.
void serve_handshakes(SSL_CTX* ctx, int listener, std::uint64_t count) {
    for (std::uint64_t i = 0; i < count; ++i) {
        SSL* ssl = tls_accept(ctx, listener);
        char b[64];
        while (SSL_read(ssl, b, sizeof b) > 0) {
        }
        SSL_shutdown(ssl);
        tls_free(ssl);
    }
}

// One client connection: handshake, close_notify both ways (which also delivers the session tickets).
bool client_handshake(SSL_CTX* ctx, std::uint16_t port, SSL_SESSION* resume) {
    SSL* ssl = tls_connect(ctx, port, resume);
    const bool reused = SSL_session_reused(ssl) == 1;
    SSL_shutdown(ssl);
    char b[64];
    while (SSL_read(ssl, b, sizeof b) > 0) {
    }
    tls_free(ssl);
    return reused;
}

int handshakes(const pinning::Identity& id, std::uint64_t count) {
    auto sctx = server_context(id);
    auto cctx = client_context();
    std::uint16_t port = 0;
    const int listener = listen_loopback(port, 128);
    std::thread server([&] { serve_handshakes(sctx.get(), listener, 2 * count + 1); });
    auto t0 = Clock::now();
    for (std::uint64_t i = 0; i < count; ++i) client_handshake(cctx.get(), port, nullptr);
    const double full = std::chrono::duration<double>(Clock::now() - t0).count();
    client_handshake(cctx.get(), port, nullptr);  // fetch a ticket
    std::uint64_t reused = 0;
    t0 = Clock::now();
    for (std::uint64_t i = 0; i < count; ++i) {
        SSL_SESSION* s = g_last_session;
        if (s != nullptr) SSL_SESSION_up_ref(s);
        reused += client_handshake(cctx.get(), port, s) ? 1U : 0U;
        if (s != nullptr) SSL_SESSION_free(s);
    }
    const double resumed = std::chrono::duration<double>(Clock::now() - t0).count();
    server.join();
    ::close(listener);
    std::printf(
        "{\"mode\":\"handshakes\",\"count\":%llu,\"full_per_s\":%.1f,\"resumed_per_s\":%.1f,\"resumed\":%llu}"
        "\n",
        static_cast<unsigned long long>(count), static_cast<double>(count) / full,
        static_cast<double>(count) / resumed, static_cast<unsigned long long>(reused));
    return 0;
}

void raise_nofile() {
    rlimit r{};
    getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
}

int idle(const pinning::Identity& id, std::uint64_t count) {
    raise_nofile();
    std::uint16_t port = 0;
    const int listener = listen_loopback(port, 1024);
    int result[2], hold[2];  // child -> parent: the figures; parent -> child: closed when the child may exit
    if (::pipe(result) != 0 || ::pipe(hold) != 0) die("pipe");
    const pid_t child = ::fork();
    if (child < 0) die("fork");
    if (child == 0) {
        ::close(result[0]);
        ::close(hold[1]);
        // Server process: its RSS growth is the per-connection cost (context and warm-up excluded).
        auto sctx = server_context(id);
        std::vector<SSL*> held;
        held.reserve(count);
        held.push_back(tls_accept(sctx.get(), listener));  // warm up allocator and provider caches
        const long before = rss_kib();
        for (std::uint64_t i = 1; i < count; ++i) held.push_back(tls_accept(sctx.get(), listener));
        const long after = rss_kib();
        char line[128];
        const int n = std::snprintf(line, sizeof line, "%ld %ld\n", before, after);
        if (::write(result[1], line, static_cast<std::size_t>(n)) != n) std::_Exit(1);
        char b;
        while (::read(hold[0], &b, 1) > 0) {  // until the parent closes its end: hold the connections
        }
        std::_Exit(0);
    }
    ::close(listener);
    ::close(result[1]);
    ::close(hold[0]);
    auto cctx = client_context();
    std::vector<SSL*> held;
    held.reserve(count);
    held.push_back(tls_connect(cctx.get(), port));
    const long cbefore = rss_kib();
    for (std::uint64_t i = 1; i < count; ++i) held.push_back(tls_connect(cctx.get(), port));
    const long cafter = rss_kib();
    char line[128] = {};
    std::size_t used = 0;
    while (used + 1 < sizeof line) {
        const auto n = ::read(result[0], line + used, sizeof line - 1 - used);
        if (n <= 0) break;
        used += static_cast<std::size_t>(n);
        if (std::memchr(line, '\n', used) != nullptr) break;
    }
    long before = 0, after = 0;
    if (std::sscanf(line, "%ld %ld", &before, &after) != 2) die("no result from the server process");
    ::close(hold[1]);
    ::close(result[0]);
    ::waitpid(child, nullptr, 0);
    const double n = static_cast<double>(count - 1);
    std::printf(
        "{\"mode\":\"idle\",\"count\":%llu,\"server_rss_before_kib\":%ld,\"server_rss_after_kib\":%ld,"
        "\"server_kib_per_connection\":%.2f,\"client_kib_per_connection\":%.2f}\n",
        static_cast<unsigned long long>(count), before, after, static_cast<double>(after - before) / n,
        static_cast<double>(cafter - cbefore) / n);
    for (SSL* s : held) tls_free(s);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(
            stderr,
            "usage: baseline_tls bulk --bytes N [--listen-port P --connect-port Q] | handshakes --count N |\n"
            "       idle --count N   [--identity DIR]\n");
        return 2;
    }
    const std::string mode = argv[1];
    std::uint64_t bytes = 64ULL << 20, count = 1000, listen_port = 0, connect_port = 0;
    std::optional<std::string> dir;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        if (k == "--bytes")
            bytes = parse_u64(argv[i + 1]);
        else if (k == "--count")
            count = parse_u64(argv[i + 1]);
        else if (k == "--listen-port")
            listen_port = parse_u64(argv[i + 1]);
        else if (k == "--connect-port")
            connect_port = parse_u64(argv[i + 1]);
        else if (k == "--identity")
            dir = argv[i + 1];
        else
            die("unknown option " + k);
    }
    std::error_code ec;
    auto id =
        dir ? pinning::Identity::load(*dir, ec) : pinning::Identity::generate({.node_id = "baseline"}, ec);
    if (!id) die("identity: " + ec.message());
    if (count < 2) count = 2;
    if (listen_port > 65535 || connect_port > 65535) die("ports are 1..65535");
    if (mode == "bulk")
        return bulk(*id, bytes, static_cast<std::uint16_t>(listen_port),
                    static_cast<std::uint16_t>(connect_port));
    if (mode == "handshakes") return handshakes(*id, count);
    if (mode == "idle") return idle(*id, count);
    die("unknown mode " + mode);
}
