// The process-wide budget for receive-window growth (docs/net.md, "Flow control"; docs/protocol.md
// section 6). Every Node and Engine in a process draws on this one unless its options name another, so ten
// thousand sessions cannot each promise their peers 32 MiB of windows.
#pragma once

#include <cstdint>
#include <memory>

#include <cyxp2p/protocol/window_budget.hpp>

namespace cyxp2p::net {

/// The default budget is this fraction of physical RAM (1/8), and never below window_budget_floor.
inline constexpr std::uint64_t window_budget_ram_divisor = 8;
/// 64 MiB: two sessions at the 32 MiB session cap, even on a machine whose RAM cannot be read.
inline constexpr std::uint64_t window_budget_floor = 64ULL << 20;

/// physical RAM / window_budget_ram_divisor (at least window_budget_floor).
std::uint64_t default_window_budget_bytes();
/// The process's shared budget, created on first use with default_window_budget_bytes().
std::shared_ptr<protocol::WindowBudget> process_window_budget();

}  // namespace cyxp2p::net
