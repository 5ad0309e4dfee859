// cyxp2p-wan-proxy: the WAN emulator of wan_proxy.hpp as a program, for bench/run and for debugging a
// transport over a long fat path on one machine (docs/performance.md).
//   cyxp2p-wan-proxy --connect HOST:PORT [--listen [HOST:]PORT] [--delay-ms D] [--rate-mibps R]
//                    [--burst-kib B] [--queue-mib Q] [--threads N]
// Prints "listening HOST:PORT" and "ready", runs until SIGINT or SIGTERM, then prints its counters.
#include <pthread.h>
#include <signal.h>

#include <charconv>
#include <iostream>
#include <optional>

#include <boost/asio/ip/tcp.hpp>

#include "../common/cli.hpp"
#include "wan_proxy.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using cyxp2p::tools::Args;
using cyxp2p::tools::Exit;
using cyxp2p::tools::fail;

namespace {

constexpr const char* kUsage =
    "usage: cyxp2p-wan-proxy --connect HOST:PORT [--listen [HOST:]PORT] [--delay-ms D] [--rate-mibps R]\n"
    "                        [--burst-kib B] [--queue-mib Q] [--threads N] [--json]\n"
    "\n"
    "A TCP proxy that emulates a long fat path on one machine: every byte is held D ms in each direction\n"
    "(round trip 2*D) and each direction is paced to R MiB/s, with queues deep enough that the proxy never\n"
    "limits a flow below R x D. Prints 'listening HOST:PORT' and 'ready'; stops on SIGINT/SIGTERM.\n"
    "  --connect HOST:PORT   where each accepted connection is forwarded\n"
    "  --listen [HOST:]PORT  where to listen (default 127.0.0.1:0, an ephemeral port)\n"
    "  --delay-ms D          one-way delay in ms, fractions allowed (default 0)\n"
    "  --rate-mibps R        pacing per direction in MiB/s, fractions allowed (default 0: unpaced)\n"
    "  --burst-kib B         token bucket depth (default 1 ms of the rate, at least 64 KiB)\n"
    "  --queue-mib Q         bytes held per direction and connection before reading stops (default 64)\n"
    "  --threads N           I/O threads; one connection runs on one at a time (default 1)\n";

std::optional<double> number(const std::optional<std::string>& text, double fallback) {
    if (!text) return fallback;
    double v = 0;
    const auto* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, v);
    if (ec != std::errc{} || ptr != end || !(v >= 0)) return std::nullopt;
    return v;
}

// "HOST:PORT" or "PORT"; HOST may be a name (resolved once, first address).
std::optional<tcp::endpoint> endpoint(asio::io_context& io, const std::string& text, std::string& error) {
    const auto colon = text.rfind(':');
    std::string host = colon == std::string::npos ? "127.0.0.1" : text.substr(0, colon);
    const std::string port = colon == std::string::npos ? text : text.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    boost::system::error_code ec;
    tcp::resolver resolver(io);
    auto results = resolver.resolve(host, port, tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) {
        error = "cannot resolve '" + text + "': " + (ec ? ec.message() : "no address");
        return std::nullopt;
    }
    return results.begin()->endpoint();
}

}  // namespace

int main(int argc, char** argv) {
    cyxp2p::tools::set_program_name("cyxp2p-wan-proxy");
    const std::vector<std::string> argv_(argv, argv + argc);
    std::string error;
    auto args = Args::parse(argv_, 1,
                            {{"--connect", true},
                             {"--listen", true},
                             {"--delay-ms", true},
                             {"--rate-mibps", true},
                             {"--burst-kib", true},
                             {"--queue-mib", true},
                             {"--threads", true}},
                            error);
    if (!args) return fail(nullptr, Exit::usage, "usage", error + "\n" + kUsage);
    if (args->help()) {
        std::cout << kUsage;
        return 0;
    }
    const auto connect = args->get("--connect");
    if (!connect || !args->positionals().empty()) return fail(&*args, Exit::usage, "usage", kUsage);
    const auto delay_ms = number(args->get("--delay-ms"), 0);
    const auto rate = number(args->get("--rate-mibps"), 0);
    const auto burst = number(args->get("--burst-kib"), 0);
    const auto queue = number(args->get("--queue-mib"), 64);
    const auto threads = number(args->get("--threads"), 1);
    if (!delay_ms || !rate || !burst || !queue || !threads || *threads < 1 || *threads > 64 || *queue < 1)
        return fail(
            &*args, Exit::usage, "usage",
            "--delay-ms, --rate-mibps, --burst-kib take numbers >= 0, --queue-mib >= 1, --threads 1-64\n" +
                std::string(kUsage));

    cyxp2p::tools::wan::WanLink link;
    link.one_way_delay = std::chrono::microseconds(static_cast<std::int64_t>(*delay_ms * 1000));
    link.rate_bytes_per_s = static_cast<std::uint64_t>(*rate * 1024 * 1024);
    link.burst_bytes = static_cast<std::uint64_t>(*burst * 1024);
    link.max_queue_bytes = static_cast<std::uint64_t>(*queue * 1024 * 1024);

    asio::io_context resolve_io;
    const auto upstream = endpoint(resolve_io, *connect, error);
    if (!upstream) return fail(&*args, Exit::usage, "bad_address", error);
    const auto listen = endpoint(resolve_io, args->get("--listen").value_or("127.0.0.1:0"), error);
    if (!listen) return fail(&*args, Exit::usage, "bad_address", error);

    // Block the signals before the I/O threads start, so only the signal_set below sees them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::optional<cyxp2p::tools::wan::BackgroundWanProxy> proxy;
    try {
        proxy.emplace(*listen, *upstream, link, static_cast<unsigned>(*threads));
    } catch (const boost::system::system_error& e) {
        return fail(
            &*args, Exit::failure, "listen_failed",
            "cannot listen on " + args->get("--listen").value_or("127.0.0.1:0") + ": " + e.code().message());
    }
    const std::string host = listen->address().to_string();
    std::cout << "listening " << (listen->address().is_v6() ? "[" + host + "]" : host) << ":" << proxy->port()
              << "\nready" << std::endl;

    int signal = 0;
    sigwait(&set, &signal);
    proxy->stop();  // the completions already queued run first, so every forwarded byte is counted
    const auto s = proxy->stats();
    proxy.reset();
    if (args->json()) {
        cyxp2p::tools::print_json({{"connections", s.connections},
                                   {"bytes_up", s.bytes_up},
                                   {"bytes_down", s.bytes_down},
                                   {"peak_queued_up", s.peak_queued_up},
                                   {"peak_queued_down", s.peak_queued_down}});
    } else {
        std::cout << "connections " << s.connections << "\nbytes up " << s.bytes_up << " down "
                  << s.bytes_down << "\npeak queued up " << s.peak_queued_up << " down " << s.peak_queued_down
                  << std::endl;
    }
    return 0;
}
