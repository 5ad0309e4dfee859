#include "wan_proxy.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <vector>

#include <cyxp2p/net/detail/asio.hpp>

namespace cyxp2p::tools::wan {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// Bytes are queued in fixed blocks that never move while a read or a write into them is pending; a read
// takes whatever the socket holds up to the end of its block (1 MiB: few system calls at line rate).
constexpr std::size_t kBlockBytes = 1u << 20;
// The paced writer waits for a quarter of the bucket (at least this much, or the whole queued remainder)
// before a write: few wake-ups, and three quarters of the depth left to absorb a late timer.
constexpr std::uint64_t kMinSliceBytes = 16u << 10;
constexpr std::uint64_t kMinBurst = 256u << 10;

std::uint64_t effective_burst(const WanLink& link) {
    if (link.burst_bytes != 0) return std::max(link.burst_bytes, kMinSliceBytes);
    return std::max(kMinBurst, link.rate_bytes_per_s / 125);  // 8 ms
}

void raise_to(std::atomic<std::uint64_t>& peak, std::uint64_t value) {
    auto seen = peak.load(std::memory_order_relaxed);
    while (seen < value && !peak.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
    }
}

struct Counters {
    std::atomic<std::uint64_t> connections{0};
    std::atomic<std::uint64_t> bytes[2]{};
    std::atomic<std::uint64_t> peak[2]{};
};

class Connection;

}  // namespace

struct WanProxy::State {
    State(asio::io_context& io, const tcp::endpoint& listen, const tcp::endpoint& up, WanLink l)
        : strand(asio::make_strand(io)), acceptor(strand, listen), upstream(up), link(l) {}

    asio::awaitable<void> accept_loop(std::shared_ptr<State> self);

    asio::strand<asio::io_context::executor_type> strand;
    tcp::acceptor acceptor;
    tcp::endpoint upstream;
    WanLink link;
    std::uint16_t port = 0;
    Counters counters;
    std::mutex mutex;  // guards stopped and connections
    bool stopped = false;
    std::vector<std::weak_ptr<Connection>> connections;
};

namespace {

/// One direction of one connection: what has been read from `from` and not yet written to `to`.
/// Both loops run on the connection's strand.
class Pipe {
  public:
    Pipe(tcp::socket& from, tcp::socket& to, const WanLink& link, Counters& counters, int direction)
        : from_(from),
          to_(to),
          link_(link),
          burst_(effective_burst(link)),
          counters_(counters),
          direction_(direction),
          data_ready_(from.get_executor()),
          space_ready_(from.get_executor()),
          pace_(from.get_executor()) {}

    /// Reads until end of stream or an error; returns the error (eof is not one).
    asio::awaitable<boost::system::error_code> read_loop() {
        boost::system::error_code ec;
        while (!closed_) {
            if (head_ == base_ + blocks_.size() * kBlockBytes) {  // every block is full
                if (blocks_.size() * kBlockBytes >=
                    std::max<std::uint64_t>(link_.max_queue_bytes, 2 * kBlockBytes)) {
                    space_ready_.expires_at(Clock::time_point::max());
                    co_await space_ready_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                    continue;
                }
                blocks_.push_back(take_block());
            }
            const auto at = static_cast<std::size_t>((head_ - base_) % kBlockBytes);
            auto* block = blocks_[static_cast<std::size_t>((head_ - base_) / kBlockBytes)].get();
            const std::size_t n = co_await from_.async_read_some(
                asio::buffer(block + at, kBlockBytes - at), asio::redirect_error(asio::use_awaitable, ec));
            if (n != 0) {
                head_ += n;
                arrivals_.push_back({Clock::now(), head_});
                raise_to(counters_.peak[direction_], head_ - tail_);
                data_ready_.cancel();
            }
            if (ec) break;
        }
        source_done_ = true;
        data_ready_.cancel();
        co_return ec == asio::error::eof ? boost::system::error_code{} : ec;
    }

