// The trustless gateway's defences on loopback, with plain sockets as the hostile clients: the per-address
// connection cap, the request rate (429 with Retry-After), a client that never finishes its request, a
// reader that stops reading a CAR, a request with a body; and an honest client served throughout.
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/net/gateway.hpp>

#include "support.hpp"

namespace c = cyxp2p::content;
namespace net = cyxp2p::net;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

class Socket {
  public:
    explicit Socket(std::uint16_t port, int rcvbuf = 0)
        : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ~Socket() { ::close(fd_); }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    bool connected() const { return connected_; }
    void send(std::string_view s) { (void)::send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }
    /// Reads until the peer closes or `limit` passes; true when it closed.
    bool read_until_closed(std::chrono::milliseconds limit, std::string* into = nullptr) {
        const auto end = std::chrono::steady_clock::now() + limit;
        char buf[65536];
        while (std::chrono::steady_clock::now() < end) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) return true;
            if (into != nullptr) into->append(buf, static_cast<std::size_t>(n));
        }
        return false;
    }
    /// One response's worth of bytes: reads until `needle` arrived or `limit` passed.
    std::string read_until(std::string_view needle, std::chrono::milliseconds limit = 10s) {
        std::string got;
        const auto end = std::chrono::steady_clock::now() + limit;
        char buf[4096];
        while (got.find(needle) == std::string::npos && std::chrono::steady_clock::now() < end) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) break;
            got.append(buf, static_cast<std::size_t>(n));
        }
        return got;
    }

    /// Reads and drops exactly `n` bytes (a response body), or fewer if the peer closes or 10 s pass.
    void read_exactly(std::size_t n) {
        const auto end = std::chrono::steady_clock::now() + 10s;
        char buf[65536];
        while (n > 0 && std::chrono::steady_clock::now() < end) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const ssize_t got = ::recv(fd_, buf, std::min(sizeof buf, n), 0);
            if (got <= 0) return;
            n -= static_cast<std::size_t>(got);
        }
    }

  private:
    int fd_;
    bool connected_ = false;
};

class GatewayLimitsTest : public ::testing::Test {
  protected:
    void start(net::GatewayLimits limits, std::uint64_t file_size = 300'000,
               std::shared_ptr<const net::Clock> clock = {}) {
        const fs::path file = dir_ / "data.bin";
        {
            std::ofstream out(file, std::ios::binary);
            std::string chunk(1 << 16, '\0');
            std::uint32_t x = 1;
            for (std::uint64_t done = 0; done < file_size; done += chunk.size()) {
                for (auto& ch : chunk) ch = static_cast<char>(x = x * 1664525u + 1013904223u);
                out.write(chunk.data(), static_cast<std::streamsize>(
                                            std::min<std::uint64_t>(chunk.size(), file_size - done)));
            }
        }
        std::error_code ec;
        auto store = c::Blockstore::open(dir_ / "blocks", ec);
        ASSERT_TRUE(store);
        auto r = c::import_file(file, c::ImportOptions::kubo_default(), store->sink(file), ec);
        ASSERT_TRUE(r);
        root_ = r->root.to_string();
        gateway_.emplace(
            std::move(*store),
            net::GatewayOptions{.address = "127.0.0.1", .port = 0, .limits = limits, .clock = clock});
        ASSERT_FALSE(gateway_->start());
        port_ = gateway_->local_port();
    }

    std::string request(std::string_view query, bool keep_alive = false) {
        return "GET /ipfs/" + root_ + std::string(query) + " HTTP/1.1\r\nHost: x\r\n" +
               (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
    }

    // An honest request on a fresh connection: its status line.
    std::string honest_status() {
        Socket s(port_);
        s.send(request("?format=raw"));
        std::string got;
        s.read_until_closed(10s, &got);
        return got.substr(0, got.find("\r\n"));
    }

    cyxp2p::test::TempDir dir_;
    std::string root_;
    std::optional<net::Gateway> gateway_;
    std::uint16_t port_ = 0;
};

}  // namespace

TEST_F(GatewayLimitsTest, ConnectionsPerAddressAreCapped) {
    net::GatewayLimits l;
    l.max_connections_per_address = 2;
    start(l);
    Socket a(port_), b(port_);
    ASSERT_TRUE(a.connected() && b.connected());
    for (Socket* s : {&a, &b}) {  // an answer proves the connection was admitted
        s->send(request("?format=raw", true));
        ASSERT_NE(s->read_until("\r\n\r\n").find("HTTP/1.1 200"), std::string::npos);
    }
    Socket third(port_);
    EXPECT_TRUE(third.read_until_closed(5s)) << "a third connection from one address is closed at once";
    EXPECT_GE(gateway_->stats().refused_connections, 1u);
    // The two held connections still get answers.
    a.send(request("?format=raw"));
    EXPECT_NE(a.read_until("\r\n\r\n").find("HTTP/1.1 200"), std::string::npos);
}

