#include "allocator.hpp"

#include <malloc.h>

#include <cstdlib>

namespace cyxp2p::tools {

bool tune_allocator_for_bulk_transfer() {
    if (std::getenv("GLIBC_TUNABLES") != nullptr) return false;
#if defined(__GLIBC__)
    constexpr int mmap_threshold = 2 << 20;  // above the largest block a DAG may hold (1 MiB) plus framing
    constexpr int trim_threshold = 16 << 20;
    // mallopt returns 1 on success; under a sanitizer's allocator the call is accepted and ignored.
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1 && mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1;
#else
    return false;
#endif
}

}  // namespace cyxp2p::tools
