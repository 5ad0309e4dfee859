// p2p-node run: the reference node daemon.
#include <algorithm>
#include <array>
#include <charconv>
#include <csignal>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/ip/address.hpp>

#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/gateway.hpp>
#include <cyxp2p/net/http_endpoint.hpp>
#include <cyxp2p/net/node.hpp>
#include <cyxp2p/pinning/errc.hpp>

#include "../common/cli.hpp"
#include "../common/version.hpp"
#include "keys.hpp"
#include "served.hpp"
#include "settings.hpp"

namespace cyxp2p::tools::node {
namespace {

std::string usage() {
    std::string u =
        "usage: p2p-node run --identity DIR --keys JWKS|URL [--listen HOST:PORT] [--serve DIR] [--metrics "
        "HOST:PORT]\n"
        "                    [--gateway HOST:PORT]\n"
        "                    [--audit FILE] [--threads N] [--config FILE] [--print-config] [--json]\n"
        "                    [--LIMIT VALUE ...]\n"
        "\n"
        "Serves engines over TLS 1.3 (pinned by its identity key) with P2P-token authentication.\n"
        "\n"
        "  --config FILE                 read 'name = value' lines (any setting below; '#' comments).\n"
        "                                Strict: unknown names, quoted values, a name set twice and\n"
        "                                out-of-range values are errors reported as FILE:LINE. Flags win.\n"
        "  --print-config                check everything 'run' checks (identity, keys, addresses), print\n"
        "                                the effective settings as a config file and exit\n"
        "  --json                        with --print-config: print the settings as one JSON object\n"
        "  --help                        this text; p2p-node --version: version, commit, OpenSSL, Boost\n"
        "\n"
        "SIGINT/SIGTERM: stop accepting, GOAWAY, let streams finish for --drain-timeout-ms, then close.\n"
        "A second SIGINT/SIGTERM while draining stops at once (exit 130/143).\n"
        "SIGHUP: reload the --keys file (or refetch the --keys URL) and the --identity (its certificate\n"
        "for new connections; the node_id must stay) without dropping sessions; a reload that fails keeps\n"
        "what runs and says why on stderr. --config is read again: requests-per-peer, requests-per-method,\n"
        "max-connections, max-connections-per-address and max-streams (for new sessions) are applied live;\n"
        "other settings that changed are named (they take effect on restart).\n"
        "\n"
        "Settings and their defaults:\n\n";
    RunSettings defaults;
    for (const auto& s : settings()) {
        const std::string d = s.get(defaults);
        u += "  --" + s.name + std::string(s.name.size() < 28 ? 28 - s.name.size() : 1, ' ') + s.help +
             (d.empty() ? "" : " [default: " + d + "]") + "\n";
    }
    return u;
}

bool split_host_port(const std::string& hp, std::string& host, std::uint16_t& port) {
    const auto colon = hp.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    host = hp.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const std::string digits = hp.substr(colon + 1);
    unsigned p = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p);
    if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty() || p > 65535)
        return false;
    boost::system::error_code aec;
    boost::asio::ip::make_address(host, aec);  // the node binds an address, it does not resolve names
    if (aec) return false;
    port = static_cast<std::uint16_t>(p);
    return true;
}

// Every audit event goes to the audit file (when --audit is given); the few an operator must act on are
// also said on stderr, because an audit file is read after the fact, if at all.
class OperatorLog final : public net::AuditSink {
  public:
    OperatorLog(std::shared_ptr<net::AuditSink> file, std::map<std::string, std::string> names)
        : file_(std::move(file)), names_(std::move(names)) {}

    void record(const net::AuditEvent& e) override {
        if (file_) file_->record(e);
        if (e.kind != net::AuditEvent::Kind::content_served) return;
        if (e.result != "corrupt" && e.result != "aborted") return;
        const std::string cid = e.detail.substr(0, e.detail.find(':'));
        std::lock_guard lock(mutex_);
        const auto it = names_.find(cid);
        const std::string file = it == names_.end() ? "" : " (" + it->second + ")";
        if (e.result == "corrupt") {
            std::cerr << "p2p-node: served file changed or vanished after import: " << cid << file
                      << " no longer matches its CID, so it is not served ("
                      << e.detail.substr(cid.size() + 2)
                      << "). Restore the file, or SIGHUP or restart p2p-node to re-import --serve.\n";
        } else {
            std::cerr
                << "p2p-node: transfer of " << cid << file << " to " << e.peer << " aborted after " << e.value
                << " bytes: the stream ended before it finished (reset, drain timeout or connection lost)\n";
        }
    }

