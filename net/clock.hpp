// Clock: where the net layer reads time (ARCHITECTURE 2, "two kinds"). Monotonic time drives the sessions'
// deadlines, their Asio timers and every rate limiter; wall time only the calendar facts (token iat/exp/nbf,
// request timestamps in the replay window, audit record times). Node and Engine take one through their
// options; tests pass a ManualClock and step it instead of sleeping.
//
//   auto clock = std::make_shared<net::ManualClock>();
//   options.clock = clock;
//   ...
//   clock->step_wall(2h);      // NTP steps the calendar: only token expiry and replay timestamps see it
//   clock->advance(61s);       // time passes: deadlines and buckets see it
//   node.check_deadlines();    // re-read the clock now instead of at the next timer
#pragma once

#include <atomic>
#include <memory>

#include <cyxp2p/protocol/limits.hpp>

namespace cyxp2p::net {

/// Both clocks. Implementations are read from every I/O thread at once and must be thread-safe.
class Clock {
  public:
    virtual ~Clock() = default;
    /// Nanoseconds on a clock that never steps (steady_clock since boot).
    virtual protocol::Time monotonic() const = 0;
    /// Nanoseconds since the Unix epoch (system_clock; may step).
    virtual protocol::Time wall() const = 0;
    protocol::Now now() const { return {.mono = monotonic(), .wall = wall()}; }
};

/// steady_clock and system_clock: the default of NodeOptions::clock and EngineOptions::clock.
std::shared_ptr<const Clock> system_clock();

/// A clock that moves only when told to. Asio timers still run on the real steady clock, so after moving
/// it call Node::check_deadlines() or Connection::check_deadlines() to have deadlines re-read it at once.
class ManualClock final : public Clock {
  public:
    /// Starts at the system clocks' current readings (tokens minted "now" are valid on it).
    ManualClock();
    ManualClock(protocol::Time mono, protocol::Time wall) : mono_(mono.count()), wall_(wall.count()) {}

    protocol::Time monotonic() const override { return protocol::Time(mono_.load()); }
    protocol::Time wall() const override { return protocol::Time(wall_.load()); }

    /// Time passes: both clocks move forward by `d` (d >= 0).
    void advance(protocol::Time d);
    /// The wall clock alone jumps by `d` (either sign), as an NTP step or an operator's `date -s` does.
    void step_wall(protocol::Time d) { wall_ += d.count(); }

  private:
    std::atomic<protocol::Time::rep> mono_;
    std::atomic<protocol::Time::rep> wall_;
};

}  // namespace cyxp2p::net
