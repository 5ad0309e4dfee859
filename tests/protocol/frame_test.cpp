#include <gtest/gtest.h>

#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/frame.hpp>

namespace p = cyxp2p::protocol;
using p::errc;
using p::FrameType;

namespace {

std::vector<std::uint8_t> bytes(std::string_view s) {
    return {s.begin(), s.end()};
}

TEST(FrameHeader, LayoutIsBigEndianAndTwelveBytes) {
    const auto h = p::encode_header({1, FrameType::data, p::flags::end_stream, 0x01020304, 0x0A0B0C0D});
    const std::array<std::uint8_t, 12> want{1, 5, 1, 0, 1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D};
    EXPECT_EQ(h, want);
}

TEST(FrameDecoder, RoundTripsWhateverTheSplit) {
    p::FrameEncoder enc;
    enc.append(FrameType::open, 0, 1, bytes("open-payload"));
    enc.append(FrameType::data, p::flags::end_stream, 1, bytes("hello"));
    enc.append(FrameType::ping, 0, 0, bytes("12345678"));
    enc.append(FrameType::data, 0, 3, {});
    const auto wire = enc.take();
    EXPECT_TRUE(enc.empty());
    // Every split into two pieces, and byte-at-a-time.
    for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
        p::FrameDecoder dec(1024);
        std::vector<p::FrameHeader> got;
        std::vector<std::string> payloads;
        auto drain = [&] {
            std::error_code ec;
            while (auto f = dec.next(ec)) {
                got.push_back(f->header);
                payloads.emplace_back(f->payload.begin(), f->payload.end());
            }
            ASSERT_FALSE(ec);
        };
        dec.feed({wire.data(), cut});
        drain();
        dec.feed({wire.data() + cut, wire.size() - cut});
        drain();
        ASSERT_EQ(got.size(), 4U) << "cut " << cut;
        EXPECT_EQ(got[0].type, FrameType::open);
        EXPECT_EQ(payloads[0], "open-payload");
        EXPECT_EQ(got[1].flags, p::flags::end_stream);
        EXPECT_EQ(got[1].stream_id, 1U);
        EXPECT_EQ(payloads[1], "hello");
        EXPECT_EQ(payloads[2], "12345678");
        EXPECT_EQ(got[3].stream_id, 3U);
        EXPECT_EQ(payloads[3], "");
        EXPECT_EQ(dec.buffered(), 0U);
    }
    p::FrameDecoder one(1024);
    int frames = 0;
    for (std::uint8_t b : wire) {
        one.feed({&b, 1});
        std::error_code ec;
        while (one.next(ec)) ++frames;
        ASSERT_FALSE(ec);
    }
    EXPECT_EQ(frames, 4);
}

// The session's decoder: DATA payloads come out in pieces as they arrive, other frames whole, and lent
// bytes are used in place.
TEST(FrameDecoder, StreamsDataPayloadsInPiecesWhateverTheSplit) {
    p::FrameEncoder enc;
    enc.append(FrameType::data, 0, 1, bytes("0123456789abcdef"));
    enc.append(FrameType::ping, 0, 0, bytes("12345678"));
    enc.append(FrameType::data, p::flags::end_stream, 3, {});
    enc.append(FrameType::data, p::flags::end_stream, 1, bytes("xyz"));
    const auto wire = enc.take();
    for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
        for (std::size_t cut2 = cut; cut2 <= wire.size(); cut2 += 5) {
            p::FrameDecoder dec(1024, true);
            std::string data1, data1b, ping;
            int ends = 0, pieces_of_first = 0;
            bool in_place = true;
            auto drain = [&](std::span<const std::uint8_t> lent) {
                dec.borrow(lent);
                std::error_code ec;
                while (auto f = dec.next(ec)) {
                    const std::string piece(f->payload.begin(), f->payload.end());
                    if (f->header.type == FrameType::ping) {
                        EXPECT_TRUE(f->final_piece);
                        ping = piece;
                        continue;
                    }
                    // A piece of DATA points into the bytes lent now, never into a copy.
                    if (!f->payload.empty())
                        in_place = in_place && f->payload.data() >= lent.data() &&
                                   f->payload.data() + f->payload.size() <= lent.data() + lent.size();
                    if (f->header.stream_id == 1 && f->header.length == 16) {
                        EXPECT_EQ(f->piece_offset, data1.size());
                        data1 += piece;
                        ++pieces_of_first;
                        EXPECT_EQ(f->final_piece, data1.size() == 16);
                    } else if (f->header.stream_id == 1) {
                        data1b += piece;
                    }
                    if (f->final_piece && (f->header.flags & p::flags::end_stream) != 0) ++ends;
                }
                ASSERT_FALSE(ec);
            };
            drain({wire.data(), cut});
            drain({wire.data() + cut, cut2 - cut});
            drain({wire.data() + cut2, wire.size() - cut2});
            EXPECT_EQ(data1, "0123456789abcdef") << cut << " " << cut2;
            EXPECT_EQ(data1b, "xyz");
            EXPECT_EQ(ping, "12345678");
            EXPECT_EQ(ends, 2);
            EXPECT_LE(pieces_of_first, 3);
            EXPECT_TRUE(in_place);
            EXPECT_EQ(dec.buffered(), 0U);
        }
    }
}

