// p2p-node run settings: every limit, its flag, its config-file key and its default, in one table.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <cyxp2p/net/node.hpp>

namespace cyxp2p::tools::node {

struct RunSettings {
    std::string identity;
    std::string keys;                  // a JWKS file, or the https:// URL the Central Server publishes it at
    std::string keys_ca;               // PEM CA bundle for the key server (empty: the system store)
    std::uint64_t keys_refresh_s = 0;  // 0: the response's Cache-Control max-age
    std::uint64_t keys_min_refetch_s = static_cast<std::uint64_t>(net::Limits{}.keys_min_refetch.count());
    bool keys_allow_secret = false;
    std::string listen = "127.0.0.1:7400";
    std::string serve;
    std::string blocks;   // default: IDENTITY/blocks
    std::string metrics;  // HOST:PORT, empty: off
    std::string gateway;  // HOST:PORT of the trustless HTTP gateway, empty: off
    std::string audit;    // FILE, empty: off
    unsigned threads = 2;
    unsigned content_readers = net::Limits{}.content_readers;
    std::size_t content_read_ahead = net::Limits{}.content_read_ahead;
    std::string issuer{auth::kDefaultIssuer};
    std::int64_t leeway_s = auth::Limits{}.default_leeway_s;
    std::uint64_t tls_handshake_timeout_ms =
        static_cast<std::uint64_t>(net::Limits{}.tls_handshake_timeout.count());
    std::uint64_t shutdown_timeout_ms = static_cast<std::uint64_t>(net::Limits{}.shutdown_timeout.count());
    protocol::SessionLimits session{};
    ratelimit::Limits rate{};
    replay::Limits replay{};
    // Fleet mode (docs/fleet.md): empty `redis` is off.
    std::string redis;                // redis://, rediss://HOST[:PORT][/DB] or unix:///PATH
    std::string redis_password_file;  // mode 0600; empty: no AUTH
    std::string redis_ca_file;        // rediss://: PEM CAs; empty: the system store
    std::string redis_cert;           // rediss:// mutual TLS: PEM chain; with redis_key
    std::string redis_key;            // mode 0600
    std::string redis_prefix;         // empty: "cyxp2p:" + node id + ":"
    net::RedisUnavailable redis_unavailable = net::FleetOptions{}.when_unavailable;
    net::RedisLimits redis_limits{};
};

/// One row per setting: `--name VALUE` on the command line, `name = VALUE` in a config file.
struct Setting {
    std::string name;
    std::string help;
    std::function<std::string(const RunSettings&)> get;
    std::function<bool(RunSettings&, const std::string&)> set;  // false: the value is not valid
    std::string allowed{};  // what set() accepts, for error messages ("an integer 1..64")
};

const std::vector<Setting>& settings();

/// Applies `name = value` lines ('#' comments, blank lines) strictly: an unknown name, a value in quotes
/// (quotes are not part of a value), a name set twice, or a value out of range is an error. Returns the
/// error as "FILE:LINE: what is wrong" (FILE is `file`), or empty.
std::string apply_config_file(RunSettings& s, const std::string& text, const std::string& file = "config");

/// Sets one setting from the command line (`--name value`). Returns the error message or empty.
std::string apply_flag(RunSettings& s, const Setting& setting, const std::string& value);

/// "name = value" for every setting, in table order.
std::string print_config(const RunSettings& s);

}  // namespace cyxp2p::tools::node
