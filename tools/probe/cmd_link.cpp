// p2p-probe connect | ping | fetch: talk to a node the way an engine does, and say what happened in each
// phase. Like `openssl s_client` and `curl -v`, for cyx-p2p/1.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <future>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <boost/asio/io_context.hpp>

#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/protocol/errc.hpp>

#include "../common/cli.hpp"
#include "commands.hpp"

namespace cyxp2p::tools::probe {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* kCommon =
    "  --pin PINS         sha256//A;sha256//B: the node keys to accept (see 'p2p-probe pin')\n"
    "  --pin-from-token   take the pin from the token's node_pin claim when --pin is not given\n"
    "  --token FILE|-     the P2P token (file, or - for standard input)\n"
    "  --node-id ID       require the node to identify as ID\n"
    "  --timeout-ms N     per-phase timeout (default 10000)\n"
    "  --json             machine-readable output\n";

// The failure class of an error, as exit code and the code name printed with it.
std::pair<Exit, std::string> classify(std::error_code ec) {
    const auto& cat = ec.category();
    if (cat == net::category()) {
        const auto e = static_cast<net::errc>(ec.value());
        // A block that fails verification arrives as a content::errc (below), never as a net::errc.
        const Exit x = e == net::errc::connect_failed || e == net::errc::connect_timeout
                           ? Exit::connect_failed
                           : Exit::tls_failed;
        return {x, net::to_string(e)};
    }
    if (cat == pinning::category()) {
        const auto e = static_cast<pinning::errc>(ec.value());
        const bool pin = e == pinning::errc::pin_mismatch || e == pinning::errc::pins_expired ||
                         e == pinning::errc::no_peer_certificate;
        if (e == pinning::errc::no_pins_configured) return {Exit::usage, pinning::to_string(e)};
        return {pin ? Exit::pin_mismatch : Exit::tls_failed, pinning::to_string(e)};
    }
    if (cat == protocol::category()) {
        const auto e = static_cast<protocol::errc>(ec.value());
        switch (e) {
            case protocol::errc::token_rejected:
            case protocol::errc::wrong_node:
            case protocol::errc::replayed:
            case protocol::errc::token_expired:
            case protocol::errc::forbidden:
                return {Exit::token_rejected, protocol::to_string(e)};
            case protocol::errc::rate_limited:
                return {Exit::rate_limited, protocol::to_string(e)};
            case protocol::errc::content_mismatch:
                return {Exit::content_mismatch, protocol::to_string(e)};
            default:
                return {Exit::protocol_error, protocol::to_string(e)};
        }
    }
    if (cat == content::category()) {
        return {Exit::content_mismatch, content::to_string(static_cast<content::errc>(ec.value()))};
    }
    return {Exit::failure, ec.message()};
}

std::string ms(std::chrono::microseconds d) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << static_cast<double>(d.count()) / 1000.0 << " ms";
    return s.str();
}

std::string utc(std::int64_t t) {
    const std::time_t tt = t;
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

struct Target {
    net::ConnectOptions options;
    std::string where;
};

// Parses HOST:PORT, pins and token into ConnectOptions. Returns an exit code on a usage error.
std::optional<int> build_target(const Args& a, const std::string& hostport, bool need_token, Target& t) {
    const auto colon = hostport.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        return fail(&a, Exit::usage, "usage", "expected HOST:PORT, not '" + hostport + "'");
    }
    t.where = hostport;
    t.options.host = hostport.substr(0, colon);
    if (t.options.host.size() > 2 && t.options.host.front() == '[') {
        t.options.host = t.options.host.substr(1, t.options.host.size() - 2);
    }
    try {
        const auto p = std::stoul(hostport.substr(colon + 1));
        if (p == 0 || p > 65535) throw std::out_of_range("port");
        t.options.port = static_cast<std::uint16_t>(p);
    } catch (...) {
        return fail(&a, Exit::usage, "usage", "bad port in '" + hostport + "'");
    }
    if (auto pins = a.get("--pin")) {
        pinning::PinListError perr;
        t.options.pins = pinning::PinSet::parse(*pins, &perr);
        if (!t.options.pins) {
            return fail(&a, Exit::bad_input,
                        pinning::to_string(static_cast<pinning::errc>(perr.code.value())),
                        "--pin: " + perr.describe());
        }
    } else if (!a.has("--pin-from-token")) {
        return fail(&a, Exit::usage, "usage",
                    "give --pin sha256//... (or --pin-from-token): an unpinned link is refused");
    }
    t.options.pin_from_token = a.has("--pin-from-token");
    if (auto tok = a.get("--token")) {
        std::error_code ec;
        auto text = read_input(*tok, ec);
        if (!text) return fail(&a, Exit::io, "io_error", "cannot read token " + *tok + ": " + ec.message());
        const auto b = text->find_first_not_of(" \t\r\n");
        const auto e = text->find_last_not_of(" \t\r\n");
        t.options.token = b == std::string::npos ? "" : text->substr(b, e - b + 1);
    } else if (need_token) {
        return fail(&a, Exit::usage, "usage", "--token FILE|- is required");
    }
    t.options.tls_only = t.options.token.empty();
    t.options.expected_node_id = a.get("--node-id").value_or("");
    t.options.report = std::make_shared<net::ConnectReport>();
    return std::nullopt;
}

