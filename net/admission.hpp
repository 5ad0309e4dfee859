// Admission: the replay and rate-limit checks of HELLO, REAUTH and OPEN as a service the node's sessions
// ask asynchronously (protocol/admission.hpp parks the request; the verdict resumes it). Two
// implementations: LocalAdmission, the in-process windows of one node, and RedisAdmission, the windows a
// fleet of nodes with one identity shares through Redis (docs/fleet.md).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <cyxp2p/net/metrics.hpp>
#include <cyxp2p/net/redis.hpp>
#include <cyxp2p/protocol/admission.hpp>
#include <cyxp2p/ratelimit/keyed_limiter.hpp>
#include <cyxp2p/ratelimit/limits.hpp>
#include <cyxp2p/replay/limits.hpp>
#include <cyxp2p/replay/nonce_window.hpp>

namespace cyxp2p::net {

class Admission {
  public:
    using Done = std::function<void(protocol::AdmissionVerdict)>;
    virtual ~Admission() = default;
    /// Decides `request` and calls `done` exactly once, on any thread, possibly before check() returns.
    /// Thread-safe.
    virtual void check(const protocol::AdmissionRequest& request, Done done) = 0;
};

/// The in-process windows (what a node without a fleet uses inside its sessions): a NonceWindow and the
/// per-peer and per-method KeyedLimiters, answered at once. The same order and reasons as NodeSession's
/// own checks: for an OPEN the rate limits first, so a flood cannot fill the nonce window.
class LocalAdmission final : public Admission {
  public:
    LocalAdmission(const replay::Limits& replay, const ratelimit::Limits& rate);
    void check(const protocol::AdmissionRequest& request, Done done) override;
    protocol::AdmissionVerdict decide(const protocol::AdmissionRequest& request);

  private:
    replay::NonceWindow nonces_;
    ratelimit::KeyedLimiter per_peer_;
    ratelimit::KeyedLimiter per_method_;
};

/// What a fleet node does when Redis does not answer in time (docs/fleet.md, "Failure policy").
enum class RedisUnavailable {
    refuse,  // new handshakes and opens are refused (protocol errc::unavailable, retry delay): fail closed
    local,   // the node falls back to its own in-process windows until Redis answers again
};
/// "refuse" / "local"; parse: nullopt for anything else.
const char* to_string(RedisUnavailable p) noexcept;
std::optional<RedisUnavailable> parse_redis_unavailable(std::string_view s) noexcept;

/// Fleet mode in NodeOptions: the Redis server every node of the fleet shares, and the policy.
struct FleetOptions {
    RedisEndpoint redis{};
    std::optional<std::string> password{};  // from a file (read_redis_password), never from a URL
    /// Prepended to every key. Empty: "cyxp2p:" + the node id + ":", so the fleets of several node ids can
    /// share one Redis and the nodes of one fleet (one identity) share their windows.
    std::string prefix{};
    RedisUnavailable when_unavailable = RedisUnavailable::refuse;
    RedisLimits limits{};
};

/// The shared windows: one EVALSHA per request. The script (impl/redis_admission.cpp) charges the GCRA
/// buckets of an OPEN (per subject, per method; redis.call('TIME'), the server's clock, so node clocks do
/// not matter) and then sets the nonce key with SET NX PX; everything in one atomic script, so two nodes
/// never race between a read and a write. Timestamps are checked first on this node's wall clock, as the
/// local window does.
class RedisAdmission final : public Admission {
  public:
    /// `metrics` (fleet_* counters) may be null. `prefix` must not be empty.
    RedisAdmission(std::shared_ptr<RedisClient> redis, std::string prefix, RedisUnavailable policy,
                   const replay::Limits& replay, const ratelimit::Limits& rate, Metrics* metrics = nullptr);
    void check(const protocol::AdmissionRequest& request, Done done) override;

    /// The keys a request touches (for tests and docs): buckets first, the nonce last.
    std::vector<std::string> keys(const protocol::AdmissionRequest& request) const;
    /// The Lua source and its SHA-1 (what EVALSHA names).
    static const std::string& script();
    static const std::string& script_sha1();

  private:
    void evaluate(const protocol::AdmissionRequest& request, Done done, bool retry_with_eval);
    protocol::AdmissionVerdict unavailable(const protocol::AdmissionRequest& request, const std::string& why);

    std::shared_ptr<RedisClient> redis_;
    std::string prefix_;
    RedisUnavailable policy_;
    replay::Limits replay_;
    ratelimit::Limits rate_;
    Metrics* metrics_;
    LocalAdmission fallback_;
};

}  // namespace cyxp2p::net
