// A fixed UnixFS file DAG (600 pattern bytes, 100-byte dag-pb leaves, 3 links per node: root, 2 internal
// nodes, 6 leaves) made by the real importer. The DagVerifier and CAR harnesses trust its root, and the seed
// generator writes its blocks, so seeds start on the valid path.
#pragma once

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/content/limits.hpp>

namespace cyxp2p::fuzz {

struct FixedDag {
    content::Cid root = content::Cid::v0(content::Digest{});
    std::vector<std::pair<content::Cid, content::Bytes>> dfs;  // blocks in the order a sender must use
};

/// Limits the content harnesses run under: small enough that a hostile length prefix costs little.
inline content::Limits content_limits() {
    content::Limits l;
    l.max_block_size = 64 * 1024;
    l.max_depth = 8;
    l.max_links = 64;
    l.max_car_header_size = 64 * 1024;
    l.max_car_section_size = 64 * 1024;
    return l;
}

inline FixedDag make_dag(int cid_version, bool raw_leaves) {
    std::string file(600, '\0');
    std::uint32_t x = 12345;
    for (auto& ch : file) {
        x = x * 1103515245U + 12345U;
        ch = static_cast<char>(x >> 24);
    }
    content::ImportOptions opt;
    opt.cid_version = cid_version;
    opt.raw_leaves = raw_leaves;
    opt.chunk_size = 100;
    opt.max_links = 3;
    std::map<content::Digest, content::Bytes> blocks;
    content::Importer imp(opt, [&](const content::ImportedBlock& b) {
        blocks[b.cid.digest()] = content::Bytes(b.bytes.begin(), b.bytes.end());
        return std::error_code{};
    });
    std::error_code ec;
    if (imp.write(content::as_bytes(file))) std::abort();
    auto result = imp.finish(ec);
    if (!result) std::abort();
    FixedDag dag;
    dag.root = result->root;
    auto walk = [&](auto& self, const content::Cid& c) -> void {
        const auto& b = blocks.at(c.digest());
        dag.dfs.emplace_back(c, b);
        if (c.codec() != content::Codec::dag_pb) return;
        content::PbNode n;
        if (content::decode_dag_pb(b, n, 64)) std::abort();
        for (const auto& l : n.links) self(self, l.hash);
    };
    walk(walk, dag.root);
    return dag;
}

inline const FixedDag& fixed_dag() {
    static const FixedDag dag = make_dag(0, false);
    return dag;
}

}  // namespace cyxp2p::fuzz
