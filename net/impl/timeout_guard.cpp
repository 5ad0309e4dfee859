#include <cyxp2p/net/impl/timeout_guard.hpp>

namespace cyxp2p::net::detail {

TimeoutGuard::TimeoutGuard(boost::asio::any_io_executor ex, std::chrono::steady_clock::duration timeout,
                           std::function<void()> on_expire)
    : state_(std::make_shared<State>(State{std::move(on_expire)})), timer_(std::move(ex), timeout) {
    // The completion holds the state, not the guard: it may run after the guard is gone.
    timer_.async_wait([state = state_](boost::system::error_code ec) {
        if (ec || !state->on_expire) return;
        state->fired = true;
        std::exchange(state->on_expire, nullptr)();
    });
}

TimeoutGuard::~TimeoutGuard() {
    cancel();
}

void TimeoutGuard::cancel() {
    state_->on_expire = nullptr;
    timer_.cancel();
}

}  // namespace cyxp2p::net::detail
