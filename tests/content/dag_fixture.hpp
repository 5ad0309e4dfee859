// Test DAGs: import bytes with the real importer into a map, list the blocks in DFS pre-order, and craft
// malformed UnixFS nodes that the importer would never write.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/content/varint.hpp>

namespace cyxp2p::content::testing {

struct Block {
    Cid cid;
    Bytes bytes;
};

struct Dag {
    Cid root = Cid::v0(Digest{});
    std::map<Digest, Bytes> blocks;
    std::vector<Block> dfs;  // pre-order, the order a sender must use
};

inline std::string pattern(std::size_t n, std::uint32_t seed = 12345) {
    std::string s(n, '\0');
    std::uint32_t x = seed;
    for (auto& ch : s) {
        x = x * 1103515245u + 12345u;
        ch = static_cast<char>(x >> 24);
    }
    return s;
}

inline void walk(const Dag& dag, const Cid& cid, std::vector<Block>& out) {
    const Bytes& b = dag.blocks.at(cid.digest());
    out.push_back(Block{cid, b});
    if (cid.codec() != Codec::dag_pb) return;
    PbNode node;
    if (decode_dag_pb(b, node, 100000)) throw std::runtime_error("fixture: bad dag-pb");
    for (const auto& l : node.links) walk(dag, l.hash, out);
}

inline Dag import_dag(std::string_view data, const ImportOptions& opt) {
    Dag dag;
    Importer imp(opt, [&](const ImportedBlock& b) {
        dag.blocks[b.cid.digest()] = Bytes(b.bytes.begin(), b.bytes.end());
        return std::error_code{};
    });
    if (imp.write(as_bytes(data))) throw std::runtime_error("fixture: import failed");
    std::error_code ec;
    auto r = imp.finish(ec);
    if (!r) throw std::runtime_error("fixture: import failed");
    dag.root = r->root;
    walk(dag, dag.root, dag.dfs);
    return dag;
}

/// UnixFS File Data, hand-encoded so tests can write what the importer never would.
inline Bytes unixfs_file(std::optional<std::uint64_t> filesize, const std::vector<std::uint64_t>& blocksizes,
                         std::string_view data = {}, int type = 2) {
    Bytes out{0x08, static_cast<std::uint8_t>(type)};
    if (!data.empty()) {
        out.push_back(0x12);
        append_varint(out, data.size());
        out.insert(out.end(), data.begin(), data.end());
    }
    if (filesize) {
        out.push_back(0x18);
        append_varint(out, *filesize);
    }
    for (auto b : blocksizes) {
        out.push_back(0x20);
        append_varint(out, b);
    }
    return out;
}

inline Block pb_node(const std::vector<Cid>& links, const Bytes& unixfs) {
    PbNode node;
    for (const auto& l : links) node.links.push_back(PbLink{l, std::string_view{}, 0});
    node.data = ByteView(unixfs);
    Bytes bytes;
    encode_dag_pb(node, bytes);
    return Block{Cid::of_block(0, Codec::dag_pb, bytes), bytes};
}

inline Block raw_block(std::string_view data) {
    Bytes bytes(data.begin(), data.end());
    return Block{Cid::of_block(1, Codec::raw, bytes), bytes};
}

/// `depth` dag-pb nodes over one raw leaf "x", root first (DFS order), each linking the next: a DAG
/// exactly `depth` + 1 blocks deep. Filled by index, never grown: inserting Blocks at the front makes
/// GCC 12 at -O3 report a potential null dereference in vector's reallocation path (-Wnull-dereference
/// false positive).
inline std::vector<Block> deep_chain(std::size_t depth) {
    std::vector<Block> chain(depth + 1, raw_block("x"));
    for (std::size_t i = depth; i-- > 0;) chain[i] = pb_node({chain[i + 1].cid}, unixfs_file(1, {1}));
    return chain;
}

}  // namespace cyxp2p::content::testing
