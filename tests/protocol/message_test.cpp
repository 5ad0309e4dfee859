#include <gtest/gtest.h>

#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/message.hpp>

namespace p = cyxp2p::protocol;

namespace {

TEST(MessageReader, ReassemblesAcrossArbitraryChunks) {
    std::vector<std::uint8_t> stream;
    const std::vector<std::uint8_t> a(10, 'a'), b, c(1000, 'c');
    p::append_message(stream, a);
    p::append_message(stream, b);
    p::append_message(stream, c);
    for (std::size_t chunk : {1U, 3U, 7U, 1024U}) {
        p::MessageReader r(4096);
        std::vector<std::vector<std::uint8_t>> got;
        for (std::size_t i = 0; i < stream.size(); i += chunk) {
            ASSERT_FALSE(r.feed({stream.data() + i, std::min(chunk, stream.size() - i)}));
            while (auto m = r.next()) got.push_back(*m);
        }
        ASSERT_EQ(got.size(), 3U) << chunk;
        EXPECT_EQ(got[0], a);
        EXPECT_EQ(got[1], b);
        EXPECT_EQ(got[2], c);
        EXPECT_FALSE(r.partial());
    }
}

TEST(MessageReader, OversizedAnnouncementFailsBeforeTheBody) {
    p::MessageReader r(100);
    const std::uint8_t prefix[] = {0, 0, 0, 101};
    EXPECT_EQ(r.feed(prefix), p::errc::message_too_large);
}

TEST(MessageReader, PartialIsReported) {
    p::MessageReader r(100);
    const std::uint8_t part[] = {0, 0, 0, 5, 'x'};
    EXPECT_FALSE(r.feed(part));
    EXPECT_FALSE(r.next());
    EXPECT_TRUE(r.partial());
}

}  // namespace
