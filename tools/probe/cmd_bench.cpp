// p2p-probe bench: what one engine gets from a node over loopback or a real link, measured the way bench/run
// compares it with plain OpenSSL (docs/performance.md).
//   --bytes N --streams K --cid CID   bulk throughput of ONE session: K concurrent content.fetch streams of a
//                                     file the node serves, restarted until N bytes arrived (messages are
//                                     counted as they leave the session, before any verification)
//   --cid CID --latency --rtt-cid C   1 KiB round trips (content.fetch of C, a one-block file) on their own
//                                     streams of one session, idle and then while a content.fetch of CID on
//                                     another stream saturates the link: does a small request wait behind
//                                     bulk data?
//   --handshakes N                    N fresh connections (TCP + TLS 1.3 + HELLO with the token's JWT check
//                                     and the node's replay check), each closed before the next; then N more
//                                     resuming the TLS session the first one cached
#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <iomanip>
#include <iostream>

#include <boost/asio/io_context.hpp>

#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/frame.hpp>

#include "../common/cli.hpp"
#include "../common/local_checks.hpp"
#include "commands.hpp"

namespace cyxp2p::tools::probe {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kDefaultBytes = 64ULL << 20;
constexpr std::uint64_t kDefaultStreams = 1, kMaxStreams = 64;
constexpr std::uint64_t kDefaultHandshakes = 100, kMaxHandshakes = 1'000'000;
constexpr std::uint64_t kDefaultProbes = 50, kMaxProbes = 100'000;
constexpr std::uint64_t kMaxWindow = 1U << 30;

// Every option with its default; the defaults are the constants above and the library's EngineOptions.
std::string usage() {
    const net::EngineOptions eo;
    auto n = [](std::uint64_t v) { return std::to_string(v); };
    return "usage: p2p-probe bench HOST:PORT --pin PINS --token FILE|- --cid CID [--bytes N] [--streams K]\n"
           "       p2p-probe bench HOST:PORT --pin PINS --token FILE|- --cid CID --latency --rtt-cid CID\n"
           "                       [--probes N]\n"
           "       p2p-probe bench HOST:PORT --pin PINS --token FILE|- --handshakes N\n\n"
           "Measures one engine's view of a node. With --cid: bulk throughput of one session, K\n"
           "concurrent content.fetch streams of CID (a file the node serves, e.g. p2p-node run --serve\n"
           "DIR) restarted until N bytes arrived. With --handshakes: full handshakes per second (TCP,\n"
           "TLS 1.3, HELLO with the token, each a fresh connection closed before the next), then resumed\n"
           "ones. With --latency: round trips of a content.fetch of --rtt-cid (a file of one block, about\n"
           "1 KiB) each on a new stream of the session, first idle, then while one stream fetches --cid\n"
           "over and over; reports the bulk rate and the round trips' p50/p99. Every option is checked\n"
           "before connecting.\n\n"
           "  --pin PINS           sha256//A;sha256//B (spaces around ';' allowed): the node keys to accept\n"
           "  --token FILE|-       the P2P token (needs content:read for --cid)\n"
           "  --node-id ID         require the node to identify as ID [default: any]\n"
           "  --timeout-ms N       per-phase timeout, 1.." +
           n(InputLimits{}.max_timeout_ms) +
           " [default: " + n(static_cast<std::uint64_t>(eo.connect_timeout.count())) +
           "]\n"
           "  --cid CID            the file to fetch (bulk and --latency modes)\n"
           "  --bytes N            bytes to receive, > 0 [default: " +
           n(kDefaultBytes) +
           " (64 MiB)]\n"
           "  --streams K          concurrent streams, 1.." +
           n(kMaxStreams) + " [default: " + n(kDefaultStreams) +
           "]\n"
           "  --latency            measure small round trips idle and under load (needs --rtt-cid)\n"
           "  --rtt-cid CID        the one-block file of each round trip\n"
           "  --probes N           round trips per phase, 1.." +
           n(kMaxProbes) + " [default: " + n(kDefaultProbes) +
           "]\n"
           "  --handshakes N       connections per phase, 1.." +
           n(kMaxHandshakes) + " [default: " + n(kDefaultHandshakes) +
           "]\n"
           "  --stream-window N    this engine's initial stream window, 1024.." +
           n(kMaxWindow) + " bytes [default: " + n(eo.session.initial_stream_window) +
           "]\n"
           "  --session-window N   this engine's initial session window, 1024.." +
           n(kMaxWindow) + " bytes [default: " + n(eo.session.initial_session_window) +
           "]\n"
           "  --max-frame-size N   largest frame this engine accepts, 1024.." +
           n(protocol::max_frame_size_ceiling) + " bytes [default: " + n(eo.session.max_frame_size) +
           "]\n"
           "                       (the three above: what bigger windows or frames would change)\n"
           "  --queue-delay-ms N   queueing delay a bulk stream may add on the path, 0 (off)..1000 ms\n"
           "                       [default: " +
           n(static_cast<std::uint64_t>(eo.session.queue_delay_target.count())) +
           "] (docs/protocol.md section 6, delay-limited credit)\n"
           "  --json               machine-readable output\n";
}

template <class T>
T wait(asio::io_context& io, std::future<T>& f) {
    while (f.wait_for(0s) != std::future_status::ready) io.run_one_for(50ms);
    return f.get();
}

using Dialed = std::pair<std::error_code, std::shared_ptr<net::Connection>>;

Dialed dial(asio::io_context& io, net::Engine& engine, const net::ConnectOptions& o) {
    std::promise<Dialed> p;
    auto f = p.get_future();
    engine.async_connect(o, [&p](std::error_code ec, std::shared_ptr<net::Connection> c) {
        p.set_value({ec, std::move(c)});
    });
    return wait(io, f);
}

std::error_code close(asio::io_context& io, net::Connection& c) {
    std::promise<std::error_code> p;
    auto f = p.get_future();
    c.async_close([&p](std::error_code e) { p.set_value(e); });
    return wait(io, f);
}

int failed(const Args& a, std::error_code ec, const std::string& what) {
    const bool pin = ec.category() == pinning::category();
    return fail(&a, pin ? Exit::pin_mismatch : Exit::failure, pin ? "pin_mismatch" : "bench_failed",
                what + ": " + ec.message());
}

std::optional<std::uint64_t> number(const Args& a, std::string_view name, std::uint64_t fallback) {
    auto v = a.get(name);
    if (!v) return fallback;
    try {
        std::size_t used = 0;
        const auto n = std::stoull(*v, &used);
        if (used != v->size()) return std::nullopt;
        return n;
    } catch (...) {
        return std::nullopt;
    }
}

// --timeout-ms, already range-checked by cmd_bench, or the library's connect timeout.
std::chrono::milliseconds timeout_of(const Args& a) {
    InputError ignored;
    const auto v = a.get("--timeout-ms");
    return v ? parse_timeout_ms("--timeout-ms", *v, ignored).value_or(net::EngineOptions{}.connect_timeout)
             : net::EngineOptions{}.connect_timeout;
}

// K streams, each fetching `cid` again until `target` bytes of messages arrived on the session.
struct Bulk {
    std::shared_ptr<net::Connection> conn;
    std::vector<std::uint8_t> request;
    std::uint64_t target = 0;
    std::uint64_t received = 0;
    std::uint64_t messages = 0;
    std::uint64_t fetches = 0;
    std::size_t running = 0;
    std::error_code error;
    std::promise<void> done;

