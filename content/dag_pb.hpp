// dag-pb (ipld.io/specs/codecs/dag-pb/spec): the block format of UnixFS nodes.
//
//   message PBLink { optional bytes Hash = 1; optional string Name = 2; optional uint64 Tsize = 3; }
//   message PBNode { repeated PBLink Links = 2; optional bytes Data = 1; }
//
// Hand-written rather than generated: the spec asks for rules a generic protobuf parser does not
// enforce (PBLink fields in Hash, Name, Tsize order, no duplicates, Hash required and a valid CID, no
// unknown fields), and byte compatibility with kubo needs an encoder that writes Links before Data and
// writes an empty Name, which generated code would not do.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include <cyxp2p/content/bytes.hpp>
#include <cyxp2p/content/cid.hpp>

namespace cyxp2p::content {

struct PbLink {
    Cid hash;
    /// kubo writes an empty Name on every file link, and the CID depends on it.
    std::optional<std::string_view> name;
    std::optional<std::uint64_t> tsize;
};

/// A dag-pb node. Views point into the encoded block (decode) or into the caller's buffers (encode).
struct PbNode {
    std::vector<PbLink> links;
    std::optional<ByteView> data;
};

/// Encodes Links first, then Data (dag-pb spec, "canonical form"; kubo and js-dag-pb do the same).
void encode_dag_pb(const PbNode& node, Bytes& out);

/// Bytes before the Data payload when a node with no links and Data of `data_size` bytes is encoded:
/// 0x0a varint(data_size). Lets a leaf be hashed in pieces without copying the payload.
void dag_pb_data_prefix(std::size_t data_size, Bytes& out);

/// Strict decode. Accepts Links and Data in either order (IPIP-550 note: each as one contiguous group).
/// `max_links` bounds the work on hostile input. Errors: pb_* codes, CID errors for a link Hash,
/// too_many_links.
std::error_code decode_dag_pb(ByteView block, PbNode& out, std::size_t max_links);

}  // namespace cyxp2p::content