    /// After a --serve rescan (the I/O threads record events meanwhile).
    void set_names(std::map<std::string, std::string> names) {
        std::lock_guard lock(mutex_);
        names_ = std::move(names);
    }

  private:
    std::shared_ptr<net::AuditSink> file_;
    std::map<std::string, std::string> names_;  // served CID -> file name, under mutex_
    std::mutex mutex_;
};

void say(const std::string& line) {
    std::cout << line << std::endl;
}

// The settings a config file and the command line's flags give, as cmd_run applies them (flags win).
RunSettings parse_settings(const std::string& config_text, const std::string& config_path,
                           const std::vector<std::pair<std::string, std::string>>& flags,
                           std::string& error) {
    RunSettings rs;
    if (!config_path.empty()) error = apply_config_file(rs, config_text, config_path);
    for (const auto& [name, v] : flags) {
        for (const auto& s : settings()) {
            if (error.empty() && s.name == name) error = apply_flag(rs, s, v);
        }
    }
    if (rs.blocks.empty() && !rs.identity.empty()) rs.blocks = rs.identity + "/blocks";
    return rs;
}

// SIGHUP: the node identity (new connections get the new certificate; open sessions keep theirs). Engines
// pin the key: a new key must reach them as a backup pin first (docs/operations.md).
void reload_identity(net::Node& node, const std::string& dir, std::string& pin) {
    std::error_code ec;
    auto identity = pinning::Identity::load(dir, ec);
    if (identity) ec = node.replace_identity(*identity);
    if (ec) {
        std::cerr << "p2p-node: reload: identity " << dir << ": " << ec.message()
                  << "; new connections keep the running certificate (" << pin << ")" << std::endl;
        return;
    }
    const std::string next = identity->pin().to_string();
    say("reloaded identity " + dir + ": pin " + next +
        (next == pin ? " (unchanged)" : " (was " + pin + "; open sessions keep the old certificate)"));
    pin = next;
}

// SIGHUP: --serve again. Imports run here, on the signal thread, never on the node's I/O threads, which keep
// serving meanwhile.
void rescan_served(ServedDir& served, const std::string& dir, OperatorLog& log) {
    std::error_code ec;
    std::vector<ServedDir::Change> changes;
    const auto n = served.rescan(changes, ec);
    if (ec) {
        std::cerr << "p2p-node: reload: --serve " << dir << ": " << ec.message()
                  << "; the files served stay as they were" << std::endl;
        return;
    }
    for (const auto& c : changes) {
        using K = ServedDir::Change::Kind;
        if (c.kind == K::added || c.kind == K::changed) say("serving " + c.cid + " " + c.name);
        if (c.kind == K::removed) say("no longer serving " + c.cid + " " + c.name);
        if (c.kind == K::failed) {
            std::cerr << "p2p-node: reload: --serve " << (c.name.empty() ? c.cid : dir + "/" + c.name) << ": "
                      << c.detail << (c.name.empty() ? "" : "; not served") << std::endl;
        }
    }
    log.set_names(served.names());
    say("rescanned --serve " + dir + ": " + std::to_string(n.added) + " added, " + std::to_string(n.changed) +
        " changed, " + std::to_string(n.removed) + " removed, " + std::to_string(n.unchanged) +
        " unchanged, " + std::to_string(n.failed) + " failed");
}

// The settings SIGHUP applies to the running node: exactly the ones net::LiveLimits holds
// (docs/operations.md "Reload (SIGHUP)" says why these and not the others).
constexpr std::array<std::string_view, 5> kLiveSettings = {"requests-per-peer", "requests-per-method",
                                                           "max-connections", "max-connections-per-address",
                                                           "max-streams"};

bool is_live(const Setting& s) {
    return std::find(kLiveSettings.begin(), kLiveSettings.end(), s.name) != kLiveSettings.end();
}

net::LiveLimits live_limits(const RunSettings& s) {
    return {.requests_per_peer = s.rate.requests_per_peer.rate,
            .requests_per_method = s.rate.requests_per_method.rate,
            .max_connections = s.rate.connections.max_connections,
            .max_connections_per_address = s.rate.connections.max_connections_per_address,
            .max_concurrent_streams = s.session.max_concurrent_streams};
}

