// RedisClient: the Redis connection of fleet mode (docs/fleet.md). hiredis on one dedicated thread: calls
// from any thread are queued, written as one pipeline and answered in order through callbacks, so no I/O
// thread ever waits on a network round trip. Each call has a deadline (RedisLimits::call_deadline); a
// connection that fails or runs late is dropped and reopened with backoff.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <cyxp2p/net/limits.hpp>

namespace cyxp2p::net {

/// Where Redis listens: `redis://HOST[:PORT][/DB]` (port 6379, db 0 by default), `rediss://HOST[:PORT][/DB]`
/// (the same over TLS 1.2 or later) or `unix:///PATH[?db=N]`.
struct RedisEndpoint {
    std::string host;  // TCP, or empty for a unix socket
    std::uint16_t port = 6379;
    std::string path;  // unix socket
    unsigned db = 0;
    /// rediss://: the server's certificate must chain to `ca_file` (PEM; empty: the system's CA store)
    /// and name `host` (a DNS name, or an IP address matched against the certificate's IP SANs).
    bool tls = false;
    std::filesystem::path ca_file{};
    /// rediss:// with a client certificate (mutual TLS, Redis's tls-auth-clients): both or neither. The
    /// key is refused when readable by group or others, as the password file is.
    std::filesystem::path cert_file{};
    std::filesystem::path key_file{};
    /// A URL for logs (it never holds a password: passwords come from a file).
    std::string describe() const;
};
/// errc::redis_bad_url for anything else. The TLS files of a rediss:// endpoint are set by the caller.
std::optional<RedisEndpoint> parse_redis_url(std::string_view url, std::error_code& ec);
/// For a rediss:// endpoint: its CA, certificate and key files load and match (what each connect will
/// load again, so that renewed files are picked up at the next reconnect). errc::redis_tls_file with `why`
/// naming the file otherwise; true at once for redis:// and unix://.
bool check_redis_tls(const RedisEndpoint& endpoint, std::error_code& ec, std::string& why);
/// The password in `file` (one line; the trailing newline is dropped). errc::redis_password_file when the
/// file is unreadable, empty, or readable by group or others (as key files are, ARCHITECTURE 6).
std::optional<std::string> read_redis_password(const std::filesystem::path& file, std::error_code& ec);

/// One reply, copied out of hiredis. `error` is set for a transport failure (redis_unavailable,
/// redis_timeout) and for an error reply (redis_error, with the server's text in `str`).
struct RedisReply {
    enum class Type { nil, integer, string, status, array, error };
    std::error_code error{};
    Type type = Type::nil;
    long long integer = 0;
    std::string str{};
    std::vector<RedisReply> elements{};
    std::chrono::nanoseconds latency{0};  // from call() to the reply
};

struct RedisStats {
    std::uint64_t calls = 0;
    std::uint64_t errors = 0;    // error replies
    std::uint64_t timeouts = 0;  // calls past their deadline
    std::uint64_t unavailable = 0;
    std::uint64_t connects = 0;
    std::uint64_t disconnects = 0;
};

class RedisClient {
  public:
    using Done = std::function<void(RedisReply)>;

    /// Starts the client thread, which connects (and reconnects) on its own: the constructor never waits
    /// for Redis. `on_state(true/false)` is called on that thread when the connection comes up or goes down.
    RedisClient(RedisEndpoint endpoint, std::optional<std::string> password, const RedisLimits& limits = {},
                std::function<void(bool up, const std::string& why)> on_state = {});
    ~RedisClient();  // fails the queued calls (redis_unavailable) and joins the thread
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    /// Queues one command. `done` runs exactly once, on the client thread (or inline, when the call fails at
    /// once because the client is down or its queue full): it must be quick and must not call() back in a
    /// way that waits.
    void call(std::vector<std::string> argv, Done done);

    bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }
    /// How long a caller should wait before trying again while Redis is down (the current backoff).
    std::chrono::milliseconds retry_delay() const noexcept;
    RedisStats stats() const;
    const RedisLimits& limits() const noexcept;
    const RedisEndpoint& endpoint() const noexcept;

  private:
    struct State;
    std::unique_ptr<State> state_;
    std::atomic<bool> connected_{false};
};

}  // namespace cyxp2p::net
