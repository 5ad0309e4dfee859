// What every harness shares: a property check that crashes (so libFuzzer and the replay tests report it),
// and the byte vocabulary.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

/// A failed property: print and abort, so libFuzzer (and the replay test) report a crash. Not assert():
/// it must hold in every build type.
#define CYXP2P_FUZZ_CHECK(cond)                                                                   \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                         \
        }                                                                                         \
    } while (false)

namespace cyxp2p::fuzz {

using Bytes = std::vector<std::uint8_t>;
using Span = std::span<const std::uint8_t>;

}  // namespace cyxp2p::fuzz
