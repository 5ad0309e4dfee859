// The WAN emulator (tools/wan/wan_proxy.hpp) between two plain TCP endpoints on loopback: bytes arrive
// intact, in order and with end of stream both ways; never before the one-way delay; never faster than
// the paced rate; and the queue is deep enough for a 100 MiB/s x 100 ms path. Every timing assertion is a
// lower bound (a loaded machine only makes things later), so none of them is flaky under load.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <wan_proxy.hpp>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using cyxp2p::tools::wan::BackgroundWanProxy;
using cyxp2p::tools::wan::WanLink;

std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint64_t seed) {
    std::vector<std::uint8_t> v(n);
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (std::size_t i = 0; i < n; i += 8) {  // xorshift64: fast enough in a Debug build
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::memcpy(v.data() + i, &x, std::min<std::size_t>(8, n - i));
    }
    return v;
}

// Reads until end of stream.
std::vector<std::uint8_t> read_all(tcp::socket& s) {
    std::vector<std::uint8_t> out;
    std::vector<std::uint8_t> buf(1 << 16);
    boost::system::error_code ec;
    for (;;) {
        const auto n = s.read_some(asio::buffer(buf), ec);
        out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
        if (ec) break;
    }
    EXPECT_EQ(ec, asio::error::eof) << ec.message();
    return out;
}

/// An upstream listener and a client connected to it through a proxy.
struct Path {
    explicit Path(WanLink link)
        : acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)),
          proxy(acceptor.local_endpoint().port(), link),
          client(io),
          server(io) {
        client.connect(tcp::endpoint(asio::ip::address_v4::loopback(), proxy.port()));
        acceptor.accept(server);  // the proxy connects upstream once it accepted the client
        client.set_option(tcp::no_delay(true));
        server.set_option(tcp::no_delay(true));
    }
    asio::io_context io;
    tcp::acceptor acceptor;
    BackgroundWanProxy proxy;
    tcp::socket client;
    tcp::socket server;
};

TEST(WanProxy, BytesArriveIntactInOrderBothWaysWithEndOfStream) {
    Path path({.one_way_delay = 5ms, .rate_bytes_per_s = 0});
    const auto up = random_bytes(6 << 20, 1);
    const auto down = random_bytes(5 << 20, 2);
    std::vector<std::uint8_t> got_up, got_down;
    // Each side writes then half-closes while the other side reads to the end, in parallel both ways.
    std::thread client_writer([&] {
        asio::write(path.client, asio::buffer(up));
        path.client.shutdown(tcp::socket::shutdown_send);
    });
    std::thread server_writer([&] {
        asio::write(path.server, asio::buffer(down));
        path.server.shutdown(tcp::socket::shutdown_send);
    });
    std::thread server_reader([&] { got_up = read_all(path.server); });
    got_down = read_all(path.client);
    server_reader.join();
    client_writer.join();
    server_writer.join();
    EXPECT_TRUE(got_up == up) << "client -> upstream: " << got_up.size() << " of " << up.size() << " bytes";
    EXPECT_TRUE(got_down == down) << "upstream -> client: " << got_down.size() << " of " << down.size()
                                  << " bytes";
    const auto stats = path.proxy.stats();
    EXPECT_EQ(stats.connections, 1u);
    EXPECT_EQ(stats.bytes_up, up.size());
    EXPECT_EQ(stats.bytes_down, down.size());
}

TEST(WanProxy, NoByteArrivesBeforeTheOneWayDelay) {
    constexpr auto delay = 30ms;
    Path path({.one_way_delay = delay});
    // Ping-pong of one byte: each leg takes at least the delay, so each round trip at least twice it.
    std::uint8_t byte = 7;
    for (int i = 0; i < 5; ++i) {
        const auto t0 = Clock::now();
        asio::write(path.client, asio::buffer(&byte, 1));
        asio::read(path.server, asio::buffer(&byte, 1));
        const auto t1 = Clock::now();
        asio::write(path.server, asio::buffer(&byte, 1));
        asio::read(path.client, asio::buffer(&byte, 1));
        const auto t2 = Clock::now();
        EXPECT_GE(t1 - t0, delay) << "leg up " << i;
        EXPECT_GE(t2 - t0, 2 * delay) << "round trip " << i;
        EXPECT_EQ(byte, 7);
    }
    // A bulk write is delayed as a whole: its first byte too.
    const auto bulk = random_bytes(1 << 20, 3);
    const auto t0 = Clock::now();
    std::thread writer([&] { asio::write(path.client, asio::buffer(bulk)); });
    std::vector<std::uint8_t> got(bulk.size());
    asio::read(path.server, asio::buffer(got.data(), 1));
    EXPECT_GE(Clock::now() - t0, delay);
    asio::read(path.server, asio::buffer(got.data() + 1, got.size() - 1));
    writer.join();
    EXPECT_TRUE(got == bulk);
}

