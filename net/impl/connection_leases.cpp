// ConnectionLeases: the fleet's per-address connection limits before TLS (see connection_leases.hpp).
#include <sodium.h>

#include <stdexcept>
#include <utility>
#include <vector>

#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/impl/connection_leases.hpp>
#include <cyxp2p/net/impl/fleet_keys.hpp>

namespace cyxp2p::net {

// The live leases of one process, shared with the leases themselves (a connection may close after its
// ConnectionLeases is gone). `redis` is cleared by ~ConnectionLeases under `mutex`, so a lease never calls
// a client that is being destroyed, and never owns it (its last reference must not drop on the client's
// own thread, which would join itself).
struct ConnectionLease::Registry {
    std::mutex mutex;
    RedisClient* redis = nullptr;
    bool abandoned = false;
    std::map<std::string, std::string> live;  // member -> lease set key
    std::uint64_t next_id = 0;
};

namespace {

// GCRA as in redis_admission.cpp (the per-address new-connection bucket, microseconds on the server's
// clock), then the lease set: expired leases (score = expiry, ms, <= now) are dropped, the live ones
// counted, and a new one added with expiry now + ttl. All in one script: no other process runs between
// the count and the add, so the cap holds across the fleet. The set's own TTL is the newest lease's expiry
// (every process uses the same ttl), so the set of an address nobody connects from disappears.
//
// KEYS[1] bucket, KEYS[2] lease set; ARGV: T, B x T (us), the cap, ttl (ms), the member.
// Returns {0} admitted, {1, retry_us} bucket empty, {2} cap reached. Nothing is written unless admitted.
constexpr const char* kAcquire = R"lua(
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now_ms = math.floor(now_us / 1000)
local T = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now_us
if tat < now_us then tat = now_us end
local next_tat = tat + T
if next_tat - now_us > limit then
  return {1, math.ceil(next_tat - now_us - limit)}
end
local ttl = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  return {2}
end
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.max(1, math.ceil((next_tat - now_us) / 1000)))
redis.call('ZADD', KEYS[2], now_ms + ttl, ARGV[5])
redis.call('PEXPIRE', KEYS[2], ttl)
return {0}
)lua";

// One call renews every live lease of this process: KEYS = lease sets; ARGV[1] = ttl (ms), then per set
// the number of members and the members. ZADD (not XX): a lease Redis dropped while it was unreachable
// counts again once it is back, since its connection is still open.
constexpr const char* kRenew = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local at = 2
for i = 1, #KEYS do
  local n = tonumber(ARGV[at])
  at = at + 1
  for j = 1, n do
    redis.call('ZADD', KEYS[i], now + ttl, ARGV[at])
    at = at + 1
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return #KEYS
)lua";

// EVALSHA, and once EVAL when the server lost the script (SCRIPT FLUSH, a restart), which caches it again.
// `tail` is numkeys, the keys and the arguments.
void run_script(RedisClient* redis, const std::string& script, const std::string& sha,
                std::vector<std::string> tail, RedisClient::Done done, bool by_sha = true) {
    std::vector<std::string> argv{by_sha ? "EVALSHA" : "EVAL", by_sha ? sha : script};
    argv.insert(argv.end(), tail.begin(), tail.end());
    redis->call(std::move(argv), [redis, &script, &sha, tail = std::move(tail), done = std::move(done),
                                  by_sha](RedisReply reply) mutable {
        if (reply.error == errc::redis_error && by_sha && reply.str.starts_with("NOSCRIPT"))
            return run_script(redis, script, sha, std::move(tail), std::move(done), false);
        done(std::move(reply));
    });
}

const std::string& acquire_sha() {
    static const std::string s = fleet::sha1_hex(ConnectionLeases::acquire_script());
    return s;
}
const std::string& renew_sha() {
    static const std::string s = fleet::sha1_hex(ConnectionLeases::renew_script());
    return s;
}

}  // namespace

