// MultiDownload: the receiving side of one fetch from several sources at once (docs/content.md,
// "Multi-source fetch"). Sans-IO: the caller moves blocks between sources and this object, which owns the
// plan, the shares, the partial file and the resume state.
//
// 1. Plan. The root and the upper DAG nodes are fetched one block each (next_upper / push_upper), each
//    verified by a DagVerifier rooted at the CID its verified parent named, its filesize checked against
//    the blocksizes entry that parent gave it. A node is expanded (replaced by its children) while it is
//    larger than Limits::multi_unit_bytes; then, while the plan has fewer than Limits::multi_min_units
//    units, the largest one is. Candidates are chosen a round at a time from what verified parents said,
//    so the plan depends on the DAG alone, never on which source answered first: a resumed fetch finds the
//    same units.
// 2. Units. Each remaining subtree (a leaf or a small subtree) is one unit, fetched as its own DAG from
//    one source (content.fetch of the child CID on a node, /ipfs/CHILD on a gateway) and verified by its own
//    DagVerifier rooted at the child CID: every block is checked exactly as in a single-source fetch, and
//    its bytes are written at the unit's offset in the one partial file.
// 3. Shares. set_sources(n) deals the units out in n contiguous shares of about equal bytes. next_task(s)
// gives source s the
//    next unit of its share; when its share is empty it takes the not-yet-started half of the largest
//    share (work stealing); when nothing is left unstarted it may ask for a unit another source is still
//    fetching (a hedge: the first verified copy wins, the other task is then stale). A source that fails
//    is dropped (drop_source): its unstarted share goes to a pool every other source draws from first.
// 4. Resume. DEST.cyxp2p-multi holds the bytes, DEST.cyxp2p-multi.meta names the finished units (offset,
//    length, CID, SHA-256 of their bytes). At each checkpoint (Limits::checkpoint_bytes) the data file is
//    fdatasync'ed before the units it holds are appended to the record and the record synced, so the
//    record never claims bytes that are not on disk. open() re-hashes every recorded unit from the data
//    file (for a raw leaf the hash is its CID's digest); anything that does not match discards the state.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <cyxp2p/content/bytes.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/dag_verifier.hpp>
#include <cyxp2p/content/detail/sha256.hpp>
#include <cyxp2p/content/limits.hpp>

namespace cyxp2p::content {

/// One unit handed to one source.
struct MultiTask {
    std::uint64_t id = 0;  // unique per task (a hedged unit has two)
    std::size_t unit = 0;
    Cid cid = Cid::v0({});
    std::uint64_t offset = 0;
    std::uint64_t size = 0;  // file bytes the unit holds (its parent's blocksizes entry)
};

class MultiDownload {
  public:
    static std::filesystem::path partial_path(const std::filesystem::path& destination);
    static std::filesystem::path record_path(const std::filesystem::path& destination);
    /// Removes the data file and the record. Error: the system error of a failed unlink.
    static std::error_code remove_state(const std::filesystem::path& destination);

    MultiDownload(const Cid& root, std::filesystem::path destination, const Limits& limits);
    ~MultiDownload();
    MultiDownload(const MultiDownload&) = delete;
    MultiDownload& operator=(const MultiDownload&) = delete;

    /// Opens or creates the data file and record and checks what the record claims. Errors: no_space,
    /// write_failed (error_detail() names the path). A record that does not match is discarded
    /// (discarded_reason()), not an error.
    std::error_code open();
    const std::string& discarded_reason() const { return discarded_; }

    /// Upper nodes still to fetch in this planning round (each one block: the node itself). Empty once the
    /// plan is complete (planned()) or while nothing is asked for.
    std::vector<Cid> next_upper() const;
    /// Verifies one upper node and expands it. Errors: DagVerifier's (the source's fault: hash_mismatch,
    /// filesize_mismatch, ...), unexpected_block for a CID not asked for, cycle, local write errors.
    std::error_code push_upper(const Cid& cid, ByteView block);
    bool planned() const { return planned_; }

