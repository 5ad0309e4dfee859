#include <limits>

#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/unixfs.hpp>

#include "unixfs.pb.h"

namespace cyxp2p::content {

std::error_code decode_unixfs(ByteView bytes, UnixFsNode& out) {
    pb::Data msg;
    // The parse writes Data into the string it finds there: given out.data's buffer, a caller that passes
    // the same node again (DagVerifier, leaf after leaf) gets its leaves' bytes without a fresh allocation.
    msg.mutable_data()->swap(out.data);
    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
        !msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return errc::unixfs_malformed;  // includes a missing required Type and an unknown enum value
    }
    out.type = static_cast<UnixFsType>(msg.type());
    out.data = std::move(*msg.mutable_data());
    out.filesize = msg.has_filesize() ? std::optional<std::uint64_t>(msg.filesize()) : std::nullopt;
    out.blocksizes.assign(msg.blocksizes().begin(), msg.blocksizes().end());
    return {};
}

void encode_file_leaf(std::string& data, Bytes& block) {
    thread_local pb::Data msg;
    msg.Clear();
    msg.set_type(pb::Data::File);
    const std::uint64_t size = data.size();
    if (!data.empty()) msg.mutable_data()->swap(data);
    msg.set_filesize(size);
    const std::size_t inner = msg.ByteSizeLong();
    block.clear();
    dag_pb_data_prefix(inner, block);
    const std::size_t prefix = block.size();
    block.resize(prefix + inner);
    msg.SerializeWithCachedSizesToArray(block.data() + prefix);
    if (size != 0) msg.mutable_data()->swap(data);
}

void encode_file_node_data(std::uint64_t filesize, std::span<const std::uint64_t> blocksizes, Bytes& out) {
    pb::Data msg;
    msg.set_type(pb::Data::File);
    msg.set_filesize(filesize);
    for (auto b : blocksizes) msg.add_blocksizes(b);
    out.resize(msg.ByteSizeLong());
    msg.SerializeWithCachedSizesToArray(out.data());
}

}  // namespace cyxp2p::content
