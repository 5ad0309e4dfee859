// RedisAdmission: the fleet's replay windows and GCRA limits in one Lua script (docs/fleet.md, "Keys").
#include <sodium.h>

#include <cstdio>

#include <cyxp2p/net/admission.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/impl/fleet_keys.hpp>

namespace cyxp2p::net {
namespace {

using protocol::AdmissionRequest;
using protocol::AdmissionVerdict;

// GCRA (ITU-T I.371 "virtual scheduling"; the form redis-cell uses): a bucket is its theoretical arrival
// time TAT, in microseconds of the server's clock. With emission interval T = period / tokens and burst B, a
// request at `now` is admitted iff max(TAT, now) + T - now <= B x T, and then TAT becomes max(TAT, now) + T.
// So B requests pass at once, then one every T; the refusal's retry delay is exact. TIME is the server's
// clock, so nodes whose clocks disagree still share one bucket; Redis 7 replicates a script's effects, not
// the script, which is what makes TIME (non-deterministic) allowed before writes.
//
// KEYS[1..n]: buckets; KEYS[n+1] (optional): the nonce. ARGV[1] = n; ARGV[2i], ARGV[2i+1] = T and B x T of
// bucket i (microseconds); ARGV[2n+2] = the nonce's lifetime in ms. Buckets are all charged or none; the
// nonce is set only when every bucket admitted (limits before the replay check, as on one node).
// Returns {0} admitted, {1, i, retry_us} bucket i refused, {2} nonce already seen.
constexpr const char* kScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local tats = {}
for i = 1, n do
  local T = tonumber(ARGV[2 * i])
  local limit = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  if tat < now then tat = now end
  local next_tat = tat + T
  if next_tat - now > limit then
    return {1, i, math.ceil(next_tat - now - limit)}
  end
  tats[i] = next_tat
end
for i = 1, n do
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.max(1, math.ceil((tats[i] - now) / 1000)))
end
if #KEYS > n then
  if not redis.call('SET', KEYS[n + 1], '1', 'NX', 'PX', ARGV[2 * n + 2]) then
    return {2}
  end
end
return {0}
)lua";

// Keys are fixed-length digests of the domain-separated parts (fleet::digest): no subject, method or nonce
// appears in Redis in clear, and attacker-chosen subjects cannot make long keys. A 128-bit collision (2^64
// work) could only make a fresh nonce look replayed.
using fleet::digest;
using fleet::sha1_hex;

}  // namespace

const std::string& RedisAdmission::script() {
    static const std::string s = kScript;
    return s;
}
const std::string& RedisAdmission::script_sha1() {
    static const std::string s = sha1_hex(script());
    return s;
}

RedisAdmission::RedisAdmission(std::shared_ptr<RedisClient> redis, std::string prefix,
                               RedisUnavailable policy, const replay::Limits& replay,
                               const ratelimit::Limits& rate, Metrics* metrics)
    : redis_(std::move(redis)),
      prefix_(std::move(prefix)),
      policy_(policy),
      replay_(replay),
      rate_(rate),
      metrics_(metrics),
      fallback_(replay, rate) {
    if (!redis_ || prefix_.empty()) throw std::invalid_argument("RedisAdmission needs a client and a prefix");
    if (sodium_init() < 0) throw std::runtime_error("RedisAdmission: libsodium failed to initialise");
}

std::vector<std::string> RedisAdmission::keys(const AdmissionRequest& r) const {
    std::vector<std::string> k;
    if (r.step == AdmissionRequest::Step::open) {
        k.push_back(prefix_ + "rate:peer:" + digest({"peer", r.subject}));
        k.push_back(prefix_ + "rate:method:" + digest({"method", r.method}));
    }
    const std::string_view nonce(reinterpret_cast<const char*>(r.nonce.data()), r.nonce.size());
    k.push_back(prefix_ + "nonce:" + digest({r.nonce_scope(), r.subject, nonce}));
    return k;
}