void set_live(RunSettings& s, const net::LiveLimits& l) {
    s.rate.requests_per_peer.rate = l.requests_per_peer;
    s.rate.requests_per_method.rate = l.requests_per_method;
    s.rate.connections.max_connections = l.max_connections;
    s.rate.connections.max_connections_per_address = l.max_connections_per_address;
    s.session.max_concurrent_streams = l.max_concurrent_streams;
}

// SIGHUP: the keys, the identity, then the config file: the live limits that changed are applied together
// (all or none), the others named. Nothing here stops the node: a reload that fails is reported and the
// running state stays. `running` follows what was applied, so the next reload compares with it.
void reload(net::Node& node, RunSettings& running, const std::optional<std::string>& config_path,
            const std::vector<std::pair<std::string, std::string>>& flags, const NodeKeys& keys,
            net::AuditSink* audit, std::string& pin) {
    reload_keys(keys, running.keys, audit);
    reload_identity(node, running.identity, pin);
    if (!config_path) return;
    std::error_code ec;
    auto text = read_input(*config_path, ec);
    if (!text) {
        std::cerr << "p2p-node: reload: cannot read config " << *config_path << ": " << ec.message()
                  << "; the running settings stay" << std::endl;
        return;
    }
    std::string error;
    const RunSettings next = parse_settings(*text, *config_path, flags, error);
    if (!error.empty()) {
        std::cerr << "p2p-node: reload: " << error << "; the running settings stay" << std::endl;
        return;
    }
    std::vector<const Setting*> live;
    for (const auto& s : settings()) {
        if (is_live(s) && s.get(next) != s.get(running)) live.push_back(&s);
    }
    if (!live.empty()) {
        const net::LiveLimits limits = live_limits(next);
        if (auto e = node.update_limits(limits)) {
            std::cerr << "p2p-node: reload: the limits in " << *config_path << ": " << e.message() << " ("
                      << net::error_name(e, "error") << ")" << std::endl;
        } else {
            for (const Setting* s : live) {
                std::cerr << "p2p-node: reload: " << s->name << " changed in " << *config_path << " ("
                          << s->get(running) << " -> " << s->get(next) << "); applied" << std::endl;
            }
            set_live(running, limits);
        }
    }
    for (const auto& s : settings()) {
        if (is_live(s) || s.get(next) == s.get(running)) continue;
        std::cerr << "p2p-node: reload: " << s.name << " changed in " << *config_path << " ("
                  << s.get(running) << " -> " << s.get(next) << "); it takes effect when p2p-node restarts"
                  << std::endl;
    }
}

}  // namespace

