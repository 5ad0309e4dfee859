#include "settings.hpp"

#include <charconv>
#include <limits>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

namespace cyxp2p::tools::node {
namespace {

template <class T>
bool parse_uint(const std::string& v, T& out, T min = 0, T max = std::numeric_limits<T>::max()) {
    std::uint64_t x = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc{} || p != v.data() + v.size()) return false;
    if (std::cmp_less(x, min) || std::cmp_greater(x, max)) return false;
    out = static_cast<T>(x);
    return true;
}

// A setting backed by an unsigned integer field.
template <class T>
std::string int_range(T min, T max = std::numeric_limits<T>::max()) {
    return "an integer " + std::to_string(min) + ".." + std::to_string(max);
}

template <class T>
Setting uint_setting(std::string name, std::string help, T RunSettings::*field, T min = 0) {
    return {std::move(name), std::move(help),
            [field](const RunSettings& s) { return std::to_string(s.*field); },
            [field, min](RunSettings& s, const std::string& v) { return parse_uint(v, s.*field, min); },
            int_range<T>(min)};
}

template <class T>
Setting nested_uint(std::string name, std::string help, std::function<T&(RunSettings&)> ref, T min = 0) {
    return {std::move(name), std::move(help),
            [ref](const RunSettings& s) { return std::to_string(ref(const_cast<RunSettings&>(s))); },
            [ref, min](RunSettings& s, const std::string& v) { return parse_uint(v, ref(s), min); },
            int_range<T>(min)};
}

constexpr std::uint64_t kMaxMs = 86'400'000;  // a day: any longer timeout is a typo

Setting ms_setting(std::string name, std::string help,
                   std::function<std::chrono::milliseconds&(RunSettings&)> ref) {
    return {std::move(name), std::move(help),
            [ref](const RunSettings& s) { return std::to_string(ref(const_cast<RunSettings&>(s)).count()); },
            [ref](RunSettings& s, const std::string& v) {
                std::uint64_t x = 0;
                if (!parse_uint<std::uint64_t>(v, x, 1, kMaxMs)) return false;
                ref(s) = std::chrono::milliseconds(x);
                return true;
            },
            "milliseconds, 1.." + std::to_string(kMaxMs)};
}

Setting text_setting(std::string name, std::string help, std::string RunSettings::*field,
                     std::string allowed = "a path or address; empty: off") {
    return {std::move(name), std::move(help), [field](const RunSettings& s) { return s.*field; },
            [field](RunSettings& s, const std::string& v) {
                s.*field = v;
                return true;
            },
            std::move(allowed)};
}

constexpr std::uint64_t kMaxRate = std::uint64_t{1} << 30;

// "RATE/BURST" (per second, e.g. 20/40) or "RATE/UNIT/BURST" with UNIT s, min or h (e.g. 10/min/20), so
// slower rates than one per second can be written without fractions.
bool parse_rate(const std::string& v, ratelimit::Rate& out) {
    std::vector<std::string> parts;
    for (std::size_t pos = 0;;) {
        const auto slash = v.find('/', pos);
        parts.push_back(v.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
        if (slash == std::string::npos) break;
        pos = slash + 1;
    }
    if (parts.size() != 2 && parts.size() != 3) return false;
    std::chrono::nanoseconds period = std::chrono::seconds(1);
    if (parts.size() == 3) {
        if (parts[1] == "s") {
            period = std::chrono::seconds(1);
        } else if (parts[1] == "min") {
            period = std::chrono::minutes(1);
        } else if (parts[1] == "h") {
            period = std::chrono::hours(1);
        } else {
            return false;
        }
    }
    std::uint64_t rate = 0, burst = 0;
    if (!parse_uint(parts.front(), rate, std::uint64_t{1}, kMaxRate) ||
        !parse_uint(parts.back(), burst, std::uint64_t{1}, kMaxRate))
        return false;
    out = ratelimit::Rate{rate, period, burst};
    return true;
}

std::string format_rate(const ratelimit::Rate& r) {
    using namespace std::chrono;
    const std::string unit = r.period == hours(1) ? "/h" : r.period == minutes(1) ? "/min" : "";
    if (unit.empty() && r.period != seconds(1)) {
        return std::to_string(r.tokens) + "/" +
               std::to_string(duration_cast<milliseconds>(r.period).count()) + "ms/" +
               std::to_string(r.burst);  // not settable here; shown as it is
    }
    return std::to_string(r.tokens) + unit + "/" + std::to_string(r.burst);
}

Setting rate_setting(std::string name, std::string help, std::function<ratelimit::Rate&(RunSettings&)> ref) {
    return {std::move(name), std::move(help),
            [ref](const RunSettings& s) { return format_rate(ref(const_cast<RunSettings&>(s))); },
            [ref](RunSettings& s, const std::string& v) { return parse_rate(v, ref(s)); },
            "RATE/BURST (per second) or RATE/UNIT/BURST with UNIT s, min or h (e.g. 10/min/20); RATE and "
            "BURST 1.." +
                std::to_string(kMaxRate)};
}

std::vector<Setting> make_settings() {
    using S = RunSettings;
    return {
        text_setting("identity", "node identity directory (p2p-node init) [required]", &S::identity),
        text_setting("keys",
                     "the Central Server's token keys: a JWKS file (reloaded on SIGHUP) or an https:// URL "
                     "(refreshed per Cache-Control max-age, refetched on an unknown kid) [required]",
                     &S::keys),
        text_setting("keys-ca", "with --keys URL: trust this PEM CA bundle instead of the system store",
                     &S::keys_ca),
        {"keys-refresh-s",
         "with --keys URL: refresh every this many seconds instead of per max-age; 0: per max-age (clamped "
         "to " +
             std::to_string(net::Limits{}.keys_min_refresh.count()) + ".." +
             std::to_string(net::Limits{}.keys_max_refresh.count()) + " s)",
         [](const S& s) { return std::to_string(s.keys_refresh_s); },
         [](S& s, const std::string& v) {
             std::uint64_t x = 0;
             const auto lo = static_cast<std::uint64_t>(net::Limits{}.keys_min_refresh.count());
             const auto hi = static_cast<std::uint64_t>(net::Limits{}.keys_max_refresh.count());
             if (!parse_uint<std::uint64_t>(v, x) || (x != 0 && (x < lo || x > hi))) return false;
             s.keys_refresh_s = x;
             return true;
         },
         "0, or seconds " + std::to_string(net::Limits{}.keys_min_refresh.count()) + ".." +
             std::to_string(net::Limits{}.keys_max_refresh.count())},
        {"keys-min-refetch-s",
         "with --keys URL: a token with an unknown kid refetches the JWKS at most once per this many seconds",
         [](const S& s) { return std::to_string(s.keys_min_refetch_s); },
         [](S& s, const std::string& v) {
             return parse_uint<std::uint64_t>(v, s.keys_min_refetch_s, 1, 3600);
         },
         "seconds, 1..3600"},
        {"keys-allow-secret",
         "with --keys URL: 1 accepts symmetric (HS256) keys from the URL; 0 refuses a published secret",
         [](const S& s) { return std::string(s.keys_allow_secret ? "1" : "0"); },
         [](S& s, const std::string& v) {
             if (v != "0" && v != "1") return false;
             s.keys_allow_secret = v == "1";
             return true;
         },
         "0 or 1"},
        text_setting("listen", "HOST:PORT to accept engines on (port 0: any free port)", &S::listen),
        text_setting("serve", "directory whose files are served by CID (imported by reference, not copied)",
                     &S::serve),
        text_setting("blocks", "blockstore directory (default: IDENTITY/blocks)", &S::blocks),
        text_setting("metrics", "HOST:PORT for GET /metrics and /healthz (default: off)", &S::metrics),
        text_setting(
            "gateway",
            "HOST:PORT for an IPFS trustless gateway (GET/HEAD /ipfs/CID, raw or CAR) over plain HTTP "
            "serving the blockstore (default: off)",
            &S::gateway),
        text_setting("audit", "append audit events to this file, one JSON object per line (default: off)",
                     &S::audit),
        uint_setting<unsigned>("threads", "I/O threads", &S::threads, 1),
        uint_setting<unsigned>("content-readers", "threads reading and hashing content.fetch blocks",
                               &S::content_readers, 1),
        uint_setting<std::size_t>("content-read-ahead", "bytes read ahead per content.fetch stream",
                                  &S::content_read_ahead, 1),
        text_setting("issuer", "the only accepted token issuer", &S::issuer),
        {"leeway-s", "clock leeway for token times, 0.." + std::to_string(auth::Limits{}.max_leeway_s) + " s",
         [](const S& s) { return std::to_string(s.leeway_s); },
         [](S& s, const std::string& v) {
             return parse_uint<std::int64_t>(v, s.leeway_s, 0, auth::Limits{}.max_leeway_s);
         },
         "seconds, 0.." + std::to_string(auth::Limits{}.max_leeway_s)},
        uint_setting<std::uint64_t>("tls-handshake-timeout-ms", "TLS handshake deadline",
                                    &S::tls_handshake_timeout_ms, 1),
        uint_setting<std::uint64_t>("shutdown-timeout-ms", "wait at most this long for a peer's close_notify",
                                    &S::shutdown_timeout_ms, 1),
        ms_setting(
            "hello-timeout-ms", "HELLO must arrive this soon after TLS",
            [](S & s) -> auto& { return s.session.hello_timeout; }),
        ms_setting(
            "idle-timeout-ms", "close a session silent this long",
            [](S & s) -> auto& { return s.session.idle_timeout; }),
        ms_setting(
            "drain-timeout-ms",
            "after GOAWAY (SIGINT/SIGTERM, token expiry): let open streams finish this long",
            [](S & s) -> auto& { return s.session.drain_timeout; }),
        nested_uint<std::uint32_t>(
            "max-frame-size", "largest frame payload accepted (bytes)",
            [](S & s) -> auto& { return s.session.max_frame_size; }, 1024),
        nested_uint<std::uint32_t>(
            "max-message-size", "largest message accepted (bytes)",
            [](S & s) -> auto& { return s.session.max_message_size; }, 1024),
        nested_uint<std::uint32_t>(
            "max-streams", "concurrent streams per session",
            [](S & s) -> auto& { return s.session.max_concurrent_streams; }, 1),
        nested_uint<std::uint32_t>(
            "stream-window", "initial flow-control window per stream (bytes)",
            [](S & s) -> auto& { return s.session.initial_stream_window; }, 1024),
        nested_uint<std::uint32_t>(
            "session-window", "initial flow-control window per session (bytes)",
            [](S & s) -> auto& { return s.session.initial_session_window; }, 1024),
        nested_uint<std::uint32_t>(
            "max-stream-window", "auto-tuned stream window cap (bytes; = stream-window: no growth)",
            [](S & s) -> auto& { return s.session.max_stream_window; }, 1024),
        nested_uint<std::uint32_t>(
            "max-session-window", "auto-tuned session window cap (bytes; kept >= 1.5x a stream's)",
            [](S & s) -> auto& { return s.session.max_session_window; }, 1024),
        nested_uint<std::uint64_t>(
            "max-reassembly-bytes", "bytes of incomplete messages held per session",
            [](S & s) -> auto& { return s.session.max_reassembly_bytes; }, 4096),
        nested_uint<std::uint64_t>(
            "max-session-bytes", "bytes an engine may send in one session",
            [](S & s) -> auto& { return s.session.max_session_bytes; }, 1),
        nested_uint<std::size_t>(
            "max-connections", "concurrent connections, all addresses",
            [](S & s) -> auto& { return s.rate.connections.max_connections; }, 1),
        nested_uint<std::size_t>(
            "max-connections-per-address", "concurrent connections per IPv4 /32 or IPv6 /64",
            [](S & s) -> auto& { return s.rate.connections.max_connections_per_address; }, 1),
        nested_uint<std::size_t>(
            "max-handshakes", "connections before HELLO_ACK, all addresses",
            [](S & s) -> auto& { return s.rate.connections.max_handshakes; }, 1),
        nested_uint<std::size_t>(
            "max-handshakes-per-address", "connections before HELLO_ACK, per address",
            [](S & s) -> auto& { return s.rate.connections.max_handshakes_per_address; }, 1),
        nested_uint<std::size_t>(
            "max-connections-per-network", "concurrent connections per IPv4 /24 or IPv6 /48",
            [](S & s) -> auto& { return s.rate.connections.max_connections_per_network; }, 1),
        nested_uint<std::size_t>(
            "max-handshakes-per-network", "connections before HELLO_ACK, per IPv4 /24 or IPv6 /48",
            [](S & s) -> auto& { return s.rate.connections.max_handshakes_per_network; }, 1),
        {"evict-oldest-handshake",
         "1: a new connection takes the oldest handshake's slot when all are busy; 0: refuse",
         [](const S& s) { return std::string(s.rate.connections.evict_oldest_handshake ? "1" : "0"); },
         [](S& s, const std::string& v) {
             if (v != "0" && v != "1") return false;
             s.rate.connections.evict_oldest_handshake = v == "1";
             return true;
         }},
        {"handshake-deadline-from-percent",
         "TLS and HELLO deadlines shrink above this handshake occupancy, 0..100",
         [](const S& s) { return std::to_string(s.rate.connections.handshake_deadline.from_percent); },
         [](S& s, const std::string& v) {
             return parse_uint<std::size_t>(v, s.rate.connections.handshake_deadline.from_percent, 0, 100);
         }},
        ms_setting(
            "handshake-deadline-at-full-ms", "TLS and HELLO deadlines with every handshake slot busy",
            [](S & s) -> auto& { return s.rate.connections.handshake_deadline.at_full; }),
        ms_setting(
            "client-hello-timeout-ms", "close a connection that sends nothing this long after accept",
            [](S & s) -> auto& { return s.rate.connections.client_hello_timeout; }),
        rate_setting(
            "new-connections-per-address", "new connections per address, RATE/BURST or RATE/UNIT/BURST",
            [](S & s) -> auto& { return s.rate.connections.new_connections_per_address; }),
        rate_setting(
            "requests-per-peer", "stream opens per token subject, RATE/BURST or RATE/UNIT/BURST",
            [](S & s) -> auto& { return s.rate.requests_per_peer.rate; }),
        rate_setting(
            "requests-per-method", "stream opens per method, all peers, RATE/BURST or RATE/UNIT/BURST",
            [](S & s) -> auto& { return s.rate.requests_per_method.rate; }),
        nested_uint<std::size_t>(
            "nonce-capacity", "nonces remembered (sizing: peak nonces/s x (2 x skew + 1 s))",
            [](S & s) -> auto& { return s.replay.nonce_capacity; }, 1024),
        {"replay-skew-s", "accepted clock difference for request timestamps, 1..300 s",
         [](const S& s) {
             return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(s.replay.skew).count());
         },
         [](S& s, const std::string& v) {
             std::uint64_t x = 0;
             if (!parse_uint<std::uint64_t>(v, x, 1, 300)) return false;
             s.replay.skew = std::chrono::seconds(x);
             return true;
         },
         "seconds, 1..300"},
        text_setting(
            "redis",
            "fleet mode: share the replay windows, the per-peer and per-method limits and the per-address "
            "connection limits with every node of this identity through Redis, redis://HOST[:PORT][/DB], "
            "rediss://HOST[:PORT][/DB] (TLS 1.2+, the certificate must name HOST) or unix:///PATH "
            "(docs/fleet.md) (default: off)",
            &S::redis, "a redis://, rediss:// or unix:// URL; empty: off"),
        text_setting("redis-password-file",
                     "with --redis: AUTH with the first line of this file (refused if group/other-readable)",
                     &S::redis_password_file, "a file of mode 0600; empty: no AUTH"),
        text_setting(
            "redis-ca-file",
            "with rediss://: verify Redis's certificate against the CAs in this PEM file (default: the "
            "system's CA store)",
            &S::redis_ca_file, "a PEM file; empty: the system store"),
        text_setting("redis-cert",
                     "with rediss://: present this client certificate chain (PEM; Redis tls-auth-clients), "
                     "with --redis-key",
                     &S::redis_cert, "a PEM file; empty: no client certificate"),
        text_setting("redis-key",
                     "with rediss://: the key of --redis-cert (PEM, refused if group/other-readable)",
                     &S::redis_key, "a file of mode 0600; empty: no client certificate"),
        text_setting("redis-prefix", "with --redis: key prefix (default: cyxp2p:NODE_ID:)", &S::redis_prefix,
                     "text; empty: cyxp2p:NODE_ID:"),
        {"redis-unavailable",
         "with --redis: when Redis does not answer in time, 'refuse' new handshakes and opens (unavailable, "
         "retry later) or fall back to this node's own 'local' windows",
         [](const S& s) { return std::string(net::to_string(s.redis_unavailable)); },
         [](S& s, const std::string& v) {
             auto p = net::parse_redis_unavailable(v);
             if (p) s.redis_unavailable = *p;
             return p.has_value();
         },
         "refuse or local"},
        ms_setting(
            "redis-deadline-ms", "with --redis: each Redis call must be answered this soon",
            [](S & s) -> auto& { return s.redis_limits.call_deadline; }),
        {"redis-lease-ttl-s",
         "with --redis: a connection's fleet lease (per-address connection cap across the fleet) expires "
         "this long after its process last renewed it (every third of it): how soon a dead process's "
         "connections stop counting",
         [](const S& s) {
             return std::to_string(
                 std::chrono::duration_cast<std::chrono::seconds>(s.redis_limits.lease_ttl).count());
         },
         [](S& s, const std::string& v) {
             std::uint64_t x = 0;
             if (!parse_uint<std::uint64_t>(v, x, 1, 3600)) return false;
             s.redis_limits.lease_ttl = std::chrono::seconds(x);
             return true;
         },
         "seconds, 1..3600"},
    };
}

}  // namespace

