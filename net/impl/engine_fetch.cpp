// content.fetch on the engine, split between two threads (docs/net.md, "Receive path"):
// - the connection's strand decodes each message in place (a view of the block inside the message buffer)
//   and hands the buffer to the fetch's FetchWriter; it never touches the disk or hashes;
// - the writer owns the content::Download: open() (which hashes a held prefix again), push() (the block's
//   hash against the CID its verified parent named, then its write), commit() and abort() (fsync) run there
//   in order, so hashing overlaps with receiving and a slow disk never blocks the connection.
// A message's credit goes back to the node only once its job has run (defer_consumption / consumed): a disk
// slower than the link holds the node to the stream's window, and at most that much waits in the queue.
#include <chrono>
#include <optional>
#include <utility>

#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/download.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/net/impl/engine_fetch.hpp>
#include <cyxp2p/net/impl/engine_link.hpp>
#include <cyxp2p/net/impl/fetch_writer.hpp>
#include <cyxp2p/protocol/body.hpp>

namespace cyxp2p::net::detail {
namespace {

using FetchDone = std::function<void(std::error_code, FetchResult)>;

/// What the strand may know of the Download, read on the writer after each job.
struct Progress {
    std::uint64_t bytes = 0;
    std::uint64_t file_size = 0;
    std::uint64_t blocks = 0;
    std::uint64_t resumed_blocks = 0;
    std::string error_detail;
};

class EngineFetch : public std::enable_shared_from_this<EngineFetch> {
  public:
    EngineFetch(std::shared_ptr<EngineLink> link, const content::Cid& root, std::string cid,
                std::filesystem::path dest, FetchProgress progress, FetchDone done)
        : link_(std::move(link)),
          executor_(link_->get_executor()),
          download_(std::make_shared<content::Download>(root, dest, link_->core().options.content)),
          body_limits_(protocol::content_block_limits(link_->core().options.content.max_block_size)),
          base_{std::move(cid), 0, 0, std::move(dest), 0, {}, {}},
          progress_(std::move(progress)),
          done_(std::move(done)) {}

    // Strand. Step 1, on the writer: open the Download (its held prefix is hashed again there).
    void start() {
        writer_.post([self = shared_from_this()]() mutable {
            const std::error_code e = self->download_->open();
            content::ResumeState resumed = self->download_->resumed();
            Progress p = self->progress();
            to_strand(std::move(self),
                      [e, resumed = std::move(resumed), p = std::move(p)](EngineFetch& f) mutable {
                          f.opened(e, std::move(resumed), std::move(p));
                      });
        });
    }

  private:
    Progress progress() const {  // writer
        return {download_->bytes_verified(), download_->file_size(), download_->blocks_verified(),
                download_->leaves_resumed(), download_->error_detail()};
    }

    // Writer: hands `f` to the strand together with the job's reference, so the last reference to the fetch
    // (and to its link and the link's sockets and timers) is always dropped on the strand, never here:
    // the io_context may be going away as soon as `done` ran.
    template <class F>
    static void to_strand(std::shared_ptr<EngineFetch>&& self, F&& f) {
        auto ex = self->executor_;
        asio::post(ex, [self = std::move(self), f = std::forward<F>(f)]() mutable { f(*self); });
    }

    // Strand. Step 2: the request, asking the node to skip the leaves held.
    void opened(std::error_code e, content::ResumeState resumed, Progress p) {
        if (e) {
            finished_ = true;
            FetchResult r = base_;
            r.error_detail = p.error_detail;
            return release_download([done = std::move(done_), r = std::move(r), e] { done(e, r); });
        }
        if (resumed.discarded) base_.resume_discarded = resumed.reason;
        t0_ = std::chrono::steady_clock::now();
        auto self = shared_from_this();
        StreamOp op;
        op.on_message = [self](std::vector<std::uint8_t> m) { self->on_message(std::move(m)); };
        op.on_done = [self](std::error_code ec) { self->on_done(ec); };
        std::error_code ec;
        id_ =
            link_->open("content.fetch", protocol::encode(protocol::ContentFetch{base_.cid, resumed.leaves}),
                        true, std::move(op), ec);
        if (ec) return complete(ec);
        link_->defer_consumption(id_);  // before any DATA can arrive: this runs before the next read
        link_->watch_progress(id_);     // a node that drip-feeds the download is reset with `stalled`
    }

    // Strand. Decoded in place; the buffer moves to the writer and comes back with the result.
    void on_message(std::vector<std::uint8_t> m) {
        if (finished_) return link_->consumed(id_, m.size());
        std::error_code e;
        auto block = protocol::decode_content_block_view(m, e, body_limits_);
        std::optional<content::Cid> claimed;
        if (block) claimed = content::Cid::from_bytes(block->cid, e);
        if (!block || !claimed) {
            link_->consumed(id_, m.size());
            return fail(make_error_code(protocol::errc::bad_message));
        }
        const std::size_t size = m.size();
        const content::ByteView data = block->data;  // into m's heap buffer, which the move keeps
        writer_.post(
            [self = shared_from_this(), m = std::move(m), data, claimed = std::move(*claimed)]() mutable {
                const std::error_code pushed = self->download_->push(data, claimed);
                Progress p = self->progress();
                to_strand(std::move(self),
                          [pushed, m = std::move(m), p = std::move(p)](EngineFetch& f) mutable {
                              f.written(pushed, std::move(m), std::move(p));
                          });
            },
            size);
    }

