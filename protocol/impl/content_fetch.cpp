#include <fstream>

#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/limits.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/content_fetch.hpp>
#include <cyxp2p/protocol/errc.hpp>

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

ContentSender::ContentSender(const content::Blockstore& store, const content::Cid& root,
                             std::size_t high_water, std::uint64_t skip_leaves)
    : walker_(store, root), high_water_(high_water), skip_leaves_(skip_leaves) {}

ContentSender::Status ContentSender::pump(
    const std::function<std::error_code(std::span<const std::uint8_t>)>& send,
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
        if ((ec = send(encode(ContentBlock{block->cid.bytes(), std::move(block->data)}))))
            return Status::failed;
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

constexpr std::string_view kLogMagic = "cyxp2p-partial 1\n";

bool put_u32(std::FILE* f, std::uint32_t v) {
    const unsigned char b[4] = {static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
                                static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
    return std::fwrite(b, 1, 4, f) == 4;
}

bool get_u32(std::FILE* f, std::uint32_t& v) {
    unsigned char b[4];
    if (std::fread(b, 1, 4, f) != 4) return false;
    v = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
    return true;
}

// One record: u32 CID length, CID bytes, u32 block length, block bytes.
bool read_record(std::FILE* f, content::Bytes& cid, content::Bytes& block) {
    std::uint32_t n = 0;
    if (!get_u32(f, n) || n > 128) return false;
    cid.resize(n);
    if (std::fread(cid.data(), 1, n, f) != n || !get_u32(f, n) || n > content::Limits{}.max_block_size)
        return false;
    block.resize(n);
    return std::fread(block.data(), 1, n, f) == n;
}

}  // namespace

ContentReceiver::ContentReceiver(const content::Cid& root, std::filesystem::path destination,
                                 std::optional<std::filesystem::path> partial)
    : root_(root),
      writer_(std::make_unique<content::FileWriter>(root, std::move(destination))),
      partial_(std::move(partial)) {}

ContentReceiver::~ContentReceiver() {
    close_log();
}

void ContentReceiver::close_log() noexcept {
    if (log_in_ != nullptr) std::fclose(log_in_);
    if (log_out_ != nullptr) std::fclose(log_out_);  // flushes what was appended
    log_in_ = log_out_ = nullptr;
}

// Counts the complete records of an existing log for this root, drops a torn tail, and opens it for
// replay and append; anything else (absent, another root, not a log) starts a new one.
std::error_code ContentReceiver::open_log() {
    const std::string header = std::string(kLogMagic) + root_.to_string() + "\n";
    std::uint64_t good_end = 0;
    if (std::FILE* f = std::fopen(partial_->c_str(), "rb")) {
        std::string head(header.size(), '\0');
        if (std::fread(head.data(), 1, head.size(), f) == head.size() && head == header) {
            good_end = header.size();
            content::Bytes cid, block;
            while (read_record(f, cid, block)) {
                ++leaves_held_;
                good_end = static_cast<std::uint64_t>(std::ftell(f));
            }
        }
        std::fclose(f);
    }
    if (good_end == 0) {
        std::FILE* f = std::fopen(partial_->c_str(), "wb");
        if (f == nullptr || std::fwrite(header.data(), 1, header.size(), f) != header.size()) {
            if (f != nullptr) std::fclose(f);
            return std::error_code(errno, std::generic_category());
        }
        std::fclose(f);
        leaves_held_ = 0;
    } else {
        std::error_code ec;
        std::filesystem::resize_file(*partial_, good_end, ec);  // a torn last record is dropped
        if (ec) return ec;
    }
    log_in_ = std::fopen(partial_->c_str(), "rb");
    log_out_ = std::fopen(partial_->c_str(), "ab");
    if (log_in_ == nullptr || log_out_ == nullptr) return std::error_code(errno, std::generic_category());
    std::fseek(log_in_, static_cast<long>(header.size()), SEEK_SET);
    return {};
}

std::error_code ContentReceiver::open() {
    if (partial_) {
        if (auto ec = open_log()) return ec;
    }
    return writer_->open();
}

std::error_code ContentReceiver::push(content::ByteView block, const content::Cid& cid, bool from_network) {
    if (auto e = writer_->push(block, cid)) {
        failed_ = true;
        return e;  // FileWriter already removed the temporary file
    }
    if (from_network && log_out_ != nullptr && is_leaf(cid, block)) {
        // Verified already; kept for a later resume. Buffered: a crash loses at most a torn tail.
        const auto bytes = cid.bytes();
        if (!put_u32(log_out_, static_cast<std::uint32_t>(bytes.size())) ||
            std::fwrite(bytes.data(), 1, bytes.size(), log_out_) != bytes.size() ||
            !put_u32(log_out_, static_cast<std::uint32_t>(block.size())) ||
            std::fwrite(block.data(), 1, block.size(), log_out_) != block.size()) {
            std::fclose(log_out_);  // resuming is a convenience: stop keeping leaves, go on fetching
            log_out_ = nullptr;
        }
    }
    return {};
}

// Feeds held leaves while they are next in DFS order; each is hashed again by the verifier, so a damaged
// or foreign log fails the fetch instead of corrupting the file.
std::error_code ContentReceiver::replay_held() {
    if (log_in_ == nullptr) return {};
    while (leaves_replayed_ < leaves_held_) {
        auto expected = writer_->verifier().expected();
        if (!expected) return {};
        const long at = std::ftell(log_in_);
        content::Bytes cid_bytes, block;
        if (!read_record(log_in_, cid_bytes, block)) return {};
        std::error_code ec;
        auto cid = content::Cid::from_bytes(cid_bytes, ec);
        if (!cid || !(*cid == *expected)) {
            std::fseek(log_in_, at, SEEK_SET);  // not this block's turn (an internal node comes first)
            return {};
        }
        ++leaves_replayed_;
        if (auto e = writer_->push(block, *cid)) {
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
    if (partial_) {  // complete: the held leaves are no longer needed
        close_log();
        std::error_code ignored;
        std::filesystem::remove(*partial_, ignored);
    }
    return {};
}

void ContentReceiver::abort() noexcept {
    failed_ = true;
    writer_->abort();
    close_log();  // what was appended stays for the next attempt
}

}  // namespace cyxp2p::protocol
