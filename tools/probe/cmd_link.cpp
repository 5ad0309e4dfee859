// p2p-probe connect | ping | fetch: talk to a node the way an engine does, and say what happened in each
// phase. Like `openssl s_client` and `curl -v`, for cyx-p2p/1.
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <future>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <boost/asio/io_context.hpp>

#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/auth/scope.hpp>
#include <cyxp2p/content/download.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/limits.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/protocol/errc.hpp>

#include "../common/cli.hpp"
#include "../common/local_checks.hpp"
#include "commands.hpp"
#include "gateway_fetch.hpp"
#include "multi_fetch.hpp"
#include "resume_state.hpp"

namespace cyxp2p::tools::probe {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// The options connect, ping and fetch share, with their defaults.
std::string common_help() {
    return "  --pin PINS         sha256//A;sha256//B (spaces around ';' allowed): the node keys to accept\n"
           "                     ('p2p-probe pin node.crt' prints a node's pin)\n"
           "  --pin-from-token   take the pin from the token's node_pin claim when --pin is not given\n"
           "  --token FILE|-     the P2P token: a file holding it, or - for standard input (never the\n"
           "                     token itself: command lines end up in shell history and process lists)\n"
           "  --node-id ID       require the node to identify as ID [default: any]\n"
           "  --timeout-ms N     per-phase timeout, 1.." +
           std::to_string(InputLimits{}.max_timeout_ms) +
           " [default: " + std::to_string(net::EngineOptions{}.connect_timeout.count()) +
           "]\n"
           "  --json             machine-readable output\n";
}

// The failure class of an error, as exit code and the code name printed with it.
std::pair<Exit, std::string> classify(std::error_code ec) {
    return {exit_of(ec), net::error_name(ec, ec.message())};
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
    std::chrono::milliseconds timeout{net::EngineOptions{}.connect_timeout};
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
    const std::string port = hostport.substr(colon + 1);
    unsigned p = 0;
    const auto [end, perr] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (perr != std::errc{} || end != port.data() + port.size() || p == 0 || p > 65535) {
        return fail(&a, Exit::usage, "usage", "bad port in '" + hostport + "': expected 1..65535");
    }
    t.options.port = static_cast<std::uint16_t>(p);
    if (auto v = a.get("--timeout-ms")) {
        InputError e;
        const auto ms = parse_timeout_ms("--timeout-ms", *v, e);
        if (!ms) return fail(&a, e);
        t.timeout = *ms;
    }
    if (auto pins = a.get("--pin")) {
        InputError e;
        t.options.pins = parse_pin_list("--pin", *pins, e);
        if (!t.options.pins) return fail(&a, e);
    } else if (!a.has("--pin-from-token")) {
        return fail(&a, Exit::usage, "usage",
                    "give --pin sha256//... (or --pin-from-token): an unpinned link is refused");
    }
    t.options.pin_from_token = a.has("--pin-from-token");
    if (auto tok = a.get("--token")) {
        // Checked here, before any connection: an empty or mangled token is a local mistake.
        InputError e;
        auto token = read_token("--token", *tok, TokenSource::file_or_stdin, e);
        if (!token) return fail(&a, e);
        t.options.token = std::move(*token);
    } else if (need_token) {
        return fail(&a, Exit::usage, "usage", "--token FILE|- is required");
    }
    if (t.options.pin_from_token && !t.options.pins) {
        // The claim is read unverified here only to catch the mistake early; the engine uses it only after
        // the node verified the token, and the TLS pin check still decides.
        std::error_code ec;
        auto u = t.options.token.empty() ? std::nullopt : auth::decode_unverified(t.options.token, ec);
        const bool has_pin = u && nlohmann::json::parse(u->payload_json, nullptr, false).contains("node_pin");
        if (!has_pin) {
            return fail(
                &a, Exit::usage, "no_pins_configured",
                t.options.token.empty()
                    ? "--pin-from-token needs --token: the pin comes from the token's node_pin claim"
                    : "--pin-from-token: the token has no node_pin claim, so there is no pin to check "
                      "the node against: give --pin sha256//... ('p2p-probe pin node.crt'), or mint "
                      "the token with --node-pin");
        }
    }
    t.options.tls_only = t.options.token.empty();
    t.options.expected_node_id = a.get("--node-id").value_or("");
    t.options.report = std::make_shared<net::ConnectReport>();
    return std::nullopt;
}

net::EngineOptions engine_options(const Target& t) {
    net::EngineOptions o;
    o.connect_timeout = o.tls_timeout = t.timeout;
    o.session.handshake_timeout = t.timeout;
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

// The session's flow control as the fetch left it (docs/protocol.md section 6): RTTs in ms, windows in
// bytes, and the window ramp (open -> max_stream_window) in ms and in minimum RTTs; null where there was
// no sample or the cap was not reached.
nlohmann::json flow_json(const protocol::FlowStats& f) {
    auto msec = [](std::optional<std::chrono::nanoseconds> d) -> nlohmann::json {
        if (!d) return nullptr;
        return std::chrono::duration<double, std::milli>(*d).count();
    };
    nlohmann::json ramp_rtts = nullptr;
    if (f.window_ramp && f.min_rtt && f.min_rtt->count() > 0)
        ramp_rtts = static_cast<double>(f.window_ramp->count()) / static_cast<double>(f.min_rtt->count());
    return {{"srtt_ms", msec(f.smoothed_rtt)},
            {"min_rtt_ms", msec(f.min_rtt)},
            {"rtt_samples", f.rtt_samples},
            {"session_window", f.session_window},
            {"largest_stream_window", f.largest_stream_window},
            {"window_growth_refused", f.growth_refused},
            {"delay_cuts", f.delay_cuts},
            {"window_ramp_ms", msec(f.window_ramp)},
            {"window_ramp_rtts", ramp_rtts}};
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

// The scope `method` needs, for advice on a `forbidden` refusal (auth/scope.hpp holds the table).
std::string scope_advice(std::string_view method) {
    const auto needed = auth::required_scope(method);
    if (!needed) return "the token may not call " + std::string(method) + ".";
    return "the token lacks the scope " + std::string(*needed) + " that " + std::string(method) +
           " needs: mint one with --scope " + std::string(*needed) +
           " ('p2p-probe token mint --help' lists each method's scope).";
}

// What went wrong and what to do, for a person. Empty when the message itself says it all.
std::string advice(std::error_code ec, const net::ConnectReport& r, const Target& t,
                   std::string_view method) {
    const auto [exit, code] = classify(ec);
    if (ec == protocol::errc::forbidden) return scope_advice(method);
    if (ec == protocol::errc::wrong_node && !t.options.expected_node_id.empty() &&
        r.reject_detail.find("is not the expected") != std::string::npos) {
        // Our own check of HELLO_ACK (protocol/engine_session.cpp), not the node refusing the token.
        return r.reject_detail + ": the node at " + t.where +
               " is not the one --node-id names; check the address and the node id (the token is not the "
               "problem).";
    }
    if (ec == protocol::errc::content_mismatch) {
        return "its file changed or vanished after the node imported it, so the node refuses to serve it: "
               "ask "
               "the node's operator to restore the file or re-import it. This is not a transfer fault.";
    }
    constexpr const char* kLimiting =
        "the TLS handshake did not complete: the node may be limiting new connections from this address "
        "(retry later; its operator sets --new-connections-per-address), or the peer does not speak TLS 1.3 "
        "with ALPN cyx-p2p/1.";
    if (ec == net::errc::connection_lost) {
        if (r.failed_phase == "tls" || r.failed_phase == "tcp") return kLimiting;
        return "the connection was lost after the session was established (the node stopped or restarted, or "
               "the network failed): run the same command again.";
    }
    switch (exit) {
        case Exit::connect_failed:
            return {};  // the message already asks whether the node runs there
        case Exit::pin_mismatch:
            return r.pin_check +
                   ". If the node rotated its key, get its new pin from the operator or the Central Server; "
                   "otherwise this may be a man-in-the-middle.";
        case Exit::tls_failed:
            return kLimiting;
        case Exit::token_rejected: {
            const std::string why = r.reject_detail.empty() ? code : r.reject_detail;
            if (why == "expired") return "the token expired: mint a fresh P2P token for this node.";
            if (ec == protocol::errc::wrong_node || why == "wrong_node")
                return "the token was minted for another node: mint one with --node-id set to this node's "
                       "id.";
            if (ec == protocol::errc::replayed)
                return "the node refused the request as a replay (" + why +
                       "): check that this machine's clock is right, then retry.";
            return "the node refused the token (" + why + "): mint a fresh P2P token for this node.";
        }
        case Exit::rate_limited:
            if (ec == net::errc::connection_refused_by_limit)
                return "the node closed the connection before TLS (it may be overloaded or limiting "
                       "connections): retry in a few seconds; if it persists, ask the node's operator.";
            return "rate limited: retry after " + std::to_string(r.retry_after.count()) + " ms.";
        case Exit::usage:
            if (ec == pinning::errc::no_pins_configured)
                return "the token has no node_pin claim: give --pin sha256//... ('p2p-probe pin node.crt').";
            return {};
        default:
            return {};
    }
}

int report_failure(const Args& a, std::error_code ec, const Target& t, std::string_view method = {}) {
    const auto& r = *t.options.report;
    const auto [exit, code] = classify(ec);
    const std::string help = advice(ec, r, t, method);
    if (a.json()) {
        auto j = report_json(r);
        j["ok"] = false;
        j["target"] = t.where;
        j["error"] = code;
        j["message"] = ec.message();
        if (!help.empty()) j["advice"] = help;
        j["exit_code"] = static_cast<int>(exit);
        print_json(j);
    } else {
        std::cerr << "p2p-probe: " << t.where << ": "
                  << (r.failed_phase.empty() ? "" : r.failed_phase + " failed: ") << ec.message() << " ["
                  << code << "]\n";
        if (!help.empty()) std::cerr << "  " << help << '\n';
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

Exit exit_of(std::error_code ec) {
    const auto& cat = ec.category();
    if (cat == net::category()) {
        const auto e = static_cast<net::errc>(ec.value());
        // A lost connection is a connection failure, not a TLS one (advice() tells the phases apart); a close
        // before the ServerHello is what a node's connection limits look like from outside. A block that
        // fails verification arrives as a content::errc (below), never as a net::errc.
        return e == net::errc::connect_failed || e == net::errc::connect_timeout ||
                       e == net::errc::connection_lost
                   ? Exit::connect_failed
               : e == net::errc::connection_refused_by_limit ? Exit::rate_limited
                                                             : Exit::tls_failed;
    }
    if (cat == pinning::category()) {
        const auto e = static_cast<pinning::errc>(ec.value());
        const bool pin = e == pinning::errc::pin_mismatch || e == pinning::errc::pins_expired ||
                         e == pinning::errc::no_peer_certificate;
        if (e == pinning::errc::no_pins_configured) return Exit::usage;
        return pin ? Exit::pin_mismatch : Exit::tls_failed;
    }
    if (cat == protocol::category()) {
        switch (static_cast<protocol::errc>(ec.value())) {
            case protocol::errc::token_rejected:
            case protocol::errc::wrong_node:
            case protocol::errc::replayed:
            case protocol::errc::token_expired:
            case protocol::errc::forbidden:
                return Exit::token_rejected;
            case protocol::errc::rate_limited:
                return Exit::rate_limited;
            case protocol::errc::content_mismatch:
                return Exit::content_mismatch;
            default:
                return Exit::protocol_error;
        }
    }
    if (cat == content::category()) {
        // A full disk, a failed write or a damaged local resume state: this machine's files, not the node.
        const auto e = static_cast<content::errc>(ec.value());
        if (e == content::errc::no_space || e == content::errc::write_failed ||
            e == content::errc::resume_state_damaged)
            return Exit::io;
        return Exit::content_mismatch;
    }
    return Exit::failure;
}

int cmd_connect(const std::vector<std::string>& argv, std::size_t first) {
    const std::string usage =
        std::string(
            "usage: p2p-probe connect HOST:PORT --pin PINS [--token FILE|-] [options]\n\n"
            "Connects as an engine and reports each phase: TCP, TLS (version, cipher, group,\n"
            "ALPN, the node's pin), HELLO (node id, session, limits, token expiry), then a\n"
            "verdict. Without --token it stops after TLS.\n\n") +
        common_help();
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
    net::Engine engine(io.get_executor(), engine_options(t));
    const bool hello = !t.options.tls_only;
    auto report = t.options.report;
    auto [ec, conn] = dial(io, engine, t.options);
    if (ec) return report_failure(*a, ec, t);
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
        common_help() + "  --count N          pings to send, 1..1000 [default: 4]\n";
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
    net::Engine engine(io.get_executor(), engine_options(t));
    auto report = t.options.report;
    auto [ec, conn] = dial(io, engine, t.options);
    if (ec) return report_failure(*a, ec, t);
    nlohmann::json rtts = nlohmann::json::array();
    for (int i = 0; i < count; ++i) {
        std::promise<std::pair<std::error_code, std::chrono::microseconds>> p;
        auto f = p.get_future();
        conn->async_ping([&p](std::error_code e, std::chrono::microseconds d) { p.set_value({e, d}); });
        auto [pe, rtt] = wait(io, f);
        if (pe) return report_failure(*a, pe, t, "ping");
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
            "usage: p2p-probe fetch HOST:PORT CID -o FILE --pin PINS --token FILE|- [options]\n"
            "       p2p-probe fetch http(s)://GATEWAY/ipfs/CID -o FILE [--force] [--gateway-ca FILE]\n"
            "       p2p-probe fetch CID -o FILE --sources SOURCES.json [--in-flight N] [--stall-ms N]\n\n"
            "Downloads a DAG by CID. Every block is verified against the CID its parent names\n"
            "before its bytes are written; FILE appears only when the whole file verified.\n"
            "The CID, the output path and the token are checked before connecting.\n"
            "Interrupted (or the disk full, exit 3)? When the failure message says verified blocks\n"
            "are kept (in FILE.cyxp2p-partial + .meta), run the same command again: they are hashed\n"
            "again locally and not downloaded twice. A damaged resume file is detected, discarded\n"
            "(it says so) and the fetch starts over.\n\n") +
        common_help() +
        "  -o, --output FILE  where to write the file (its directory must exist and be writable)\n"
        "  --force            replace FILE if it exists (default: refuse, exit 3)\n"
        "  --gateway-ca FILE  https gateway: trust this CA (PEM) instead of the system store\n"
        "  --sources FILE     fetch CID from every source this JSON list names (below)\n"
        "  --in-flight N      with --sources: units per source at once, 1..64 [default: " +
        std::to_string(net::MultiFetchLimits{}.in_flight) +
        "]\n"
        "  --stall-ms N       with --sources: drop a source with no verified block for N ms,\n"
        "                     1..3600000 [default: " +
        std::to_string(net::MultiFetchLimits{}.stall.count()) +
        "]\n"
        "  --hedge-ms N       with --sources: an idle source also fetches a unit another has held\n"
        "                     this long, 1..3600000 [default: " +
        std::to_string(net::MultiFetchLimits{}.hedge.count()) +
        "]\n"
        "\n"
        "From an IPFS trustless gateway (no pin, no token: the gateway is not trusted either),\n"
        "the CAR is verified block by block from the CID in the URL; a CAR in another order than\n"
        "DFS (a static file server) is kept in a scratch file beside FILE until it verified.\n"
        "\n"
        "From several sources at once (--sources: a JSON array of {\"address\", \"pin\", \"token_file\"}\n"
        "nodes and {\"gateway\": \"http(s)://HOST:PORT\"} gateways; docs/tools.md): the DAG's subtrees\n"
        "are shared out, an idle source takes half of the largest unstarted share, a source that\n"
        "fails, stalls (--stall-ms) or sends a bad block is dropped and its share is fetched\n"
        "from the others. The resume state is FILE.cyxp2p-multi + .meta.\n";
    std::string error;
    std::vector<std::string> args = argv;
    for (auto& x : args) {
        if (x == "-o") x = "--output";
    }
    std::initializer_list<OptionSpec> spec = {
        {"--pin", true},        {"--pin-from-token", false}, {"--token", true},    {"--node-id", true},
        {"--timeout-ms", true}, {"--output", true},          {"--force", false},   {"--gateway-ca", true},
        {"--sources", true},    {"--in-flight", true},       {"--stall-ms", true}, {"--hedge-ms", true}};
    auto a = Args::parse(args, first, spec, error);
    if (!a) return fail(nullptr, Exit::usage, "usage", error + "\n" + usage);
    if (a->help()) {
        std::cout << usage;
        return 0;
    }
    if (auto sources = a->get("--sources")) {
        if (a->positionals().size() != 1 || !a->get("--output") || a->has("--pin") || a->has("--token"))
            return fail(&*a, Exit::usage, "usage",
                        "with --sources: p2p-probe fetch CID -o FILE --sources SOURCES.json (pins and tokens "
                        "go in SOURCES.json)");
        return fetch_from_sources(*a, a->positionals()[0], *sources);
    }
    if (a->has("--in-flight") || a->has("--stall-ms") || a->has("--hedge-ms"))
        return fail(&*a, Exit::usage, "usage", "--in-flight, --stall-ms and --hedge-ms go with --sources");
    if (a->positionals().size() == 1 && is_gateway_url(a->positionals()[0]) && a->get("--output"))
        return fetch_from_gateway(*a, a->positionals()[0]);
    if (a->positionals().size() != 2 || !a->get("--output")) return fail(&*a, Exit::usage, "usage", usage);
    Target t;
    if (auto rc = build_target(*a, a->positionals()[0], true, t)) return *rc;
    const std::string cid = a->positionals()[1];
    const std::string out = *a->get("--output");
    // Local mistakes first: no connection is opened for a malformed CID or an unusable output path.
    std::error_code cec;
    auto root = content::Cid::parse(cid, cec);
    if (!root) {
        return fail(
            &*a, Exit::bad_input, content::to_string(static_cast<content::errc>(cec.value())),
            "'" + cid + "' is not a CID: " + cec.message() + " ('p2p-probe cid FILE' prints a file's CID)");
    }
    if (auto e = check_output_path(out, a->has("--force"))) return fail(&*a, *e);
    const auto replaced_mode = existing_permissions(out);
    const auto before = inspect_resume_state(out, *root);
    std::string discarded;
    if (before.corrupt) {
        std::error_code dec;
        if (!discard_resume_state(before, dec))
            return fail(&*a, Exit::io, "io_error",
                        "the resume state " + before.path.string() + " is corrupt (" + before.problem +
                            ") and cannot be removed: " + dec.message());
        discarded = "the resume state " + before.path.string() + " was corrupt (" + before.problem +
                    "): discarded, fetching from the start";
        if (!a->json()) std::cerr << "p2p-probe: " << discarded << '\n';
    }
    // After a failure: keep the state only when it holds verified data, and say so only then.
    auto failed = [&](std::error_code e, std::string_view what, const std::string& local_detail = {}) {
        const auto after = inspect_resume_state(out, *root);
        std::string kept;
        if (after.holds_verified_data()) {
            kept = "; " + std::to_string(after.verified_blocks) + " verified blocks (" +
                   std::to_string(after.verified_bytes) + " bytes) are kept in " + after.path.string() +
                   ": run the same fetch again to resume";
        } else if (after.exists && (after.for_this_root || after.corrupt)) {
            std::error_code ignored;
            discard_resume_state(after, ignored);  // nothing in it is worth keeping
        }
        const auto [exit, code] = classify(e);
        const std::string help = advice(e, *t.options.report, t, "content.fetch");
        // The node reporting its own copy as bad (content::DagSource checks each block it reads) is not
        // the same as this engine finding a bad block: say which.
        const std::string why = e == protocol::errc::content_mismatch
                                    ? "the node's copy no longer matches the CID it advertised"
                                    : e.message();
        // A local failure (full disk, unwritable file) names the path and the system's reason.
        const std::string where = local_detail.empty() ? "" : " (" + local_detail + ")";
        const std::string msg = std::string(what) + why + where + "; nothing was written to " + out + kept;
        if (a->json()) {
            nlohmann::json j{{"ok", false},
                             {"error", code},
                             {"message", msg},
                             {"exit_code", static_cast<int>(exit)},
                             {"resumable", !kept.empty()}};
            if (!help.empty()) j["advice"] = help;
            if (!discarded.empty()) j["discarded_resume_state"] = discarded;
            print_json(j);
        } else {
            std::cerr << "p2p-probe: " << msg << " [" << code << "]\n";
            if (!help.empty()) std::cerr << "  " << help << '\n';
        }
        return static_cast<int>(exit);
    };
    asio::io_context io;
    net::Engine engine(io.get_executor(), engine_options(t));
    auto [ec, conn] = dial(io, engine, t.options);
    if (ec) {
        const auto& r = *t.options.report;
        return failed(ec, t.where + ": " + (r.failed_phase.empty() ? "" : r.failed_phase + " failed: "));
    }
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
    if (fe) return failed(fe, "fetch " + cid + " failed: ", result.error_detail);
    restore_permissions(out, replaced_mode);
    const double mibs = static_cast<double>(result.bytes) / (1024.0 * 1024.0) / std::max(secs, 1e-9);
    if (a->json()) {
        nlohmann::json j{{"cid", cid},
                         {"path", out},
                         {"bytes", result.bytes},
                         {"blocks", result.blocks},
                         {"resumed_blocks", result.resumed_blocks},
                         {"seconds", secs},
                         {"mib_per_s", mibs},
                         {"verified", true},
                         {"flow", flow_json(conn->flow_stats())}};
        if (!discarded.empty()) j["discarded_resume_state"] = discarded;
        if (!result.resume_discarded.empty()) j["resume_discarded"] = result.resume_discarded;
        print_json(j);
    } else {
        if (!result.resume_discarded.empty())
            std::cerr << "p2p-probe: the resume state " << content::Download::partial_path(out).string()
                      << " was discarded: " << result.resume_discarded << "; fetched from the start\n";
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