TEST_F(GatewayLimitsTest, RequestRateGets429WithRetryAfter) {
    net::GatewayLimits l;
    l.requests_per_second = 1;
    l.request_burst = 2;
    start(l);
    Socket s(port_);
    std::string all;
    for (int i = 0; i < 3; ++i) {
        s.send(request("?format=raw", true));
        all += s.read_until(i < 2 ? "HTTP/1.1 200" : "HTTP/1.1 429");
    }
    EXPECT_NE(all.find("HTTP/1.1 429"), std::string::npos);
    EXPECT_NE(all.find("Retry-After: "), std::string::npos);
    EXPECT_GE(gateway_->stats().rate_limited, 1u);
}

// The request limiter on the injected clock: a wall-clock step refills nothing, monotonic time does, and
// nothing is slept through (one keep-alive connection, so the new-connection bucket is not involved).
TEST_F(GatewayLimitsTest, RequestRateFollowsTheInjectedMonotonicClock) {
    auto clock = std::make_shared<net::ManualClock>();
    net::GatewayLimits l;
    l.requests_per_second = 1;
    l.request_burst = 2;
    start(l, 300'000, clock);
    Socket s(port_);
    auto status = [&] {
        s.send(request("?format=raw", true));
        const std::string got = s.read_until("\r\n\r\n");
        // Both answers carry a body of Content-Length bytes (a block, or the 429's text): read it too, so the
        // next status line is the next thing on the connection.
        const auto at = got.find("Content-Length: ");
        const std::size_t length = at == std::string::npos ? 0 : std::stoul(got.substr(at + 16));
        const std::size_t have = got.size() - (got.find("\r\n\r\n") + 4);
        if (length > have) s.read_exactly(length - have);
        return got.substr(0, got.find("\r\n"));
    };
    EXPECT_EQ(status(), "HTTP/1.1 200 OK");
    EXPECT_EQ(status(), "HTTP/1.1 200 OK");
    EXPECT_EQ(status(), "HTTP/1.1 429 Too Many Requests");
    clock->step_wall(1h);  // the calendar jumps: a bucket on wall time would hold 3600 tokens again
    EXPECT_EQ(status(), "HTTP/1.1 429 Too Many Requests");
    clock->advance(1s);  // one second passes: one token
    EXPECT_EQ(status(), "HTTP/1.1 200 OK");
    EXPECT_EQ(status(), "HTTP/1.1 429 Too Many Requests");
    EXPECT_EQ(gateway_->stats().rate_limited, 3u);
}

TEST_F(GatewayLimitsTest, UnfinishedRequestIsDropped) {
    net::GatewayLimits l;
    l.request_timeout = 300ms;
    start(l);
    Socket slow(port_);
    slow.send("GET /ipfs/" + root_ + "?format=raw HTTP/1.1\r\nHost: x\r\n");  // never the blank line
    EXPECT_TRUE(slow.read_until_closed(10s)) << "the request deadline closes a request that never ends";
    EXPECT_NE(honest_status().find("200"), std::string::npos);
}

TEST_F(GatewayLimitsTest, AReaderThatStopsIsDropped) {
    net::GatewayLimits l;
    l.write_timeout = 300ms;
    l.write_chunk = 64 * 1024;
    start(l, 32ull << 20);  // far more than the socket buffers between the two ends
    Socket stalled(port_, 4096);
    stalled.send(request("?format=car"));
    // Never read. The gateway's write to it stalls and is abandoned after write_timeout.
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (gateway_->stats().aborted == 0 && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(20ms);
    EXPECT_EQ(gateway_->stats().aborted, 1u);
    EXPECT_LT(gateway_->stats().bytes_sent, 32ull << 20);
    EXPECT_NE(honest_status().find("200"), std::string::npos);
}

TEST_F(GatewayLimitsTest, RequestWithABodyIsRefused) {
    start({});
    Socket s(port_);
    s.send("GET /ipfs/" + root_ + "?format=raw HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    std::string got;
    EXPECT_TRUE(s.read_until_closed(5s, &got));
    EXPECT_EQ(got.find("HTTP/1.1 200"), std::string::npos) << "a body is not part of a gateway request";
    EXPECT_NE(honest_status().find("200"), std::string::npos);
}