TEST(FrameDecoder, LentBytesAreCopiedOnlyForAnIncompleteFrame) {
    p::FrameEncoder enc;
    enc.append(FrameType::ping, 0, 0, bytes("12345678"));
    enc.append(FrameType::ping, 0, 0, bytes("abcdefgh"));
    auto wire = enc.take();
    p::FrameDecoder dec(1024);
    dec.borrow({wire.data(), wire.size() - 3});
    std::error_code ec;
    auto first = dec.next(ec);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->payload.data(), wire.data() + p::frame_header_size);  // in place
    EXPECT_FALSE(dec.next(ec));  // the second is incomplete: its bytes are now the decoder's own
    EXPECT_EQ(dec.buffered(), wire.size() - 3 - first->header.length - p::frame_header_size);
    std::fill(wire.begin(), wire.end() - 3, std::uint8_t{0});  // the lender may reuse its buffer now
    dec.borrow({wire.data() + wire.size() - 3, 3});
    auto second = dec.next(ec);
    ASSERT_TRUE(second);
    EXPECT_EQ(std::string(second->payload.begin(), second->payload.end()), "abcdefgh");
}

TEST(FrameDecoder, OversizedFrameFailsOnTheHeaderAlone) {
    p::FrameDecoder dec(100);
    const auto h = p::encode_header({1, FrameType::data, 0, 1, 101});
    dec.feed(h);  // no payload at all yet
    std::error_code ec;
    EXPECT_FALSE(dec.next(ec));
    EXPECT_EQ(ec, errc::frame_too_large);
    // Stays failed.
    dec.feed(std::vector<std::uint8_t>(200));
    EXPECT_FALSE(dec.next(ec));
    EXPECT_EQ(ec, errc::frame_too_large);
}

TEST(FrameDecoder, ExactlyMaxIsAccepted) {
    p::FrameDecoder dec(100);
    p::FrameEncoder enc;
    enc.append(FrameType::data, 0, 1, std::vector<std::uint8_t>(100, 7));
    dec.feed(enc.take());
    std::error_code ec;
    auto f = dec.next(ec);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload.size(), 100U);
}

TEST(FrameDecoder, BadVersionAndReservedByte) {
    for (auto [index, value, want] :
         {std::tuple{0, 2, errc::bad_version}, std::tuple{0, 0, errc::bad_version},
          std::tuple{3, 1, errc::bad_frame}}) {
        auto h = p::encode_header({1, FrameType::ping, 0, 0, 0});
        h[static_cast<std::size_t>(index)] = static_cast<std::uint8_t>(value);
        p::FrameDecoder dec(100);
        dec.feed(h);
        std::error_code ec;
        EXPECT_FALSE(dec.next(ec));
        EXPECT_EQ(ec, want);
    }
}

TEST(FrameDecoder, TruncatedInputWaits) {
    p::FrameEncoder enc;
    enc.append(FrameType::data, 0, 1, bytes("abcdef"));
    auto wire = enc.take();
    wire.pop_back();
    p::FrameDecoder dec(100);
    dec.feed(wire);
    std::error_code ec;
    EXPECT_FALSE(dec.next(ec));
    EXPECT_FALSE(ec);
    EXPECT_EQ(dec.buffered(), wire.size());
}

TEST(ProtocolErrc, NamesAndWireMapping) {
    EXPECT_STREQ(p::to_string(errc::flow_control), "flow_control");
    EXPECT_EQ(p::from_wire(static_cast<std::uint32_t>(errc::forbidden)), errc::forbidden);
    EXPECT_EQ(p::from_wire(12345), errc::internal);
    EXPECT_EQ(std::error_code(errc::replayed).message().find("unknown"), std::string::npos);
}

}  // namespace
