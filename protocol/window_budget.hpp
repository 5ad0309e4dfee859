// A process-wide budget for receive-window growth (docs/protocol.md section 6). Every session starts with
// its initial windows for free; growing a window beyond them reserves the extra bytes here first, and
// growth the budget cannot cover is refused (the window stays as it is): ten thousand sessions cannot each
// promise a peer 32 MiB. Thread-safe (sessions on several io_context threads share one); no I/O.
#pragma once

#include <atomic>
#include <cstdint>

namespace cyxp2p::protocol {

class WindowBudget {
  public:
    explicit WindowBudget(std::uint64_t capacity) : capacity_(capacity) {}
    WindowBudget(const WindowBudget&) = delete;
    WindowBudget& operator=(const WindowBudget&) = delete;

    /// Reserves `bytes` when they fit in what is left; otherwise reserves nothing and returns false.
    bool try_reserve(std::uint64_t bytes) {
        std::uint64_t used = reserved_.load(std::memory_order_relaxed);
        do {
            if (bytes > capacity_ || used > capacity_ - bytes) {
                refusals_.fetch_add(1, std::memory_order_relaxed);
                return false;
            }
        } while (!reserved_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
        return true;
    }
    /// Gives back bytes an earlier try_reserve took (a window shrank or its session ended).
    void release(std::uint64_t bytes) { reserved_.fetch_sub(bytes, std::memory_order_relaxed); }

    std::uint64_t capacity() const { return capacity_; }
    std::uint64_t reserved() const { return reserved_.load(std::memory_order_relaxed); }
    /// How often growth was refused (a metric: the budget is too small for the load).
    std::uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

  private:
    const std::uint64_t capacity_;
    std::atomic<std::uint64_t> reserved_{0};
    std::atomic<std::uint64_t> refusals_{0};
};

}  // namespace cyxp2p::protocol
