// TokenBucket: `tokens` per `period`, bursts up to `burst`, exact integer arithmetic, explicit time.
#pragma once

#include <chrono>
#include <cstdint>

#include <cyxp2p/ratelimit/detail/bucket.hpp>
#include <cyxp2p/ratelimit/errc.hpp>
#include <cyxp2p/ratelimit/limits.hpp>

namespace cyxp2p::ratelimit {

/// One token bucket (equivalently GCRA; see detail/bucket.hpp for the equivalence and why credit is kept
/// as an exact fraction). Starts full. `now` is any monotonic nanosecond count (steady_clock since boot);
/// a `now` earlier than one already seen grants nothing. Not thread-safe: one owner (a session), or use
/// KeyedLimiter, which is sharded and locked, for state shared across threads.
class TokenBucket {
  public:
    /// Throws std::invalid_argument when `rate` is out of the bounds documented on Rate.
    explicit TokenBucket(const Rate& rate) : params_(rate), state_(params_.fresh()) {}

    /// Takes n tokens if available at `now`. Denied: errc::rate_limited with the exact wait until n tokens
    /// will be there (Decision::never() for a zero rate), or errc::exceeds_burst if n > burst.
    /// n == 0 is always allowed.
    Decision try_acquire(std::uint64_t n, std::chrono::nanoseconds now) noexcept {
        return params_.take(state_, n, now.count());
    }
    Decision try_acquire(std::chrono::nanoseconds now) noexcept { return try_acquire(1, now); }

    /// Whole tokens available at `now`, without taking any.
    std::uint64_t available(std::chrono::nanoseconds now) const noexcept {
        return params_.available(state_, now.count());
    }
    std::uint64_t burst() const noexcept { return params_.burst(); }

  private:
    detail::BucketParams params_;
    detail::BucketState state_;
};

}  // namespace cyxp2p::ratelimit