    void start() {
        ++running;
        ++fetches;
        conn->subscribe(
            "content.fetch", request,
            [this](std::vector<std::uint8_t> m) {
                received += m.size();
                ++messages;
            },
            [this](std::error_code ec) {
                --running;
                if (ec && !error) error = ec;
                if (!error && received < target) return start();
                if (running == 0) done.set_value();
            });
    }
};

int bench_bytes(const Args& a, asio::io_context& io, net::Engine& engine, const net::ConnectOptions& o) {
    const auto bytes = number(a, "--bytes", kDefaultBytes);
    const auto streams = number(a, "--streams", kDefaultStreams);
    if (!bytes || *bytes == 0 || !streams || *streams == 0 || *streams > kMaxStreams) {
        return fail(&a, Exit::usage, "usage",
                    "--bytes must be > 0 and --streams 1.." + std::to_string(kMaxStreams));
    }
    auto [ec, conn] = dial(io, engine, o);
    if (ec) return failed(a, ec, "connect");
    Bulk bulk;
    bulk.conn = conn;
    bulk.request = protocol::encode(protocol::ContentFetch{*a.get("--cid"), 0});
    bulk.target = *bytes;
    auto finished = bulk.done.get_future();
    const auto t0 = Clock::now();
    for (std::uint64_t i = 0; i < *streams; ++i) bulk.start();
    wait(io, finished);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    close(io, *conn);
    if (bulk.error) return failed(a, bulk.error, "content.fetch " + *a.get("--cid"));
    const double mibs = static_cast<double>(bulk.received) / (1024.0 * 1024.0) / std::max(secs, 1e-9);
    if (a.json()) {
        print_json({{"mode", "bytes"},
                    {"streams", *streams},
                    {"bytes", bulk.received},
                    {"messages", bulk.messages},
                    {"fetches", bulk.fetches},
                    {"seconds", secs},
                    {"mib_per_s", mibs},
                    {"cipher", conn->tls().cipher}});
    } else {
        std::cout << "bench " << bulk.received << " bytes in " << bulk.messages << " messages over "
                  << *streams << " stream(s) of one session: " << std::fixed << std::setprecision(3) << secs
                  << " s, " << std::setprecision(1) << mibs << " MiB/s (" << conn->tls().cipher << ")\n";
    }
    return 0;
}

struct HandshakeRun {
    double per_s = 0;
    double mean_connect_ms = 0;
    std::uint64_t resumed = 0;
};

// `count` connections on `engine`, each closed (GOAWAY, close_notify) before the next opens.
std::optional<HandshakeRun> handshake_loop(const Args& a, asio::io_context& io, net::Engine& engine,
                                           const net::ConnectOptions& o, std::uint64_t count, int& rc) {
    HandshakeRun r;
    double connect_s = 0;
    const auto t0 = Clock::now();
    for (std::uint64_t i = 0; i < count; ++i) {
        auto opts = o;
        opts.report = std::make_shared<net::ConnectReport>();
        const auto c0 = Clock::now();
        auto [ec, conn] = dial(io, engine, opts);
        connect_s += std::chrono::duration<double>(Clock::now() - c0).count();
        if (ec) {
            rc =
                failed(a, ec, "handshake " + std::to_string(i + 1) + " (" + opts.report->reject_detail + ")");
            return std::nullopt;
        }
        if (conn->tls().resumed) ++r.resumed;
        close(io, *conn);
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    r.per_s = static_cast<double>(count) / std::max(secs, 1e-9);
    r.mean_connect_ms = connect_s * 1000.0 / static_cast<double>(count);
    return r;
}

int bench_handshakes(const Args& a, asio::io_context& io, const net::EngineOptions& eo,
                     const net::ConnectOptions& o) {
    const auto count = number(a, "--handshakes", kDefaultHandshakes);
    if (!count || *count == 0 || *count > kMaxHandshakes)
        return fail(&a, Exit::usage, "usage", "--handshakes must be 1.." + std::to_string(kMaxHandshakes));
    int rc = 0;
    auto no_cache = eo;
    no_cache.session_cache_size = 0;  // every connection a full handshake
    net::Engine full_engine(io.get_executor(), no_cache);
    auto full = handshake_loop(a, io, full_engine, o, *count, rc);
    if (!full) return rc;
    net::Engine resuming(io.get_executor(), eo);
    if (!handshake_loop(a, io, resuming, o, 1, rc)) return rc;  // caches the session
    auto resumed = handshake_loop(a, io, resuming, o, *count, rc);
    if (!resumed) return rc;
    if (a.json()) {
        print_json({{"mode", "handshakes"},
                    {"count", *count},
                    {"full_per_s", full->per_s},
                    {"full_connect_ms", full->mean_connect_ms},
                    {"resumed_per_s", resumed->per_s},
                    {"resumed_connect_ms", resumed->mean_connect_ms},
                    {"resumed", resumed->resumed}});
    } else {
        std::cout << std::fixed << std::setprecision(1) << "bench " << *count
                  << " full handshakes: " << full->per_s << "/s (connect " << std::setprecision(2)
                  << full->mean_connect_ms << " ms each)\n"
                  << std::setprecision(1) << "bench " << *count << " resumed: " << resumed->per_s
                  << "/s (connect " << std::setprecision(2) << resumed->mean_connect_ms << " ms each; "
                  << resumed->resumed << " of " << *count << " resumed the TLS session)\n";
    }
    return 0;
}

// --- --latency ----------------------------------------------------------------------------------------

// One stream that fetches `request`'s CID again and again until stop(), counting the bytes of its messages.
struct Saturator {
    std::shared_ptr<net::Connection> conn;
    std::vector<std::uint8_t> request;
    std::uint64_t received = 0;
    std::shared_ptr<net::ClientStream> stream;
    bool stopping = false;
    bool finished = false;
    std::error_code error;

    void start() {
        conn->async_open_stream(
            "content.fetch", [this](std::vector<std::uint8_t> m) { received += m.size(); },
            [this](std::error_code ec) {
                stream.reset();
                if (stopping || ec) {
                    if (!stopping) error = ec;
                    finished = true;
                    return;
                }
                start();
            },
            [this](std::error_code ec, std::shared_ptr<net::ClientStream> s) {
                if (ec) {
                    error = ec;
                    finished = true;
                    return;
                }
                stream = std::move(s);
                stream->async_send(request, [](std::error_code) {});
                stream->finish();
                if (stopping) stream->cancel();
            });
    }
    void stop() {
        stopping = true;
        if (stream) stream->cancel();
    }
};

// One content.fetch of a one-block file on a fresh stream: request out, the block back, the stream's end.
std::error_code round_trip(asio::io_context& io, net::Connection& conn,
                           const std::vector<std::uint8_t>& request, std::chrono::milliseconds timeout,
                           double& micros) {
    std::promise<std::error_code> p;
    auto f = p.get_future();
    const auto t0 = Clock::now();
    conn.async_request("content.fetch", request,
                       [&p](std::error_code ec, std::vector<std::uint8_t>) { p.set_value(ec); });
    while (f.wait_for(0s) != std::future_status::ready) {
        if (Clock::now() - t0 > timeout) return std::make_error_code(std::errc::timed_out);
        io.run_one_for(50ms);
    }
    micros = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    return f.get();
}

// Nearest-rank percentile of a sorted sample.
double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

int bench_latency(const Args& a, asio::io_context& io, net::Engine& engine, const net::ConnectOptions& o) {
    const auto probes = number(a, "--probes", kDefaultProbes);
    const auto rtt_cid = a.get("--rtt-cid");
    if (!probes || *probes == 0 || *probes > kMaxProbes || !rtt_cid)
        return fail(
            &a, Exit::usage, "usage",
            "--latency needs --rtt-cid CID (a one-block file) and --probes 1.." + std::to_string(kMaxProbes));
    const auto timeout = timeout_of(a);
    auto [ec, conn] = dial(io, engine, o);
    if (ec) return failed(a, ec, "connect");
    const auto small = protocol::encode(protocol::ContentFetch{*rtt_cid, 0});
    const auto sample = [&](std::vector<double>& out) -> std::error_code {
        for (std::uint64_t i = 0; i < *probes; ++i) {
            double us = 0;
            if (auto e = round_trip(io, *conn, small, timeout, us)) return e;
            out.push_back(us);
        }
        std::sort(out.begin(), out.end());
        return {};
    };
    std::vector<double> idle, loaded;
    if (auto e = sample(idle)) return failed(a, e, "idle round trip (content.fetch " + *rtt_cid + ")");

    Saturator bulk;
    bulk.conn = conn;
    bulk.request = protocol::encode(protocol::ContentFetch{*a.get("--cid"), 0});
    const auto t0 = Clock::now();
    bulk.start();
    // Let the bulk stream fill the path first: at least 1 MiB delivered and 4 idle round trips.
    const auto warm = std::max<Clock::duration>(
        std::chrono::microseconds(static_cast<std::int64_t>(4 * percentile(idle, 0.5))), 200ms);
    while (!bulk.finished && (bulk.received < (1u << 20) || Clock::now() - t0 < warm)) {
        if (Clock::now() - t0 > timeout) break;
        io.run_one_for(10ms);
    }
    const auto b0 = bulk.received;
    const auto l0 = Clock::now();
    const auto lec = bulk.finished ? std::error_code{} : sample(loaded);
    const double secs = std::chrono::duration<double>(Clock::now() - l0).count();
    const auto bytes = bulk.received - b0;
    bulk.stop();
    for (const auto stop0 = Clock::now(); !bulk.finished && Clock::now() - stop0 < 2s;) io.run_one_for(10ms);
    if (bulk.error) return failed(a, bulk.error, "content.fetch " + *a.get("--cid"));
    if (lec) return failed(a, lec, "round trip under load (content.fetch " + *rtt_cid + ")");
    if (loaded.empty())
        return fail(&a, Exit::failure, "bench_failed", "the bulk stream ended before the loaded round trips");
    close(io, *conn);
    const double mibs = static_cast<double>(bytes) / (1024.0 * 1024.0) / std::max(secs, 1e-9);
    if (a.json()) {
        print_json({{"mode", "latency"},
                    {"probes", *probes},
                    {"bulk_bytes", bytes},
                    {"bulk_seconds", secs},
                    {"bulk_mib_per_s", mibs},
                    {"idle_rtt_us_p50", percentile(idle, 0.5)},
                    {"idle_rtt_us_p99", percentile(idle, 0.99)},
                    {"loaded_rtt_us_p50", percentile(loaded, 0.5)},
                    {"loaded_rtt_us_p99", percentile(loaded, 0.99)},
                    {"delay_cuts", conn->flow_stats().delay_cuts},
                    {"cipher", conn->tls().cipher}});
    } else {
        std::cout << std::fixed << std::setprecision(1) << "bench bulk " << mibs << " MiB/s on one stream; "
                  << *probes << " round trips each: idle p50 " << percentile(idle, 0.5) / 1000 << " ms, p99 "
                  << percentile(idle, 0.99) / 1000 << " ms; loaded p50 " << percentile(loaded, 0.5) / 1000
                  << " ms, p99 " << percentile(loaded, 0.99) / 1000 << " ms\n";
    }
    return 0;
}

}  // namespace

int cmd_bench(const std::vector<std::string>& argv, std::size_t first) {
    std::string error;
    std::initializer_list<OptionSpec> spec = {{"--pin", true},
                                              {"--token", true},
                                              {"--node-id", true},
                                              {"--timeout-ms", true},
                                              {"--bytes", true},
                                              {"--streams", true},
                                              {"--cid", true},
                                              {"--handshakes", true},
                                              {"--stream-window", true},
                                              {"--session-window", true},
                                              {"--max-frame-size", true},
                                              {"--queue-delay-ms", true},
                                              {"--latency", false},
                                              {"--rtt-cid", true},
                                              {"--probes", true}};
    auto a = Args::parse(argv, first, spec, error);
    if (!a) return fail(nullptr, Exit::usage, "usage", error + "\n" + usage());
    if (a->help()) {
        std::cout << usage();
        return 0;
    }
    if (a->positionals().size() != 1 || !a->get("--pin") || !a->get("--token") ||
        a->has("--cid") == a->has("--handshakes")) {
        return fail(&*a, Exit::usage, "usage", usage());
    }
    net::ConnectOptions o;
    const std::string hostport = a->positionals()[0];
    const auto colon = hostport.rfind(':');
    try {
        if (colon == std::string::npos || colon == 0) throw std::invalid_argument("host");
        o.host = hostport.substr(0, colon);
        if (o.host.size() > 2 && o.host.front() == '[') o.host = o.host.substr(1, o.host.size() - 2);
        const auto p = std::stoul(hostport.substr(colon + 1));
        if (p == 0 || p > 65535) throw std::out_of_range("port");
        o.port = static_cast<std::uint16_t>(p);
    } catch (...) {
        return fail(&*a, Exit::usage, "usage", "expected HOST:PORT, not '" + hostport + "'");
    }
    // Local mistakes before the network: the timeout's range and the CIDs' syntax (exit 2 and 4).
    InputError ierr;
    if (auto t = a->get("--timeout-ms"); t && !parse_timeout_ms("--timeout-ms", *t, ierr))
        return fail(&*a, ierr);
    for (const char* option : {"--cid", "--rtt-cid"}) {
        const auto v = a->get(option);
        std::error_code cec;
        if (v && !content::Cid::parse(*v, cec)) {
            return fail(&*a, Exit::bad_input, content::to_string(static_cast<content::errc>(cec.value())),
                        std::string(option) + " '" + *v + "' is not a CID: " + cec.message() +
                            " ('p2p-probe cid FILE' prints a file's CID)");
        }
    }
    o.pins = parse_pin_list("--pin", *a->get("--pin"), ierr);
    if (!o.pins) return fail(&*a, ierr);
    auto token = read_token("--token", *a->get("--token"), TokenSource::file_or_stdin, ierr);
    if (!token) return fail(&*a, ierr);
    o.token = std::move(*token);
    o.expected_node_id = a->get("--node-id").value_or("");

    net::EngineOptions eo;
    if (a->has("--timeout-ms"))
        eo.connect_timeout = eo.tls_timeout = eo.session.handshake_timeout = timeout_of(*a);
    const auto stream_window = number(*a, "--stream-window", eo.session.initial_stream_window);
    const auto session_window = number(*a, "--session-window", eo.session.initial_session_window);
    const auto frame = number(*a, "--max-frame-size", eo.session.max_frame_size);
    if (!stream_window || !session_window || !frame || *stream_window < 1024 || *stream_window > kMaxWindow ||
        *session_window < 1024 || *session_window > kMaxWindow || *frame < 1024 ||
        *frame > protocol::max_frame_size_ceiling) {
        return fail(&*a, Exit::usage, "usage",
                    "--stream-window/--session-window 1 KiB..1 GiB, --max-frame-size 1 KiB..16 MiB");
    }
    eo.session.initial_stream_window = static_cast<std::uint32_t>(*stream_window);
    eo.session.initial_session_window = static_cast<std::uint32_t>(*session_window);
    eo.session.max_frame_size = static_cast<std::uint32_t>(*frame);
    const auto queue_delay =
        number(*a, "--queue-delay-ms", static_cast<std::uint64_t>(eo.session.queue_delay_target.count()));
    if (!queue_delay || *queue_delay > 1000)
        return fail(&*a, Exit::usage, "usage", "--queue-delay-ms 0..1000");
    eo.session.queue_delay_target = std::chrono::milliseconds(*queue_delay);
    asio::io_context io;
    if (a->has("--handshakes")) return bench_handshakes(*a, io, eo, o);
    net::Engine engine(io.get_executor(), eo);
    if (a->has("--latency")) return bench_latency(*a, io, engine, o);
    return bench_bytes(*a, io, engine, o);
}

}  // namespace cyxp2p::tools::probe
