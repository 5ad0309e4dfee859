// A malicious node against the real net::Engine. The node is built from raw pieces (a loopback acceptor,
// OpenSSL with the node's TLS context or a deliberately weaker one, frames written by hand), so it can do
// what no honest node does: corrupt one block, send blocks that are too big, too deep or repeated, keep
// sending after the DAG is complete, drip bytes, present another key, or speak TLS 1.2.
//
// Every case checks the specific error, that nothing that looks complete is left at the destination (and no
// temporary file either), and that the same Engine then fetches from an honest node without trouble.
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <support.hpp>

#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/dag_walker.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/content/unixfs.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/node.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/errc.hpp>

#include "raw_peer.hpp"

namespace net = cyxp2p::net;
namespace auth = cyxp2p::auth;
namespace pinning = cyxp2p::pinning;
namespace protocol = cyxp2p::protocol;
namespace content = cyxp2p::content;
namespace raw = cyxp2p::test::raw;
namespace wire = cyxp2p::protocol::wire;
using namespace std::chrono_literals;
using cyxp2p::test::TempDir;
using protocol::FrameType;

namespace {

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct Block {
    content::Cid cid;
    content::Bytes data;
    bool leaf = false;
};

// One connection of the malicious node, after TLS: it reads HELLO, answers HELLO_ACK, takes the engine's
// content.fetch OPEN and then serves whatever the test tells it to, honouring the engine's flow-control
// windows (so that what the engine reports is the defence under test, not a flow-control error).
class EvilNode {
  public:
    explicit EvilNode(std::unique_ptr<raw::Tls> tls) : tls_(std::move(tls)) {}

    raw::Tls& tls() { return *tls_; }

    bool read_hello() {
        auto f = tls_->next_of(FrameType::hello, raw::in(5s));
        if (!f || !hello_.ParseFromArray(f->payload.data(), static_cast<int>(f->payload.size())))
            return false;
        const protocol::SessionLimits d{};
        const auto& l = hello_.limits();
        stream_window_initial_ =
            l.initial_stream_window() ? l.initial_stream_window() : d.initial_stream_window;
        session_window_ = l.initial_session_window() ? l.initial_session_window() : d.initial_session_window;
        max_frame_ = l.max_frame_size() ? l.max_frame_size() : d.max_frame_size;
        return true;
    }

    void send_hello_ack(const std::string& node_id) {
        wire::HelloAck a;
        a.set_node_id(node_id);
        a.set_session_id("evil-session");
        a.set_token_expiry(unix_now() + 3600);
        a.set_protocol_version(1);
        a.set_node_version("evil/1");
        tls_->control(FrameType::hello_ack, 0, a);
        tls_->flush(raw::in(5s));
    }

    // The engine's OPEN and its request (one message, END_STREAM). Returns the stream id, 0 on failure.
    std::uint32_t read_fetch(std::string* cid = nullptr) {
        auto f = tls_->next_of(FrameType::open, raw::in(5s));
        if (!f) return 0;
        wire::Open o;
        o.ParseFromArray(f->payload.data(), static_cast<int>(f->payload.size()));
        if (o.method() != "content.fetch") return 0;
        stream_ = f->header.stream_id;
        stream_window_ = stream_window_initial_;
        raw::Bytes request;
        while (auto d = tls_->next_of(FrameType::data, raw::in(5s))) {
            request.insert(request.end(), d->payload.begin(), d->payload.end());
            if (d->header.flags & protocol::flags::end_stream) break;
        }
        if (request.size() < 4) return 0;
        std::error_code ec;
        auto req = protocol::decode_content_fetch(std::span(request).subspan(4), ec);
        if (!req) return 0;
        if (cid != nullptr) *cid = req->cid;
        return stream_;
    }

