#include <chrono>
#include <stdexcept>

#include <cyxp2p/net/clock.hpp>

namespace cyxp2p::net {
namespace {

class SystemClock final : public Clock {
  public:
    protocol::Time monotonic() const override {
        return std::chrono::duration_cast<protocol::Time>(
            std::chrono::steady_clock::now().time_since_epoch());
    }
    protocol::Time wall() const override {
        return std::chrono::duration_cast<protocol::Time>(
            std::chrono::system_clock::now().time_since_epoch());
    }
};

}  // namespace

std::shared_ptr<const Clock> system_clock() {
    static const auto clock = std::make_shared<const SystemClock>();
    return clock;
}

ManualClock::ManualClock() : ManualClock(system_clock()->monotonic(), system_clock()->wall()) {}

void ManualClock::advance(protocol::Time d) {
    if (d < protocol::Time::zero())
        throw std::invalid_argument("ManualClock::advance: monotonic time never goes back");
    mono_ += d.count();
    wall_ += d.count();
}

}  // namespace cyxp2p::net