TEST(WanProxy, PacedRateIsNotExceeded) {
    constexpr std::uint64_t rate = 16u << 20;  // bytes per second
    constexpr std::uint64_t burst = 64u << 10;
    constexpr std::size_t total = 6u << 20;
    Path path({.rate_bytes_per_s = rate, .burst_bytes = burst});
    const auto bulk = random_bytes(total, 4);
    // The writer starts before the proxy writes its first byte and the reader returns after the proxy wrote
    // its last, so this interval contains the proxy's: over it the bucket allows at most rate*T + burst.
    const auto t0 = Clock::now();
    std::thread writer([&] {
        asio::write(path.client, asio::buffer(bulk));
        path.client.shutdown(tcp::socket::shutdown_send);
    });
    const auto got = read_all(path.server);
    const auto elapsed = Clock::now() - t0;
    writer.join();
    EXPECT_TRUE(got == bulk);
    const auto floor = std::chrono::duration<double>(static_cast<double>(total - burst) / rate);
    EXPECT_GE(elapsed, floor) << "moved " << total << " bytes in "
                              << std::chrono::duration<double, std::milli>(elapsed).count()
                              << " ms, faster than the rate allows";
    // The other direction is paced on its own: a small reply is not held behind the bulk bytes.
    std::uint8_t byte = 1;
    asio::write(path.server, asio::buffer(&byte, 1));
    asio::read(path.client, asio::buffer(&byte, 1));
}

TEST(WanProxy, QueueHoldsABandwidthDelayProductOf100MiBPerSecondAt100MsRtt) {
    // 16 MiB written at once into a path whose delay holds it all: the proxy must read (queue) more than the
    // 10 MiB that 100 MiB/s x 50 ms one way puts in flight, rather than push back on the sender.
    constexpr std::size_t total = 16u << 20;
    Path path({.one_way_delay = 400ms, .rate_bytes_per_s = 0});
    const auto bulk = random_bytes(total, 5);
    std::thread writer([&] {
        asio::write(path.client, asio::buffer(bulk));
        path.client.shutdown(tcp::socket::shutdown_send);
    });
    const auto got = read_all(path.server);
    writer.join();
    EXPECT_TRUE(got == bulk);
    EXPECT_GE(path.proxy.stats().peak_queued_up, 10u << 20);
}

TEST(WanProxy, StopClosesOpenConnections) {
    Path path({.one_way_delay = 1ms});
    path.proxy.proxy().stop();
    std::uint8_t byte = 0;
    boost::system::error_code ec;
    path.client.read_some(asio::buffer(&byte, 1), ec);
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
    // And no new connection is forwarded.
    tcp::socket late(path.io);
    late.connect(tcp::endpoint(asio::ip::address_v4::loopback(), path.proxy.port()), ec);
    EXPECT_TRUE(ec) << "the listener is still open after stop()";
}

TEST(WanProxy, UnreachableUpstreamClosesTheClient) {
    asio::io_context io;
    std::uint16_t dead_port = 0;
    {
        tcp::acceptor a(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
        dead_port = a.local_endpoint().port();
    }  // closed: connecting to it is refused
    BackgroundWanProxy proxy(dead_port, {});
    tcp::socket client(io);
    client.connect(tcp::endpoint(asio::ip::address_v4::loopback(), proxy.port()));
    std::uint8_t byte = 0;
    boost::system::error_code ec;
    client.read_some(asio::buffer(&byte, 1), ec);
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
}

}  // namespace
