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
    /// Most blocks indexed when a CAR is not in depth-first order (the CAR v1 spec fixes no order;
    /// @ipld/car writers and `order=unk` gateway responses put leaves first). The index keeps a digest and
    /// a file offset per block, about 100 bytes with the hash table: 1 Mi blocks is ~100 MiB of memory and
    /// covers 256 GiB of 256 KiB leaves. DFS-ordered CARs are streamed and need no index.
    std::size_t max_car_index_blocks = std::size_t{1} << 20;
    /// Blockstore references: a leaf is served without re-hashing while its source file's (device, inode,
    /// size, mtime) equal those recorded at import, but only if the file's mtime was at least this old when
    /// it was recorded. A write in the same timestamp tick as the import could otherwise keep the mtime
    /// unchanged ("racy git" problem); such files are re-hashed on every read, as before.
    std::uint64_t reference_settle_ms = 2000;

    /// Download: verified file bytes written between two resume checkpoints (data fsync, then a metadata
    /// record that claims them). A crash or reboot loses at most this much verified data; each checkpoint
    /// costs one fdatasync of each file. 8 MiB: 32 leaves of 256 KiB, a few fsyncs per second at 100 MiB/s.
    std::uint64_t checkpoint_bytes = 8ull << 20;
    /// Download: the resume metadata (about 60 bytes per held leaf) stays within file size /
    /// resume_metadata_divisor + resume_metadata_slack bytes, so a fetch uses at most file size + 1% +
    /// 64 KiB of disk. Leaves past the budget (chunks under ~6 KiB) are fetched but not held for resume.
    std::uint64_t resume_metadata_divisor = 100;
    std::uint64_t resume_metadata_slack = 64 * 1024;

    /// MultiDownload (multi-source fetch): an upper DAG node larger than this is split into its children,
    /// so no unit handed to one source is bigger (a leaf always is one unit). Each unit costs one request
    /// (a node allows 20 per second per address by default), so units are whole subtrees, not leaves: 64 MiB
    /// keeps kubo's 174 x 256 KiB subtrees (43.5 MiB) whole. The cost: a unit is recorded for resume only
    /// once complete, and a slow source's last unit is fetched again by an idle one (a hedge).
    std::uint64_t multi_unit_bytes = 64ull << 20;
    /// MultiDownload: the largest node is split further while the plan has fewer units than this, so a
    /// small file is still shared out (16: eight units each for two sources).
    std::size_t multi_min_units = 16;
    /// MultiDownload: no node is split once the plan holds this many units (about 150 bytes of memory
    /// each, and one record line each when done): 1 Mi units. Larger DAGs get larger units.
    std::size_t multi_max_units = std::size_t{1} << 20;
};

}  // namespace cyxp2p::content
