// DagVerifier: checks a UnixFS file DAG block by block, starting from a root CID the caller trusts, and
// releases file bytes only once the block holding them is proven to be part of that DAG.
//
// Algorithm (docs/content.md, "Verifier"): blocks must arrive in depth-first pre-order, the order a
// trustless gateway (IPIP-402, dfs) and our transfer method send them. The verifier keeps a stack of
// the CIDs it still expects, each named by a parent that was itself already verified. For every block:
//   1. size <= Limits::max_block_size                        (block_too_large)
//   2. the sender's CID, if given, is the next expected one    (block_out_of_order / unexpected_block)
//   3. SHA-256(block) equals the expected CID's digest         (hash_mismatch)
//   4. decode: raw = file bytes; dag-pb = strict dag-pb + UnixFS File/Raw
//   5. UnixFS: filesize == len(Data) + sum(blocksizes), one blocksize per link, and the node's own
//      filesize equals the blocksizes entry its parent gave it (filesize_mismatch, blocksizes_mismatch)
//   6. depth <= max_depth, links <= max_links, no link names an ancestor (too_deep, too_many_links, cycle)
//   7. the children go on the stack; the node's own Data bytes (if any) are yielded at their offset.
// A block after the last expected one is extra_block; finish() with blocks still expected is
// missing_block. After any error the verifier stays failed and yields nothing more.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <cyxp2p/content/bytes.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/leaf.hpp>
#include <cyxp2p/content/limits.hpp>

namespace cyxp2p::content {

/// File bytes proven to belong to the DAG. `bytes` is valid until the next call into the verifier.
struct VerifiedData {
    std::uint64_t offset = 0;
    ByteView bytes;
    bool leaf = false;  // the block was a leaf (content/leaf.hpp)
};

class DagVerifier {
  public:
    explicit DagVerifier(const Cid& root, const Limits& limits = {});

    /// The CID the next block must have, or nullopt once the DAG is complete.
    std::optional<Cid> expected() const;

    /// Verifies the next block. `claimed` is the CID the sender attached (CAR section, wire message);
    /// pass nullopt for a bare block stream. On success, `out` receives the file bytes the block holds
    /// (empty for most internal nodes); on failure `out` is empty and every later call fails.
    std::error_code push(ByteView block, const std::optional<Cid>& claimed, VerifiedData& out);

    /// Call at end of input. missing_block when blocks are still expected.
    std::error_code finish();

    bool complete() const { return stack_.empty() && !failed_; }
    std::uint64_t file_size() const { return file_size_; }    // the root's filesize, once known
    std::uint64_t bytes_verified() const { return offset_; }  // file bytes yielded so far
    std::uint64_t blocks_verified() const { return blocks_; }

  private:
    struct Expected {
        Cid cid;
        std::size_t depth;
        std::optional<std::uint64_t> size;  // the blocksizes entry the parent gave this child
        std::size_t ancestors;              // how many entries of path_ are this block's ancestors
    };

    std::error_code fail(std::error_code ec);
    std::error_code check_node(const Expected& e, ByteView block, VerifiedData& out);

    Limits limits_;
    std::vector<Expected> stack_;  // top = next expected block
    std::vector<Cid> path_;        // CIDs of the ancestors of the block being expected
    std::string data_;             // UnixFS Data of the last dag-pb node (what `out` points into)
    std::uint64_t offset_ = 0;
    std::uint64_t file_size_ = 0;
    std::uint64_t blocks_ = 0;
    bool failed_ = false;
    std::error_code error_;  // the first failure, repeated by every later call
};

}  // namespace cyxp2p::content
