// content.fetch, both ends, sans-IO: the node streams a DAG out of its blockstore in DFS order as flow
// control allows; the engine verifies every block against the CID its verified parent named before a byte
// of it reaches the destination file, which appears only when the whole DAG verified.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <system_error>

#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/dag_walker.hpp>
#include <cyxp2p/content/file_writer.hpp>
#include <cyxp2p/protocol/limits.hpp>

namespace cyxp2p::protocol {

/// Node side. Call pump() when the stream opens and whenever its output has drained.
class ContentSender {
  public:
    /// Queues at most ~`high_water` bytes per pump (SessionLimits::producer_high_water), so a large DAG never
    /// sits in memory. `skip_leaves`
    /// (ContentFetch::skip_blocks) leaves out the first N leaf blocks in DFS order, which a resuming engine
    /// already holds; internal blocks are always sent, so the engine still verifies the whole DAG.
    ContentSender(const content::Blockstore& store, const content::Cid& root,
                  std::size_t high_water = SessionLimits{}.producer_high_water,
                  std::uint64_t skip_leaves = 0);

    enum class Status { more, done, failed };
    /// Sends ContentBlock messages through `send` while `pending()` is below the high-water mark.
    /// `failed`: ec says why (a block missing or corrupt in the store: never sent as good data).
    Status pump(const std::function<std::error_code(std::span<const std::uint8_t>)>& send,
                const std::function<std::size_t()>& pending, std::error_code& ec);

    std::uint64_t bytes_sent() const { return bytes_; }
    std::uint64_t blocks_sent() const { return blocks_; }

  private:
    content::DagWalker walker_;
    std::size_t high_water_;
    std::uint64_t skip_leaves_;
    std::uint64_t bytes_ = 0;
    std::uint64_t blocks_ = 0;
};

/// Engine side: feed it each message of the content.fetch stream, then finish() at the stream's end.
///
/// Resuming: with a `partial` path, every verified leaf block is also appended to that file (a log of
/// (CID, block) records behind a header naming the root; never named like the destination). If a fetch
/// fails, a later one with the same path first replays those leaves through the verifier (each is hashed
/// again) and asks the node to skip them (leaves_held()), so only the rest crosses the network. A torn last
/// record is dropped; a log for another root is started over. The file is removed when the fetch completes.
class ContentReceiver {
  public:
    ContentReceiver(const content::Cid& root, std::filesystem::path destination,
                    std::optional<std::filesystem::path> partial = std::nullopt);
    ~ContentReceiver();
    ContentReceiver(const ContentReceiver&) = delete;
    ContentReceiver& operator=(const ContentReceiver&) = delete;

    /// Creates the temporary file (and opens the partial log, counting the leaves it holds).
    std::error_code open();
    /// Leaf blocks already held from an earlier attempt: the ContentFetch::skip_blocks to ask for.
    std::uint64_t leaves_held() const { return leaves_held_; }
    /// Decodes one ContentBlock message and verifies and writes it. Any error is final: the temporary file
    /// is gone. Errors: protocol::errc::bad_message, content::errc (hash_mismatch, unexpected_block, ...).
    std::error_code on_message(std::span<const std::uint8_t> message);
    /// The node ended the stream: checks the DAG is complete, syncs and renames the file into place.
    std::error_code finish();
    /// Gives up (stream reset, connection lost): removes the temporary file.
    void abort() noexcept;

    std::uint64_t bytes_verified() const { return writer_->verifier().bytes_verified(); }
    std::uint64_t file_size() const { return writer_->verifier().file_size(); }
    std::uint64_t blocks_verified() const { return writer_->verifier().blocks_verified(); }

  private:
    std::error_code push(content::ByteView block, const content::Cid& cid, bool from_network);
    std::error_code replay_held();

    std::error_code open_log();
    void close_log() noexcept;

    content::Cid root_;
    std::unique_ptr<content::FileWriter> writer_;
    std::optional<std::filesystem::path> partial_;
    std::FILE* log_in_ = nullptr;   // replays held records
    std::FILE* log_out_ = nullptr;  // appends new ones
    std::uint64_t leaves_held_ = 0;
    std::uint64_t leaves_replayed_ = 0;
    bool failed_ = false;
};

}  // namespace cyxp2p::protocol
