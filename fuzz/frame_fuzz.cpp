// FrameDecoder fed the same bytes twice: all at once and in splits chosen by the input. Both must yield the
// same frames and the same error: the decoder promises that input "split at any byte boundary" is equivalent.
#include <algorithm>
#include <array>

#include <cyxp2p/protocol/frame.hpp>

#include "check.hpp"

namespace {

using namespace cyxp2p;

struct Decoded {
    std::vector<protocol::FrameHeader> headers;
    std::vector<fuzz::Bytes> payloads;
    std::error_code error;
};

void drain(protocol::FrameDecoder& d, Decoded& out) {
    for (;;) {
        std::error_code ec;
        auto f = d.next(ec);
        if (!f) {
            if (ec) out.error = ec;
            return;
        }
        CYXP2P_FUZZ_CHECK(!ec);
        CYXP2P_FUZZ_CHECK(f->payload.size() == f->header.length);
        out.headers.push_back(f->header);
        out.payloads.emplace_back(f->payload.begin(), f->payload.end());
    }
}

bool same(const protocol::FrameHeader& a, const protocol::FrameHeader& b) {
    return a.version == b.version && a.type == b.type && a.flags == b.flags && a.stream_id == b.stream_id &&
           a.length == b.length;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    // Byte 0: the payload cap (4 choices) and the seed of the split sizes.
    static constexpr std::array<std::uint32_t, 4> caps{0, 16, 4096, protocol::max_frame_size_ceiling};
    const std::uint32_t cap = caps[data[0] & 3U];
    std::uint32_t rng = data[0] | 0x100U;
    const fuzz::Span wire(data + 1, size - 1);

    Decoded whole;
    protocol::FrameDecoder a(cap);
    a.feed(wire);
    drain(a, whole);

    Decoded split;
    protocol::FrameDecoder b(cap);
    for (std::size_t off = 0; off < wire.size();) {
        rng = rng * 1103515245U + 12345U;
        const std::size_t n = std::min<std::size_t>(wire.size() - off, 1 + ((rng >> 16) % 24));
        b.feed(wire.subspan(off, n));
        off += n;
        drain(b, split);
    }
    drain(b, split);

    CYXP2P_FUZZ_CHECK(whole.error == split.error);
    CYXP2P_FUZZ_CHECK(whole.headers.size() == split.headers.size());
    for (std::size_t i = 0; i < whole.headers.size(); ++i) {
        CYXP2P_FUZZ_CHECK(same(whole.headers[i], split.headers[i]));
        CYXP2P_FUZZ_CHECK(whole.payloads[i] == split.payloads[i]);
        // encode_header is decode's inverse.
        const auto h = protocol::encode_header(whole.headers[i]);
        protocol::FrameDecoder c(cap);
        c.feed(h);
        c.feed(whole.payloads[i]);
        std::error_code ec;
        auto f = c.next(ec);
        CYXP2P_FUZZ_CHECK(f && same(f->header, whole.headers[i]));
    }
    if (!whole.error) CYXP2P_FUZZ_CHECK(a.buffered() == b.buffered());
    return 0;
}
