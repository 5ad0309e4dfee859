// Whole conversations through NodeSession and EngineSession in memory: content.fetch with verification
// while a metrics stream keeps flowing, the same conversation split at random byte boundaries, and the
// per-session byte budget.
#include <fstream>
#include <functional>
#include <random>

#include <gtest/gtest.h>
#include <session_rig.hpp>
#include <support.hpp>

#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/content/dag_source.hpp>
#include <cyxp2p/content/download.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/engine_session.hpp>
#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/frame.hpp>
#include <cyxp2p/protocol/node_session.hpp>
#include <cyxp2p/replay/nonce_window.hpp>

namespace p = cyxp2p::protocol;
namespace auth = cyxp2p::auth;
namespace content = cyxp2p::content;
using Kind = p::Event::Kind;
using namespace std::chrono_literals;

namespace {

using cyxp2p::test::kT0;
const p::Now kNow = cyxp2p::test::at(kT0 + 5);

// A node's rig under a fixed key, so that two fixtures accept each other's tokens (the split-replay test
// needs it).
struct Fixture {
    Fixture() : rig(trust.keys), config(rig.config), services(rig.services) {}
    static auth::Jwk fixed_key() {
        std::error_code ec;
        return *auth::Jwk::from_secret(std::vector<std::uint8_t>(32, 7), "k", ec);
    }
    p::EngineConfig engine_config() {
        return cyxp2p::test::engine_config(trust.mint(cyxp2p::test::p2p_claims()));
    }
    cyxp2p::test::Trust trust{fixed_key()};
    cyxp2p::test::NodeRig rig;
    p::NodeConfig& config;
    p::NodeServices& services;
};

// A small file in a blockstore: 5 leaves of 1 KiB chunks under one root.
struct Stored {
    explicit Stored(const cyxp2p::test::TempDir& tmp, std::size_t size) {
        std::mt19937 rng(3);
        data.resize(size);
        for (auto& c : data) c = static_cast<char>(rng());
        cyxp2p::test::write_file(tmp / "src.bin", data);
        std::error_code ec;
        store = content::Blockstore::open(tmp / "blocks", ec);
        content::ImportOptions o;
        o.chunk_size = 1024;
        auto r = content::import_file(tmp / "src.bin", o, store->sink(), ec);
        EXPECT_TRUE(r) << ec.message();
        root = r->root;
    }
    std::string data;
    std::optional<content::Blockstore> store;
    content::Cid root = content::Cid::of_block(0, content::Codec::dag_pb, {});
};

// The node's content service in a few lines: DagSource blocks as ContentBlock messages, while the stream's
// queue is below the high-water mark. True when the DAG has been sent.
bool pump(content::DagSource& source,
          const std::function<std::error_code(std::span<const std::uint8_t>)>& send,
          const std::function<std::size_t()>& pending, std::size_t high_water, std::error_code& ec) {
    while (pending() < high_water) {
        auto block = source.next(ec);
        if (ec) return false;
        if (!block) return true;
        if ((ec = send(p::encode(p::ContentBlock{block->cid.bytes(), std::move(block->data)})))) return false;
    }
    return false;
}

// The engine's side: decode one ContentBlock and hand it to the Download.
std::error_code receive(content::Download& download, std::span<const std::uint8_t> message) {
    std::error_code ec;
    auto block =
        p::decode_content_block(message, ec, p::content_block_limits(content::Limits{}.max_block_size));
    std::optional<content::Cid> claimed;
    if (block) claimed = content::Cid::from_bytes(block->cid, ec);
    if (!block || !claimed) return make_error_code(p::errc::bad_message);
    return download.push(block->data, *claimed);
}

std::vector<std::vector<std::uint8_t>> all_messages(const Stored& stored) {
    content::DagSource source(*stored.store, stored.root, 0, content::Limits{});
    std::vector<std::vector<std::uint8_t>> out;
    std::error_code ec;
    EXPECT_TRUE(pump(
        source,
        [&](std::span<const std::uint8_t> m) {
            out.emplace_back(m.begin(), m.end());
            return std::error_code{};
        },
        [] { return std::size_t{0}; }, 1, ec));
    return out;
}

TEST(Conversation, FetchVerifiesWhileMetricsKeepFlowing) {
    cyxp2p::test::TempDir tmp;
    Stored stored(tmp, 600 * 1024);  // 600 blocks of 1 KiB, ~4 internal nodes
    Fixture f;
    p::NodeSession node(f.config, f.services, kNow);
    p::EngineSession engine(f.engine_config(), kNow);
    auto shuttle = [&] {
        bool moved = false;
        if (auto a = engine.poll_output(); !a.empty()) node.receive(a, kNow), moved = true;
        if (auto b = node.poll_output(); !b.empty()) engine.receive(b, kNow), moved = true;
        return moved;
    };
    while (shuttle()) {
    }
    ASSERT_TRUE(engine.ready());
    std::error_code ec;
    auto fetch = engine.open_stream("content.fetch", kNow, ec);
    auto metrics = engine.open_stream("metrics.subscribe", kNow, ec);
    ASSERT_FALSE(engine.send_message(*fetch, p::encode(p::ContentFetch{stored.root.to_string(), 0})));
    ASSERT_FALSE(engine.finish(*fetch));
    ASSERT_FALSE(engine.finish(*metrics));

    std::optional<content::DagSource> sender;
    content::Download receiver(stored.root, tmp / "out.bin", content::Limits{});
    ASSERT_FALSE(receiver.open());
    int step = 0, rounds_with_fetch_data = 0, rounds_with_both = 0;
    bool fetch_done = false, fetch_failed = false;
    for (int round = 0; round < 100000 && !fetch_done; ++round) {
        shuttle();
        while (auto e = node.poll_event()) {
            if (e->kind == Kind::message && e->stream_id == *fetch) {
                auto req = p::decode_content_fetch(e->body, ec);
                ASSERT_TRUE(req);
                sender.emplace(*stored.store, stored.root, req->skip_blocks, content::Limits{});
            }
        }
        if (sender) {
            const bool done = pump(
                *sender, [&](std::span<const std::uint8_t> m) { return node.send_message(*fetch, m); },
                [&] { return node.pending_bytes(*fetch); }, 64 * 1024, ec);
            ASSERT_FALSE(ec) << ec.message();
            if (done) {
                ASSERT_FALSE(node.finish(*fetch));
                sender.reset();
            }
        }
        // The node reports training metrics every round, whatever the fetch is doing.
        node.send_message(
            *metrics, p::encode(p::MetricsUpdate{static_cast<std::uint64_t>(++step), 1, {{"loss", 1.0}}}));
        shuttle();
        bool fetch_data = false, metrics_data = false;
        while (auto e = engine.poll_event()) {
            if (e->kind == Kind::message && e->stream_id == *fetch) {
                ASSERT_FALSE(receive(receiver, e->body));
                fetch_data = true;
            } else if (e->kind == Kind::message && e->stream_id == *metrics) {
                metrics_data = true;
            } else if (e->kind == Kind::stream_end && e->stream_id == *fetch) {
                fetch_done = true;
            } else if (e->kind == Kind::stream_reset) {
                fetch_failed = true;
            }
        }
        rounds_with_fetch_data += fetch_data;
        rounds_with_both += fetch_data && metrics_data;
    }
    ASSERT_TRUE(fetch_done);
    EXPECT_FALSE(fetch_failed);
    ASSERT_FALSE(receiver.commit());
    EXPECT_EQ(cyxp2p::test::read_file(tmp / "out.bin"), stored.data);
    EXPECT_GT(receiver.blocks_verified(), 600U);
    // The metrics stream was never starved by the bulk transfer: every round that moved file data also
    // delivered that round's metrics update.
    EXPECT_GE(rounds_with_fetch_data, 3);
    EXPECT_EQ(rounds_with_both, rounds_with_fetch_data);
}

TEST(Conversation, ReceiverRefusesATamperedBlockAndWritesNothingAtTheDestination) {
    cyxp2p::test::TempDir tmp;
    Stored stored(tmp, 8 * 1024);
    auto messages = all_messages(stored);
    ASSERT_GE(messages.size(), 3U);
    messages[2][messages[2].size() - 1] ^= 0x01;  // one bit of one leaf
    content::Download receiver(stored.root, tmp / "out.bin", content::Limits{});
    ASSERT_FALSE(receiver.open());
    std::error_code first_error;
    for (auto& m : messages) {
        if ((first_error = receive(receiver, m))) break;
    }
    EXPECT_EQ(first_error, content::errc::hash_mismatch);
    EXPECT_FALSE(std::filesystem::exists(tmp / "out.bin"));
    // Only the leaf verified before the tampered one is held for a retry (tests/content/download_test.cpp).
    EXPECT_EQ(content::Download::held_bytes(tmp / "out.bin", stored.root), 1024U);
}

// Records everything the two sides say in one scripted conversation, with the events each side saw.
struct Transcript {
    std::vector<std::vector<std::uint8_t>> to_node;  // every engine output chunk, in order
    std::vector<std::string> node_events;
};

std::string describe(const p::Event& e) {
    std::string s = p::to_string(e.kind);
    s += "/" + std::to_string(e.stream_id) + "/" + e.method + "/" + std::to_string(e.body.size());
    if (!e.body.empty()) s += "/" + std::to_string(e.body.front()) + std::to_string(e.body.back());
    if (e.error) s += "/" + e.error.message();
    return s;
}

Transcript record() {
    Fixture f;
    Transcript t;
    p::NodeSession node(f.config, f.services, kNow);
    p::EngineSession engine(f.engine_config(), kNow);
    auto pump = [&] {
        for (;;) {
            auto a = engine.poll_output();
            if (!a.empty()) {
                t.to_node.push_back(a);
                node.receive(a, kNow);
            }
            // The PONG to the node's RTT PING is left out: replayed to another node, it answers a PING that
            // node never sent (another random value), so that node rightly ignores it.
            while (auto e = node.poll_event()) {
                if (e->kind != Kind::pong) t.node_events.push_back(describe(*e));
            }
            auto b = node.poll_output();
            if (!b.empty()) engine.receive(b, kNow);
            while (engine.poll_event()) {
            }
            if (a.empty() && b.empty()) return;
        }
    };
    pump();
    std::error_code ec;
    for (int s = 0; s < 3; ++s) {
        auto id = engine.open_stream("job.submit", kNow, ec);
        std::vector<std::uint8_t> big(70'000 + static_cast<std::size_t>(s), static_cast<std::uint8_t>(s + 1));
        engine.send_message(*id, p::encode(p::JobSubmit{"job-" + std::to_string(s), {}}));
        engine.send_message(*id, big);
        engine.finish(*id);
    }
    pump();
    return t;
}

TEST(Conversation, RandomSplitsYieldTheSameEvents) {
    const Transcript reference = record();
    ASSERT_GE(reference.node_events.size(), 10U);
    std::vector<std::uint8_t> wire;
    for (const auto& chunk : reference.to_node) wire.insert(wire.end(), chunk.begin(), chunk.end());
    std::mt19937 rng(12345);
    for (int trial = 0; trial < 40; ++trial) {
        Fixture f;  // fresh nonce window: the same nonces are new to it
        p::NodeSession node(f.config, f.services, kNow);
        std::vector<std::string> events;
        std::size_t at = 0;
        while (at < wire.size()) {
            const std::size_t n =
                std::min<std::size_t>(wire.size() - at, 1 + rng() % (trial % 2 == 0 ? 7 : 5000));
            node.receive({wire.data() + at, n}, kNow);
            at += n;
            while (auto e = node.poll_event()) events.push_back(describe(*e));
            (void)node.poll_output();
        }
        ASSERT_EQ(events, reference.node_events) << "trial " << trial;
    }
}

TEST(Conversation, ByteBudgetClosesTheSession) {
    Fixture f;
    f.config.limits.max_session_bytes = 10'000;
    p::NodeSession node(f.config, f.services, kNow);
    p::EngineSession engine(f.engine_config(), kNow);
    for (int i = 0; i < 4; ++i) {
        node.receive(engine.poll_output(), kNow);
        engine.receive(node.poll_output(), kNow);
    }
    ASSERT_TRUE(engine.ready());
    std::error_code ec;
    auto id = engine.open_stream("job.submit", kNow, ec);
    engine.send_message(*id, std::vector<std::uint8_t>(6'000, 1));
    node.receive(engine.poll_output(), kNow);
    EXPECT_FALSE(node.closed());  // 6 KB of 10 KB
    engine.send_message(*id, std::vector<std::uint8_t>(6'000, 2));
    node.receive(engine.poll_output(), kNow);
    EXPECT_TRUE(node.closed());
    std::optional<p::Event> closed;
    while (auto e = node.poll_event()) {
        if (e->kind == Kind::closed) closed = e;
    }
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->error, p::errc::byte_limit);
}

TEST(Conversation, IncompleteMessagesAreBoundedPerSession) {
    Fixture f;
    f.config.limits.max_reassembly_bytes = 600'000;
    f.config.limits.initial_stream_window = 1U << 20;
    f.config.limits.initial_session_window = 8U << 20;
    p::NodeSession node(f.config, f.services, kNow);
    p::EngineSession engine(f.engine_config(), kNow);
    for (int i = 0; i < 4; ++i) {
        node.receive(engine.poll_output(), kNow);
        engine.receive(node.poll_output(), kNow);
    }
    ASSERT_TRUE(engine.ready());
    // Three streams each start a 4 MB message (the largest allowed) and send 250 KB of it: 750 KB held.
    std::error_code ec;
    std::vector<std::uint32_t> ids;
    for (int i = 0; i < 3; ++i) ids.push_back(*engine.open_stream("job.submit", kNow, ec));
    node.receive(engine.poll_output(), kNow);
    while (node.poll_event()) {
    }
    std::vector<std::uint8_t> wire;
    for (auto id : ids) {
        std::vector<std::uint8_t> part = {0x00, 0x3D, 0x09, 0x00};  // 4,000,000-byte message announced
        part.resize(250'000, 0x11);
        p::FrameEncoder enc;
        for (std::size_t at = 0; at < part.size(); at += 50'000) {
            enc.append(p::FrameType::data, 0, id,
                       {part.data() + at, std::min<std::size_t>(50'000, part.size() - at)});
        }
        auto bytes = enc.take();
        wire.insert(wire.end(), bytes.begin(), bytes.end());
    }
    node.receive(wire, kNow);
    std::vector<std::uint32_t> reset;
    while (auto e = node.poll_event()) {
        if (e->kind == Kind::stream_reset) {
            EXPECT_EQ(e->error, p::errc::message_too_large);
            reset.push_back(e->stream_id);
        }
    }
    EXPECT_EQ(reset, std::vector<std::uint32_t>{ids[2]});  // the third would take the session past 600 KB
    EXPECT_FALSE(node.closed());
}

}  // namespace
