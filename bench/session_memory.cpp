// Holds N idle, established engine sessions (TLS 1.3 + HELLO accepted) against a node, so that bench/run can
// read the node's VmRSS before and after: the node's resident memory per idle session. Also reports this
// process's own growth per session (the engine side).
//
//   session_memory HOST:PORT --pin PIN --token FILE --count N [--parallel W] [--hold-ms MS]
//
// Prints one JSON line once all N are established ({"established": N, ...}), then holds them for MS
// milliseconds (default 60000) and exits without closing them (the node sees N disconnects). Raises
// RLIMIT_NOFILE to its hard limit; the node needs the same (and limits raised: see bench/run).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <sys/resource.h>

#include <cyxp2p/net/engine.hpp>

namespace net = cyxp2p::net;
namespace asio = boost::asio;

namespace {

long rss_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    return 0;
}

[[noreturn]] void usage() {
    std::fprintf(
        stderr,
        "usage: session_memory HOST:PORT --pin PIN --token FILE --count N [--parallel W] [--hold-ms MS]\n");
    std::exit(2);
}

struct Opener {
    net::Engine& engine;
    net::ConnectOptions options;
    std::size_t count = 0;
    std::size_t started = 0;
    std::size_t established = 0;
    std::size_t failed = 0;
    std::string first_error;
    std::vector<std::shared_ptr<net::Connection>> held;

    void next() {
        if (started >= count) return;
        ++started;
        auto o = options;
        o.report = std::make_shared<net::ConnectReport>();
        engine.async_connect(
            o, [this, report = o.report](std::error_code ec, std::shared_ptr<net::Connection> c) {
                if (ec) {
                    ++failed;
                    if (first_error.empty()) first_error = ec.message() + " " + report->reject_detail;
                } else {
                    ++established;
                    held.push_back(std::move(c));
                }
                if (failed < 10) next();
            });
    }
    bool finished() const { return established + failed >= count || failed >= 10; }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) usage();
    std::string hostport = argv[1], pin, token_file;
    std::size_t count = 1000, parallel = 32;
    long hold_ms = 60'000;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--pin")
            pin = v;
        else if (k == "--token")
            token_file = v;
        else if (k == "--count")
            count = std::stoul(v);
        else if (k == "--parallel")
            parallel = std::stoul(v);
        else if (k == "--hold-ms")
            hold_ms = std::stol(v);
        else
            usage();
    }
    const auto colon = hostport.rfind(':');
    if (colon == std::string::npos || pin.empty() || token_file.empty()) usage();
    std::ifstream tf(token_file);
    std::stringstream ts;
    ts << tf.rdbuf();
    std::string token = ts.str();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
        token.pop_back();

    rlimit r{};
    getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);

    asio::io_context io;
    net::Engine engine(io.get_executor());
    Opener opener{engine, {}, count, 0, 0, 0, {}, {}};
    opener.options.host = hostport.substr(0, colon);
    opener.options.port = static_cast<std::uint16_t>(std::stoul(hostport.substr(colon + 1)));
    opener.options.pins = cyxp2p::pinning::PinSet::parse(pin);
    opener.options.token = token;
    if (!opener.options.pins) usage();
    opener.held.reserve(count);

    const long before = rss_kib();
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < parallel && i < count; ++i) opener.next();
    while (!opener.finished()) io.run_one_for(std::chrono::milliseconds(100));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Let the last HELLO_ACKs' follow-up (window updates, tickets) settle.
    io.run_for(std::chrono::milliseconds(500));
    const long after = rss_kib();
    std::printf(
        "{\"established\":%zu,\"failed\":%zu,\"seconds\":%.2f,\"engine_kib_per_session\":%.2f,"
        "\"first_error\":\"%s\"}\n",
        opener.established, opener.failed, secs,
        opener.established ? static_cast<double>(after - before) / static_cast<double>(opener.established)
                           : 0.0,
        opener.first_error.c_str());
    std::fflush(stdout);
    io.run_for(std::chrono::milliseconds(hold_ms));
    std::_Exit(opener.failed == 0 ? 0 : 1);
}
