// Every limit of the content module in one place. The defaults are the secure choice (fail closed);
// docs/content.md explains each one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cyxp2p::content {

struct Limits {
    /// Largest block accepted anywhere (verifier, blockstore, CAR). 2 MiB: kubo and the bitswap
    /// protocol refuse larger blocks, and the largest block our importer writes (a 1 MiB leaf or a
    /// 1024-link node) is far below it.
    std::size_t max_block_size = 2 * 1024 * 1024;
    /// Deepest node below the root (root = depth 0). A balanced DAG of 174-link nodes and 256 KiB
    /// leaves needs depth 5 for 40 TB; 32 leaves room for trickle DAGs while stopping endless chains.
    std::size_t max_depth = 32;
    /// Most links one dag-pb node may carry. The unixfs-v1-2025 profile writes 1024.
    std::size_t max_links = 8192;
    /// Largest CAR v1 header (go-car DefaultMaxAllowedHeaderSize = 32 MiB).
    std::uint64_t max_car_header_size = 32ull << 20;
    /// Largest CAR v1 section, CID + block (go-car DefaultMaxAllowedSectionSize = 8 MiB). Blocks in it
    /// are still capped by max_block_size.
    std::uint64_t max_car_section_size = 8ull << 20;
};

}  // namespace cyxp2p::content