// ---- ConnectionLease ----

ConnectionLease::ConnectionLease(std::weak_ptr<Registry> registry, std::string key,
                                 std::string member) noexcept
    : registry_(std::move(registry)), key_(std::move(key)), member_(std::move(member)) {}

ConnectionLease& ConnectionLease::operator=(ConnectionLease&& other) noexcept {
    if (this != &other) {
        reset();
        registry_ = std::move(other.registry_);
        key_ = std::move(other.key_);
        member_ = std::exchange(other.member_, {});
    }
    return *this;
}

void ConnectionLease::reset() noexcept {
    if (member_.empty()) return;
    if (auto r = registry_.lock()) {
        std::lock_guard lock(r->mutex);
        // Queued while holding the registry: a renewal snapshot is queued under the same lock, so a ZREM
        // is never overtaken by a renewal that re-adds the lease.
        if (r->live.erase(member_) != 0 && r->redis != nullptr && !r->abandoned) {
            try {
                r->redis->call({"ZREM", key_, member_}, [](RedisReply) {});
            } catch (...) {  // out of memory: the lease expires after its ttl instead
            }
        }
    }
    member_.clear();
    registry_.reset();
}

// ---- LeaseVerdict ----

const char* LeaseVerdict::name() const noexcept {
    switch (result) {
        case Result::admitted:
            return "admitted";
        case Result::rate_limited:
            return "fleet_rate_limited";
        case Result::too_many:
            return "fleet_too_many_connections_from_address";
        case Result::unavailable:
            return "fleet_unavailable";
        case Result::fallback:
            return "fleet_fallback";
    }
    return "?";
}

// ---- ConnectionLeases ----

const std::string& ConnectionLeases::acquire_script() {
    static const std::string s = kAcquire;
    return s;
}
const std::string& ConnectionLeases::renew_script() {
    static const std::string s = kRenew;
    return s;
}

ConnectionLeases::ConnectionLeases(std::shared_ptr<RedisClient> redis, std::string prefix,
                                   RedisUnavailable policy, std::chrono::milliseconds lease_ttl,
                                   Metrics* metrics)
    : redis_(std::move(redis)),
      prefix_(std::move(prefix)),
      policy_(policy),
      ttl_(lease_ttl),
      metrics_(metrics),
      registry_(std::make_shared<ConnectionLease::Registry>()) {
    if (!redis_ || prefix_.empty())
        throw std::invalid_argument("ConnectionLeases needs a client and a prefix");
    if (ttl_ < std::chrono::milliseconds(3))
        throw std::invalid_argument("ConnectionLeases: lease_ttl must be at least 3 ms");
    if (sodium_init() < 0) throw std::runtime_error("ConnectionLeases: libsodium failed to initialise");
    unsigned char id[8];
    randombytes_buf(id, sizeof id);
    static constexpr char hex[] = "0123456789abcdef";
    for (unsigned char c : id) {
        process_id_ += hex[c >> 4];
        process_id_ += hex[c & 15];
    }
    registry_->redis = redis_.get();
    renewer_ = std::thread([this] { renew_loop(); });
}

ConnectionLeases::~ConnectionLeases() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    renewer_.join();
    std::lock_guard lock(registry_->mutex);
    registry_->redis = nullptr;  // leases outliving this remove nothing: theirs expire
}

void ConnectionLeases::abandon() {
    std::lock_guard lock(registry_->mutex);
    registry_->abandoned = true;
}

std::size_t ConnectionLeases::held() const {
    std::lock_guard lock(registry_->mutex);
    return registry_->live.size();
}

std::string ConnectionLeases::rate_key(const ratelimit::Address& a) const {
    const auto k = a.key();
    return prefix_ +
           "conn:rate:" + fleet::digest({"conn-rate", {reinterpret_cast<const char*>(k.data()), k.size()}});
}
std::string ConnectionLeases::lease_key(const ratelimit::Address& a) const {
    const auto k = a.key();
    return prefix_ +
           "conn:lease:" + fleet::digest({"conn-lease", {reinterpret_cast<const char*>(k.data()), k.size()}});
}