    /// Deals the units out between `n` sources (after planned()).
    void set_sources(std::size_t n);
    /// The next unit source `s` should fetch, or nullopt when there is nothing for it (for now or for
    /// good). Never a unit `s` already has in flight. `steal`: may take from another share once its own is
    /// empty; `hedge`: may duplicate a unit another source is fetching when nothing is unstarted. A caller
    /// passes both for an idle source only, so a source with work in flight never empties a share its
    /// owner is about to start.
    std::optional<MultiTask> next_task(std::size_t s, bool steal = true, bool hedge = true);
    /// One block of a task's stream. Errors as DagVerifier::push (the source's fault), plus
    /// filesize_mismatch when the unit is not the size its parent named, and local write errors
    /// (no_space, write_failed: is_local()). A stale task accepts and ignores blocks.
    std::error_code push(const MultiTask& t, ByteView block, const std::optional<Cid>& claimed);
    /// The task's stream ended: missing_block unless its DAG is complete; then the unit is done.
    std::error_code finish(const MultiTask& t);
    /// The task stopped without finishing (its source failed or was cancelled): the unit goes back to the
    /// pool unless another task holds it.
    void release(const MultiTask& t);
    /// True when another task finished the unit first: cancel this one.
    bool stale(const MultiTask& t) const;
    /// Source `s` is gone: its unstarted share goes to the pool. Its tasks are released by the caller.
    void drop_source(std::size_t s);

    bool complete() const { return planned_ && done_units_ == units_.size(); }
    /// Checks completeness, syncs, renames the data file to DEST and removes the record.
    std::error_code commit();
    /// Checkpoints what verified (the state stays for the next attempt). Called by the destructor.
    void abort() noexcept;
    /// Removes the data file and the record.
    void discard() noexcept;

    static bool is_local(std::error_code ec);
    const std::string& error_detail() const { return detail_; }
    std::uint64_t file_size() const { return file_size_; }
    std::uint64_t bytes_done() const { return bytes_done_; }        // file bytes of finished units
    std::uint64_t bytes_resumed() const { return bytes_resumed_; }  // of those, held from a resume state
    std::size_t units() const { return units_.size(); }
    std::size_t units_resumed() const { return units_resumed_; }

  private:
    struct Unit {
        Cid cid;
        std::uint64_t offset = 0;
        std::optional<std::uint64_t> size;  // unknown only for the root before it is fetched
        std::size_t depth = 0;
        std::optional<std::size_t> parent;
        bool expanded = false;  // an upper node, replaced by its children
        bool done = false;
        std::size_t tasks = 0;  // tasks in flight
    };
    struct Task {
        std::size_t unit;
        std::size_t source;
        DagVerifier verifier;
        std::unique_ptr<detail::Sha256> hash;
        bool sized = false;  // the unit's filesize was checked against its parent's entry
    };
    struct Held {
        std::uint64_t offset, length;
        Cid cid;
        std::string sha256_hex;
    };

    std::error_code local_error(const std::filesystem::path& p, const char* doing, int err);
    std::error_code write_at(std::uint64_t offset, ByteView bytes);
    bool expandable(const Unit& u) const;
    void start_round();
    void finish_plan();
    Limits unit_limits(std::size_t depth) const;
    std::error_code checkpoint();
    void close_files() noexcept;
    std::optional<std::size_t> take_from(std::vector<std::size_t>& q);

    Cid root_;
    std::filesystem::path dest_, partial_, record_;
    Limits limits_;
    int data_fd_ = -1;
    int record_fd_ = -1;
    std::string discarded_, detail_;
    std::vector<Held> held_;  // from the record, checked by open()
    std::vector<Held> pending_;
    std::uint64_t pending_bytes_ = 0;
    bool header_written_ = false;

    std::vector<Unit> units_;         // every node of the plan; leaves of the plan are the fetch units
    std::vector<std::size_t> round_;  // upper nodes asked for in the current round
    bool planned_ = false;
    std::uint64_t file_size_ = 0;
    std::size_t fetch_units_ = 0;  // units that are not expanded
    std::size_t done_units_ = 0;   // counted over fetch units (expanded ones count as done)
    std::uint64_t bytes_done_ = 0, bytes_resumed_ = 0;
    std::size_t units_resumed_ = 0;

    std::vector<std::vector<std::size_t>> shares_;  // per source: unstarted units, in offset order
    std::vector<std::size_t> pool_;                 // unstarted units of dropped sources, released units
    std::map<std::uint64_t, Task> tasks_;
    std::uint64_t next_task_id_ = 1;
    bool committed_ = false;
};

}  // namespace cyxp2p::content
