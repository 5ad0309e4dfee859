#include <algorithm>

#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/message.hpp>

namespace cyxp2p::protocol {
namespace {
std::uint32_t prefix(const std::array<std::uint8_t, message_prefix_size>& b) {
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
}
}  // namespace

void append_message(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> body) {
    const auto n = static_cast<std::uint32_t>(body.size());
    out.push_back(static_cast<std::uint8_t>(n >> 24));
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n));
    out.insert(out.end(), body.begin(), body.end());
}

std::optional<std::vector<std::uint8_t>> BufferPool::take(std::size_t n) {
    for (std::size_t i = 0; i < free_.size(); ++i) {
        // Not a bulk buffer for a small message: the pool is for the stream of large ones.
        if (free_[i].capacity() < n || free_[i].capacity() / 2 > n) continue;
        std::vector<std::uint8_t> out = std::move(free_[i]);
        if (i + 1 != free_.size()) free_[i] = std::move(free_.back());
        free_.pop_back();
        bytes_ -= out.capacity();
        out.clear();
        return out;
    }
    return std::nullopt;
}

void BufferPool::give(std::vector<std::uint8_t>&& buffer) {
    if (buffer.capacity() == 0 || bytes_ + buffer.capacity() > max_) return;
    bytes_ += buffer.capacity();
    free_.push_back(std::move(buffer));
}

std::error_code MessageReader::feed(std::span<const std::uint8_t> bytes, std::size_t may_reserve) {
    while (!bytes.empty() || prefix_have_ == message_prefix_size) {
        if (prefix_have_ < message_prefix_size) {
            const std::size_t take = std::min(message_prefix_size - prefix_have_, bytes.size());
            std::copy_n(bytes.begin(), take, prefix_.begin() + static_cast<std::ptrdiff_t>(prefix_have_));
            prefix_have_ += take;
            bytes = bytes.subspan(take);
            if (prefix_have_ < message_prefix_size) break;
            need_ = prefix(prefix_);
            if (need_ > max_) return errc::message_too_large;
            body_.clear();
            if (auto pooled = pool_ != nullptr ? pool_->take(need_) : std::nullopt) {
                body_ = std::move(*pooled);
            } else if (need_ <= may_reserve) {
                body_.reserve(need_);
                reserved_ = need_;
            }
        }
        const std::size_t take = std::min(need_ - body_.size(), bytes.size());
        body_.insert(body_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
        bytes = bytes.subspan(take);
        if (body_.size() < need_) break;
        ready_bytes_ += message_prefix_size + need_;
        ready_.push_back(std::move(body_));
        body_ = {};
        prefix_have_ = 0;
        reserved_ = 0;
    }
    return {};
}

std::optional<std::vector<std::uint8_t>> MessageReader::next() {
    if (ready_.empty()) return std::nullopt;
    std::vector<std::uint8_t> body = std::move(ready_.front());
    ready_.pop_front();
    ready_bytes_ -= message_prefix_size + body.size();
    return body;
}

}  // namespace cyxp2p::protocol
