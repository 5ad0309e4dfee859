// UnixFS v1 file nodes (specs.ipfs.tech/unixfs): the Data payload of a dag-pb node. Encoded and decoded
// with Protobuf-generated code from content/unixfs.proto (proto2, unpacked `blocksizes`).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <cyxp2p/content/bytes.hpp>

namespace cyxp2p::content {

enum class UnixFsType : int { raw = 0, directory = 1, file = 2, metadata = 3, symlink = 4, hamt_shard = 5 };

struct UnixFsNode {
    UnixFsType type = UnixFsType::file;
    std::string data;
    std::optional<std::uint64_t> filesize;
    std::vector<std::uint64_t> blocksizes;
};

/// Parses a UnixFS Data message. Errors: unixfs_malformed (not protobuf, or Type missing/unknown).
/// out.data's capacity is reused for the Data bytes.
std::error_code decode_unixfs(ByteView bytes, UnixFsNode& out);

/// Encodes a whole dag-pb leaf {Data: UnixFS{Type: File, Data: data, filesize: len}} into `block`, as
/// kubo's importer writes non-raw leaves. `data` is moved into the message and back, so the file bytes
/// are copied once (into the block). An empty `data` leaves the Data field out (kubo: empty file).
void encode_file_leaf(std::string& data, Bytes& block);

/// Encodes the UnixFS Data of an internal file node: {Type: File, filesize, blocksizes...}.
void encode_file_node_data(std::uint64_t filesize, std::span<const std::uint64_t> blocksizes, Bytes& out);

}  // namespace cyxp2p::content
