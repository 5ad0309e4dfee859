// p2p-node run: the reference node daemon.
#include <algorithm>
#include <csignal>
#include <iostream>

#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/http_endpoint.hpp>
#include <cyxp2p/net/node.hpp>
#include <cyxp2p/pinning/errc.hpp>

#include "../common/cli.hpp"
#include "settings.hpp"

namespace cyxp2p::tools::node {
namespace {

std::string usage() {
    std::string u =
        "usage: p2p-node run --identity DIR --keys JWKS [--listen HOST:PORT] [--serve DIR] [--metrics "
        "HOST:PORT]\n"
        "                    [--audit FILE] [--threads N] [--config FILE] [--print-config] [--LIMIT VALUE "
        "...]\n"
        "\n"
        "Serves engines over TLS 1.3 (pinned by its identity key) with P2P-token authentication. Every "
        "setting\n"
        "can be given as a flag or as 'name = value' in --config FILE (flags win). SIGINT/SIGTERM drain\n"
        "gracefully. Settings and their defaults:\n\n";
    RunSettings defaults;
    for (const auto& s : settings()) {
        const std::string d = s.get(defaults);
        u += "  --" + s.name + std::string(s.name.size() < 30 ? 30 - s.name.size() : 1, ' ') + s.help +
             (d.empty() ? "" : " [default: " + d + "]") + "\n";
    }
    return u;
}

bool split_host_port(const std::string& hp, std::string& host, std::uint16_t& port) {
    const auto colon = hp.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    host = hp.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    try {
        const auto p = std::stoul(hp.substr(colon + 1));
        if (p > 65535) return false;
        port = static_cast<std::uint16_t>(p);
    } catch (...) {
        return false;
    }
    return true;
}

void say(const std::string& line) {
    std::cout << line << std::endl;
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
    (void)json;
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
        if (auto e = apply_config_file(rs, *text); !e.empty()) {
            return fail(nullptr, Exit::usage, "bad_config", *config_path + ": " + e);
        }
    }
    for (const auto& [name, v] : flags) {
        for (const auto& s : settings()) {
            if (s.name == name && !s.set(rs, v)) {
                return fail(nullptr, Exit::usage, "bad_value", "--" + name + ": invalid value '" + v + "'");
            }
        }
    }
    if (rs.blocks.empty() && !rs.identity.empty()) rs.blocks = rs.identity + "/blocks";
    if (print) {
        std::cout << print_config(rs);
        return 0;
    }
    if (rs.identity.empty() || rs.keys.empty()) {
        return fail(nullptr, Exit::usage, "usage",
                    "--identity and --keys are required (see p2p-node run --help)");
    }

    // Everything that can be wrong with the configuration is found before the port is opened.
    std::error_code ec;
    auto identity = pinning::Identity::load(rs.identity, ec);
    if (!identity) {
        const auto code = static_cast<pinning::errc>(ec.value());
        const Exit exit = code == pinning::errc::key_file_permissions || code == pinning::errc::bad_pem
                              ? Exit::bad_input
                              : Exit::io;
        return fail(nullptr, exit, pinning::to_string(code), rs.identity + ": " + ec.message());
    }
    auto keys = auth::Keyring::load(rs.keys, ec);
    if (!keys || keys->empty()) {
        return fail(nullptr, Exit::bad_input,
                    ec ? auth::to_string(static_cast<auth::errc>(ec.value())) : "no_keys",
                    rs.keys + ": " + (ec ? ec.message() : "the JWKS holds no usable key") +
                        " (expected the JWKS written by 'p2p-probe key new')");
    }
    std::string host;
    std::uint16_t port = 0;
    if (!split_host_port(rs.listen, host, port)) {
        return fail(nullptr, Exit::usage, "bad_value", "--listen must be HOST:PORT, not '" + rs.listen + "'");
    }

    net::NodeOptions o{.identity = *identity, .keys = std::make_shared<auth::Keyring>(std::move(*keys))};
    o.listen_address = host;
    o.port = port;
    o.threads = rs.threads;
    o.issuer = rs.issuer;
    o.leeway_s = rs.leeway_s;
    o.session = rs.session;
    o.rate = rs.rate;
    o.replay = rs.replay;
    o.tls_handshake_timeout = std::chrono::milliseconds(rs.tls_handshake_timeout_ms);
    o.shutdown_timeout = std::chrono::milliseconds(rs.shutdown_timeout_ms);
    if (!rs.audit.empty()) {
        auto sink = net::JsonLinesAuditSink::open(rs.audit, ec);
        if (!sink) return fail(nullptr, Exit::io, "io_error", "--audit " + rs.audit + ": " + ec.message());
        o.audit = std::move(sink);
    }

    // Served files are imported by reference: leaves point into the original files, nothing is copied.
    std::vector<std::pair<std::string, std::string>> served;
    if (!rs.serve.empty()) {
        if (!std::filesystem::is_directory(rs.serve)) {
            return fail(nullptr, Exit::io, "io_error", "--serve " + rs.serve + ": not a directory");
        }
        auto store = content::Blockstore::open(rs.blocks, ec);
        if (!store) return fail(nullptr, Exit::io, "io_error", "--blocks " + rs.blocks + ": " + ec.message());
        std::vector<std::filesystem::path> files;
        for (const auto& entry : std::filesystem::directory_iterator(rs.serve)) {
            if (entry.is_regular_file()) files.push_back(entry.path());
        }
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
            auto result = content::import_file(f, content::ImportOptions::kubo_default(), store->sink(f), ec);
            if (!result)
                return fail(nullptr, Exit::io, "io_error", "import " + f.string() + ": " + ec.message());
            served.emplace_back(f.filename().string(), result->root.to_string());
        }
        o.content = std::move(*store);
    }

    // Block the stop signals before any thread starts, so only sigwait below sees them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    net::Node node(std::move(o));
    if (auto e = node.start()) {
        return fail(nullptr, Exit::io, e == net::errc::address_in_use ? "address_in_use" : "listen_failed",
                    "--listen " + rs.listen + ": " + e.message());
    }
    std::unique_ptr<net::HttpEndpoint> http;
    if (!rs.metrics.empty()) {
        std::string mhost;
        std::uint16_t mport = 0;
        if (!split_host_port(rs.metrics, mhost, mport)) {
            node.stop();
            return fail(nullptr, Exit::usage, "bad_value", "--metrics must be HOST:PORT");
        }
        http = std::make_unique<net::HttpEndpoint>(
            mhost, mport, [&node] { return node.metrics().prometheus(); }, [] { return true; });
        if (auto e = http->start()) {
            node.stop();
            return fail(nullptr, Exit::io, "address_in_use", "--metrics " + rs.metrics + ": " + e.message());
        }
        say("metrics http://" + mhost + ":" + std::to_string(http->local_port()) + "/metrics");
    }
    say("node_id " + identity->node_id());
    say("pin " + identity->pin().to_string());
    say("listening " + host + ":" + std::to_string(node.local_port()));
    for (const auto& [name, cid] : served) say("serving " + cid + " " + name);
    say("ready");

    int sig = 0;
    sigwait(&stop_signals, &sig);
    say(std::string("stopping (") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + "): draining for up to " +
        std::to_string(rs.session.drain_timeout.count()) + " ms");
    node.stop();
    if (http) http->stop();
    say("stopped");
    return 0;
}

}  // namespace cyxp2p::tools::node
