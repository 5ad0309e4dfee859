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

ContentSender::ContentSender(const content::Blockstore& store, const content::Cid& root, std::size_t high_water)
    : walker_(store, root), high_water_(high_water) {}

ContentSender::Status ContentSender::pump(const std::function<std::error_code(std::span<const std::uint8_t>)>& send,
                                          const std::function<std::size_t()>& pending, std::error_code& ec) {
    ec.clear();
    while (pending() < high_water_) {
        auto block = walker_.next(ec);
        if (ec) return Status::failed;
        if (!block) return Status::done;
        bytes_ += block->data.size();
        ++blocks_;
        if ((ec = send(encode(ContentBlock{block->cid.bytes(), std::move(block->data)})))) return Status::failed;
    }
    return Status::more;
}

ContentReceiver::ContentReceiver(const content::Cid& root, std::filesystem::path destination)
    : writer_(std::make_unique<content::FileWriter>(root, std::move(destination))) {}

std::error_code ContentReceiver::open() { return writer_->open(); }

std::error_code ContentReceiver::on_message(std::span<const std::uint8_t> message) {
    if (failed_) return make_error_code(errc::closed);
    std::error_code ec;
    auto block = decode_content_block(message, ec, block_body_limits());
    std::optional<content::Cid> claimed;
    if (block) claimed = content::Cid::from_bytes(block->cid, ec);
    if (!block || !claimed) {
        failed_ = true;
        writer_->abort();
        return make_error_code(errc::bad_message);
    }
    if (auto e = writer_->push(block->data, claimed)) {
        failed_ = true;
        return e;  // FileWriter already removed the temporary file
    }
    return {};
}

std::error_code ContentReceiver::finish() {
    if (failed_) return make_error_code(errc::closed);
    if (auto e = writer_->commit()) {
        failed_ = true;
        return e;
    }
    return {};
}

void ContentReceiver::abort() noexcept {
    failed_ = true;
    writer_->abort();
}

}  // namespace cyxp2p::protocol
