// Connection and ClientStream operations: request, fetch, reauth, ping, close, subscribe and streams. Each
// hops onto the connection's strand and drives the EngineLink there.
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/download.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/impl/engine_link.hpp>
#include <cyxp2p/protocol/body.hpp>

namespace cyxp2p::net {

namespace asio = detail::asio;

Connection::Connection(std::shared_ptr<detail::EngineLink> link) : link_(std::move(link)) {}
Connection::~Connection() {
    auto link = link_;
    asio::post(link->get_executor(), [link] { link->close([](std::error_code) {}); });
}

const protocol::HandshakeInfo& Connection::handshake() const {
    return link_->info();
}
protocol::FlowStats Connection::flow_stats() const {
    return link_->flow_stats();
}
const TlsInfo& Connection::tls() const {
    return link_->tls;
}
bool Connection::open() const {
    return link_->is_open();
}
asio::any_io_executor Connection::get_executor() const {
    return link_->get_executor();
}
void Connection::check_deadlines() {
    asio::post(link_->get_executor(), [link = link_] { link->check_deadlines(); });
}

void Connection::start_request(std::string method, std::vector<std::uint8_t> body, RequestDone done) {
    asio::post(link_->get_executor(), [link = link_, method = std::move(method), body = std::move(body),
                                       done = std::move(done)]() mutable {
        auto reply = std::make_shared<std::optional<std::vector<std::uint8_t>>>();
        auto finished = std::make_shared<bool>(false);
        auto complete = [done, finished](std::error_code ec, std::vector<std::uint8_t> r) {
            if (*finished) return;
            *finished = true;
            done(ec, std::move(r));
        };
        detail::StreamOp op;
        std::uint32_t* id_slot = new std::uint32_t(0);
        std::shared_ptr<std::uint32_t> id(id_slot);
        op.on_message = [reply, link, id, complete](std::vector<std::uint8_t> m) {
            if (reply->has_value()) {  // a unary call has exactly one response
                link->reset(*id, protocol::errc::bad_message, "more than one response message");
                complete(make_error_code(protocol::errc::bad_message), {});
                return;
            }
            *reply = std::move(m);
        };
        op.on_done = [reply, complete](std::error_code ec) {
            if (!ec && !reply->has_value()) ec = make_error_code(protocol::errc::bad_message);
            complete(ec, ec ? std::vector<std::uint8_t>{} : std::move(**reply));
        };
        std::error_code ec;
        *id = link->open(method, body, true, std::move(op), ec);
        if (ec) complete(ec, {});
    });
}

void Connection::start_fetch(std::string cid, std::filesystem::path dest, FetchProgress progress,
                             FetchDone done) {
    asio::post(link_->get_executor(), [link = link_, cid = std::move(cid), dest = std::move(dest),
                                       progress = std::move(progress), done = std::move(done)]() mutable {
        std::error_code ec;
        auto root = content::Cid::parse(cid, ec);
        if (!root) return done(ec, {});
        // content::Download owns the transfer: partial file, verifier and resume state (docs/content.md). A
        // failed fetch keeps what verified; fetching again to the same path resumes (docs/tools.md).
        const content::Limits& limits = link->core().options.content;
        auto download = std::make_shared<content::Download>(*root, dest, limits);
        FetchResult base{cid, 0, 0, dest, 0, {}, {}};
        if (auto e = download->open()) {
            base.error_detail = download->error_detail();
            return done(e, base);
        }
        if (download->resumed().discarded) base.resume_discarded = download->resumed().reason;
        const std::uint64_t resume_from = download->resumed().leaves;
        const auto body_limits = protocol::content_block_limits(limits.max_block_size);
        auto finished = std::make_shared<bool>(false);
        auto id = std::make_shared<std::uint32_t>(0);
        auto complete = [done, finished, download, base](std::error_code e) {
            if (*finished) return;
            *finished = true;
            if (e) download->abort();  // keeps what verified for the next attempt
            FetchResult r = base;
            r.bytes = download->bytes_verified();
            r.blocks = download->blocks_verified();
            r.resumed_blocks = download->leaves_resumed();
            if (e) r.error_detail = download->error_detail();
            done(e, std::move(r));
        };
        detail::StreamOp op;
        op.on_message = [link, download, id, complete, progress, finished,
                         body_limits](std::vector<std::uint8_t> m) {
            if (*finished) return;
            std::error_code e;
            // Decoded in place: the block is a view into the message, which then goes back to the session
            // to reassemble a later one in.
            auto block = protocol::decode_content_block_view(m, e, body_limits);
            std::optional<content::Cid> claimed;
            if (block) claimed = content::Cid::from_bytes(block->cid, e);
            const auto before = download->bytes_verified();
            // Verified against the CID its parent named before a byte reaches the file.
            e = !block || !claimed ? make_error_code(protocol::errc::bad_message)
                                   : download->push(block->data, *claimed);
            link->recycle(std::move(m));
            if (e) {
                // A full disk or a damaged local resume state is our problem, not the node's: no audit of a
                // rejected block, and the stream is cancelled rather than blamed on the content.
                const bool local = e == content::errc::no_space || e == content::errc::write_failed ||
                                   e == content::errc::resume_state_damaged;
                auto& core = link->core();
                if (!local) {
                    core.metrics.blocks_failed++;
                    core.audit({.kind = AuditEvent::Kind::content_rejected,
                                .node_id = link->info().node_id,
                                .method = "content.fetch",
                                .result = error_name(e, e.message()),
                                .detail = e.message()});
                }
                link->reset(*id,
                            local                              ? protocol::errc::cancelled
                            : e == protocol::errc::bad_message ? protocol::errc::bad_message
                                                               : protocol::errc::content_mismatch,
                            local ? "the engine could not keep the data: " + e.message() : e.message());
                return complete(e);
            }
            link->core().metrics.blocks_verified++;
            link->core().metrics.bytes_verified += download->bytes_verified() - before;
            if (progress) progress(download->bytes_verified(), download->file_size());
        };
        op.on_done = [link, download, complete, t0 = std::chrono::steady_clock::now()](std::error_code e) {
            if (!e) e = download->commit();
            if (!e) link->core().metrics.fetch_duration.observe(std::chrono::steady_clock::now() - t0);
            complete(e);
        };
        *id = link->open("content.fetch", protocol::encode(protocol::ContentFetch{cid, resume_from}), true,
                         std::move(op), ec);
        if (ec) return complete(ec);
        link->watch_progress(*id);  // a node that drip-feeds the download is reset with `stalled`
    });
}

void Connection::start_reauth(std::string token, ExpiryDone done) {
    asio::post(link_->get_executor(),
               [link = link_, token = std::move(token), done = std::move(done)]() mutable {
                   if (auto ec = link->reauth(std::move(token), done)) done(ec, 0);
               });
}

void Connection::start_ping(PingDone done) {
    asio::post(link_->get_executor(),
               [link = link_, done = std::move(done)]() mutable { link->ping(std::move(done)); });
}

void Connection::start_close(CloseDone done) {
    asio::post(link_->get_executor(),
               [link = link_, done = std::move(done)]() mutable { link->close(std::move(done)); });
}

void Connection::subscribe(std::string method, std::vector<std::uint8_t> request,
                           std::function<void(std::vector<std::uint8_t>)> on_message,
                           std::function<void(std::error_code)> done) {
    asio::post(link_->get_executor(), [link = link_, method = std::move(method), request = std::move(request),
                                       on_message = std::move(on_message), done = std::move(done)]() mutable {
        detail::StreamOp op{std::move(on_message), done};
        std::error_code ec;
        link->open(method, request, true, std::move(op), ec);
        if (ec && done) done(ec);
    });
}

void Connection::start_open_stream(std::string method,
                                   std::function<void(std::vector<std::uint8_t>)> on_message,
                                   std::function<void(std::error_code)> done, OpenDone opened) {
    asio::post(link_->get_executor(),
               [link = link_, method = std::move(method), on_message = std::move(on_message),
                done = std::move(done), opened = std::move(opened)]() mutable {
                   detail::StreamOp op{std::move(on_message), std::move(done)};
                   std::error_code ec;
                   const auto id = link->open(method, {}, false, std::move(op), ec);
                   if (ec) return opened(ec, nullptr);
                   opened({}, std::make_shared<ClientStream>(link, id));
               });
}

asio::any_io_executor ClientStream::link_executor() const {
    return link_->get_executor();
}

void ClientStream::start_send(std::vector<std::uint8_t> message, std::function<void(std::error_code)> done) {
    asio::post(link_->get_executor(),
               [link = link_, id = id_, message = std::move(message), done = std::move(done)]() mutable {
                   if (auto ec = link->send(id, message)) return done(ec);
                   link->when_writable(id, std::move(done));
               });
}

void ClientStream::finish() {
    asio::post(link_->get_executor(), [link = link_, id = id_] { link->finish_stream(id); });
}

void ClientStream::cancel() {
    asio::post(link_->get_executor(), [link = link_, id = id_] {
        link->reset(id, protocol::errc::cancelled, "cancelled by the engine");
    });
}

}  // namespace cyxp2p::net
