// Upload: the node's receiving side of content.put, from the declared root to a servable DAG. It owns the
// upload's staging directory, its DagVerifier and its disk reservation, and nothing else touches them (net/
// passes the engine's blocks in; docs/content.md, "Upload").
//
// On disk, next to the store's blocks/ (which content.fetch serves) and never served itself:
//   DIR/staging/.lock                     flock: begin(), commit's cleanup and sweep() run one at a time
//   DIR/staging/<ROOT>/lock               flock held by the one Upload of this root (upload_in_progress)
//   DIR/staging/<ROOT>/upload             the record: declared size and disk reserved (other uploads read it)
//   DIR/staging/<ROOT>/<CID>.block        one verified block, written to <CID>.block.tmp then renamed
// ROOT and CID are CIDv1 text (a CIDv0 root shares its directory with its CIDv1 form).
//
// Order of checks in begin(), before any block is written: the declared size against max_upload_size; the
// root's lock; the number of partial uploads; the disk reservation against the free space of the file
// system minus upload_disk_reserve and minus what other partial uploads still need, and against
// upload_disk_budget. Then what the store already holds is found (the resume): the DAG is walked from the
// root in DFS pre-order through a DagVerifier, each block read from staging or from the store's blocks and
// hashed again; a staged block that does not hash is deleted (resumed().discarded), and the walk stops at
// the first block not held. resumed().leaves counts the leaves walked: the sender skips them exactly as
// content.fetch's DagSource skips a resuming receiver's (content/leaf.hpp), and sends every other block.
//
// push() verifies each block against the CID its verified parent named (DagVerifier) before it is staged;
// held leaves are fed to the verifier from disk when the DAG names them. commit() checks the DAG complete,
// makes the staged blocks durable (syncfs), renames them into blocks/ with the root last, and removes the
// staging directory: the root is servable only once every block below it is in place.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/bytes.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/dag_verifier.hpp>
#include <cyxp2p/content/limits.hpp>

namespace cyxp2p::content {

/// What begin() found held for the root: the engine sends the DAG in DFS pre-order without these leaves.
struct UploadResume {
    std::uint64_t leaves = 0;     // leading leaves (DFS pre-order) held and verified: the sender skips them
    std::uint64_t bytes = 0;      // file bytes of those leaves
    bool complete = false;        // every block is held and verified: send nothing, commit() at once
    std::uint64_t discarded = 0;  // staged blocks that no longer hashed to their CID, deleted
    std::uint64_t reserved = 0;   // disk bytes this upload reserved (counted against other uploads)
};

class Upload {
  public:
    /// The staging directory of `root` in `store` (tests, operators).
    static std::filesystem::path staging_path(const Blockstore& store, const Cid& root);
    /// Disk an upload of `declared_size` file bytes reserves: declared + declared / upload_overhead_divisor +
    /// upload_overhead_slack.
    static std::uint64_t reservation(std::uint64_t declared_size, const Limits& limits);
    /// Removes every partial upload of `store` not touched (a block staged, a begin()) for
    /// limits.partial_upload_ttl_s before `now`, except those an Upload holds open. Returns how many were
    /// removed. Errors: io errors of the staging directory (what was removed before stays removed).
    static std::size_t sweep(const Blockstore& store, std::chrono::system_clock::time_point now,
                             const Limits& limits, std::error_code& ec);

    /// `declared_size` is the file size the engine announces (the root's UnixFS filesize).
    Upload(const Blockstore& store, const Cid& root, std::uint64_t declared_size, const Limits& limits = {});
    ~Upload();
    Upload(const Upload&) = delete;
    Upload& operator=(const Upload&) = delete;

    /// Checks the limits, reserves the disk and finds what is held (see above). Errors: upload_too_large,
    /// upload_in_progress, too_many_uploads, disk_budget_exceeded (error_detail() names the numbers),
    /// upload_size_mismatch (a held root gives another filesize), write_failed / no_space (creating the
    /// staging directory). Nothing is written on a refusal.
    std::error_code begin();
    const UploadResume& resumed() const { return resumed_; }

    /// Verifies one block from the sender and stages it. Errors (final; the staging directory is kept for a
    /// resume: what it holds verified): DagVerifier's errors (hash_mismatch, block_out_of_order, extra_block,
    /// ...; extra_block too after a complete resume); upload_size_mismatch as soon as the root's filesize is
    /// not the declared size; upload_over_reservation; no_space / write_failed; resume_state_damaged when a
    /// held leaf can no longer be read or does not fit the DAG.
    std::error_code push(ByteView block, const std::optional<Cid>& claimed);
    /// The sender ended: checks the DAG is complete (missing_block), then makes it servable (see above).
    /// Errors: missing_block, resume_state_damaged, write_failed.
    std::error_code commit();
    /// The upload stopped early: the staging directory stays for a resume, its lock is released. Called by
    /// the destructor.
    void abort() noexcept;
    /// Removes the staging directory (the upload is given up).
    void discard() noexcept;

    /// What a refusal or a local failure was, for a person ("upload of X needs N bytes, ... available").
    const std::string& error_detail() const { return detail_; }
    std::uint64_t blocks_received() const { return received_; }  // blocks push() accepted from the sender
    std::uint64_t bytes_verified() const { return verifier_.bytes_verified(); }
    std::uint64_t file_size() const { return verifier_.file_size(); }
    bool committed() const { return committed_; }

  private:
    std::error_code fail(std::error_code ec, std::string detail = {});
    std::error_code local_error(const std::filesystem::path& path, const char* doing, int err);
    std::error_code reserve();
    std::error_code check_budget(std::uint64_t own_charge);
    std::error_code find_held();
    std::error_code replay_due();
    std::error_code stage(const Cid& cid, ByteView block);
    std::optional<Bytes> read_held(const Cid& cid, std::error_code& ec) const;
    std::error_code verify_root_size(std::uint64_t file_size);

    Blockstore store_;
    Cid root_;
    std::uint64_t declared_;
    Limits limits_;
    std::filesystem::path dir_;
    DagVerifier verifier_;
    int lock_fd_ = -1;
    std::uint64_t charge_ = 0;    // disk counted for the staged blocks, against resumed_.reserved
    std::uint64_t replayed_ = 0;  // held leaves fed to the verifier so far
    std::uint64_t received_ = 0;
    UploadResume resumed_;
    std::string detail_;
    std::error_code error_;
    bool begun_ = false;
    bool committed_ = false;
};

}  // namespace cyxp2p::content