    // Sends `bytes` on the fetch stream in frames the engine accepts, waiting for credit. Stops (false) when
    // the engine resets the stream or the connection ends. `stream_credit` false: respect only the session
    // window (what a node that keeps talking on a stream the engine reset can still send).
    bool send(std::span<const std::uint8_t> bytes, bool end, bool stream_credit = true) {
        std::size_t off = 0;
        while (off < bytes.size() || end) {
            absorb();
            if (tls_->closed() || (stream_credit && stream_error_)) return false;
            std::int64_t credit =
                std::min<std::int64_t>(session_window_, stream_credit ? stream_window_ : session_window_);
            credit = std::min<std::int64_t>(credit, max_frame_);
            const std::size_t left = bytes.size() - off;
            if (left > 0 && credit <= 0) {
                tls_->step(raw::in(50ms));
                if (idle_since_ && raw::Clock::now() - *idle_since_ > 5s)
                    return false;  // no credit ever came
                if (!idle_since_) idle_since_ = raw::Clock::now();
                continue;
            }
            idle_since_.reset();
            const std::size_t n =
                std::min<std::size_t>(left, static_cast<std::size_t>(std::max<std::int64_t>(credit, 0)));
            const bool last = end && off + n == bytes.size();
            tls_->frame(FrameType::data, last ? protocol::flags::end_stream : 0, stream_,
                        bytes.subspan(off, n));
            off += n;
            stream_window_ -= static_cast<std::int64_t>(n);
            session_window_ -= static_cast<std::int64_t>(n);
            if (tls_->unsent() > (256U << 10)) tls_->flush(raw::in(5s));
            if (last) break;
        }
        return tls_->flush(raw::in(5s)) && !(stream_credit && stream_error_);
    }

    bool send_block(const content::Cid& cid, const content::Bytes& data, bool end = false) {
        return send(raw::message(protocol::encode(protocol::ContentBlock{cid.bytes(), data})), end);
    }

    // Processes what the engine sent: credit, PINGs (answered when answer_pings), errors.
    void absorb() {
        while (!tls_->inbox.empty()) {
            auto f = std::move(tls_->inbox.front());
            tls_->inbox.pop_front();
            const auto& h = f.header;
            if (h.type == FrameType::window_update && f.payload.size() == 4) {
                const auto inc = raw::get_u32(f.payload);
                if (h.stream_id == 0)
                    session_window_ += inc;
                else if (h.stream_id == stream_)
                    stream_window_ += inc;
            } else if (h.type == FrameType::ping && !(h.flags & protocol::flags::ack)) {
                if (answer_pings) tls_->frame(FrameType::ping, protocol::flags::ack, 0, f.payload);
                pings_seen++;
            } else if (h.type == FrameType::error) {
                if (h.stream_id == 0)
                    connection_error_ = raw::parse_error(f);
                else if (h.stream_id == stream_)
                    stream_error_ = raw::parse_error(f);
            }
        }
    }

    // Waits (reading) until the engine reset the stream, closed, or the deadline passed.
    void wait_for_reset(raw::Clock::time_point deadline) {
        while (!stream_error_ && !connection_error_ && !tls_->closed() && raw::Clock::now() < deadline) {
            tls_->step(deadline);
            absorb();
        }
    }

    const std::optional<wire::Error>& stream_error() const { return stream_error_; }
    const std::optional<wire::Error>& connection_error() const { return connection_error_; }
    bool answer_pings = true;
    int pings_seen = 0;

  private:
    std::unique_ptr<raw::Tls> tls_;
    wire::Hello hello_;
    std::uint32_t stream_ = 0;
    std::int64_t stream_window_initial_ = 0, stream_window_ = 0, session_window_ = 0, max_frame_ = 0;
    std::optional<raw::Clock::time_point> idle_since_;
    std::optional<wire::Error> stream_error_, connection_error_;
};

class HostileNode : public ::testing::Test {
  protected:
    void SetUp() override {
        std::error_code ec;
        identity_ = pinning::Identity::generate({.node_id = "node-h"}, ec);
        ASSERT_TRUE(identity_);
        key_ = auth::Jwk::generate(auth::Algorithm::eddsa, "central-1");
        auto keys = std::make_shared<auth::Keyring>();
        ASSERT_FALSE(keys->add(key_));
        // 40 KiB in 4 KiB chunks, 4 links per node: 10 leaves under a DAG of depth 2 (root, 3 inner, leaves).
        source_ = tmp_ / "model.bin";
        std::mt19937_64 rng(7);
        std::string data(40 * 1024 + 123, '\0');
        for (auto& c : data) c = static_cast<char>(rng());
        cyxp2p::test::write_file(source_, data);
        store_ = content::Blockstore::open(tmp_ / "blocks", ec);
        ASSERT_TRUE(store_) << ec.message();
        content::ImportOptions io;
        io.chunk_size = 4096;
        io.max_links = 4;
        auto imported = content::import_file(source_, io, store_->sink(source_), ec);
        ASSERT_TRUE(imported) << ec.message();
        root_ = imported->root;
        content::DagWalker walker(*store_, root_);
        while (auto b = walker.next(ec)) blocks_.push_back({b->cid, std::move(b->data), b->leaf});
        ASSERT_FALSE(ec);
        ASSERT_GT(blocks_.size(), 10U);

        net::NodeOptions o{.identity = *identity_, .keys = keys};  // NOLINT(missing-field-initializers)
        o.content = store_;
        honest_ = std::make_unique<net::Node>(std::move(o));
        ASSERT_FALSE(honest_->start());

        engine_ = std::make_unique<net::Engine>(io_.get_executor(), engine_options());
        io_thread_ = std::thread([this] { io_.run(); });
    }

