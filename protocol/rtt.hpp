// Round-trip time of a session, measured by the session itself with PING/PONG (docs/protocol.md section 6).
// Smoothing as RFC 6298 section 2 (alpha = 1/8, beta = 1/4); the minimum is kept too, as QUIC does
// (RFC 9002 section 5.2), since queueing only ever adds to a sample.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace cyxp2p::protocol {

class RttEstimator {
  public:
    using Duration = std::chrono::nanoseconds;

    void add_sample(Duration sample) {
        if (sample < Duration::zero()) return;
        ++samples_;
        latest_ = sample;
        if (!smoothed_) {
            // RFC 6298 2.2: the first measurement R sets SRTT = R and RTTVAR = R/2.
            smoothed_ = sample;
            variation_ = sample / 2;
            min_ = sample;
            return;
        }
        // RFC 6298 2.3: RTTVAR first, with the old SRTT.
        const Duration diff = *smoothed_ > sample ? *smoothed_ - sample : sample - *smoothed_;
        variation_ = (3 * variation_ + diff) / 4;
        smoothed_ = (7 * *smoothed_ + sample) / 8;
        if (sample < *min_) min_ = sample;
    }

    /// nullopt until the first sample.
    std::optional<Duration> smoothed() const { return smoothed_; }
    std::optional<Duration> min() const { return min_; }
    std::optional<Duration> latest() const { return latest_; }
    Duration variation() const { return variation_; }
    std::uint64_t samples() const { return samples_; }

  private:
    std::optional<Duration> smoothed_;
    std::optional<Duration> min_;
    std::optional<Duration> latest_;
    Duration variation_{};
    std::uint64_t samples_ = 0;
};

}  // namespace cyxp2p::protocol
