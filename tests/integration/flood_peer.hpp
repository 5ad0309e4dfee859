// Flood peers for the pre-auth tests: plain TCP connections from chosen loopback source addresses (all of
// 127.0.0.0/8 routes to lo on Linux, so one host can look like many networks), each doing one of the things
// a slowloris or a scanner does before TLS. Also a real ClientHello, to be trickled.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "raw_peer.hpp"

namespace cyxp2p::test::raw {

/// A non-blocking TCP connection to 127.0.0.1:port from source address `source` (network order bytes, any
/// 127.x.y.z), or -1.
inline int tcp_connect_from(std::uint16_t port, const std::array<std::uint8_t, 4>& source) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in from{};
    from.sin_family = AF_INET;
    std::memcpy(&from.sin_addr.s_addr, source.data(), 4);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
        ::close(fd);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_nonblocking(fd);
    return fd;
}

/// What a flood connection does after connect.
enum class FloodKind {
    silent,         // nothing at all
    record_header,  // 5 bytes of a TLS handshake record header announcing 512 bytes, then nothing
    garbage,        // 64 random bytes, then nothing
};

/// Holds its connections open until destroyed (or close_all()).
class FloodPeers {
  public:
    explicit FloodPeers(std::uint16_t port) : port_(port) {}
    ~FloodPeers() { close_all(); }
    FloodPeers(const FloodPeers&) = delete;
    FloodPeers& operator=(const FloodPeers&) = delete;

    /// One connection from `source`; false if connect failed (the node's backlog is not our problem here).
    bool open(const std::array<std::uint8_t, 4>& source, FloodKind kind) {
        const int fd = tcp_connect_from(port_, source);
        if (fd < 0) return false;
        fds_.push_back(fd);
        if (kind == FloodKind::record_header) {
            constexpr std::array<std::uint8_t, 5> header{0x16, 0x03, 0x01, 0x02, 0x00};
            (void)::send(fd, header.data(), header.size(), MSG_NOSIGNAL);
        } else if (kind == FloodKind::garbage) {
            std::array<std::uint8_t, 64> junk{};
            for (auto& b : junk) b = static_cast<std::uint8_t>(rng_());
            (void)::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
        }
        return true;
    }
    /// How many of the connections the node has closed by now (EOF or reset), without blocking.
    std::size_t closed_by_node() const {
        std::size_t n = 0;
        for (const int fd : fds_) {
            std::uint8_t buf[256];
            const ssize_t r = ::recv(fd, buf, sizeof buf, MSG_PEEK);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) ++n;
        }
        return n;
    }
    std::size_t size() const { return fds_.size(); }
    void close_all() {
        for (const int fd : fds_) ::close(fd);
        fds_.clear();
    }

  private:
    std::uint16_t port_;
    std::vector<int> fds_;
    std::mt19937 rng_{7};
};

/// The ClientHello a client on `ctx` would send: the first flight of a handshake, from memory BIOs.
inline Bytes client_hello(SSL_CTX* ctx) {
    SSL* ssl = SSL_new(ctx);
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, in, out);
    SSL_set_connect_state(ssl);
    (void)SSL_do_handshake(ssl);  // WANT_READ after writing the ClientHello
    Bytes bytes(static_cast<std::size_t>(BIO_ctrl_pending(out)));
    if (!bytes.empty()) BIO_read(out, bytes.data(), static_cast<int>(bytes.size()));
    SSL_free(ssl);
    ERR_clear_error();
    return bytes;
}

}  // namespace cyxp2p::test::raw