    static net::EngineOptions engine_options() {
        net::EngineOptions eo;
        eo.tls_timeout = 2s;
        eo.connect_timeout = 2s;
        eo.shutdown_timeout = 500ms;
        eo.session.handshake_timeout = 2s;
        eo.session.ping_interval = 400ms;
        eo.session.ping_timeout = 400ms;
        eo.session.idle_timeout = 2s;
        eo.session.drain_timeout = 500ms;
        return eo;
    }

    void TearDown() override {
        if (honest_) honest_->stop();
        work_.reset();
        io_.stop();
        if (io_thread_.joinable()) io_thread_.join();
    }

    std::string token() {
        auth::Claims c;
        c.subject = "user-h";
        c.node_id = "node-h";
        c.session_id = "s-h";
        c.issued_at = unix_now();
        c.expires_at = c.issued_at + 3600;
        c.scope = {"content:read"};
        std::error_code ec;
        return auth::mint(c, key_, ec).value_or("");
    }

    net::ConnectOptions options(std::uint16_t port, const pinning::Identity& pinned) {
        return {.host = "127.0.0.1",
                .port = port,
                .pins = pinning::PinSet(pinned.pin()),
                .token = token(),
                .expected_node_id = "node-h",
                .report = std::make_shared<net::ConnectReport>()};
    }

    using ConnectResult = std::pair<std::error_code, std::shared_ptr<net::Connection>>;
    std::future<ConnectResult> start_connect(net::ConnectOptions o) {
        auto p = std::make_shared<std::promise<ConnectResult>>();
        auto f = p->get_future();
        engine_->async_connect(std::move(o), [p](std::error_code ec, std::shared_ptr<net::Connection> c) {
            p->set_value({ec, std::move(c)});
        });
        return f;
    }

    // Engine -> malicious node, up to a ready Connection: TLS with the node's own context, HELLO, HELLO_ACK.
    std::pair<std::unique_ptr<EvilNode>, std::shared_ptr<net::Connection>> connect_evil() {
        raw::Listener listener;
        auto ctx = pinning::make_node_context(*identity_, ec_);
        auto pending = start_connect(options(listener.port(), *identity_));
        const int fd = listener.accept(raw::in(5s));
        if (fd < 0) return {};
        auto tls = std::make_unique<raw::Tls>(ctx.get(), fd, true);
        if (!tls->handshake(raw::in(5s))) return {};
        auto evil = std::make_unique<EvilNode>(std::move(tls));
        if (!evil->read_hello()) return {};
        evil->send_hello_ack("node-h");
        if (pending.wait_for(5s) != std::future_status::ready) return {};
        auto [ec, conn] = pending.get();
        EXPECT_FALSE(ec) << ec.message();
        return {std::move(evil), conn};
    }

    using FetchFuture = std::future<std::tuple<std::error_code, net::FetchResult>>;
    FetchFuture fetch(const std::shared_ptr<net::Connection>& c, const content::Cid& root,
                      const std::filesystem::path& dest, std::uint64_t* progress = nullptr) {
        return c->async_fetch(
            root.to_string(), dest,
            [progress](std::uint64_t done, std::uint64_t) {
                if (progress != nullptr) *progress = done;
            },
            boost::asio::use_future);
    }

    static std::error_code result(FetchFuture& f, std::chrono::milliseconds wait = 10s) {
        if (f.wait_for(wait) != std::future_status::ready) return std::make_error_code(std::errc::timed_out);
        return std::get<0>(f.get());
    }

    // Nothing at the destination and no temporary file beside it.
    void expect_nothing_written(const std::filesystem::path& dest) {
        EXPECT_FALSE(std::filesystem::exists(dest)) << dest;
        for (const auto& e : std::filesystem::directory_iterator(dest.parent_path())) {
            EXPECT_EQ(e.path().filename().string().find(".part"), std::string::npos)
                << "left behind: " << e.path();
        }
    }

