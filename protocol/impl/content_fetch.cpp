#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/limits.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/content_fetch.hpp>
#include <cyxp2p/protocol/errc.hpp>

#include <fstream>

namespace cyxp2p::protocol {
namespace {

// A ContentBlock holds one whole block (up to content::Limits::max_block_size, 2 MiB) plus its CID and a few
// bytes of msgpack framing. Under the generic 1 MiB body limit an honest DAG of 1 MiB chunks (unixfs-v1-2025)
// could not be fetched, and an oversized block never reached the verifier's block_too_large check.
BodyLimits block_body_limits() {
    BodyLimits l;
    l.max_bytes = content::Limits{}.max_block_size + 1024;
    return l;
}

}  // namespace

ContentSender::ContentSender(const content::Blockstore& store, const content::Cid& root, std::size_t high_water,
                             std::uint64_t skip_leaves)
    : walker_(store, root), high_water_(high_water), skip_leaves_(skip_leaves) {}

ContentSender::Status ContentSender::pump(const std::function<std::error_code(std::span<const std::uint8_t>)>& send,
                                          const std::function<std::size_t()>& pending, std::error_code& ec) {
    ec.clear();
    while (pending() < high_water_) {
        auto block = walker_.next(ec);
        if (ec) return Status::failed;
        if (!block) return Status::done;
        if (block->leaf && skip_leaves_ > 0) {  // the engine holds it from an earlier attempt
            --skip_leaves_;
            continue;
        }
        bytes_ += block->data.size();
        ++blocks_;
        if ((ec = send(encode(ContentBlock{block->cid.bytes(), std::move(block->data)})))) return Status::failed;
    }
    return Status::more;
}

namespace {
// A leaf carries file bytes and no links: a raw block, or a dag-pb node without links.
bool is_leaf(const content::Cid& cid, content::ByteView block) {
    if (cid.codec() == content::Codec::raw) return true;
    content::PbNode node;
    return !content::decode_dag_pb(block, node, content::Limits{}.max_links) && node.links.empty();
}
constexpr const char* kLeafCount = "leaves";  // files in the partial directory besides the blocks
}  // namespace

ContentReceiver::ContentReceiver(const content::Cid& root, std::filesystem::path destination,
                                 std::optional<std::filesystem::path> partial_dir)
    : root_(root),
      writer_(std::make_unique<content::FileWriter>(root, std::move(destination))),
      partial_dir_(std::move(partial_dir)) {}

std::error_code ContentReceiver::open() {
    if (partial_dir_) {
        std::error_code ec;
        // Held leaves belong to one root: a directory left by a fetch of something else starts over.
        const auto root_file = *partial_dir_ / "root";
        std::string previous;
        if (std::ifstream in(root_file); in) std::getline(in, previous);
        if (!previous.empty() && previous != root_.to_string()) {
            std::filesystem::remove_all(*partial_dir_, ec);
        }
        held_ = content::Blockstore::open(*partial_dir_, ec);
        if (!held_) return ec;
        std::ofstream(root_file, std::ios::trunc) << root_.to_string();
        // The count of leading leaves held, written after each leaf was stored (a crash can only under-count).
        std::ifstream in(*partial_dir_ / kLeafCount);
        std::uint64_t n = 0;
        if (in >> n) leaves_held_ = n;
    }
    return writer_->open();
}

std::error_code ContentReceiver::push(content::ByteView block, const content::Cid& cid, bool from_network) {
    if (auto e = writer_->push(block, cid)) {
        failed_ = true;
        return e;  // FileWriter already removed the temporary file
    }
    if (from_network && held_ && is_leaf(cid, block)) {
        // Keep it for a later resume; verified already, so no second hash.
        if (!held_->put(cid, block, /*verified=*/true)) {
            ++leaves_held_;
            std::ofstream(*partial_dir_ / kLeafCount, std::ios::trunc) << leaves_held_;
        }
    }
    return {};
}

// Feeds held leaves while the verifier expects one we hold, but never more than the node was asked to skip.
std::error_code ContentReceiver::replay_held() {
    if (!held_) return {};
    while (leaves_replayed_ < leaves_held_) {
        auto expected = writer_->verifier().expected();
        if (!expected || !held_->has(*expected)) return {};
        std::error_code ec;
        auto block = held_->get(*expected, ec);  // re-hashed by the blockstore and again by the verifier
        if (!block) return {};
        ++leaves_replayed_;
        if (auto e = writer_->push(*block, *expected)) {
            failed_ = true;
            return e;
        }
    }
    return {};
}

std::error_code ContentReceiver::on_message(std::span<const std::uint8_t> message) {
    if (failed_) return make_error_code(errc::closed);
    if (auto e = replay_held()) return e;
    std::error_code ec;
    auto block = decode_content_block(message, ec, block_body_limits());
    std::optional<content::Cid> claimed;
    if (block) claimed = content::Cid::from_bytes(block->cid, ec);
    if (!block || !claimed) {
        failed_ = true;
        writer_->abort();
        return make_error_code(errc::bad_message);
    }
    if (auto e = push(block->data, *claimed, true)) return e;
    return replay_held();
}

std::error_code ContentReceiver::finish() {
    if (failed_) return make_error_code(errc::closed);
    if (auto e = replay_held()) return e;
    if (auto e = writer_->commit()) {
        failed_ = true;
        return e;
    }
    if (partial_dir_) {  // complete: the held leaves are no longer needed
        std::error_code ignored;
        std::filesystem::remove_all(*partial_dir_, ignored);
    }
    return {};
}

void ContentReceiver::abort() noexcept {
    failed_ = true;
    writer_->abort();
}

}  // namespace cyxp2p::protocol