net::EngineOptions engine_options(const Args& a) {
    net::EngineOptions o;
    if (auto t = a.get("--timeout-ms")) {
        const auto v = std::chrono::milliseconds(std::stoll(*t));
        o.connect_timeout = o.tls_timeout = v;
        o.session.handshake_timeout = v;
    }
    return o;
}

// Runs the io_context on this thread until `f` is ready.
template <class T>
T wait(asio::io_context& io, std::future<T>& f) {
    while (f.wait_for(0s) != std::future_status::ready) io.run_one_for(50ms);
    return f.get();
}

std::pair<std::error_code, std::shared_ptr<net::Connection>> dial(asio::io_context& io, net::Engine& engine,
                                                                  net::ConnectOptions o) {
    std::promise<std::pair<std::error_code, std::shared_ptr<net::Connection>>> p;
    auto f = p.get_future();
    engine.async_connect(std::move(o), [&p](std::error_code ec, std::shared_ptr<net::Connection> c) {
        p.set_value({ec, std::move(c)});
    });
    return wait(io, f);
}

nlohmann::json report_json(const net::ConnectReport& r) {
    nlohmann::json j{{"tcp_ms", static_cast<double>(r.tcp_time.count()) / 1000.0},
                     {"tls_ms", static_cast<double>(r.tls_time.count()) / 1000.0},
                     {"hello_ms", static_cast<double>(r.hello_time.count()) / 1000.0},
                     {"tls",
                      {{"version", r.tls.version},
                       {"cipher", r.tls.cipher},
                       {"group", r.tls.group},
                       {"alpn", r.tls.alpn},
                       {"peer_pin", r.tls.peer_pin},
                       {"resumed", r.tls.resumed}}}};
    if (!r.pin_check.empty()) j["pin_check"] = r.pin_check;
    if (!r.handshake.node_id.empty()) {
        const auto& l = r.handshake.peer_limits;
        j["node"] = {{"node_id", r.handshake.node_id},
                     {"session_id", r.handshake.session_id},
                     {"token_expiry", r.handshake.token_expiry},
                     {"node_version", r.handshake.node_version},
                     {"limits",
                      {{"max_frame_size", l.max_frame_size},
                       {"max_message_size", l.max_message_size},
                       {"max_concurrent_streams", l.max_concurrent_streams},
                       {"initial_stream_window", l.initial_stream_window},
                       {"initial_session_window", l.initial_session_window}}}};
    }
    if (!r.failed_phase.empty()) j["failed_phase"] = r.failed_phase;
    if (!r.reject_detail.empty()) j["reject_detail"] = r.reject_detail;
    if (r.retry_after.count() > 0) j["retry_after_ms"] = r.retry_after.count();
    return j;
}

// What went wrong and what to do, for a person.
std::string advice(std::error_code ec, const net::ConnectReport& r) {
    const auto [exit, code] = classify(ec);
    switch (exit) {
        case Exit::connect_failed:
            return "is the node running at that address, and is the port open?";
        case Exit::pin_mismatch:
            return r.pin_check +
                   ". If the node rotated its key, get its new pin from the operator or the Central Server; "
                   "otherwise this may be a man-in-the-middle.";
        case Exit::tls_failed:
            return "TLS failed: the peer must speak TLS 1.3 with ALPN cyx-p2p/1.";
        case Exit::token_rejected:
            return "the node refused the token (" + (r.reject_detail.empty() ? code : r.reject_detail) +
                   "): mint a fresh P2P token for this node.";
        case Exit::rate_limited:
            return "rate limited: retry after " + std::to_string(r.retry_after.count()) + " ms.";
        default:
            return ec.message();
    }
}

int report_failure(const Args& a, std::error_code ec, const net::ConnectReport& r, const std::string& where) {
    const auto [exit, code] = classify(ec);
    if (a.json()) {
        auto j = report_json(r);
        j["ok"] = false;
        j["target"] = where;
        j["error"] = code;
        j["message"] = ec.message();
        j["advice"] = advice(ec, r);
        j["exit_code"] = static_cast<int>(exit);
        print_json(j);
    } else {
        std::cerr << "p2p-probe: " << where << ": "
                  << (r.failed_phase.empty() ? "" : r.failed_phase + " failed: ") << ec.message() << " ["
                  << code << "]\n  " << advice(ec, r) << '\n';
    }
    return static_cast<int>(exit);
}