    // The same engine then fetches the whole file from an honest node.
    void expect_honest_fetch_works() {
        auto pending = start_connect(options(honest_->local_port(), *identity_));
        ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
        auto [ec, conn] = pending.get();
        ASSERT_FALSE(ec) << ec.message();
        const auto dest = out_dir() / ("honest-" + std::to_string(++honest_fetches_) + ".bin");
        auto f = fetch(conn, root_, dest);
        const auto fec = result(f);
        ASSERT_FALSE(fec) << "honest fetch after the attack: " << fec.message();
        EXPECT_EQ(cyxp2p::test::read_file(dest), cyxp2p::test::read_file(source_));
    }

    std::filesystem::path out_dir() {
        std::filesystem::create_directories(out_);
        return out_;
    }

    TempDir tmp_;
    std::filesystem::path out_ = tmp_ / "out";
    std::error_code ec_;
    std::optional<pinning::Identity> identity_;
    auth::Jwk key_ = auth::Jwk::generate(auth::Algorithm::eddsa, "unused");
    std::filesystem::path source_;
    std::optional<content::Blockstore> store_;
    content::Cid root_ = content::Cid::v0({});
    std::vector<Block> blocks_;  // the DAG in DFS pre-order, as an honest node sends it
    std::unique_ptr<net::Node> honest_;
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
        boost::asio::make_work_guard(io_);
    std::unique_ptr<net::Engine> engine_;
    std::thread io_thread_;
    int honest_fetches_ = 0;
};

// Builds a chain root -> n1 -> ... -> leaf of `internal` dag-pb File nodes above one leaf, every blocksizes
// and filesize consistent, so only the depth is wrong. Returned root first (the order the engine wants).
std::vector<Block> deep_chain(std::size_t internal) {
    std::vector<Block> rev;
    std::string leaf_data = "x";
    content::Bytes leaf;
    content::encode_file_leaf(leaf_data, leaf);
    rev.push_back({content::Cid::of_block(0, content::Codec::dag_pb, leaf), leaf, true});
    for (std::size_t i = 0; i < internal; ++i) {
        const std::uint64_t size = 1;
        content::Bytes unixfs;
        content::encode_file_node_data(size, std::span(&size, 1), unixfs);
        content::PbNode node;
        node.links.push_back({rev.back().cid, std::string_view(), rev.back().data.size()});
        node.data = content::ByteView(unixfs);
        content::Bytes block;
        content::encode_dag_pb(node, block);
        rev.push_back({content::Cid::of_block(0, content::Codec::dag_pb, block), block, false});
    }
    return {rev.rbegin(), rev.rend()};
}

TEST_F(HostileNode, WrongBytesInOneBlockFailTheFetchAndLeaveNothing) {
    auto [evil, conn] = connect_evil();
    ASSERT_TRUE(evil && conn);
    const auto dest = out_dir() / "model.bin";
    std::uint64_t verified = 0;
    auto f = fetch(conn, root_, dest, &verified);
    ASSERT_EQ(evil->read_fetch(), 1U);
    // Every block as the honest DAG has it, except that the 6th leaf has one flipped byte (its CID
    // unchanged).
    int leaves = 0;
    bool corrupted = false;
    for (const auto& b : blocks_) {
        auto data = b.data;
        if (b.leaf && ++leaves == 6) {
            data[data.size() / 2] ^= 0x01;
            corrupted = true;
        }
        if (!evil->send_block(b.cid, data)) break;
    }
    ASSERT_TRUE(corrupted);
    evil->send({}, true);
    EXPECT_EQ(result(f), content::errc::hash_mismatch);
    evil->wait_for_reset(raw::in(5s));
    ASSERT_TRUE(evil->stream_error());
    EXPECT_EQ(evil->stream_error()->code(), static_cast<std::uint32_t>(protocol::errc::content_mismatch));
    EXPECT_GE(verified, 5U * 4096U);  // five good leaves reached the temporary file before the bad one...
    expect_nothing_written(dest);     // ...and it is gone
    expect_honest_fetch_works();
}

TEST_F(HostileNode, OversizedBlockIsRefused) {
    // A raw block one byte over the 2 MiB cap, named by its true CID: only the size is wrong.
    content::Bytes big(content::Limits{}.max_block_size + 1, 0x5A);
    const auto cid = content::Cid::of_block(1, content::Codec::raw, big);
    auto [evil, conn] = connect_evil();
    ASSERT_TRUE(evil && conn);
    const auto dest = out_dir() / "big.bin";
    auto f = fetch(conn, cid, dest);
    ASSERT_EQ(evil->read_fetch(), 1U);
    evil->send_block(cid, big, true);
    EXPECT_EQ(result(f), content::errc::block_too_large);
    expect_nothing_written(dest);
    expect_honest_fetch_works();
}

TEST_F(HostileNode, MessageAboveTheEngineLimitIsRefusedOnItsPrefix) {
    auto [evil, conn] = connect_evil();
    ASSERT_TRUE(evil && conn);
    const auto dest = out_dir() / "huge.bin";
    auto f = fetch(conn, root_, dest);
    ASSERT_EQ(evil->read_fetch(), 1U);
    // A message announcing 64 MiB: the engine must refuse on the 4-byte prefix, before buffering any of it.
    evil->send(raw::u32(64U << 20), false);
    evil->send(content::Bytes(1024, 0), false);
    EXPECT_EQ(result(f), protocol::errc::message_too_large);
    evil->wait_for_reset(raw::in(5s));
    ASSERT_TRUE(evil->stream_error());
    EXPECT_EQ(evil->stream_error()->code(), static_cast<std::uint32_t>(protocol::errc::message_too_large));
    expect_nothing_written(dest);
    expect_honest_fetch_works();
}

TEST_F(HostileNode, OverDeepChainIsRefused) {
    // 33 internal nodes above a leaf: the node at depth 32 has a child at depth 33, one more than allowed.
    const auto chain = deep_chain(content::Limits{}.max_depth + 1);
    auto [evil, conn] = connect_evil();
    ASSERT_TRUE(evil && conn);
    const auto dest = out_dir() / "deep.bin";
    auto f = fetch(conn, chain.front().cid, dest);
    ASSERT_EQ(evil->read_fetch(), 1U);
    for (const auto& b : chain) {
        if (!evil->send_block(b.cid, b.data)) break;
    }
    evil->send({}, true);
    EXPECT_EQ(result(f), content::errc::too_deep);
    expect_nothing_written(dest);
    expect_honest_fetch_works();
}

TEST_F(HostileNode, ChainAtTheDepthLimitStillVerifies) {
    // The control for the case above: 32 internal nodes is allowed, so the limit is exactly where documented.
    const auto chain = deep_chain(content::Limits{}.max_depth);
    auto [evil, conn] = connect_evil();
    ASSERT_TRUE(evil && conn);
    const auto dest = out_dir() / "deep-ok.bin";
    auto f = fetch(conn, chain.front().cid, dest);
    ASSERT_EQ(evil->read_fetch(), 1U);
    for (const auto& b : chain) ASSERT_TRUE(evil->send_block(b.cid, b.data));
    evil->send({}, true);
    EXPECT_FALSE(result(f));
    EXPECT_EQ(cyxp2p::test::read_file(dest), "x");
}

// A true cycle cannot be expressed: a block would have to contain the SHA-256 of a block that contains it.
// What a node can do is send an already verified block again to make the engine walk it twice; the
// verifier takes only the CID its verified parent named next.
TEST_F(HostileNode, RepeatedBlockInsteadOfTheNextOneIsRefused) {
    auto [evil, conn] = connect_evil();
    ASSERT_TRUE(evil && conn);
    const auto dest = out_dir() / "loop.bin";
    auto f = fetch(conn, root_, dest);
    ASSERT_EQ(evil->read_fetch(), 1U);
    evil->send_block(blocks_[0].cid, blocks_[0].data);  // the root
    evil->send_block(blocks_[1].cid, blocks_[1].data);  // its first child
    evil->send_block(blocks_[0].cid, blocks_[0].data);  // the root again, in place of the next block
    EXPECT_EQ(result(f), content::errc::unexpected_block);
    expect_nothing_written(dest);

    // Same again without the claimed CID helping: a verified block's bytes sent under the expected CID.
    auto [evil2, conn2] = connect_evil();
    ASSERT_TRUE(evil2 && conn2);
    auto f2 = fetch(conn2, root_, dest);
    ASSERT_EQ(evil2->read_fetch(), 1U);
    evil2->send_block(blocks_[0].cid, blocks_[0].data);
    evil2->send_block(blocks_[1].cid, blocks_[0].data);
    EXPECT_EQ(result(f2), content::errc::hash_mismatch);
    expect_nothing_written(dest);
    expect_honest_fetch_works();
}

TEST_F(HostileNode, EndlessStreamAfterTheDagIsRefusedWithBoundedMemory) {
    auto [evil, conn] = connect_evil();
    ASSERT_TRUE(evil && conn);
    const auto dest = out_dir() / "endless.bin";
    auto f = fetch(conn, root_, dest);
    ASSERT_EQ(evil->read_fetch(), 1U);
    for (const auto& b : blocks_) ASSERT_TRUE(evil->send_block(b.cid, b.data));
    // The DAG is complete; the node does not end the stream but keeps sending blocks.
    evil->send_block(blocks_.back().cid, blocks_.back().data);
    EXPECT_EQ(result(f), content::errc::extra_block);
    evil->wait_for_reset(raw::in(5s));
    ASSERT_TRUE(evil->stream_error());
    expect_nothing_written(dest);

    // It keeps going on the stream the engine reset: 64 MiB, sent as fast as the session window allows. The
    // engine drops it (handing session credit back) and its memory does not grow with it.
#if defined(__SANITIZE_ADDRESS__)
    // ASan's quarantine keeps freed memory resident (256 MiB by default): RSS says nothing under it.
    const bool measured = false;
#else
    const bool measured = raw::reset_peak_rss();
#endif
    const long before = raw::peak_rss_kib();
    const content::Bytes chunk(256U << 10, 0xEE);
    std::size_t sent = 0;
    for (; sent < (64U << 20); sent += chunk.size()) {
        if (!evil->send(chunk, false, /*stream_credit=*/false)) break;
    }
    EXPECT_EQ(sent, 64U << 20) << "the engine stopped taking DATA on a reset stream";
    EXPECT_FALSE(evil->tls().closed());
    EXPECT_FALSE(evil->connection_error());
    if (measured && before > 0) {
        const long grown = raw::peak_rss_kib() - before;
        // Documented bound (docs/threat-model.md): a reset stream costs the engine nothing per byte; 16 MiB
        // covers allocator noise and the sanitizer runtime, and is a quarter of what was sent.
        EXPECT_LT(grown, 16 * 1024) << "peak RSS grew by " << grown << " KiB while the node sent 64 MiB";
    }
    // The connection itself still works.
    auto ping = conn->async_ping(boost::asio::use_future);
    for (auto deadline = raw::in(5s);
         ping.wait_for(10ms) != std::future_status::ready && raw::Clock::now() < deadline;) {
        evil->tls().step(raw::in(10ms));
        evil->absorb();
    }
    ASSERT_EQ(ping.wait_for(0s), std::future_status::ready);
    EXPECT_FALSE(std::get<0>(ping.get()));
    expect_honest_fetch_works();
}

TEST_F(HostileNode, SlowDripEndsAtThePingDeadline) {
    auto [evil, conn] = connect_evil();
    ASSERT_TRUE(evil && conn);
    evil->answer_pings = false;
    const auto dest = out_dir() / "drip.bin";
    auto f = fetch(conn, root_, dest);
    ASSERT_EQ(evil->read_fetch(), 1U);
    // The first block's frame, one byte per second: about one byte per second, far below any sane rate, and
    // the node does not answer PING. Engine limits: ping after 400 ms of silence, PONG within 400 ms.
    protocol::FrameEncoder enc;
    const auto msg =
        raw::message(protocol::encode(protocol::ContentBlock{blocks_[0].cid.bytes(), blocks_[0].data}));
    enc.append(FrameType::data, 0, 1, msg);
    const auto bytes = enc.take();
    const auto t0 = raw::Clock::now();
    std::size_t dripped = 0;
    for (; dripped < bytes.size() && !evil->tls().closed(); ++dripped) {
        evil->tls().raw(std::span(bytes).subspan(dripped, 1));
        evil->tls().flush(raw::in(1s));
        evil->tls().wait_closed(raw::in(1s));  // the gap between two bytes: the engine's deadline or ours
        evil->absorb();
    }
    EXPECT_EQ(result(f), protocol::errc::ping_timeout);
    EXPECT_LT(raw::Clock::now() - t0, 3s);
    EXPECT_LE(dripped, 2U);
    EXPECT_GE(evil->pings_seen, 1);
    expect_nothing_written(dest);
    expect_honest_fetch_works();
}

// A node that drips a byte every 100 ms is never silent long enough for the engine's keepalive to fire, and
// it answers every PING. The stall rule ends it (docs/protocol.md section 6): 10 B/s is below the engine's
// min_stream_rate over its stall_window, so the fetch fails with `stalled`, leaving nothing behind.
TEST_F(HostileNode, SlowDripThatNeverFallsSilentIsStalled) {
    // The audit sink sees the rate the stall rule measured (the error code alone cannot carry it).
    struct Audit final : net::AuditSink {
        void record(const net::AuditEvent& e) override {
            std::lock_guard lock(mutex);
            if (e.result == "stalled") stalled.push_back(e.detail);
        }
        std::mutex mutex;
        std::vector<std::string> stalled;
    };
    auto audit = std::make_shared<Audit>();
    net::EngineOptions eo = engine_options();
    eo.session.stall_window = 1s;
    eo.session.min_stream_rate = 1024;
    eo.audit = audit;
    engine_ = std::make_unique<net::Engine>(io_.get_executor(), eo);
    auto [evil, conn] = connect_evil();
    ASSERT_TRUE(evil && conn);
    const auto dest = out_dir() / "drip2.bin";
    auto f = fetch(conn, root_, dest);
    ASSERT_EQ(evil->read_fetch(), 1U);
    protocol::FrameEncoder enc;
    enc.append(
        FrameType::data, 0, 1,
        raw::message(protocol::encode(protocol::ContentBlock{blocks_[0].cid.bytes(), blocks_[0].data})));
    const auto bytes = enc.take();
    std::size_t dripped = 0;
    const auto t0 = raw::Clock::now();
    while (f.wait_for(0s) != std::future_status::ready && raw::Clock::now() - t0 < 10s &&
           !evil->tls().closed() && dripped < bytes.size()) {
        evil->tls().raw(std::span(bytes).subspan(dripped++, 1));
        const auto next = raw::in(100ms);
        while (raw::Clock::now() < next && !evil->tls().closed()) {
            evil->tls().step(next);
            evil->absorb();
        }
    }
    EXPECT_EQ(result(f, 2s), protocol::errc::stalled);
    {
        std::lock_guard lock(audit->mutex);
        ASSERT_EQ(audit->stalled.size(), 1U);
        EXPECT_NE(audit->stalled[0].find("B/s), below min_stream_rate 1024 B/s"), std::string::npos)
            << audit->stalled[0];
    }
    EXPECT_LT(dripped, 40U);  // one stall window (1 s: 10 bytes) and a margin for a loaded machine
    expect_nothing_written(dest);
    expect_honest_fetch_works();
}

TEST_F(HostileNode, DifferentCertificateIsAPinMismatchAndNoTokenLeaves) {
    std::error_code ec;
    auto impostor = pinning::Identity::generate({.node_id = "node-h"}, ec);
    ASSERT_TRUE(impostor);
    auto ctx = pinning::make_node_context(*impostor, ec);
    raw::Listener listener;
    auto o = options(listener.port(), *identity_);
    auto report = o.report;
    auto pending = start_connect(std::move(o));
    const int fd = listener.accept(raw::in(5s));
    ASSERT_GE(fd, 0);
    raw::Tls tls(ctx.get(), fd, true);
    EXPECT_FALSE(tls.handshake(raw::in(5s)));  // the engine aborts with an alert
    tls.wait_closed(raw::in(5s));
    EXPECT_EQ(tls.received(), 0U);  // no HELLO, so no token, ever reached the impostor
    ASSERT_EQ(pending.wait_for(5s), std::future_status::ready);
    auto [cec, conn] = pending.get();
    EXPECT_EQ(cec, pinning::errc::pin_mismatch);
    EXPECT_FALSE(conn);
    EXPECT_EQ(report->failed_phase, "tls");
    EXPECT_NE(report->pin_check.find(impostor->pin().to_string()), std::string::npos) << report->pin_check;
    expect_honest_fetch_works();
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
    static const unsigned char wire_alpn[] =
        "\x09"
        "cyx-p2p/1";
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, wire_alpn, sizeof wire_alpn - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

TEST_F(HostileNode, Tls12OnlyNodeIsRefused) {
    // The right key and ALPN, but TLS 1.2 at most: the engine offers only 1.3.
    pinning::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    ASSERT_EQ(SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION), 1);
    ASSERT_EQ(SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION), 1);
    ASSERT_EQ(SSL_CTX_use_certificate(ctx.get(), identity_->certificate()), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), identity_->private_key()), 1);
    SSL_CTX_set_alpn_select_cb(ctx.get(), select_alpn, nullptr);
    raw::Listener listener;
    auto o = options(listener.port(), *identity_);
    auto report = o.report;
    auto pending = start_connect(std::move(o));
    const int fd = listener.accept(raw::in(5s));
    ASSERT_GE(fd, 0);
    raw::Tls tls(ctx.get(), fd, true);
    EXPECT_FALSE(tls.handshake(raw::in(5s)));
    tls.wait_closed(raw::in(5s));
    EXPECT_EQ(tls.received(), 0U);
    ASSERT_EQ(pending.wait_for(5s), std::future_status::ready);
    auto [cec, conn] = pending.get();
    EXPECT_EQ(cec, pinning::errc::not_tls13) << cec.message();
    EXPECT_FALSE(conn);
    EXPECT_EQ(report->failed_phase, "tls");
    expect_honest_fetch_works();
}