AdmissionVerdict RedisAdmission::unavailable(const AdmissionRequest& r, const std::string& why) {
    if (policy_ == RedisUnavailable::local) {
        if (metrics_) metrics_->fleet_fallbacks++;
        return fallback_.decide(r);
    }
    if (metrics_) metrics_->fleet_unavailable++;
    return {make_error_code(protocol::errc::unavailable), "fleet replay/limit store unavailable: " + why,
            "redis_unavailable", redis_->retry_delay()};
}

void RedisAdmission::check(const AdmissionRequest& r, Done done) {
    // The timestamp first, on this node's wall clock, exactly as the local window does: a stale request
    // costs no round trip.
    const auto skew = replay_.skew;
    if (r.timestamp < r.now.wall - skew || r.timestamp > r.now.wall + skew) {
        const auto reason = r.timestamp < r.now.wall - skew ? replay::errc::timestamp_too_old
                                                            : replay::errc::timestamp_too_new;
        return done({make_error_code(protocol::errc::replayed),
                     std::string("request refused: ") + replay::to_string(reason),
                     replay::to_string(reason),
                     {}});
    }
    if (metrics_) metrics_->fleet_checks++;  // requests, not calls: a NOSCRIPT retry is the same check
    evaluate(r, std::move(done), true);
}

void RedisAdmission::evaluate(const AdmissionRequest& r, Done done, bool retry_with_eval) {
    auto k = keys(r);
    const bool open = r.step == AdmissionRequest::Step::open;
    std::vector<std::string> argv{retry_with_eval ? "EVALSHA" : "EVAL",
                                  retry_with_eval ? script_sha1() : script(), std::to_string(k.size())};
    for (auto& key : k) argv.push_back(std::move(key));
    argv.push_back(open ? "2" : "0");
    if (open) {
        for (const auto* rate : {&rate_.requests_per_peer.rate, &rate_.requests_per_method.rate}) {
            auto [t, limit] = fleet::gcra_args(*rate);
            argv.push_back(std::move(t));
            argv.push_back(std::move(limit));
        }
    }
    // Remembered as long as the local window could: a timestamp up to `skew` ahead passes until
    // timestamp + skew, plus one bucket of expiry granularity.
    const auto lifetime = 2 * replay_.skew + replay_.bucket_width;
    argv.push_back(std::to_string(std::chrono::ceil<std::chrono::milliseconds>(lifetime).count()));

    redis_->call(std::move(argv), [this, r, done = std::move(done),
                                   retry_with_eval](RedisReply reply) mutable {
        if (reply.error == errc::redis_error && retry_with_eval && reply.str.starts_with("NOSCRIPT")) {
            return evaluate(r, std::move(done), false);  // EVAL caches the script for the next EVALSHA
        }
        if (reply.error) {
            if (metrics_) metrics_->fleet_redis_errors++;
            return done(unavailable(
                r, error_name(reply.error, "redis") + (reply.str.empty() ? "" : ": " + reply.str)));
        }
        if (metrics_) metrics_->fleet_redis_latency.observe(reply.latency);
        if (reply.type != RedisReply::Type::array || reply.elements.empty()) {
            if (metrics_) metrics_->fleet_redis_errors++;
            return done(unavailable(r, "unexpected script reply"));
        }
        switch (reply.elements[0].integer) {
            case 0:
                return done({});
            case 1: {
                const auto us = reply.elements.size() > 2 ? reply.elements[2].integer : 0;
                return done({make_error_code(protocol::errc::rate_limited),
                             std::string(ratelimit::to_string(ratelimit::errc::rate_limited)) + " (fleet)",
                             ratelimit::to_string(ratelimit::errc::rate_limited),
                             std::chrono::ceil<std::chrono::milliseconds>(std::chrono::microseconds(us))});
            }
            case 2:
                return done(
                    {make_error_code(protocol::errc::replayed),
                     std::string("request refused: ") + replay::to_string(replay::errc::duplicate_nonce),
                     replay::to_string(replay::errc::duplicate_nonce),
                     {}});
            default:
                if (metrics_) metrics_->fleet_redis_errors++;
                return done(unavailable(r, "unexpected script reply"));
        }
    });
}

}  // namespace cyxp2p::net
