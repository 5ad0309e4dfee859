// The content service: content.fetch served from the node's block store (docs/protocol.md, content.fetch).
#include <cyxp2p/content/dag_source.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/net/impl/node_impl.hpp>
#include <cyxp2p/protocol/body.hpp>

namespace cyxp2p::net {

void Node::Impl::install_content_fetch() {
    MethodHandlers h;
    // One request message per stream; a second one is a protocol misuse. The sender lives in the stream's
    // own state: handlers run on every I/O thread at once.
    h.on_message = [this](const StreamPtr& stream, std::vector<std::uint8_t> message) {
        if (stream->state())
            return stream->fail(protocol::errc::bad_message, "content.fetch takes one request message");
        std::error_code ec;
        auto req = protocol::decode_content_fetch(message, ec);
        if (!req) return stream->fail(protocol::errc::bad_message, "content.fetch: malformed request");
        auto root = content::Cid::parse(req->cid, ec);
        if (!root) return stream->fail(protocol::errc::bad_message, "content.fetch: not a CID: " + req->cid);
        if (!options.content->has(*root)) {
            return stream->fail(protocol::errc::content_not_found, "this node has no " + req->cid);
        }
        // content::DagSource owns the walk: DFS pre-order, the resuming engine's held leaves left out (the
        // same definition of "leaf" its Download counts with), limits from the store's configuration.
        auto fetch = std::make_shared<FetchState>(
            FetchState{std::make_shared<content::DagSource>(*options.content, *root, req->skip_blocks,
                                                            options.content->limits()),
                       req->cid, options.clock->monotonic()});
        auto source = fetch->source;
        stream->state() = fetch;
        auto weak = std::weak_ptr<ServerStream>(stream);
        std::string cid_text = req->cid;
        stream->on_writable([this, source, fetch, weak, cid_text] {
            auto s = weak.lock();
            if (!s) return;
            std::error_code wec;
            const auto before = source->bytes();
            const auto blocks_before = source->blocks();
            bool done = false;
            // Queue at most ~SessionLimits::producer_high_water bytes per wake-up, so a large DAG never sits
            // in memory.
            while (!wec && s->pending_bytes() < options.session.producer_high_water) {
                auto block = source->next(wec);
                if (wec) break;
                if (!block) {
                    done = true;
                    break;
                }
                wec = s->send(
                    protocol::encode(protocol::ContentBlock{block->cid.bytes(), std::move(block->data)}));
            }
            metrics.content_blocks_served += source->blocks() - blocks_before;
            metrics.content_bytes_served += source->bytes() - before;
            if (wec) {
                // Every block is checked as it leaves the store (a copy re-hashed; a by-reference leaf
                // re-hashed once its file's identity changed): a corrupted or changed copy is refused here,
                // and the engine is told it is a content mismatch, not a transport fault.
                const bool corrupt =
                    wec == content::errc::hash_mismatch || wec == content::errc::source_changed;
                audit({.kind = AuditEvent::Kind::content_served,
                       .peer = s->peer(),
                       .subject = s->claims().subject,
                       .method = s->method(),
                       .result = corrupt ? "corrupt" : "failed",
                       .detail = cid_text + ": " + wec.message()});
                fetch->ended = true;
                metrics.fetch_duration.observe(options.clock->monotonic() - fetch->started);
                s->fail(corrupt ? protocol::errc::content_mismatch : protocol::errc::internal,
                        (corrupt ? "this node's copy of " + cid_text + " does not match its CID: "
                                 : std::string("stored content unreadable: ")) +
                            wec.message());
            } else if (done) {
                audit({.kind = AuditEvent::Kind::content_served,
                       .peer = s->peer(),
                       .subject = s->claims().subject,
                       .method = s->method(),
                       .result = "ok",
                       .detail = cid_text,
                       .value = static_cast<std::int64_t>(source->bytes())});
                fetch->ended = true;
                metrics.fetch_duration.observe(options.clock->monotonic() - fetch->started);
                s->finish();
            }
        });
    };
    methods["content.fetch"] = MethodEntry{"content:read", std::move(h)};
}

void Node::Impl::fetch_aborted(ServerStream& s) {
    auto f = std::static_pointer_cast<FetchState>(s.state());
    if (f->ended) return;
    f->ended = true;
    audit({.kind = AuditEvent::Kind::content_served,
           .peer = s.peer(),
           .subject = s.claims().subject,
           .method = s.method(),
           .result = "aborted",
           .detail = f->cid + ": the stream ended before the transfer finished (reset, drain timeout or "
                              "connection lost)",
           .value = static_cast<std::int64_t>(f->source->bytes())});
}

}  // namespace cyxp2p::net