TEST_F(HostileNode, NodeWithoutAlpnIsRefused) {
    // TLS 1.3 and the pinned key, but the node ignores ALPN (a generic TLS server on the node's port).
    pinning::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    ASSERT_EQ(SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION), 1);
    ASSERT_EQ(SSL_CTX_use_certificate(ctx.get(), identity_->certificate()), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), identity_->private_key()), 1);
    raw::Listener listener;
    auto pending = start_connect(options(listener.port(), *identity_));
    const int fd = listener.accept(raw::in(5s));
    ASSERT_GE(fd, 0);
    raw::Tls tls(ctx.get(), fd, true);
    tls.handshake(raw::in(5s));
    tls.wait_closed(raw::in(5s));
    EXPECT_EQ(tls.received(), 0U);  // no HELLO over a link without the protocol's ALPN
    ASSERT_EQ(pending.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(pending.get().first, pinning::errc::alpn_mismatch);
    expect_honest_fetch_works();
}

TEST_F(HostileNode, NodeClosingBeforeTlsIsDiagnosedAsLimiting) {
    // What a node at its connection limits does: accept, read the ClientHello or not, close before any
    // ServerHello. Closed (FIN) and reset (RST, SO_LINGER 0) alike: "may be overloaded or limiting", not a
    // TLS failure.
    for (const bool reset : {false, true}) {
        SCOPED_TRACE(reset ? "reset" : "closed");
        raw::Listener listener;
        auto o = options(listener.port(), *identity_);
        auto report = o.report;
        auto pending = start_connect(std::move(o));
        const int fd = listener.accept(raw::in(5s));
        ASSERT_GE(fd, 0);
        pollfd p{fd, POLLIN, 0};
        ASSERT_EQ(::poll(&p, 1, 5000), 1);  // the ClientHello is there; the node does not answer it
        if (reset) {
            const linger hard{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        }
        ::close(fd);
        ASSERT_EQ(pending.wait_for(5s), std::future_status::ready);
        auto [ec, conn] = pending.get();
        EXPECT_EQ(ec, net::errc::connection_refused_by_limit) << ec.message();
        EXPECT_NE(ec.message().find("closed the connection before TLS"), std::string::npos) << ec.message();
        EXPECT_NE(ec.message().find("overloaded or limiting connections"), std::string::npos) << ec.message();
        EXPECT_FALSE(conn);
        EXPECT_EQ(report->failed_phase, "tls");
    }
    expect_honest_fetch_works();
}

TEST_F(HostileNode, WrongNodeIdInHelloAckIsRefused) {
    raw::Listener listener;
    auto ctx = pinning::make_node_context(*identity_, ec_);
    auto pending = start_connect(options(listener.port(), *identity_));
    const int fd = listener.accept(raw::in(5s));
    ASSERT_GE(fd, 0);
    auto tls = std::make_unique<raw::Tls>(ctx.get(), fd, true);
    ASSERT_TRUE(tls->handshake(raw::in(5s)));
    EvilNode evil(std::move(tls));
    ASSERT_TRUE(evil.read_hello());
    evil.send_hello_ack("node-other");
    ASSERT_EQ(pending.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(pending.get().first, protocol::errc::wrong_node);
    expect_honest_fetch_works();
}

// Found by the oversized-block case: the engine decoded content blocks under the generic 1 MiB body limit,
// so an honest DAG with 1 MiB chunks (the unixfs-v1-2025 profile) could not be fetched at all.
TEST_F(HostileNode, HonestOneMiBChunksFetch) {
    std::error_code ec;
    const auto big = tmp_ / "big-model.bin";
    std::string data(2 * 1024 * 1024 + 777, '\0');
    std::mt19937_64 rng(11);
    for (auto& c : data) c = static_cast<char>(rng());
    cyxp2p::test::write_file(big, data);
    auto profile = content::ImportOptions::profile("unixfs-v1-2025", ec);
    ASSERT_TRUE(profile);
    auto imported = content::import_file(big, *profile, store_->sink(big), ec);
    ASSERT_TRUE(imported) << ec.message();
    auto pending = start_connect(options(honest_->local_port(), *identity_));
    ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
    auto [cec, conn] = pending.get();
    ASSERT_FALSE(cec);
    const auto dest = out_dir() / "big.bin";
    auto f = fetch(conn, imported->root, dest);
    const auto fec = result(f);
    ASSERT_FALSE(fec) << fec.message();
    EXPECT_EQ(cyxp2p::test::read_file(dest), data);
}

}  // namespace
