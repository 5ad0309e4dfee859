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

    /// Upload (content.put, receiving side): largest file one upload may declare. 64 GiB: the largest model
    /// or dataset the platform moves in one piece, with room; a larger one is refused before a byte is
    /// written (upload_too_large).
    std::uint64_t max_upload_size = 64ull << 30;
    /// Upload: disk reserved for an upload = declared size + declared size / upload_overhead_divisor +
    /// upload_overhead_slack, and the staged blocks (bytes + upload_block_charge each) must stay within it
    /// (upload_over_reservation). 1/16 + 1 MiB holds the DAG of any chunk size from 64 KiB up (kubo's
    /// 256 KiB leaves cost 1.6% with the charge below); smaller chunks cost more disk than the file itself.
    std::uint64_t upload_overhead_divisor = 16;
    std::uint64_t upload_overhead_slack = 1ull << 20;
    /// Upload: disk counted per staged block on top of its bytes: each is a file, which takes at least one
    /// file-system block and an inode. 4 KiB, ext4's and xfs's block size.
    std::uint64_t upload_block_charge = 4096;
    /// Upload: free space of the store's file system that uploads never take, so the node's own logs,
    /// records and blockstore writes still fit. 1 GiB.
    std::uint64_t upload_disk_reserve = 1ull << 30;
    /// Upload: the most disk all partial uploads of one store may reserve together, whatever is free (the
    /// node's disk budget). 256 GiB: four uploads of max_upload_size.
    std::uint64_t upload_disk_budget = 256ull << 30;
    /// Upload: partial uploads one store keeps at once (staging directories, active or waiting for a resume);
    /// a new one past this is refused (too_many_uploads). 16: per node, beyond the per-session bounds of
    /// net/.
    std::size_t max_partial_uploads = 16;
    /// Upload: a partial upload untouched for this long is removed by Upload::sweep(). 24 h: an engine
    /// retrying after a night's outage still resumes.
    std::uint64_t partial_upload_ttl_s = 24 * 3600;
};

}  // namespace cyxp2p::content
