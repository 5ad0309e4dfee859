// Bounds one pending operation in time: when the timeout elapses first, the guard runs its expiry action
// (closing the socket, which makes the operation complete with an error) and remembers that it fired, so
// the caller can report a timeout rather than the socket error the close caused.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <cyxp2p/net/detail/asio.hpp>

namespace cyxp2p::net::detail {

class TimeoutGuard {
  public:
    /// Arms the guard; `on_expire` runs on `ex` unless cancel() comes first.
    TimeoutGuard(boost::asio::any_io_executor ex, std::chrono::steady_clock::duration timeout,
                 std::function<void()> on_expire);
    /// Disarms the guard (as cancel()).
    ~TimeoutGuard();
    TimeoutGuard(const TimeoutGuard&) = delete;
    TimeoutGuard& operator=(const TimeoutGuard&) = delete;

    /// Disarms the guard. Its action will not run after this, even if the timer had already expired and
    /// its completion is queued: the action may refer to objects that are gone by then.
    void cancel();
    /// The timeout elapsed and the expiry action ran.
    bool fired() const { return state_->fired; }

  private:
    struct State {
        std::function<void()> on_expire;
        bool fired = false;
    };
    std::shared_ptr<State> state_;
    boost::asio::steady_timer timer_;
};

}  // namespace cyxp2p::net::detail
