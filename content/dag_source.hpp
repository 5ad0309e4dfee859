// DagSource: the node's side of a transfer. Walks a DAG out of a Blockstore in depth-first pre-order (the
// order a DagVerifier expects) and leaves out the first `skip_leaves` leaves, which a resuming receiver
// already holds (content.fetch `skip_blocks`, docs/protocol.md). Internal blocks are always returned, so
// the receiver still verifies the whole DAG from its root. "Leaf" is content/leaf.hpp, the definition the
// receiver's Download counts with.
#pragma once

#include <cstdint>
#include <optional>
#include <system_error>

#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/dag_walker.hpp>
#include <cyxp2p/content/limits.hpp>

namespace cyxp2p::content {

class DagSource {
  public:
    DagSource(const Blockstore& store, const Cid& root, std::uint64_t skip_leaves, const Limits& limits);

    /// The next block to send, or nullopt when the walk is over (ec clear) or failed (ec: DagWalker::next's
    /// errors; hash_mismatch and source_changed mean the store's copy is damaged or its file changed).
    std::optional<DagWalker::Block> next(std::error_code& ec);

    std::uint64_t blocks() const { return blocks_; }  // returned by next()
    std::uint64_t bytes() const { return bytes_; }
    std::uint64_t leaves_skipped() const { return skipped_; }

  private:
    DagWalker walker_;
    std::uint64_t skip_;
    std::uint64_t skipped_ = 0;
    std::uint64_t blocks_ = 0;
    std::uint64_t bytes_ = 0;
};

}  // namespace cyxp2p::content
