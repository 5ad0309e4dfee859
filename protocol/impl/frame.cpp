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

void FrameDecoder::feed(std::span<const std::uint8_t> bytes) {
    if (failed_) return;
    // Compact before growing: what was already returned is no longer referenced after this call.
    if (read_ > 0) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_));
        read_ = 0;
    }
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

std::optional<Frame> FrameDecoder::next(std::error_code& ec) {
    ec = failed_;
    if (failed_ || buffered() < frame_header_size) return std::nullopt;
    const std::uint8_t* p = buffer_.data() + read_;
    FrameHeader h;
    h.version = p[0];
    h.type = static_cast<FrameType>(p[1]);
    h.flags = p[2];
    h.stream_id = get32(p + 4);
    h.length = get32(p + 8);
    if (h.version != wire_version) {
        failed_ = ec = errc::bad_version;
        return std::nullopt;
    }
    if (p[3] != 0) {  // reserved: must be zero so that a later version can give it a meaning
        failed_ = ec = errc::bad_frame;
        return std::nullopt;
    }
    if (h.length > max_payload_) {  // refuse before buffering a byte of it
        failed_ = ec = errc::frame_too_large;
        return std::nullopt;
    }
    if (buffered() < frame_header_size + h.length) return std::nullopt;
    Frame f{h, {p + frame_header_size, h.length}};
    read_ += frame_header_size + h.length;
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
