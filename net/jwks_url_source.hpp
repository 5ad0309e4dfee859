// JwksUrlSource: the Central Server's published JWKS, fetched over HTTPS and kept fresh, as every JOSE
// verifier does it (jose's createRemoteJWKSet, Envoy's remote_jwks): fetched once at start (open() fails if
// that fetch fails), refreshed per the response's Cache-Control max-age clamped to
// [Limits::keys_min_refresh, Limits::keys_max_refresh], and refetched when a token names a kid the set
// lacks, at most once per Limits::keys_min_refetch. A fetch that fails (server down, wrong certificate,
// HTTP error, oversized or malformed body, a published secret) keeps the last good set in force: never an
// empty one. Each attempt is an audit event (keys_loaded) and, when it fails, a log line.
//
// The unknown-kid refetch is asynchronous: the token that named the new kid is refused (unknown_kid) and a
// retry after the refetch passes. Verification runs on the node's I/O threads and never waits on the
// network.
//
// TLS: certificate chain verified against the system CA store (or `ca_file`), host name checked
// (RFC 6125), TLS 1.2 or newer; redirects are not followed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#include <cyxp2p/auth/key_source.hpp>
#include <cyxp2p/auth/limits.hpp>
#include <cyxp2p/net/audit.hpp>
#include <cyxp2p/net/limits.hpp>

namespace cyxp2p::net {

struct JwksUrlOptions {
    std::string url;  // https://HOST[:PORT]/PATH
    std::string
        ca_file{};  // PEM bundle to trust instead of the system store (a private CA, a self-signed cert)
    /// Accept symmetric (oct, HS256) keys. Off: a set holding one is refused, since a secret published at a
    /// URL is no longer a secret.
    bool allow_secret = false;
    /// A fixed refresh interval instead of the response's max-age (still clamped to the bounds below).
    std::optional<std::chrono::seconds> refresh{};
    std::chrono::seconds min_refresh = Limits{}.keys_min_refresh;  // tests lower it; operators should not
    std::chrono::seconds max_refresh = Limits{}.keys_max_refresh;
    std::chrono::seconds default_refresh = Limits{}.keys_default_refresh;
    std::chrono::seconds min_refetch = Limits{}.keys_min_refetch;
    std::chrono::milliseconds timeout = Limits{}.keys_fetch_timeout;
    /// The body is read up to the JWKS size limit and no further (keys_too_large).
    std::size_t max_body_bytes = auth::Limits{}.max_jwks_bytes;
    auth::Limits auth_limits{};
    std::shared_ptr<AuditSink> audit{};             // may be null
    std::function<void(const std::string&)> log{};  // one line per failed fetch, for the operator
    /// Monotonic time for the refresh schedule (injectable: tests step it instead of sleeping).
    std::function<std::chrono::steady_clock::time_point()> clock{};
    /// Run a thread that refreshes when due and serves unknown-kid refetches. Off: the owner calls tick().
    bool background = true;
};

/// The response's Cache-Control max-age (RFC 9111 5.2.2.1), 0 for no-store/no-cache, nullopt when absent.
std::optional<std::chrono::seconds> parse_max_age(std::string_view cache_control);

class JwksUrlSource final : public auth::KeySet {
  public:
    /// Fetches the set once. nullptr with `ec` and `detail` (what was wrong, for a person) on failure.
    static std::shared_ptr<JwksUrlSource> open(JwksUrlOptions options, std::error_code& ec,
                                               std::string* detail = nullptr);
    ~JwksUrlSource() override;

    /// Schedules a refetch unless one ran less than min_refetch ago; never blocks.
    void unknown_kid(std::string_view kid) const override;

    /// Fetches if a refresh or a refetch is due by the clock. Returns true when it fetched.
    bool tick();
    /// Fetches now. On failure the set in force stays; the error is returned and kept in status().
    std::error_code refresh(std::string* detail = nullptr);
    /// When the next scheduled refresh is due (on options.clock).
    std::chrono::steady_clock::time_point next_refresh() const;
    /// The interval the last successful response asked for, after clamping.
    std::chrono::seconds refresh_interval() const;
    const JwksUrlOptions& options() const { return options_; }

    JwksUrlSource(JwksUrlOptions options, std::shared_ptr<const auth::Keyring> first,
                  std::chrono::seconds interval);

  private:
    std::chrono::steady_clock::time_point now() const;
    void run();

    JwksUrlOptions options_;
    std::mutex fetch_mutex_;  // one fetch at a time
    mutable std::mutex mutex_;
    mutable std::condition_variable wake_;
    mutable bool refetch_wanted_ = false;
    mutable std::optional<std::chrono::steady_clock::time_point> last_refetch_;
    std::chrono::steady_clock::time_point next_refresh_;
    std::chrono::seconds interval_;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace cyxp2p::net
