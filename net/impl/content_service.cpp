// The content service: content.fetch served from the node's block store (docs/protocol.md, content.fetch).
//
// Send path (docs/net.md, "Content send path"): a fetch's blocks are read, re-hashed where the store
// requires it and encoded on the node's reader pool, up to NodeOptions::content_read_ahead bytes ahead of
// the session's queue; the connection's strand only moves ready messages into the session (up to
// SessionLimits::producer_high_water queued), frames and encrypts them. The walk itself (DagSource) is
// touched by one pool job at a time and never by the strand, so it needs no lock.
#include <deque>
#include <utility>

#include <cyxp2p/content/dag_source.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/net/impl/node_impl.hpp>
#include <cyxp2p/protocol/body.hpp>

namespace cyxp2p::net {

// What one read job hands back to the strand. Its bytes count in send_buffered_bytes from the read until
// they move into the stream's read-ahead, or until the batch is dropped with its connection.
struct Node::Impl::ReadBatch {
    explicit ReadBatch(Impl& n) : node(n) {}
    ~ReadBatch() { node.metrics.send_buffered(-static_cast<std::int64_t>(bytes)); }
    ReadBatch(const ReadBatch&) = delete;
    ReadBatch& operator=(const ReadBatch&) = delete;
    Impl& node;
    std::deque<FetchState::Ready> messages;  // in walk order
    std::size_t bytes = 0;                   // of the encoded messages
    bool walk_over = false;
    std::error_code error;
};

void Node::Impl::install_content_fetch() {
    MethodHandlers h;
    // One request message per stream; a second one is a protocol misuse. The producer lives in the stream's
    // own state: handlers run on every I/O thread at once.
    h.on_message = [this](const StreamPtr& stream, std::vector<std::uint8_t> message) {
        if (stream->has_state())
            return (void)stream->fail(protocol::errc::bad_message, "content.fetch takes one request message");
        std::error_code ec;
        auto req = protocol::decode_content_fetch(message, ec);
        if (!req) return (void)stream->fail(protocol::errc::bad_message, "content.fetch: malformed request");
        auto root = content::Cid::parse(req->cid, ec);
        if (!root)
            return (void)stream->fail(protocol::errc::bad_message, "content.fetch: not a CID: " + req->cid);
        if (!options.content->has(*root)) {
            return (void)stream->fail(protocol::errc::content_not_found, "this node has no " + req->cid);
        }
        // content::DagSource owns the walk: DFS pre-order, the resuming engine's held leaves left out (the
        // same definition of "leaf" its Download counts with), limits from the store's configuration.
        stream->emplace_state<FetchState>(*this);
        auto fetch = stream->shared_state<FetchState>();
        fetch->source = std::make_shared<content::DagSource>(*options.content, *root, req->skip_blocks,
                                                             options.content->limits());
        fetch->cid = req->cid;
        fetch->started = options.clock->monotonic();
        auto weak = std::weak_ptr<ServerStream>(stream);
        stream->on_writable([this, fetch, weak] {
            if (auto s = weak.lock()) pump_fetch(s, fetch);
        });
    };
    // A transfer still open when its stream ends (reset, drain timeout, shutdown, peer gone) is audited as
    // aborted: the engine did not get the whole file. A finished or failed one was audited already.
    h.on_close = [this](const StreamPtr& stream, const StreamEnd&) {
        if (stream->state_if<FetchState>() != nullptr) fetch_aborted(*stream);
    };
    methods["content.fetch"] = MethodEntry{"content:read", std::move(h)};
}

void Node::Impl::pump_fetch(const StreamPtr& stream, const std::shared_ptr<FetchState>& fetch) {
    ServerStream& s = *stream;
    if (fetch->ended || s.closed()) return;
    // Ready messages go into the session's queue up to its high-water mark; the rest wait here, already
    // read and encoded, for the next wake-up.
    std::error_code wec;
    while (!wec && !fetch->ready.empty() && s.pending_bytes() < options.session.producer_high_water) {
        // The session copies the message into its queue: the gauge moves from read-ahead to queued at once.
        auto& r = fetch->ready.front();
        fetch->ready_bytes -= r.message.size();
        metrics.send_buffered(-static_cast<std::int64_t>(r.message.size()));
        wec = s.send(r.message);
        if (!wec) {
            fetch->bytes += r.block_bytes;
            ++metrics.content_blocks_served;
            metrics.content_bytes_served += r.block_bytes;
        }
        fetch->ready.pop_front();
    }
    if (wec) return;  // the stream or session is gone: nothing to tell anyone
    if (fetch->ready.empty() && !fetch->reading) {
        if (fetch->read_error) {
            // Deliver what verified before the bad block first: the reset drops the stream's queue, and the
            // engine keeps (and resumes from) only what reached it. The link calls back before every write.
            if (s.pending_bytes() > 0) return;
            return fetch_failed(s, *fetch);
        }
        if (fetch->walk_over) {
            audit({.kind = AuditEvent::Kind::content_served,
                   .peer = s.peer(),
                   .subject = s.claims().subject,
                   .method = s.method(),
                   .result = "ok",
                   .detail = fetch->cid,
                   .value = static_cast<std::int64_t>(fetch->bytes)});
            fetch->ended = true;
            metrics.fetch_duration.observe(options.clock->monotonic() - fetch->started);
            (void)s.finish();
            return;
        }
    }
    if (!fetch->reading && !fetch->walk_over && !fetch->read_error &&
        fetch->ready_bytes < options.content_read_ahead) {
        start_read(stream, fetch);
    }
}

void Node::Impl::start_read(const StreamPtr& stream, const std::shared_ptr<FetchState>& fetch) {
    fetch->reading = true;
    const std::size_t budget = options.content_read_ahead - fetch->ready_bytes;
    auto weak = std::weak_ptr<ServerStream>(stream);
    detail::asio::post(*readers, [this, fetch, weak, budget] {
        auto batch = std::make_shared<ReadBatch>(*this);
        // Reads whole blocks until `budget` is covered: at most one block over it.
        while (batch->bytes < budget) {
            auto block = fetch->source->next(batch->error);
            if (batch->error) break;
            if (!block) {
                batch->walk_over = true;
                break;
            }
            const std::size_t block_bytes = block->data.size();
            auto m = protocol::encode(protocol::ContentBlock{block->cid.bytes(), std::move(block->data)});
            metrics.send_buffered(static_cast<std::int64_t>(m.size()));
            batch->bytes += m.size();
            batch->messages.push_back({std::move(m), block_bytes});
        }
        auto s = weak.lock();
        if (!s) return;
        // Back on the connection's strand (dropped, with the batch, if the connection is gone).
        s->post([this, fetch, weak, batch] {
            auto alive = weak.lock();
            fetch->reading = false;
            if (!alive || alive->closed() || fetch->ended) return;
            for (auto& m : batch->messages) fetch->ready.push_back(std::move(m));
            fetch->ready_bytes += batch->bytes;
            batch->bytes = 0;  // the stream's read-ahead counts them now
            fetch->walk_over = batch->walk_over;
            fetch->read_error = batch->error;
            pump_fetch(alive, fetch);
        });
    });
}

void Node::Impl::fetch_failed(ServerStream& s, FetchState& fetch) {
    const auto& wec = fetch.read_error;
    // Every block is checked as it leaves the store (a copy re-hashed; a by-reference leaf re-hashed once
    // its file's identity changed): a corrupted or changed copy is refused here, and the engine is told it
    // is a content mismatch, not a transport fault.
    const bool corrupt = wec == content::errc::hash_mismatch || wec == content::errc::source_changed;
    audit({.kind = AuditEvent::Kind::content_served,
           .peer = s.peer(),
           .subject = s.claims().subject,
           .method = s.method(),
           .result = corrupt ? "corrupt" : "failed",
           .detail = fetch.cid + ": " + wec.message()});
    fetch.ended = true;
    metrics.fetch_duration.observe(options.clock->monotonic() - fetch.started);
    (void)s.fail(corrupt ? protocol::errc::content_mismatch : protocol::errc::internal,
                 (corrupt ? "this node's copy of " + fetch.cid + " does not match its CID: "
                          : std::string("stored content unreadable: ")) +
                     wec.message());
}

void Node::Impl::fetch_aborted(ServerStream& s) {
    auto* f = s.state_if<FetchState>();
    metrics.send_buffered(-static_cast<std::int64_t>(f->ready_bytes));
    f->ready.clear();
    f->ready_bytes = 0;
    if (f->ended) return;
    f->ended = true;
    audit({.kind = AuditEvent::Kind::content_served,
           .peer = s.peer(),
           .subject = s.claims().subject,
           .method = s.method(),
           .result = "aborted",
           .detail = f->cid + ": the stream ended before the transfer finished (reset, drain timeout or "
                              "connection lost)",
           .value = static_cast<std::int64_t>(f->bytes)});
}

}  // namespace cyxp2p::net
