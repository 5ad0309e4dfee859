// adaptive_deadline: a pre-auth deadline as a pure function of how full the handshake table is.
#pragma once

#include <chrono>
#include <cstddef>

#include <cyxp2p/ratelimit/limits.hpp>

namespace cyxp2p::ratelimit {

/// `base` while in_use <= from_percent of capacity; then linear down to min(base, at_full) at
/// in_use >= capacity (and for capacity 0). Never longer than `base`, never increasing in `in_use`.
/// from_percent above 100 counts as 100 (never shrink before full).
std::chrono::milliseconds adaptive_deadline(std::chrono::milliseconds base, std::size_t in_use,
                                            std::size_t capacity, const AdaptiveDeadline& policy) noexcept;

}  // namespace cyxp2p::ratelimit