void ConnectionLeases::acquire(const ratelimit::Address& address, std::size_t max_per_address,
                               const ratelimit::Rate& rate, Done done) {
    std::string member;
    {
        std::lock_guard lock(registry_->mutex);
        member = process_id_ + ":" + std::to_string(registry_->next_id++);
    }
    auto key = lease_key(address);
    auto [t, limit] = fleet::gcra_args(rate);
    if (metrics_) metrics_->fleet_connection_checks++;
    std::vector<std::string> tail{"2",
                                  rate_key(address),
                                  key,
                                  std::move(t),
                                  std::move(limit),
                                  std::to_string(max_per_address),
                                  std::to_string(ttl_.count()),
                                  member};
    run_script(redis_.get(), acquire_script(), acquire_sha(), std::move(tail),
               [registry = std::weak_ptr(registry_), key = std::move(key), member = std::move(member),
                policy = policy_, metrics = metrics_, done = std::move(done)](RedisReply reply) mutable {
                   LeaseVerdict v;
                   const bool answered =
                       !reply.error && reply.type == RedisReply::Type::array && !reply.elements.empty();
                   if (!answered) {
                       v.why = reply.error ? error_name(reply.error, "redis") +
                                                 (reply.str.empty() ? "" : ": " + reply.str)
                                           : "unexpected script reply";
                       v.result = policy == RedisUnavailable::local ? LeaseVerdict::Result::fallback
                                                                    : LeaseVerdict::Result::unavailable;
                       if (metrics && policy == RedisUnavailable::local)
                           metrics->fleet_connection_fallbacks++;
                   } else if (reply.elements[0].integer == 1) {
                       v.result = LeaseVerdict::Result::rate_limited;
                   } else if (reply.elements[0].integer == 2) {
                       v.result = LeaseVerdict::Result::too_many;
                   } else if (auto r = registry.lock()) {
                       if (metrics) metrics->fleet_redis_latency.observe(reply.latency);
                       std::lock_guard lock(r->mutex);
                       r->live.emplace(member, key);
                       v.lease = ConnectionLease(registry, std::move(key), std::move(member));
                   }
                   if (metrics && (v.result == LeaseVerdict::Result::rate_limited ||
                                   v.result == LeaseVerdict::Result::too_many ||
                                   v.result == LeaseVerdict::Result::unavailable))
                       metrics->fleet_connections_refused++;
                   done(std::move(v));
               });
}

void ConnectionLeases::renew_loop() {
    const auto interval = ttl_ / 3;
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval, [this] { return stop_; })) {
        lock.unlock();
        renew_once();
        lock.lock();
    }
}

void ConnectionLeases::renew_once() {
    std::lock_guard lock(registry_->mutex);
    if (registry_->abandoned || registry_->live.empty()) return;
    std::map<std::string, std::vector<const std::string*>> by_key;
    for (const auto& [member, key] : registry_->live) by_key[key].push_back(&member);
    std::vector<std::string> tail{std::to_string(by_key.size())};
    for (const auto& [key, members] : by_key) tail.push_back(key);
    tail.push_back(std::to_string(ttl_.count()));
    for (const auto& [key, members] : by_key) {
        tail.push_back(std::to_string(members.size()));
        for (const auto* m : members) tail.push_back(*m);
    }
    if (metrics_) metrics_->fleet_lease_renewals++;
    // Queued under the registry lock (see ConnectionLease::reset). The callback takes no lock.
    run_script(redis_.get(), renew_script(), renew_sha(), std::move(tail),
               [metrics = metrics_](RedisReply r) {
                   if (metrics && (r.error || r.type != RedisReply::Type::integer))
                       metrics->fleet_lease_renewal_errors++;
               });
}

}  // namespace cyxp2p::net
