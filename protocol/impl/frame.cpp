#include <algorithm>

#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/frame.hpp>

namespace cyxp2p::protocol {
namespace {

void put32(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

std::uint32_t get32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

std::array<std::uint8_t, frame_header_size> encode_header(const FrameHeader& h) {
    std::array<std::uint8_t, frame_header_size> b{};
    b[0] = h.version;
    b[1] = static_cast<std::uint8_t>(h.type);
    b[2] = h.flags;
    b[3] = 0;
    put32(&b[4], h.stream_id);
    put32(&b[8], h.length);
    return b;
}

// Where the decoder reads next: the owned buffer while it holds unread bytes (they come first), else the
// lent input.
std::span<const std::uint8_t> FrameDecoder::front() const {
    if (read_ < buffer_.size()) return {buffer_.data() + read_, buffer_.size() - read_};
    return input_;
}

void FrameDecoder::consume(std::size_t n) {
    if (read_ < buffer_.size()) {
        read_ += n;
        if (read_ == buffer_.size()) {
            // Empty again; the bytes stay where they are until the next call (the frame just returned
            // points at them).
            buffer_.clear();
            read_ = 0;
        }
        return;
    }
    input_ = input_.subspan(n);
}

// Makes the next `n` bytes contiguous in front(): lent input that holds them is used in place; otherwise
// the owned buffer collects them, taking from the input only what it needs. False: not all arrived yet
// (everything lent is then owned).
bool FrameDecoder::gather(std::size_t n) {
    const std::size_t unread = buffer_.size() - read_;
    if (unread == 0) {
        if (input_.size() >= n) return true;
        stash();
        return false;
    }
    if (unread >= n) return true;
    if (read_ > 0) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_));
        read_ = 0;
    }
    const std::size_t take = std::min(n - unread, input_.size());
    buffer_.insert(buffer_.end(), input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(take));
    input_ = input_.subspan(take);
    return buffer_.size() >= n;
}

// Copies what is left of the lent input behind the owned bytes.
void FrameDecoder::stash() {
    if (input_.empty()) return;
    if (read_ > 0) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_));
        read_ = 0;
    }
    buffer_.insert(buffer_.end(), input_.begin(), input_.end());
    input_ = {};
}

void FrameDecoder::feed(std::span<const std::uint8_t> bytes) {
    if (failed_) return;
    stash();
    // Compact before growing: what was already returned is no longer referenced after this call.
    if (read_ > 0) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_));
        read_ = 0;
    }
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void FrameDecoder::borrow(std::span<const std::uint8_t> bytes) {
    if (failed_) return;
    stash();
    input_ = bytes;
}

std::optional<Frame> FrameDecoder::next(std::error_code& ec) {
    ec = failed_;
    if (failed_) {
        input_ = {};
        return std::nullopt;
    }
    if (data_) {
        // Inside a streamed DATA payload: hand over whatever of it is here.
        const auto src = front();
        if (src.empty()) return std::nullopt;
        const std::size_t n = std::min<std::size_t>(data_->length - data_offset_, src.size());
        Frame f{*data_, src.first(n), data_offset_, data_offset_ + n == data_->length};
        consume(n);
        data_offset_ += static_cast<std::uint32_t>(n);
        if (f.final_piece) data_.reset();
        return f;
    }
    if (!gather(frame_header_size)) return std::nullopt;
    const std::uint8_t* p = front().data();
    FrameHeader h;
    h.version = p[0];
    h.type = static_cast<FrameType>(p[1]);
    h.flags = p[2];
    h.stream_id = get32(p + 4);
    h.length = get32(p + 8);
    if (h.version != wire_version) {
        failed_ = ec = errc::bad_version;
        input_ = {};
        return std::nullopt;
    }
    if (p[3] != 0) {  // reserved: must be zero so that a later version can give it a meaning
        failed_ = ec = errc::bad_frame;
        input_ = {};
        return std::nullopt;
    }
    if (h.length > max_payload_) {  // refuse before buffering a byte of it
        failed_ = ec = errc::frame_too_large;
        input_ = {};
        return std::nullopt;
    }
    if (stream_data_ && h.type == FrameType::data) {
        consume(frame_header_size);
        if (h.length == 0) return Frame{h, {}, 0, true};
        data_ = h;
        data_offset_ = 0;
        return next(ec);
    }
    if (!gather(frame_header_size + h.length)) return std::nullopt;
    const auto src = front();
    Frame f{h, src.subspan(frame_header_size, h.length), 0, true};
    consume(frame_header_size + h.length);
    return f;
}

void FrameEncoder::append(FrameType type, std::uint8_t flags, std::uint32_t stream_id,
                          std::span<const std::uint8_t> payload) {
    const auto header =
        encode_header({wire_version, type, flags, stream_id, static_cast<std::uint32_t>(payload.size())});
    out_.insert(out_.end(), header.begin(), header.end());
    out_.insert(out_.end(), payload.begin(), payload.end());
}

std::vector<std::uint8_t> FrameEncoder::take() {
    std::vector<std::uint8_t> out;
    out.swap(out_);
    return out;
}

void FrameEncoder::move_into(std::vector<std::uint8_t>& out) {
    out.insert(out.end(), out_.begin(), out_.end());
    out_.clear();
}

}  // namespace cyxp2p::protocol