    // Strand: a block's job ran. Its credit goes back now, whatever happened to the fetch meanwhile.
    void written(std::error_code e, std::vector<std::uint8_t> m, Progress p) {
        link_->consumed(id_, m.size());
        link_->recycle(std::move(m));
        if (finished_) return;
        if (e) {
            detail_ = p.error_detail;
            return fail(e);
        }
        auto& metrics = link_->core().metrics;
        metrics.blocks_verified++;
        metrics.bytes_verified += p.bytes - bytes_reported_;
        bytes_reported_ = p.bytes;
        if (progress_) progress_(p.bytes, p.file_size);
    }

    // Strand: the block was refused (the node's fault) or could not be kept (ours).
    void fail(std::error_code e) {
        // A full disk or a damaged local resume state is our problem, not the node's: no audit of a rejected
        // block, and the stream is cancelled rather than blamed on the content.
        const bool local = e == content::errc::no_space || e == content::errc::write_failed ||
                           e == content::errc::resume_state_damaged;
        auto& core = link_->core();
        if (!local) {
            core.metrics.blocks_failed++;
            core.audit({.kind = AuditEvent::Kind::content_rejected,
                        .node_id = link_->info().node_id,
                        .method = "content.fetch",
                        .result = error_name(e, e.message()),
                        .detail = e.message()});
        }
        link_->reset(id_,
                     local                              ? protocol::errc::cancelled
                     : e == protocol::errc::bad_message ? protocol::errc::bad_message
                                                        : protocol::errc::content_mismatch,
                     local ? "the engine could not keep the data: " + e.message() : e.message());
        complete(e);
    }

    // Strand: the stream ended. A normal end commits on the writer, behind every block queued.
    void on_done(std::error_code e) {
        if (finished_) return;
        if (e) return complete(e);
        writer_.post([self = shared_from_this()]() mutable {
            const std::error_code c = self->download_->commit();
            Progress p = self->progress();
            to_strand(std::move(self),
                      [c, p = std::move(p)](EngineFetch& f) mutable { f.committed(c, std::move(p)); });
        });
    }

    void committed(std::error_code e, Progress p) {
        if (finished_) return;
        if (e) detail_ = p.error_detail;
        if (!e) link_->core().metrics.fetch_duration.observe(std::chrono::steady_clock::now() - t0_);
        complete(e);
    }

    // Strand, once: a failed transfer is checkpointed on the writer (what verified stays for the next
    // attempt), then the result is reported with the Download's final counts.
    void complete(std::error_code e) {
        if (finished_) return;
        finished_ = true;
        writer_.post([self = shared_from_this(), e]() mutable {
            if (e) self->download_->abort();
            Progress p = self->progress();
            to_strand(std::move(self),
                      [e, p = std::move(p)](EngineFetch& f) mutable { f.report(e, std::move(p)); });
        });
    }

    void report(std::error_code e, Progress p) {
        FetchResult r = base_;
        r.bytes = p.bytes;
        r.blocks = p.blocks;
        r.resumed_blocks = p.resumed_blocks;
        if (e) r.error_detail = !p.error_detail.empty() ? p.error_detail : detail_;
        release_download([done = std::move(done_), r = std::move(r), e] { done(e, r); });
    }

    // The Download's destructor may checkpoint (fsync): it goes on the writer too, then `then` on the strand.
    template <class F>
    void release_download(F then) {
        writer_.post([self = shared_from_this(), then = std::move(then)]() mutable {
            self->download_.reset();
            to_strand(std::move(self), [then = std::move(then)](EngineFetch&) mutable { then(); });
        });
    }

    std::shared_ptr<EngineLink> link_;
    asio::any_io_executor executor_;
    std::shared_ptr<content::Download> download_;  // used on the writer only
    protocol::BodyLimits body_limits_;
    FetchResult base_;
    FetchProgress progress_;
    FetchDone done_;
    std::uint32_t id_ = 0;
    bool finished_ = false;
    std::uint64_t bytes_reported_ = 0;
    std::string detail_;
    std::chrono::steady_clock::time_point t0_;
    FetchWriter writer_;  // last: its destructor lets queued jobs finish while the members above still live
};

}  // namespace

void start_engine_fetch(std::shared_ptr<EngineLink> link, std::string cid, std::filesystem::path destination,
                        FetchProgress progress, std::function<void(std::error_code, FetchResult)> done) {
    std::error_code ec;
    auto root = content::Cid::parse(cid, ec);
    if (!root) return done(ec, {});
    std::make_shared<EngineFetch>(std::move(link), *root, std::move(cid), std::move(destination),
                                  std::move(progress), std::move(done))
        ->start();
}

}  // namespace cyxp2p::net::detail
