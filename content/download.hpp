// Download: the receiving side of a transfer, from the first block to the file in place. It owns the partial
// file, the DagVerifier and the resume state, and nothing else touches them (net/ passes blocks in, tools/
// reads the resume state through the static functions below).
//
// Every block is verified against the CID its verified parent named (DagVerifier) before its bytes are
// written. The bytes go to DEST.cyxp2p-partial at their file offset; commit() renames it to DEST only once
// the whole DAG verified, so a failed transfer never leaves a file at DEST.
//
// Resume state = the partial file itself (its verified prefix is the held data, each byte on disk once) plus
// a metadata record DEST.cyxp2p-partial.meta (content/detail/resume_record.hpp) listing the held leaves:
// CID, offset, length and the bytes a dag-pb leaf wraps around the file bytes. Disk use stays within file
// size + 1% + 64 KiB (Limits::resume_metadata_*). Crash and reboot safety, in order:
//   1. verified bytes are written to the partial file;
//   2. at each checkpoint (every Limits::checkpoint_bytes, and when a transfer stops) the partial file is
//      fdatasync'ed, then a checksummed batch naming the new leaves is appended to the record and the record
//      fdatasync'ed. A record therefore never claims bytes that are not on disk; a torn batch is ignored.
// On open(), each held leaf is rebuilt from the partial file and hashed against its recorded CID: a damaged
// or tampered partial file is detected there, discarded (resumed().discarded, with the reason) and fetched
// again from the start. The held leaves then go through the verifier again as the DAG names them, so they
// are checked against the root, not only against the record.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <cyxp2p/content/bytes.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/dag_verifier.hpp>
#include <cyxp2p/content/detail/resume_record.hpp>
#include <cyxp2p/content/limits.hpp>

namespace cyxp2p::content {

/// What open() found at the destination.
struct ResumeState {
    std::uint64_t leaves = 0;  // leaves held: ask the sender to skip this many (content.fetch skip_blocks)
    std::uint64_t bytes = 0;   // file bytes they hold
    bool discarded = false;    // a resume state was there but could not be used (why: reason)
    std::string reason;
};

/// What a resume state at a destination holds, found without changing it (tools' advice before a fetch).
struct ResumeInspection {
    bool exists = false;         // a partial file or a record is there
    bool for_this_root = false;  // the record names the root being fetched
    std::uint64_t leaves = 0;    // held leaves that hash to their CIDs
    std::uint64_t bytes = 0;
    bool damaged = false;  // the record or the held data is damaged (open() would discard it)
    std::string problem;   // for a person: what is wrong

    bool holds_verified_data() const { return for_this_root && !damaged && leaves > 0; }
};

class Download {
  public:
    static std::filesystem::path partial_path(const std::filesystem::path& destination);
    static std::filesystem::path metadata_path(const std::filesystem::path& destination);
    /// File bytes a resume state at `destination` claims for `root` (0: none, or not for this root), from
    /// the record alone: cheap, for advice such as "run again to resume". open() is what checks them.
    static std::uint64_t held_bytes(const std::filesystem::path& destination, const Cid& root);
    /// The full check open() makes (every held leaf hashed again), read-only.
    static ResumeInspection inspect(const std::filesystem::path& destination, const Cid& root);
    /// Removes the resume state at `destination`. Error: the system error of a failed unlink.
    static std::error_code remove_state(const std::filesystem::path& destination);

    Download(const Cid& root, std::filesystem::path destination, const Limits& limits);
    ~Download();
    Download(const Download&) = delete;
    Download& operator=(const Download&) = delete;

    /// Opens or creates the partial file and record, and checks what they hold (see above). Errors:
    /// no_space, write_failed (error_detail() names the path).
    std::error_code open();
    const ResumeState& resumed() const { return resumed_; }

    /// Verifies one block of the stream and writes its bytes; held leaves are fed to the verifier first
    /// whenever the DAG names them. Errors (final; the resume state is kept unless it was the culprit):
    /// DagVerifier's errors for the sender's block; no_space / write_failed for a local write;
    /// resume_state_damaged when a held leaf does not fit the DAG (the state is then removed).
    std::error_code push(ByteView block, const std::optional<Cid>& claimed);
    /// The sender ended the stream: checks the DAG is complete, syncs, renames DEST.cyxp2p-partial to DEST
    /// and removes the record.
    std::error_code commit();
    /// The transfer stopped early: checkpoints what verified and closes the files; the state stays for the
    /// next attempt. Called by the destructor.
    void abort() noexcept;
    /// Removes the partial file and the record.
    void discard() noexcept;

    /// The path and system error of the last local I/O failure ("writing X: No space left on device").
    const std::string& error_detail() const { return detail_; }
    std::uint64_t bytes_verified() const { return verifier_.bytes_verified(); }
    std::uint64_t file_size() const { return verifier_.file_size(); }
    std::uint64_t blocks_verified() const { return verifier_.blocks_verified(); }
    std::uint64_t leaves_resumed() const { return next_held_; }  // held leaves verified again so far

  private:
    std::error_code fail(std::error_code ec);
    std::error_code local_error(const std::filesystem::path& path, const char* doing, int err);
    std::error_code start_over(std::string reason);
    std::error_code replay_due();
    std::error_code checkpoint();
    void hold(ByteView block, const VerifiedData& out, const Cid& cid);
    void close_files() noexcept;

    Cid root_;
    std::filesystem::path dest_;
    std::filesystem::path partial_;
    std::filesystem::path meta_;
    Limits limits_;
    DagVerifier verifier_;
    int data_fd_ = -1;
    int meta_fd_ = -1;
    std::uint64_t meta_size_ = 0;            // bytes of the record on disk (good batches only)
    std::vector<detail::HeldLeaf> held_;     // from open(), in DFS order
    std::size_t next_held_ = 0;              // held leaves replayed through the verifier
    std::vector<detail::HeldLeaf> pending_;  // verified leaves not yet in the record
    std::uint64_t pending_bytes_ = 0;
    std::uint64_t meta_budget_used_ = 0;  // record bytes claimed so far, against the budget
    bool holding_ = true;                 // still extending the held prefix (in budget, no gap)
    ResumeState resumed_;
    std::string detail_;
    std::error_code error_;
    bool open_ = false;
    bool committed_ = false;
};

}  // namespace cyxp2p::content
