// tools/common/allocator.hpp: after tuning, a block-sized buffer comes from the heap, not from a fresh mmap.
// Run in a child process each: glibc's dynamic threshold depends on what the process freed before.
#include "../../tools/common/allocator.hpp"

#include <malloc.h>

#include <cstdlib>

#include <gtest/gtest.h>

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizedAllocator = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitizedAllocator = true;
#else
constexpr bool kSanitizedAllocator = false;
#endif
#else
constexpr bool kSanitizedAllocator = false;
#endif

// Exits 0 when an allocation of `bytes` was served by mmap (mallinfo2's hblks grew), 1 when not.
[[noreturn]] void exit_with_mmapped(std::size_t bytes) {
    const auto before = mallinfo2().hblks;
    void* volatile p = std::malloc(bytes);
    const bool mmapped = mallinfo2().hblks > before;
    std::free(p);
    std::_Exit(mmapped ? 0 : 1);
}

// glibc's default: 1 MiB is mmapped, and freeing it raises the threshold to 1 MiB, so 1.5 MiB is
// mmapped again: the allocation pattern of growing blocks.
void default_then(bool tune) {
    void* volatile p = std::malloc(1 << 20);
    std::free(p);
    if (tune && !cyxp2p::tools::tune_allocator_for_bulk_transfer()) std::_Exit(2);
    exit_with_mmapped(3U << 19);
}

TEST(Allocator, BlockBuffersComeFromTheHeapOnceTuned) {
    if (kSanitizedAllocator) GTEST_SKIP() << "a sanitizer replaces malloc";
    if (std::getenv("GLIBC_TUNABLES") != nullptr)
        GTEST_SKIP() << "GLIBC_TUNABLES set: the tuning stands back";
    EXPECT_EXIT(default_then(false), testing::ExitedWithCode(0), "") << "untuned: 1.5 MiB should be mmapped";
    EXPECT_EXIT(default_then(true), testing::ExitedWithCode(1), "")
        << "tuned: 1.5 MiB should come from the heap";
}

}  // namespace
