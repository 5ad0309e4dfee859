#include <algorithm>
#include <cmath>

#include <cyxp2p/ratelimit/adaptive_deadline.hpp>

namespace cyxp2p::ratelimit {

std::chrono::milliseconds adaptive_deadline(std::chrono::milliseconds base, std::size_t in_use,
                                            std::size_t capacity, const AdaptiveDeadline& policy) noexcept {
    const std::chrono::milliseconds floor = std::min(base, policy.at_full);
    if (capacity == 0 || in_use >= capacity) return floor;
    // Occupancy and threshold as fractions of capacity; long double keeps 64-bit counts exact enough (a
    // deadline is not an accounting quantity, only monotonicity and the end points matter).
    const long double used = static_cast<long double>(in_use) / static_cast<long double>(capacity);
    const long double from = static_cast<long double>(std::min<std::size_t>(policy.from_percent, 100)) / 100;
    if (used <= from) return base;
    const long double pressure = (used - from) / (1 - from);  // (0, 1): from < used < 1
    const auto span = static_cast<long double>((base - floor).count());
    const auto cut = static_cast<std::chrono::milliseconds::rep>(std::llround(span * pressure));
    return std::max(floor, base - std::chrono::milliseconds(cut));
}

}  // namespace cyxp2p::ratelimit
