// UnixFS Data messages (protobuf). Internal file node data (File, no Data, filesize, blocksizes) re-encodes
// to a message that decodes to the same node.
#include <cyxp2p/content/unixfs.hpp>

#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cyxp2p::content;
    UnixFsNode node;
    if (decode_unixfs(ByteView(data, size), node)) return 0;
    CYXP2P_FUZZ_CHECK(static_cast<int>(node.type) >= 0 && static_cast<int>(node.type) <= 5);
    if (node.type == UnixFsType::file && node.data.empty() && node.filesize) {
        Bytes out;
        encode_file_node_data(*node.filesize, node.blocksizes, out);
        UnixFsNode again;
        CYXP2P_FUZZ_CHECK(!decode_unixfs(out, again));
        CYXP2P_FUZZ_CHECK(again.type == node.type && again.filesize == node.filesize &&
                          again.blocksizes == node.blocksizes && again.data.empty());
    }
    return 0;
}
