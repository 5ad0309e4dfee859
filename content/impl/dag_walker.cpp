#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/dag_walker.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/leaf.hpp>

namespace cyxp2p::content {

DagWalker::DagWalker(const Blockstore& store, const Cid& root, const Limits& limits)
    : store_(store), limits_(limits), stack_{{root, 0}} {}

std::optional<DagWalker::Block> DagWalker::next(std::error_code& ec) {
    ec.clear();
    if (failed_ || stack_.empty()) return std::nullopt;
    auto fail = [&](std::error_code e) -> std::optional<Block> {
        failed_ = true;
        stack_.clear();
        ec = e;
        return std::nullopt;
    };
    const Pending p = stack_.back();
    stack_.pop_back();
    auto data = store_.get(p.cid, ec);
    if (!data) return fail(ec ? ec : make_error_code(errc::block_not_found));
    // Blockstore::get has already hashed the block against its CID (hash_mismatch / source_changed).
    Block b{p.cid, std::move(*data), true};
    if (p.cid.codec() == Codec::dag_pb) {
        PbNode node;
        if (auto e = decode_dag_pb(ByteView(b.data), node, limits_.max_links)) return fail(e);
        b.leaf = is_leaf(p.cid.codec(), node.links.size());
        if (!b.leaf) {
            if (p.depth + 1 > limits_.max_depth) return fail(errc::too_deep);
            // Pre-order, left to right: push children in reverse so the first link is visited next.
            for (auto it = node.links.rbegin(); it != node.links.rend(); ++it)
                stack_.push_back({it->hash, p.depth + 1});
        }
    }
    return b;
}

std::optional<Cid> DagWalker::peek() const {
    if (failed_ || stack_.empty()) return std::nullopt;
    return stack_.back().cid;
}

void DagWalker::skip_leaf() {
    if (!stack_.empty() && is_leaf_by_codec(stack_.back().cid.codec())) stack_.pop_back();
}

}  // namespace cyxp2p::content