void print_report(const net::ConnectReport& r, bool hello) {
    std::cout << "  tcp     ok  " << ms(r.tcp_time) << '\n';
    std::cout << "  tls     ok  " << ms(r.tls_time) << "  " << r.tls.version << " " << r.tls.cipher << " "
              << r.tls.group << " alpn=" << r.tls.alpn << (r.tls.resumed ? " (resumed)" : "") << '\n';
    std::cout << "  pin     ok  " << r.tls.peer_pin << " (in the pin set)\n";
    if (!hello) return;
    const auto& h = r.handshake;
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    std::cout << "  hello   ok  " << ms(r.hello_time) << "  node_id=" << h.node_id
              << " session_id=" << h.session_id << " node_version=" << h.node_version << '\n';
    std::cout << "  limits      frame=" << h.peer_limits.max_frame_size
              << " message=" << h.peer_limits.max_message_size
              << " streams=" << h.peer_limits.max_concurrent_streams
              << " stream_window=" << h.peer_limits.initial_stream_window
              << " session_window=" << h.peer_limits.initial_session_window << '\n';
    std::cout << "  token       expires " << utc(h.token_expiry) << " (in " << (h.token_expiry - now)
              << " s)\n";
}

}  // namespace

int cmd_connect(const std::vector<std::string>& argv, std::size_t first) {
    const std::string usage =
        std::string(
            "usage: p2p-probe connect HOST:PORT --pin PINS [--token FILE|-] [options]\n\n"
            "Connects as an engine and reports each phase: TCP, TLS (version, cipher, group,\n"
            "ALPN, the node's pin), HELLO (node id, session, limits, token expiry), then a\n"
            "verdict. Without --token it stops after TLS.\n\n") +
        kCommon;
    std::string error;
    auto a = Args::parse(argv, first,
                         {{"--pin", true},
                          {"--pin-from-token", false},
                          {"--token", true},
                          {"--node-id", true},
                          {"--timeout-ms", true}},
                         error);
    if (!a) return fail(nullptr, Exit::usage, "usage", error + "\n" + usage);
    if (a->help()) {
        std::cout << usage;
        return 0;
    }
    if (a->positionals().size() != 1) return fail(&*a, Exit::usage, "usage", usage);
    Target t;
    if (auto rc = build_target(*a, a->positionals()[0], false, t)) return *rc;
    asio::io_context io;
    net::Engine engine(io.get_executor(), engine_options(*a));
    const bool hello = !t.options.tls_only;
    auto report = t.options.report;
    auto [ec, conn] = dial(io, engine, t.options);
    if (ec) return report_failure(*a, ec, *report, t.where);
    const std::string verdict = hello ? "OK: pinned, authenticated session established"
                                      : "OK: pinned TLS 1.3 link (no token given, HELLO not tried)";
    if (a->json()) {
        auto j = report_json(*report);
        j["target"] = t.where;
        j["verdict"] = verdict;
        print_json(j);
    } else {
        std::cout << "connect " << t.where << '\n';
        print_report(*report, hello);
        std::cout << "verdict: " << verdict << '\n';
    }
    if (conn) {
        std::promise<std::error_code> closed;
        auto f = closed.get_future();
        conn->async_close([&closed](std::error_code e) { closed.set_value(e); });
        wait(io, f);
    }
    return 0;
}

int cmd_ping(const std::vector<std::string>& argv, std::size_t first) {
    const std::string usage =
        std::string(
            "usage: p2p-probe ping HOST:PORT --pin PINS --token FILE|- [--count N] [options]\n\n"
            "Round trips of PING/PONG over an authenticated session.\n\n") +
        kCommon + "  --count N          pings to send (default 4)\n";
    std::string error;
    std::initializer_list<OptionSpec> spec = {{"--pin", true},        {"--pin-from-token", false},
                                              {"--token", true},      {"--node-id", true},
                                              {"--timeout-ms", true}, {"--count", true}};
    auto a = Args::parse(argv, first, spec, error);
    if (!a) return fail(nullptr, Exit::usage, "usage", error + "\n" + usage);
    if (a->help()) {
        std::cout << usage;
        return 0;
    }
    if (a->positionals().size() != 1) return fail(&*a, Exit::usage, "usage", usage);
    Target t;
    if (auto rc = build_target(*a, a->positionals()[0], true, t)) return *rc;
    int count = 4;
    try {
        count = std::stoi(a->get("--count").value_or("4"));
    } catch (...) {
        count = -1;
    }
    if (count < 1 || count > 1000) return fail(&*a, Exit::usage, "usage", "--count must be 1..1000");
    asio::io_context io;
    net::Engine engine(io.get_executor(), engine_options(*a));
    auto report = t.options.report;
    auto [ec, conn] = dial(io, engine, t.options);
    if (ec) return report_failure(*a, ec, *report, t.where);
    nlohmann::json rtts = nlohmann::json::array();
    for (int i = 0; i < count; ++i) {
        std::promise<std::pair<std::error_code, std::chrono::microseconds>> p;
        auto f = p.get_future();
        conn->async_ping([&p](std::error_code e, std::chrono::microseconds d) { p.set_value({e, d}); });
        auto [pe, rtt] = wait(io, f);
        if (pe) return report_failure(*a, pe, *report, t.where);
        rtts.push_back(static_cast<double>(rtt.count()) / 1000.0);
        if (!a->json())
            std::cout << "pong from " << report->handshake.node_id << ": time=" << ms(rtt) << '\n';
    }
    if (a->json())
        print_json({{"target", t.where}, {"node_id", report->handshake.node_id}, {"rtt_ms", rtts}});
    return 0;
}

