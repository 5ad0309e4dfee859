// The token-bucket arithmetic shared by TokenBucket, KeyedLimiter and ConnectionLimiter: the parameters once
// per limiter, 16 bytes of state per bucket. Not part of the public API.
#pragma once

#include <cstdint>
#include <limits>

#include <cyxp2p/ratelimit/errc.hpp>
#include <cyxp2p/ratelimit/limits.hpp>

namespace cyxp2p::ratelimit::detail {

/// Credit is counted in "units": one token is `unit` units (the reduced period in ns) and each nanosecond
/// adds `tokens` units (the reduced numerator). Everything is an exact integer, so the admitted count over
/// any run is exactly floor(elapsed x tokens / period) + burst at most: no rounding error accumulates, which
/// a float rate or an integer emission interval (GCRA's T = period / tokens, rounded) would not give.
/// This is the token bucket of RFC 2697 / RFC 4115; it admits exactly what GCRA (ITU-T I.371, the "virtual
/// scheduling" form with T = 1/rate, tau = (burst - 1) x T) admits, GCRA's theoretical arrival time being
/// last + (cap - credit) / tokens. Keeping credit instead of TAT keeps the fraction exact.
struct BucketState {
    std::int64_t last = std::numeric_limits<std::int64_t>::min();  // the latest `now` applied
    std::uint64_t credit = 0;                                      // in units, <= cap
};

class BucketParams {
  public:
    /// Throws std::invalid_argument when the rate is out of the bounds documented on Rate.
    explicit BucketParams(const Rate& rate);

    /// A bucket as if untouched forever: full.
    BucketState fresh() const noexcept { return {std::numeric_limits<std::int64_t>::min(), cap_}; }

    /// Adds the credit earned since s.last. A `now` at or before s.last adds nothing and leaves s.last where
    /// it is, so a clock that goes backwards and forwards again never earns the same time twice.
    void refill(BucketState& s, std::int64_t now) const noexcept;

    /// refill, then take n tokens if they are there. On denial nothing is taken.
    Decision take(BucketState& s, std::uint64_t n, std::int64_t now,
                  errc limited = errc::rate_limited) const noexcept;

    /// Would take() allow n now? Refills a copy; s is unchanged.
    bool is_full(const BucketState& s, std::int64_t now) const noexcept;
    /// ns from `now` until s is full again (0 if it is); Decision::never() if it never refills.
    std::int64_t until_full(const BucketState& s, std::int64_t now) const noexcept;
    /// Whole tokens available at `now` (no state change).
    std::uint64_t available(const BucketState& s, std::int64_t now) const noexcept;

    std::uint64_t burst() const noexcept { return burst_; }

  private:
    std::uint64_t tokens_;  // units per ns
    std::uint64_t unit_;    // units per token
    std::uint64_t burst_;
    std::uint64_t cap_;  // burst_ x unit_
};

/// Limiters evaluate at their high-water time t >= now; a retry_after computed at t is expressed from the
/// caller's `now` by adding t - now (saturating to never()).
Decision from_caller(Decision d, std::int64_t t, std::int64_t now) noexcept;

}  // namespace cyxp2p::ratelimit::detail
