// Hand-made peers for the hostile suites: a loopback TCP socket with OpenSSL on top, driven without Asio so
// that a test can send exactly the bytes it wants (frames out of order, beyond windows, slowly, or not TLS at
// all). Non-blocking with poll(): reading and writing interleave, so a peer that floods us never deadlocks
// the test, and every wait has a deadline.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <deque>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cyxp2p/pinning/pin_set.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>
#include <cyxp2p/protocol/frame.hpp>
#include <cyxp2p/protocol/message.hpp>

#include "wire.pb.h"

namespace cyxp2p::test::raw {

namespace protocol = cyxp2p::protocol;
namespace wire = cyxp2p::protocol::wire;
using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;

inline Clock::time_point in(std::chrono::milliseconds d) {
    return Clock::now() + d;
}

inline int remaining_ms(Clock::time_point deadline, int cap = 50) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, cap));
}

inline void set_nonblocking(int fd) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
}

/// A listening socket on 127.0.0.1, any free port.
class Listener {
  public:
    Listener() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
            ::close(fd_);
            fd_ = -1;
            return;
        }
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        set_nonblocking(fd_);
    }
    ~Listener() {
        if (fd_ >= 0) ::close(fd_);
    }
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    std::uint16_t port() const { return port_; }
    /// The next connection, or -1 at the deadline.
    int accept(Clock::time_point deadline) const {
        while (true) {
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (c >= 0) return c;
            if (Clock::now() >= deadline) return -1;
            pollfd p{fd_, POLLIN, 0};
            ::poll(&p, 1, remaining_ms(deadline));
        }
    }

  private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

/// A non-blocking TCP connection to 127.0.0.1:port, or -1.
inline int tcp_connect(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_nonblocking(fd);
    return fd;
}

/// Waits until the peer closes a plain socket (EOF or reset), reading and discarding what it sends. Returns
/// false at the deadline. `received` counts the bytes read.
inline bool wait_tcp_closed(int fd, Clock::time_point deadline, std::size_t* received = nullptr) {
    std::uint8_t buf[4096];
    while (true) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n == 0) return true;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
        if (n > 0) {
            if (received != nullptr) *received += static_cast<std::size_t>(n);
            continue;
        }
        if (Clock::now() >= deadline) return false;
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, remaining_ms(deadline));
    }
}

struct OwnedFrame {
    protocol::FrameHeader header;
    Bytes payload;
};

