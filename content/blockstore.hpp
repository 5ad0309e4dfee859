// Blockstore: blocks on disk, one file per block, laid out like kubo's flatfs ("next-to-last/2"):
//
//   DIR/blocks/<SHARD>/<KEY>.data   a copy of the block
//   DIR/blocks/<SHARD>/<KEY>.ref    a reference into the original file (filestore mode)
//
// KEY is the base32 (upper, unpadded) multihash, as flatfs names it, so the raw and dag-pb CIDs of one
// digest share a file; SHARD is the two characters before KEY's last one. Every file is written to a
// temporary name in the same directory and renamed into place, so readers, in this process or another,
// see a block entirely or not at all. Every get() re-hashes what it read: a block corrupted on disk or
// a referenced file changed since import is reported, never served.
//
// Filestore mode: a node serving a 20 GB model must not keep it twice. put_reference() records
// (file, offset, length) plus the few bytes a dag-pb leaf wraps around the file bytes, and the file's
// (device, inode, size, mtime) at import; get() rebuilds the block from the file and re-hashes it only if
// that identity changed (Limits::reference_settle_ms). Changed and no longer matching: source_changed.
#pragma once

#include <filesystem>
#include <optional>
#include <system_error>

#include <cyxp2p/content/bytes.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/content/limits.hpp>

namespace cyxp2p::content {

/// What identifies one version of a file: if none of these changed, its bytes did not either (short of a
/// deliberate timestamp reset, which the engine's verification still catches).
struct FileIdentity {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

/// Where a block's bytes live in a file: block = prefix + file[offset, offset + length) + suffix.
struct FileReference {
    std::filesystem::path file;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    Bytes prefix;
    Bytes suffix;
    /// The file as it was when the block was hashed; unset: re-hash on every read.
    std::optional<FileIdentity> identity;
};

class Blockstore {
  public:
    /// Opens (creating if needed) the store in `dir`. Errors: io errors.
    static std::optional<Blockstore> open(const std::filesystem::path& dir, std::error_code& ec,
                                          const Limits& limits = {});

    /// Stores a copy. Verifies SHA-256(block) against `cid` first (hash_mismatch) unless the caller
    /// just computed it (`verified` = true, e.g. the importer). Idempotent.
    std::error_code put(const Cid& cid, ByteView block, bool verified = false) const;
    /// Stores a reference instead of a copy (filestore mode). `ref.file` should be absolute.
    std::error_code put_reference(const Cid& cid, const FileReference& ref) const;

    /// Reads and re-verifies a block (a by-reference leaf whose file is unchanged is not hashed again).
    /// Errors: block_not_found, hash_mismatch (copy corrupted on disk), source_changed (referenced file
    /// changed), block_too_large, io errors.
    std::optional<Bytes> get(const Cid& cid, std::error_code& ec) const;
    bool has(const Cid& cid) const;
    /// Forgets one block (its copy and its reference; the referenced file is not touched): has() is false
    /// after it, and a reader that had started on the block may still fail. Absent already: no error.
    /// Errors: io errors.
    std::error_code remove(const Cid& cid) const;

    /// A BlockSink for the importer: leaves become references to `source` when it is given (filestore
    /// mode), copies otherwise; internal nodes are always copies.
    BlockSink sink(std::optional<std::filesystem::path> source = std::nullopt) const;

    /// The path a block's copy has (tests, operators).
    std::filesystem::path data_path(const Cid& cid) const;
    const std::filesystem::path& root() const { return dir_; }
    /// The limits the store was opened with: also those its DAGs are walked with (DagSource).
    const Limits& limits() const { return limits_; }

  private:
    Blockstore(std::filesystem::path dir, const Limits& limits) : dir_(std::move(dir)), limits_(limits) {}
    std::filesystem::path base_path(const Cid& cid) const;
    std::error_code write_atomic(const std::filesystem::path& target, ByteView a, ByteView b = {}) const;

    std::filesystem::path dir_;
    Limits limits_;
};

}  // namespace cyxp2p::content
