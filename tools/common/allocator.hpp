// glibc malloc settings for processes that move bulk data (docs/performance.md, "The allocator").
#pragma once

namespace cyxp2p::tools {

/// glibc serves an allocation above its mmap threshold (128 KiB at start, raised to the size of each mmapped
/// chunk freed) with a fresh mmap, and returns the top of a heap to the kernel past its trim threshold. A
/// transfer allocates a buffer of a block (256 KiB .. 1 MiB) per message on one thread and frees it on
/// another, so every block lands in freshly faulted pages: about half of the node's CPU in a loopback fetch
/// (perf). This fixes the thresholds at 2 MiB (mmap) and 16 MiB (trim per arena), so block buffers are reused
/// from the heap. Does nothing when GLIBC_TUNABLES is set (the operator chose) or when another allocator (a
/// sanitizer's) is in place. Returns whether the settings were applied.
bool tune_allocator_for_bulk_transfer();

}  // namespace cyxp2p::tools
