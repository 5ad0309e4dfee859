// A WAN emulator for loopback: a TCP proxy that holds every byte for a one-way delay in each direction and
// paces each direction to a rate (there is no netem on the machines this project is measured on).
//
// Each direction reads from its source as fast as bytes arrive (large reads, so the proxy never applies
// TCP backpressure before its queue is full), stamps each read with its arrival time, and writes it on
// no earlier than arrival + one_way_delay, paced by a token bucket (GCRA) at the link's rate. The queue is
// deep (WanLink::max_queue_bytes), so the proxy itself never limits a flow: a path of rate R and round trip
// 2*D holds R*D bytes in flight per direction, and that is what a transport must keep in flight (its
// window) to fill it. What the proxy does not emulate: loss, reordering, jitter, and TCP's own congestion
// window (the sockets on each side are loopback sockets, acknowledged at once).
//
//     asio::io_context io;
//     WanProxy proxy(io, node.local_port(), {.one_way_delay = 25ms, .rate_bytes_per_s = 100 << 20});
//     std::thread t([&] { io.run(); });           // engines connect to 127.0.0.1:proxy.port()
//     ...; proxy.stop(); t.join();
//
// or, with its own thread: `BackgroundWanProxy proxy(node.local_port(), link);`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace cyxp2p::tools::wan {

/// One emulated link; every field applies to each direction on its own.
struct WanLink {
    /// Each byte is written on no earlier than this after the proxy read it (the round trip is twice this).
    std::chrono::microseconds one_way_delay{0};
    /// Pacing in bytes per second; 0 = unpaced.
    std::uint64_t rate_bytes_per_s = 0;
    /// Token bucket depth: over any interval T a direction writes at most rate*T + burst_bytes. 0 = 8 ms
    /// of the rate, at least 256 KiB: the writer wakes when a quarter of it is there, so a timer that
    /// fires up to 6 ms late on a loaded machine costs no throughput. At least 16 KiB.
    std::uint64_t burst_bytes = 0;
    /// Bytes one direction holds before it stops reading from its source (then TCP flow control pushes
    /// back on the sender, as a full router queue would drop). 64 MiB: 6x the 10 MiB a 100 MiB/s,
    /// 100 ms RTT path holds in flight, so only a sender faster than the link ever meets it.
    std::uint64_t max_queue_bytes = 64u << 20;
};

/// Counters since the proxy started; "up" is client -> upstream, "down" is upstream -> client.
struct WanStats {
    std::uint64_t connections = 0;       // accepted
    std::uint64_t bytes_up = 0;          // written on towards the upstream
    std::uint64_t bytes_down = 0;        // written on towards clients
    std::uint64_t peak_queued_up = 0;    // the most bytes one connection held at once, client -> upstream
    std::uint64_t peak_queued_down = 0;  // ... upstream -> client
};

class WanProxy {
  public:
    /// Listens on 127.0.0.1 (an ephemeral port, see port()) and forwards to 127.0.0.1:upstream_port.
    WanProxy(boost::asio::io_context& io, std::uint16_t upstream_port, WanLink link);
    /// Listens on `listen` (port 0: ephemeral) and forwards each accepted connection to `upstream`.
    /// Throws boost::system::system_error if it cannot listen.
    WanProxy(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& listen,
             const boost::asio::ip::tcp::endpoint& upstream, WanLink link);
    /// Calls stop(). The io_context must outlive the proxy.
    ~WanProxy();
    WanProxy(const WanProxy&) = delete;
    WanProxy& operator=(const WanProxy&) = delete;

    std::uint16_t port() const;
    const WanLink& link() const;
    /// Safe from any thread.
    WanStats stats() const;
    /// Closes the listener and every connection (queued bytes are dropped), so io.run() returns once
    /// nothing else runs on it. Safe from any thread, idempotent.
    void stop();

    struct State;

  private:
    std::shared_ptr<State> state_;
};

/// A WanProxy on its own io_context and thread(s), for tests and the executable: stopped and joined
/// on destruction.
class BackgroundWanProxy {
  public:
    BackgroundWanProxy(std::uint16_t upstream_port, WanLink link, unsigned threads = 1);
    BackgroundWanProxy(const boost::asio::ip::tcp::endpoint& listen,
                       const boost::asio::ip::tcp::endpoint& upstream, WanLink link, unsigned threads = 1);
    ~BackgroundWanProxy();
    BackgroundWanProxy(const BackgroundWanProxy&) = delete;
    BackgroundWanProxy& operator=(const BackgroundWanProxy&) = delete;

    std::uint16_t port() const { return proxy_.port(); }
    WanStats stats() const { return proxy_.stats(); }
    WanProxy& proxy() { return proxy_; }
    /// Stops accepting, aborts every connection and lets the completions already queued run (at most
    /// `grace`), so stats() afterwards counts every byte that was handed on. Idempotent.
    void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(1000));

  private:
    void start(unsigned threads);

    boost::asio::io_context io_;
    std::atomic<unsigned> running_{0};
    WanProxy proxy_;
    std::vector<std::thread> threads_;
};

}  // namespace cyxp2p::tools::wan
