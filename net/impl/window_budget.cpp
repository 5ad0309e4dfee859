#include <unistd.h>

#include <algorithm>

#include <cyxp2p/net/window_budget.hpp>

namespace cyxp2p::net {

std::uint64_t default_window_budget_bytes() {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGE_SIZE);
    std::uint64_t ram = 0;
    if (pages > 0 && page_size > 0)
        ram = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
    return std::max(ram / window_budget_ram_divisor, window_budget_floor);
}

std::shared_ptr<protocol::WindowBudget> process_window_budget() {
    static const auto budget = std::make_shared<protocol::WindowBudget>(default_window_budget_bytes());
    return budget;
}

}  // namespace cyxp2p::net