    /// Writes what the reader queued, each byte no earlier than its arrival + delay and within the rate;
    /// after the source's end of stream, shuts down the sending side of `to`. Returns the error, if any.
    asio::awaitable<boost::system::error_code> write_loop() {
        boost::system::error_code ec;
        while (!closed_) {
            if (tail_ == head_) {
                if (source_done_) break;
                data_ready_.expires_at(Clock::time_point::max());
                co_await data_ready_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                continue;
            }
            const auto now = Clock::now();
            const auto release = arrivals_.front().at + link_.one_way_delay;
            if (now < release) {
                co_await sleep_until(release);
                continue;
            }
            // Everything released so far, within one block and one burst.
            std::uint64_t end = tail_;
            const auto block_end = base_ + ((tail_ - base_) / kBlockBytes + 1) * kBlockBytes;
            for (const auto& a : arrivals_) {
                if (a.at + link_.one_way_delay > now) break;
                end = a.end;
                if (end >= block_end) break;
            }
            std::uint64_t n = std::min(end, block_end) - tail_;
            if (link_.rate_bytes_per_s != 0) {
                // A token bucket of depth burst_, kept as the time it was last empty (`empty_at_`: the
                // bucket holds (now - empty_at_) * rate, at most burst_). The writer takes whatever the
                // bucket holds once it holds a slice, so a timer that fires late costs no tokens until
                // the lateness exceeds the bucket's depth.
                empty_at_ = std::max(empty_at_, now - cost(burst_));
                const auto tokens = tokens_at(now);
                const auto want = std::min(n, std::max(kMinSliceBytes, burst_ / 4));
                if (tokens < want) {
                    co_await sleep_until(empty_at_ + cost(want));
                    continue;
                }
                n = std::min(n, tokens);
                empty_at_ += cost(n);
            }
            const auto at = static_cast<std::size_t>((tail_ - base_) % kBlockBytes);
            const auto* block = blocks_.front().get();
            co_await asio::async_write(to_, asio::buffer(block + at, static_cast<std::size_t>(n)),
                                       asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return ec;
            tail_ += n;
            counters_.bytes[direction_].fetch_add(n, std::memory_order_relaxed);
            while (!arrivals_.empty() && arrivals_.front().end <= tail_) arrivals_.pop_front();
            if (tail_ == block_end) {
                give_block(std::move(blocks_.front()));
                blocks_.pop_front();
                base_ += kBlockBytes;
            }
            space_ready_.cancel();
        }
        if (!closed_) to_.shutdown(tcp::socket::shutdown_send, ec);
        co_return boost::system::error_code{};
    }

    void close() {
        closed_ = true;
        data_ready_.cancel();
        space_ready_.cancel();
        pace_.cancel();
    }

  private:
    struct Arrival {
        Clock::time_point at;
        std::uint64_t end;  // stream offset just past the bytes this read brought
    };

    Clock::duration cost(std::uint64_t bytes) const {
        return std::chrono::duration_cast<Clock::duration>(
            std::chrono::nanoseconds(bytes * 1'000'000'000ull / link_.rate_bytes_per_s));
    }

    std::uint64_t tokens_at(Clock::time_point t) const {
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t - empty_at_).count();
        if (ns <= 0) return 0;
        const auto bytes = static_cast<std::uint64_t>(ns) * link_.rate_bytes_per_s / 1'000'000'000ull;
        return std::min<std::uint64_t>(bytes, burst_);
    }

    asio::awaitable<void> sleep_until(Clock::time_point t) {
        boost::system::error_code ec;
        pace_.expires_at(t);
        co_await pace_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }

    std::unique_ptr<std::byte[]> take_block() {
        if (spare_) return std::move(spare_);
        return std::make_unique_for_overwrite<std::byte[]>(kBlockBytes);
    }
    // One spare block: a steady flow recycles it instead of faulting in fresh pages for every megabyte.
    void give_block(std::unique_ptr<std::byte[]> block) {
        if (!spare_) spare_ = std::move(block);
    }

    tcp::socket& from_;
    tcp::socket& to_;
    const WanLink& link_;
    const std::uint64_t burst_;
    Counters& counters_;
    const int direction_;
    asio::steady_timer data_ready_;   // the writer waits here for the reader
    asio::steady_timer space_ready_;  // the reader waits here for the writer (queue full)
    asio::steady_timer pace_;         // the writer's delay and pacing

    // Stream offsets: blocks_[0] starts at base_; bytes [tail_, head_) are queued.
    std::deque<std::unique_ptr<std::byte[]>> blocks_;
    std::unique_ptr<std::byte[]> spare_;
    std::uint64_t base_ = 0;
    std::uint64_t head_ = 0;
    std::uint64_t tail_ = 0;
    std::deque<Arrival> arrivals_;
    Clock::time_point empty_at_{};  // the token bucket, see write_loop
    bool source_done_ = false;
    bool closed_ = false;
};

enum Direction { kUp = 0, kDown = 1 };

class Connection : public std::enable_shared_from_this<Connection> {
  public:
    Connection(tcp::socket client, std::shared_ptr<WanProxy::State> state)
        : state_(std::move(state)),
          client_(std::move(client)),
          server_(client_.get_executor()),
          up_(client_, server_, state_->link, state_->counters, kUp),
          down_(server_, client_, state_->link, state_->counters, kDown) {}

    asio::awaitable<void> run(std::shared_ptr<Connection> self) {
        boost::system::error_code ec;
        co_await server_.async_connect(state_->upstream, asio::redirect_error(asio::use_awaitable, ec));
        if (ec || aborted_) {
            abort();
            co_return;
        }
        // Nagle would hold small writes back for an ACK: the delay is the proxy's to add, not the kernel's.
        client_.set_option(tcp::no_delay(true), ec);
        server_.set_option(tcp::no_delay(true), ec);
        auto ex = client_.get_executor();
        for (Pipe* pipe : {&up_, &down_}) {
            asio::co_spawn(ex, watch(self, pipe->read_loop()), asio::detached);
            asio::co_spawn(ex, watch(self, pipe->write_loop()), asio::detached);
        }
    }

    /// Drops both sockets and every queued byte. Strand only.
    void abort() {
        aborted_ = true;
        up_.close();
        down_.close();
        boost::system::error_code ignored;
        client_.close(ignored);
        server_.close(ignored);
    }

    tcp::socket::executor_type executor() { return client_.get_executor(); }

  private:
    // A reset or write error on either side tears the whole connection down (an emulated path carries a
    // RST too, but nothing after it); when all four loops ended cleanly, both sockets close.
    asio::awaitable<void> watch(std::shared_ptr<Connection> self,
                                asio::awaitable<boost::system::error_code> loop) {
        const auto ec = co_await std::move(loop);
        if (ec && !aborted_) abort();
        if (++finished_loops_ == 4 && !aborted_) abort();
        (void)self;
    }

    std::shared_ptr<WanProxy::State> state_;
    tcp::socket client_;
    tcp::socket server_;
    Pipe up_;
    Pipe down_;
    int finished_loops_ = 0;
    bool aborted_ = false;
};

}  // namespace

asio::awaitable<void> WanProxy::State::accept_loop(std::shared_ptr<State> self) {
    for (;;) {
        boost::system::error_code ec;
        tcp::socket socket = co_await acceptor.async_accept(asio::make_strand(acceptor.get_executor()),
                                                            asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) continue;  // a connection that died in the backlog, or EMFILE: keep listening
        counters.connections.fetch_add(1, std::memory_order_relaxed);
        auto connection = std::make_shared<Connection>(std::move(socket), self);
        {
            std::lock_guard lock(mutex);
            if (stopped) co_return;
            std::erase_if(connections, [](const auto& w) { return w.expired(); });
            connections.push_back(connection);
        }
        asio::co_spawn(connection->executor(), connection->run(connection), asio::detached);
    }
}

WanProxy::WanProxy(asio::io_context& io, std::uint16_t upstream_port, WanLink link)
    : WanProxy(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0),
               tcp::endpoint(asio::ip::address_v4::loopback(), upstream_port), link) {}

WanProxy::WanProxy(asio::io_context& io, const tcp::endpoint& listen, const tcp::endpoint& upstream,
                   WanLink link)
    : state_(std::make_shared<State>(io, listen, upstream, link)) {
    state_->port = state_->acceptor.local_endpoint().port();
    asio::co_spawn(state_->strand, state_->accept_loop(state_), asio::detached);
}

WanProxy::~WanProxy() {
    stop();
}

std::uint16_t WanProxy::port() const {
    return state_->port;
}

const WanLink& WanProxy::link() const {
    return state_->link;
}

WanStats WanProxy::stats() const {
    const auto& c = state_->counters;
    return {c.connections.load(), c.bytes[kUp].load(), c.bytes[kDown].load(), c.peak[kUp].load(),
            c.peak[kDown].load()};
}

void WanProxy::stop() {
    std::vector<std::weak_ptr<Connection>> connections;
    {
        std::lock_guard lock(state_->mutex);
        if (state_->stopped) return;
        state_->stopped = true;
        connections.swap(state_->connections);
    }
    asio::post(state_->strand, [s = state_] {
        boost::system::error_code ignored;
        s->acceptor.close(ignored);
    });
    for (auto& weak : connections) {
        if (auto c = weak.lock()) asio::post(c->executor(), [c] { c->abort(); });
    }
}

BackgroundWanProxy::BackgroundWanProxy(std::uint16_t upstream_port, WanLink link, unsigned threads)
    : proxy_(io_, upstream_port, link) {
    start(threads);
}

BackgroundWanProxy::BackgroundWanProxy(const tcp::endpoint& listen, const tcp::endpoint& upstream,
                                       WanLink link, unsigned threads)
    : proxy_(io_, listen, upstream, link) {
    start(threads);
}

void BackgroundWanProxy::start(unsigned threads) {
    running_ = std::max(threads, 1u);
    for (unsigned i = 0; i < std::max(threads, 1u); ++i) {
        threads_.emplace_back([this] {
            io_.run();
            running_.fetch_sub(1);
        });
    }
}

void BackgroundWanProxy::stop(std::chrono::milliseconds grace) {
    proxy_.stop();
    // With the acceptor closed and the connections aborted, io_.run() returns once the queued completions
    // (a write that finished, an aborted read) have run; a timer that outlives the grace is cut.
    const auto until = std::chrono::steady_clock::now() + grace;
    while (running_.load() > 0 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    io_.stop();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
}

BackgroundWanProxy::~BackgroundWanProxy() {
    stop(std::chrono::milliseconds(0));
}

}  // namespace cyxp2p::tools::wan
