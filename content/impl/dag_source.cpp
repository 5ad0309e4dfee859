#include <cyxp2p/content/dag_source.hpp>
#include <cyxp2p/content/leaf.hpp>

namespace cyxp2p::content {

DagSource::DagSource(const Blockstore& store, const Cid& root, std::uint64_t skip_leaves,
                     const Limits& limits)
    : walker_(store, root, limits), skip_(skip_leaves) {}

std::optional<DagWalker::Block> DagSource::next(std::error_code& ec) {
    ec.clear();
    for (;;) {
        if (skipped_ < skip_) {
            // A raw CID is a leaf by its name alone: skipped without reading (or re-hashing) its block.
            if (auto cid = walker_.peek(); cid && is_leaf_by_codec(cid->codec())) {
                walker_.skip_leaf();
                ++skipped_;
                continue;
            }
        }
        auto block = walker_.next(ec);
        if (!block) return std::nullopt;
        if (block->leaf && skipped_ < skip_) {
            ++skipped_;
            continue;
        }
        ++blocks_;
        bytes_ += block->data.size();
        return block;
    }
}

}  // namespace cyxp2p::content
