// DagWalker: reads a DAG out of a Blockstore in DFS pre-order, the order a DagVerifier (and a CAR reader)
// expects, one block at a time. Memory: one block plus the CIDs still to visit (bounded by depth x links).
#pragma once

#include <optional>
#include <system_error>
#include <vector>

#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/limits.hpp>

namespace cyxp2p::content {

class DagWalker {
  public:
    DagWalker(const Blockstore& store, const Cid& root, const Limits& limits = {});

    struct Block {
        Cid cid;
        Bytes data;
        bool leaf = false;  // content/leaf.hpp
    };

    /// The next block, or nullopt when the walk is over (ec clear) or failed (ec: block_not_found, a dag-pb
    /// decode error, too_deep, too_many_links). Each block read is re-hashed against its CID (hash_mismatch),
    /// so a corrupted or changed store is never served as good data.
    std::optional<Block> next(std::error_code& ec);

    /// The CID next() would read, or nullopt at the end.
    std::optional<Cid> peek() const;
    /// Drops the next block without reading it. Only for a block known to be a leaf (a raw CID): a dag-pb
    /// block's children are known only once it is read.
    void skip_leaf();

  private:
    struct Pending {
        Cid cid;
        std::size_t depth;
    };
    const Blockstore& store_;
    Limits limits_;
    std::vector<Pending> stack_;
    bool failed_ = false;
};

}  // namespace cyxp2p::content