inline std::span<const std::uint8_t> as_span(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// One TLS connection over a non-blocking socket. Frames the peer sends are decoded into `inbox`.
class Tls {
  public:
    /// Takes ownership of `fd`.
    Tls(SSL_CTX* ctx, int fd, bool server) : fd_(fd), ssl_(SSL_new(ctx)) {
        // OpenSSL's socket BIO uses write(): a peer that already closed must be an error, not SIGPIPE.
        std::signal(SIGPIPE, SIG_IGN);
        SSL_set_fd(ssl_, fd_);
        SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        if (server)
            SSL_set_accept_state(ssl_);
        else
            SSL_set_connect_state(ssl_);
    }
    ~Tls() {
        SSL_free(ssl_);
        if (fd_ >= 0) ::close(fd_);
    }
    Tls(const Tls&) = delete;
    Tls& operator=(const Tls&) = delete;

    SSL* ssl() { return ssl_; }
    int fd() const { return fd_; }

    /// Runs the handshake; false on failure or at the deadline.
    bool handshake(Clock::time_point deadline) {
        ERR_clear_error();
        while (true) {
            const int r = SSL_do_handshake(ssl_);
            if (r == 1) return true;
            const int e = SSL_get_error(ssl_, r);
            if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || Clock::now() >= deadline) {
                ERR_clear_error();
                return false;
            }
            pollfd p{fd_, static_cast<short>(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
            ::poll(&p, 1, remaining_ms(deadline));
        }
    }

    void frame(protocol::FrameType type, std::uint8_t flags, std::uint32_t stream,
               std::span<const std::uint8_t> payload) {
        protocol::FrameEncoder enc;
        enc.append(type, flags, stream, payload);
        raw(enc.take());
    }
    void control(protocol::FrameType type, std::uint32_t stream, const google::protobuf::MessageLite& m) {
        const std::string s = m.SerializeAsString();
        frame(type, 0, stream, as_span(s));
    }
    /// Queues bytes as they are (not necessarily frames).
    void raw(std::span<const std::uint8_t> bytes) { out_.insert(out_.end(), bytes.begin(), bytes.end()); }
    std::size_t unsent() const { return out_.size() - out_off_; }

    /// One round of I/O: writes what the socket takes, reads what is there, then waits (up to `deadline`,
    /// at most 50 ms) if nothing moved.
    void step(Clock::time_point deadline) {
        bool moved = false;
        while (!closed_ && unsent() > 0) {
            const int n = SSL_write(ssl_, out_.data() + out_off_,
                                    static_cast<int>(std::min<std::size_t>(unsent(), 1U << 20)));
            if (n > 0) {
                out_off_ += static_cast<std::size_t>(n);
                moved = true;
                continue;
            }
            const int e = SSL_get_error(ssl_, n);
            if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) mark_closed();
            break;
        }
        if (out_off_ == out_.size()) {
            out_.clear();
            out_off_ = 0;
        }
        std::uint8_t buf[16384];
        while (!closed_) {
            const int n = SSL_read(ssl_, buf, sizeof buf);
            if (n > 0) {
                moved = true;
                received_ += static_cast<std::size_t>(n);
                decode({buf, static_cast<std::size_t>(n)});
                continue;
            }
            const int e = SSL_get_error(ssl_, n);
            if (e == SSL_ERROR_ZERO_RETURN) clean_close_ = true;
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) mark_closed();
            break;
        }
        if (moved || closed_) return;
        pollfd p{fd_, static_cast<short>(POLLIN | (unsent() > 0 ? POLLOUT : 0)), 0};
        ::poll(&p, 1, remaining_ms(deadline));
    }

    /// Sends everything queued. False if the connection closed first or the deadline passed.
    bool flush(Clock::time_point deadline) {
        while (unsent() > 0 && !closed_ && Clock::now() < deadline) step(deadline);
        return unsent() == 0;
    }

    /// The next frame the peer sent, or nullopt if it closed (or the deadline passed) first.
    std::optional<OwnedFrame> next(Clock::time_point deadline) {
        while (inbox.empty() && !closed_ && Clock::now() < deadline) step(deadline);
        if (inbox.empty()) return std::nullopt;
        auto f = std::move(inbox.front());
        inbox.pop_front();
        return f;
    }

    /// The next frame of `type`, skipping (and keeping in `skipped`) the others.
    std::optional<OwnedFrame> next_of(protocol::FrameType type, Clock::time_point deadline) {
        while (auto f = next(deadline)) {
            if (f->header.type == type) return f;
            skipped.push_back(std::move(*f));
        }
        return std::nullopt;
    }

    /// Reads until the peer closes. False at the deadline.
    bool wait_closed(Clock::time_point deadline) {
        while (!closed_ && Clock::now() < deadline) step(deadline);
        return closed_;
    }

    bool closed() const { return closed_; }
    /// The peer sent close_notify (an orderly TLS close) rather than just dropping the socket.
    bool clean_close() const { return clean_close_; }
    std::size_t received() const { return received_; }
    /// Set when the peer's bytes did not decode as frames.
    std::error_code decode_error;

    std::deque<OwnedFrame> inbox;
    std::vector<OwnedFrame> skipped;

  private:
    void mark_closed() {
        closed_ = true;
        ERR_clear_error();
    }
    void decode(std::span<const std::uint8_t> bytes) {
        decoder_.feed(bytes);
        while (true) {
            std::error_code ec;
            auto f = decoder_.next(ec);
            if (ec) decode_error = ec;
            if (!f) break;
            inbox.push_back({f->header, Bytes(f->payload.begin(), f->payload.end())});
        }
    }

    int fd_;
    SSL* ssl_;
    protocol::FrameDecoder decoder_{protocol::max_frame_size_ceiling};
    Bytes out_;
    std::size_t out_off_ = 0;
    std::size_t received_ = 0;
    bool closed_ = false;
    bool clean_close_ = false;
};

inline wire::Error parse_error(const OwnedFrame& f) {
    wire::Error e;
    e.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size()));
    return e;
}

/// A message inside a stream: 4-byte length then the body.
inline Bytes message(std::span<const std::uint8_t> body) {
    Bytes out;
    protocol::append_message(out, body);
    return out;
}

inline Bytes u32(std::uint32_t v) {
    return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
            static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

inline std::uint32_t get_u32(const Bytes& b) {
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
}

/// Peak resident set size of this process since the last reset_peak_rss(), in KiB (/proc/self/status VmHWM).
inline long peak_rss_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
}
/// Resets VmHWM to the current RSS (Linux >= 4.0: "5" to /proc/self/clear_refs). False if not supported.
inline bool reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    f << "5";
    f.flush();
    return static_cast<bool>(f);
}

}  // namespace cyxp2p::test::raw
