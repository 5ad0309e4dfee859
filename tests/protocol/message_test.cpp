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

TEST(MessageReader, ReassemblesIntoAPooledBufferAndMovesItOut) {
    p::BufferPool pool(1 << 20);
    p::MessageReader r(1 << 20, &pool);
    std::vector<std::uint8_t> stream;
    p::append_message(stream, std::vector<std::uint8_t>(1000, 'a'));
    ASSERT_FALSE(r.feed(stream));
    auto first = r.next();
    ASSERT_TRUE(first);
    const std::uint8_t* buffer = first->data();
    pool.give(std::move(*first));
    EXPECT_EQ(pool.bytes(), 1000U);
    // The next message of a similar size is written into the same memory, in pieces, with no copy out.
    stream.clear();
    p::append_message(stream, std::vector<std::uint8_t>(900, 'b'));
    ASSERT_FALSE(r.feed({stream.data(), 10}));
    ASSERT_FALSE(r.feed({stream.data() + 10, stream.size() - 10}));
    auto second = r.next();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->data(), buffer);
    EXPECT_EQ(*second, std::vector<std::uint8_t>(900, 'b'));
    EXPECT_EQ(pool.bytes(), 0U);
    // A small message does not take a bulk buffer.
    pool.give(std::move(*second));
    stream.clear();
    p::append_message(stream, std::vector<std::uint8_t>(10, 'c'));
    ASSERT_FALSE(r.feed(stream));
    EXPECT_NE(r.next()->data(), buffer);
    EXPECT_EQ(pool.bytes(), 1000U);
}

TEST(MessageReader, AllocatesAheadOnlyWithinTheAllowance) {
    p::MessageReader r(1 << 20);
    const std::uint8_t big[] = {0, 0x08, 0, 0, 'x'};  // 512 KiB announced, 1 byte sent
    ASSERT_FALSE(r.feed(big, 4096));
    EXPECT_EQ(r.reserved(), 0U);  // beyond the allowance: the buffer grows with what arrives
    EXPECT_EQ(r.buffered(), 5U);
    p::MessageReader r2(1 << 20);
    ASSERT_FALSE(r2.feed(big, 1 << 20));
    EXPECT_EQ(r2.reserved(), 512U << 10);
    std::vector<std::uint8_t> rest((512U << 10) - 1, 'x');
    ASSERT_FALSE(r2.feed(rest, 1 << 20));
    EXPECT_EQ(r2.reserved(), 0U);  // complete: nothing held ahead any more
    EXPECT_EQ(r2.next()->size(), 512U << 10);
}

TEST(BufferPool, KeepsAtMostItsCapacity) {
    p::BufferPool pool(3000);
    std::vector<std::uint8_t> a(2000), b(2000);
    pool.give(std::move(a));
    pool.give(std::move(b));  // would exceed: freed
    EXPECT_EQ(pool.bytes(), 2000U);
    EXPECT_FALSE(pool.take(2001));
    EXPECT_TRUE(pool.take(1500));
    EXPECT_EQ(pool.bytes(), 0U);
}

}  // namespace
