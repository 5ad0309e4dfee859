#include <numeric>
#include <stdexcept>

#include <cyxp2p/ratelimit/detail/bucket.hpp>

namespace cyxp2p::ratelimit::detail {
namespace {

constexpr std::uint64_t kLimit = std::uint64_t{1} << 62;
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) noexcept {
    return a / b + (a % b != 0 ? 1 : 0);
}

// ns from `now` to `last + wait`, where now may lie before last (clock went backwards): saturating.
std::int64_t from_now(std::int64_t last, std::uint64_t wait, std::int64_t now) noexcept {
    const std::uint64_t behind =
        now < last ? static_cast<std::uint64_t>(last) - static_cast<std::uint64_t>(now) : 0;
    const auto never = static_cast<std::uint64_t>(kNever);
    if (behind >= never || wait >= never - behind) return kNever;
    return static_cast<std::int64_t>(behind + wait);
}

}  // namespace

BucketParams::BucketParams(const Rate& rate) {
    if (rate.period.count() <= 0) throw std::invalid_argument("ratelimit: rate period must be positive");
    auto period = static_cast<std::uint64_t>(rate.period.count());
    std::uint64_t tokens = rate.tokens;
    if (tokens == 0) {
        period = 1;  // never refills: the unit only has to be non-zero
    } else {
        const std::uint64_t g = std::gcd(tokens, period);
        tokens /= g;
        period /= g;
    }
    if (tokens > kLimit) throw std::invalid_argument("ratelimit: rate tokens too large");
    if (rate.burst > kLimit / period) throw std::invalid_argument("ratelimit: burst x period too large");
    tokens_ = tokens;
    unit_ = period;
    burst_ = rate.burst;
    cap_ = rate.burst * period;
}

void BucketParams::refill(BucketState& s, std::int64_t now) const noexcept {
    if (now <= s.last) return;
    const std::uint64_t elapsed = static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(s.last);
    s.last = now;
    const std::uint64_t missing = cap_ - s.credit;
    if (missing == 0 || tokens_ == 0) return;
    // Multiply only when the product stays below cap + tokens <= 2^63: a long idle gap or a huge jump
    // simply fills the bucket.
    if (elapsed >= ceil_div(missing, tokens_))
        s.credit = cap_;
    else
        s.credit += elapsed * tokens_;
}

Decision BucketParams::take(BucketState& s, std::uint64_t n, std::int64_t now, errc limited) const noexcept {
    if (n > burst_) return {errc::exceeds_burst, Decision::never()};
    refill(s, now);
    const std::uint64_t cost = n * unit_;  // <= cap
    if (s.credit >= cost) {
        s.credit -= cost;
        return {};
    }
    if (tokens_ == 0) return {limited, Decision::never()};
    const std::uint64_t wait = ceil_div(cost - s.credit, tokens_);
    return {limited, std::chrono::nanoseconds(from_now(s.last, wait, now))};
}

bool BucketParams::is_full(const BucketState& s, std::int64_t now) const noexcept {
    BucketState c = s;
    refill(c, now);
    return c.credit == cap_;
}

std::int64_t BucketParams::until_full(const BucketState& s, std::int64_t now) const noexcept {
    BucketState c = s;
    refill(c, now);
    if (c.credit == cap_) return 0;
    if (tokens_ == 0) return kNever;
    return from_now(c.last, ceil_div(cap_ - c.credit, tokens_), now);
}

std::uint64_t BucketParams::available(const BucketState& s, std::int64_t now) const noexcept {
    BucketState c = s;
    refill(c, now);
    return c.credit / unit_;
}

Decision from_caller(Decision d, std::int64_t t, std::int64_t now) noexcept {
    if (d.allowed() || d.retry_after == Decision::never() || t <= now) return d;
    d.retry_after =
        std::chrono::nanoseconds(from_now(t, static_cast<std::uint64_t>(d.retry_after.count()), now));
    return d;
}

}  // namespace cyxp2p::ratelimit::detail