int cmd_run(const std::vector<std::string>& argv) {
    // The options come from the settings table, so they are parsed here rather than with Args::parse.
    RunSettings rs;
    std::optional<std::string> config_path;
    bool print = false, help = false, json = false;
    std::vector<std::pair<std::string, std::string>> flags;
    for (std::size_t i = 2; i < argv.size(); ++i) {
        std::string a = argv[i];
        std::optional<std::string> inline_value;
        if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
            inline_value = a.substr(eq + 1);
            a = a.substr(0, eq);
        }
        auto value = [&]() -> std::optional<std::string> {
            if (inline_value) return inline_value;
            if (i + 1 < argv.size()) return argv[++i];
            return std::nullopt;
        };
        if (a == "--help" || a == "-h") {
            help = true;
        } else if (a == "--json") {
            json = true;
        } else if (a == "--print-config") {
            print = true;
        } else if (a == "--config") {
            config_path = value();
            if (!config_path) return fail(nullptr, Exit::usage, "usage", "--config needs a FILE");
        } else {
            bool known = false;
            for (const auto& s : settings()) {
                if (a != "--" + s.name) continue;
                known = true;
                auto v = value();
                if (!v) return fail(nullptr, Exit::usage, "usage", a + " needs a value");
                flags.emplace_back(s.name, *v);
            }
            if (!known)
                return fail(nullptr, Exit::usage, "usage",
                            "unknown option '" + a + "' (see p2p-node run --help)");
        }
    }
    if (help) {
        std::cout << usage();
        return 0;
    }
    if (config_path) {
        std::error_code ec;
        auto text = read_input(*config_path, ec);
        if (!text)
            return fail(nullptr, Exit::io, "io_error",
                        "cannot read config " + *config_path + ": " + ec.message());
        if (auto e = apply_config_file(rs, *text, *config_path); !e.empty()) {
            return fail(nullptr, Exit::usage, "bad_config", e);
        }
    }
    for (const auto& [name, v] : flags) {
        for (const auto& s : settings()) {
            if (s.name != name) continue;
            if (auto e = apply_flag(rs, s, v); !e.empty()) return fail(nullptr, Exit::usage, "bad_value", e);
        }
    }
    if (rs.blocks.empty() && !rs.identity.empty()) rs.blocks = rs.identity + "/blocks";

    // Everything that can be wrong with the configuration is found before the port is opened, and
    // --print-config checks exactly the same: what it prints is a configuration `run` accepts.
    if (rs.identity.empty() || rs.keys.empty()) {
        return fail(nullptr, Exit::usage, "usage",
                    "--identity and --keys are required (see p2p-node run --help)");
    }
    std::error_code ec;
    auto identity = pinning::Identity::load(rs.identity, ec);
    if (!identity) {
        const auto code = static_cast<pinning::errc>(ec.value());
        const Exit exit = code == pinning::errc::key_file_permissions || code == pinning::errc::bad_pem
                              ? Exit::bad_input
                              : Exit::io;
        return fail(nullptr, exit, pinning::to_string(code), rs.identity + ": " + ec.message());
    }
    // The audit file is opened first so the first fetch of a key URL is in it (--print-config writes none).
    std::shared_ptr<net::AuditSink> audit_file;
    if (!rs.audit.empty() && !print) {
        auto sink = net::JsonLinesAuditSink::open(rs.audit, ec);
        if (!sink) return fail(nullptr, Exit::io, "io_error", "--audit " + rs.audit + ": " + ec.message());
        audit_file = std::move(sink);
    }
    // Block the signals before any thread starts (the key URL's refresher is the first), so only sigwait
    // below sees them: SIGHUP's default action would end the process.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    sigaddset(&stop_signals, SIGUSR1);  // only sent by this process, to end the second-signal waiter
    if (!print) pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    NodeKeys keys;
    if (auto rc = open_keys(rs, audit_file, !print, keys)) return *rc;
    std::string host;
    std::uint16_t port = 0;
    if (!split_host_port(rs.listen, host, port)) {
        return fail(nullptr, Exit::usage, "bad_value",
                    "--listen must be IP:PORT (e.g. 0.0.0.0:7400 or [::]:7400), not '" + rs.listen + "'");
    }
    std::string mhost;
    std::uint16_t mport = 0;
    if (!rs.metrics.empty() && !split_host_port(rs.metrics, mhost, mport)) {
        return fail(nullptr, Exit::usage, "bad_value",
                    "--metrics must be IP:PORT (e.g. 127.0.0.1:9400), not '" + rs.metrics + "'");
    }
    std::string ghost;
    std::uint16_t gport = 0;
    if (!rs.gateway.empty() && !split_host_port(rs.gateway, ghost, gport)) {
        return fail(nullptr, Exit::usage, "bad_value",
                    "--gateway must be IP:PORT (e.g. 0.0.0.0:8080), not '" + rs.gateway + "'");
    }
    if (!rs.serve.empty() && !std::filesystem::is_directory(rs.serve)) {
        return fail(nullptr, Exit::io, "io_error", "--serve " + rs.serve + ": not a directory");
    }
    if (print) {
        if (json) {
            nlohmann::json j = nlohmann::json::object();
            for (const auto& st : settings()) j[st.name] = st.get(rs);
            print_json({{"settings", j}});
        } else {
            std::cout << print_config(rs);
        }
        return 0;
    }

    net::NodeOptions o{.identity = *identity, .keys = nullptr, .key_source = keys.source()};
    o.listen_address = host;
    o.port = port;
    o.threads = rs.threads;
    o.content_readers = rs.content_readers;
    o.content_read_ahead = rs.content_read_ahead;
    o.issuer = rs.issuer;
    o.leeway_s = rs.leeway_s;
    o.session = rs.session;
    o.rate = rs.rate;
    o.replay = rs.replay;
    o.tls_handshake_timeout = std::chrono::milliseconds(rs.tls_handshake_timeout_ms);
    o.shutdown_timeout = std::chrono::milliseconds(rs.shutdown_timeout_ms);
    o.clock = net::system_clock();  // the gateway's limiters read the same clock

    // Served files are imported by reference: leaves point into the original files, nothing is copied.
    std::optional<ServedDir> served;
    if (!rs.serve.empty()) {
        auto store = content::Blockstore::open(rs.blocks, ec);
        if (!store) return fail(nullptr, Exit::io, "io_error", "--blocks " + rs.blocks + ": " + ec.message());
        served.emplace(rs.serve, *store);
        std::string failed;
        if (auto e = served->import_all(failed))
            return fail(nullptr, Exit::io, "io_error",
                        (failed.empty() ? "--serve " + rs.serve : "import " + failed) + ": " + e.message());
        o.content = std::move(*store);
    }
    std::optional<content::Blockstore> gateway_store = o.content;
    if (!rs.gateway.empty() && !gateway_store) {
        gateway_store = content::Blockstore::open(rs.blocks, ec);
        if (!gateway_store)
            return fail(nullptr, Exit::io, "io_error", "--blocks " + rs.blocks + ": " + ec.message());
    }
    auto operator_log = std::make_shared<OperatorLog>(
        std::move(audit_file), served ? served->names() : std::map<std::string, std::string>{});
    o.audit = operator_log;

    const auto node_clock = o.clock;
    net::Node node(std::move(o));
    if (auto e = node.start()) {
        return fail(nullptr, Exit::io, e == net::errc::address_in_use ? "address_in_use" : "listen_failed",
                    "--listen " + rs.listen + ": " + e.message());
    }
    std::unique_ptr<net::HttpEndpoint> http;
    if (!rs.metrics.empty()) {
        http = std::make_unique<net::HttpEndpoint>(
            mhost, mport,
            [&node, &keys] {
                const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
                return build_info_metric() + node.metrics().prometheus() +
                       net::keys_prometheus(keys.source()->status(), now);
            },
            [] { return true; });
        if (auto e = http->start()) {
            node.stop();
            return fail(nullptr, Exit::io, "address_in_use", "--metrics " + rs.metrics + ": " + e.message());
        }
        say("metrics http://" + rs.metrics.substr(0, rs.metrics.rfind(':')) + ":" +
            std::to_string(http->local_port()) + "/metrics");
    }
    std::unique_ptr<net::Gateway> gateway;
    if (!rs.gateway.empty()) {
        gateway = std::make_unique<net::Gateway>(
            std::move(*gateway_store),
            net::GatewayOptions{.address = ghost, .port = gport, .limits = {}, .clock = node_clock});
        if (auto e = gateway->start()) {
            node.stop();
            return fail(nullptr, Exit::io, "address_in_use", "--gateway " + rs.gateway + ": " + e.message());
        }
        say("gateway http://" + rs.gateway.substr(0, rs.gateway.rfind(':')) + ":" +
            std::to_string(gateway->local_port()) + "/ipfs/");
    }
    say("node_id " + identity->node_id());
    say("pin " + identity->pin().to_string());
    say("listening " + host + ":" + std::to_string(node.local_port()));
    if (served) {
        for (const auto& [name, f] : served->files()) say("serving " + f.cid + " " + name);
    }
    say("ready");

    std::string pin = identity->pin().to_string();
    int sig = 0;
    while (sig != SIGINT && sig != SIGTERM) {
        sigwait(&stop_signals, &sig);
        if (sig != SIGHUP) continue;
        reload(node, rs, config_path, flags, keys, operator_log.get(), pin);
        if (served) rescan_served(*served, rs.serve, *operator_log);
    }
    auto name = [](int n) { return std::string(n == SIGINT ? "SIGINT" : "SIGTERM"); };
    say("stopping (" + name(sig) + "): draining for up to " +
        std::to_string(rs.session.drain_timeout.count()) + " ms; send it again to stop at once");
    // The drain runs beside this thread, which keeps waiting: a second signal means "now".
    std::thread waiter([&stop_signals, &name] {
        int again = SIGHUP;
        while (again == SIGHUP) sigwait(&stop_signals, &again);  // no reload while draining
        if (again == SIGUSR1) return;                            // the drain finished
        say("second " + name(again) + ": stopping now, open transfers are cut off");
        std::_Exit(128 + again);
    });
    node.stop();
    pthread_kill(waiter.native_handle(), SIGUSR1);
    waiter.join();
    if (gateway) gateway->stop();
    if (http) http->stop();
    say("stopped");
    return 0;
}

}  // namespace cyxp2p::tools::node