int cmd_fetch(const std::vector<std::string>& argv, std::size_t first) {
    const std::string usage =
        std::string(
            "usage: p2p-probe fetch HOST:PORT CID -o FILE --pin PINS --token FILE|- [options]\n\n"
            "Downloads a DAG by CID. Every block is verified against the CID its parent names\n"
            "before its bytes are written; FILE appears only when the whole file verified.\n"
            "Interrupted? Run the same command again: verified blocks kept in FILE.cyxp2p-partial\n"
            "are checked again locally and not downloaded twice.\n\n") +
        kCommon + "  -o, --output FILE  where to write the file\n";
    std::string error;
    std::vector<std::string> args = argv;
    for (auto& x : args) {
        if (x == "-o") x = "--output";
    }
    std::initializer_list<OptionSpec> spec = {{"--pin", true},        {"--pin-from-token", false},
                                              {"--token", true},      {"--node-id", true},
                                              {"--timeout-ms", true}, {"--output", true}};
    auto a = Args::parse(args, first, spec, error);
    if (!a) return fail(nullptr, Exit::usage, "usage", error + "\n" + usage);
    if (a->help()) {
        std::cout << usage;
        return 0;
    }
    if (a->positionals().size() != 2 || !a->get("--output")) return fail(&*a, Exit::usage, "usage", usage);
    Target t;
    if (auto rc = build_target(*a, a->positionals()[0], true, t)) return *rc;
    const std::string cid = a->positionals()[1];
    const std::string out = *a->get("--output");
    asio::io_context io;
    net::Engine engine(io.get_executor(), engine_options(*a));
    auto report = t.options.report;
    auto [ec, conn] = dial(io, engine, t.options);
    if (ec) return report_failure(*a, ec, *report, t.where);
    const bool bar = !a->json() && isatty(STDERR_FILENO) == 1;
    const auto t0 = std::chrono::steady_clock::now();
    std::promise<std::pair<std::error_code, net::FetchResult>> p;
    auto f = p.get_future();
    conn->async_fetch(
        cid, out,
        [bar](std::uint64_t done, std::uint64_t total) {
            if (!bar || total == 0) return;
            const int pct = static_cast<int>(done * 100 / total);
            std::fprintf(stderr, "\r[%-40s] %3d%% %llu/%llu bytes verified",
                         std::string(static_cast<std::size_t>(pct * 40 / 100), '#').c_str(), pct,
                         static_cast<unsigned long long>(done), static_cast<unsigned long long>(total));
        },
        [&p](std::error_code e, net::FetchResult r) {
            p.set_value({e, std::move(r)});
        });
    auto [fe, result] = wait(io, f);
    if (bar) std::fputs("\n", stderr);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (fe) {
        auto [exit, code] = classify(fe);
        const std::string msg = "fetch " + cid + " failed: " + fe.message() + "; nothing was written to " +
                                out + " (verified blocks are kept in " + out +
                                ".cyxp2p-partial: run the same fetch again to resume)";
        return fail(&*a, exit, code, msg);
    }
    const double mibs = static_cast<double>(result.bytes) / (1024.0 * 1024.0) / std::max(secs, 1e-9);
    if (a->json()) {
        print_json({{"cid", cid},
                    {"path", out},
                    {"bytes", result.bytes},
                    {"blocks", result.blocks},
                    {"resumed_blocks", result.resumed_blocks},
                    {"seconds", secs},
                    {"mib_per_s", mibs},
                    {"verified", true}});
    } else {
        std::cout << "fetched " << cid << " -> " << out << ": " << result.bytes << " bytes, " << result.blocks
                  << " blocks, every block verified, " << std::fixed << std::setprecision(1) << mibs
                  << " MiB/s";
        if (result.resumed_blocks > 0)
            std::cout << " (resumed: " << result.resumed_blocks << " blocks were already here)";
        std::cout << '\n';
    }
    return 0;
}

}  // namespace cyxp2p::tools::probe