const std::vector<Setting>& settings() {
    static const std::vector<Setting> table = make_settings();
    return table;
}

std::string apply_flag(RunSettings& s, const Setting& setting, const std::string& value) {
    if (setting.set(s, value)) return {};
    return "--" + setting.name + ": invalid value '" + value + "' (expected " + setting.allowed + ")";
}

std::string apply_config_file(RunSettings& s, const std::string& text, const std::string& file) {
    auto trim = [](const std::string& x) {
        const auto b = x.find_first_not_of(" \t\r");
        const auto e = x.find_last_not_of(" \t\r");
        return b == std::string::npos ? std::string() : x.substr(b, e - b + 1);
    };
    std::map<std::string, int> seen;  // setting -> the line that set it
    std::istringstream in(text);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        const std::string at = file + ":" + std::to_string(n) + ": ";
        line = trim(line.substr(0, line.find('#')));
        if (line.empty()) continue;
        const auto eq = line.find('=');
        if (eq == std::string::npos) return at + "expected 'name = value'";
        const std::string name = trim(line.substr(0, eq));
        const std::string value = trim(line.substr(eq + 1));
        const Setting* setting = nullptr;
        for (const auto& st : settings()) {
            if (st.name == name) setting = &st;
        }
        if (setting == nullptr) return at + "unknown setting '" + name + "' (p2p-node run --help lists them)";
        if (auto [it, fresh] = seen.emplace(name, n); !fresh) {
            return at + name + " is already set on line " + std::to_string(it->second) +
                   ": remove one of them";
        }
        if (value.size() >= 1 &&
            (value.front() == '"' || value.front() == '\'' || value.back() == '"' || value.back() == '\'')) {
            return at + "the value of " + name + " is quoted: write it without quotes (" + name + " = " +
                   trim(value.substr(1, value.size() >= 2 ? value.size() - 2 : 0)) + ")";
        }
        if (!setting->set(s, value)) {
            return at + "bad value for " + name + ": '" + value + "' (expected " + setting->allowed + ")";
        }
    }
    return {};
}

std::string print_config(const RunSettings& s) {
    std::string out;
    for (const auto& st : settings()) out += st.name + " = " + st.get(s) + "\n";
    return out;
}

}  // namespace cyxp2p::tools::node
