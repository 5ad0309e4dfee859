// What a "leaf" is, decided once for both ends of a transfer. A resuming engine holds the first N leaves of
// the DAG in depth-first pre-order and asks the node to skip them (content.fetch `skip_blocks`); the node's
// DagSource and the engine's Download count with this one definition, so the two can never disagree.
#pragma once

#include <cstddef>

#include <cyxp2p/content/cid.hpp>

namespace cyxp2p::content {

/// A leaf carries file bytes and no links: a raw block, or a dag-pb node without links (UnixFS spec:
/// File/Raw nodes with Data and no children).
constexpr bool is_leaf(Codec codec, std::size_t links) noexcept {
    return codec == Codec::raw || links == 0;
}

/// True when the CID alone proves a leaf (raw blocks never link); a dag-pb block must be decoded first.
constexpr bool is_leaf_by_codec(Codec codec) noexcept {
    return codec == Codec::raw;
}

}  // namespace cyxp2p::content
