#include <algorithm>

#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/dag_verifier.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/unixfs.hpp>

namespace cyxp2p::content {
namespace {

// CIDv0 and CIDv1 dag-pb with one digest name the same block.
bool same_block(const Cid& a, const Cid& b) {
    return a.codec() == b.codec() && a.digest() == b.digest();
}

}  // namespace

DagVerifier::DagVerifier(const Cid& root, const Limits& limits) : limits_(limits) {
    stack_.push_back(Expected{root, 0, std::nullopt, 0});
}

std::optional<Cid> DagVerifier::expected() const {
    if (stack_.empty() || failed_) return std::nullopt;
    return stack_.back().cid;
}

std::error_code DagVerifier::fail(std::error_code ec) {
    failed_ = true;
    error_ = ec;
    stack_.clear();
    return ec;
}

std::error_code DagVerifier::push(ByteView block, const std::optional<Cid>& claimed, VerifiedData& out) {
    out = {};
    if (failed_) return error_;
    if (stack_.empty()) return fail(errc::extra_block);
    if (block.size() > limits_.max_block_size) return fail(errc::block_too_large);
    const Expected e = stack_.back();
    if (claimed && !same_block(*claimed, e.cid)) {
        // A block the DAG names later means the sender skipped or reordered; anything else is foreign.
        const bool later = std::any_of(stack_.begin(), stack_.end() - 1,
                                       [&](const Expected& x) { return same_block(x.cid, *claimed); });
        return fail(later ? errc::block_out_of_order : errc::unexpected_block);
    }
    // The one check everything rests on: the bytes hash to the CID the verified parent named.
    if (!e.cid.matches(block)) return fail(errc::hash_mismatch);
    stack_.pop_back();
    path_.erase(path_.begin() + static_cast<std::ptrdiff_t>(e.ancestors), path_.end());
    if (auto ec = check_node(e, block, out)) {
        out = {};
        return fail(ec);
    }
    ++blocks_;
    offset_ += out.bytes.size();
    return {};
}

std::error_code DagVerifier::check_node(const Expected& e, ByteView block, VerifiedData& out) {
    if (e.cid.codec() == Codec::raw) {
        // A raw block is file bytes only, with no links (a raw leaf, or a whole one-chunk file).
        if (e.size && *e.size != block.size()) return errc::blocksizes_mismatch;
        if (e.depth == 0) file_size_ = block.size();
        out = VerifiedData{offset_, block, true};
        return {};
    }
    PbNode node;
    if (auto ec = decode_dag_pb(block, node, limits_.max_links)) return ec;
    if (!node.data) return errc::unixfs_missing;
    UnixFsNode fs;
    fs.data.swap(data_);  // the last leaf's buffer: this one's bytes go there, no allocation per leaf
    if (auto ec = decode_unixfs(*node.data, fs)) return ec;
    // Only files are fetched: File nodes and the Raw leaves older kubo versions wrote.
    if (fs.type != UnixFsType::file && fs.type != UnixFsType::raw) return errc::unixfs_unsupported_type;
    // UnixFS spec: "blocksizes: the size of the file data in each child"; one per link.
    if (fs.blocksizes.size() != node.links.size()) return errc::blocksizes_mismatch;
    std::uint64_t total = fs.data.size();
    for (auto b : fs.blocksizes) {
        if (total + b < total) return errc::filesize_mismatch;
        total += b;
    }
    if (fs.filesize && *fs.filesize != total) return errc::filesize_mismatch;
    if (e.size && *e.size != total) return errc::blocksizes_mismatch;
    if (e.depth == 0) file_size_ = total;
    if (!node.links.empty()) {
        if (e.depth + 1 > limits_.max_depth) return errc::too_deep;
        path_.push_back(e.cid);
        for (const auto& l : node.links) {
            // With SHA-256 a real cycle cannot be built; the check keeps a broken or future hash from
            // turning into an endless walk.
            if (std::any_of(path_.begin(), path_.end(),
                            [&](const Cid& a) { return same_block(a, l.hash); })) {
                return errc::cycle;
            }
        }
        // Pre-order: the first link ends on top of the stack.
        for (std::size_t i = node.links.size(); i-- > 0;) {
            stack_.push_back(Expected{node.links[i].hash, e.depth + 1, fs.blocksizes[i], path_.size()});
        }
    }
    data_ = std::move(fs.data);
    out = VerifiedData{offset_, as_bytes(data_), is_leaf(e.cid.codec(), node.links.size())};
    return {};
}

std::error_code DagVerifier::finish() {
    if (failed_) return error_;
    if (!stack_.empty()) return fail(errc::missing_block);
    return {};
}

}  // namespace cyxp2p::content
