// The I/O half of a multi-source fetch (net/multi_fetch.hpp), on the Engine's executor: every callback
// below runs there, so the MultiDownload needs no lock (the executor must be a single thread or a strand, as
// for every Engine). Nodes: one connection each, up to MultiFetchLimits::in_flight content.fetch streams on
// it. Gateways: one HTTP(S) request per unit (raw blocks with ?format=raw, subtrees as a DFS CAR), up to
// in_flight at once. A source that fails, stalls or sends a block that does not verify is dropped (audited)
// and its share goes back to the others; the fetch fails only when no source is left (no_source_left).
#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>

#include <cyxp2p/content/car.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/multi_download.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/multi_fetch.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/errc.hpp>

#include "gateway_client.hpp"

namespace cyxp2p::net {

namespace detail {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class Multi : public std::enable_shared_from_this<Multi> {
  public:
    Multi(Engine& engine, std::vector<MultiFetchSource> sources, const content::Cid& root,
          const fs::path& out, MultiFetchOptions options, MultiFetchDone done)
        : io_(engine.get_executor()),
          engine_(engine),
          dl_(root, out, options.content),
          timeout_(options.limits.gateway_timeout),
          in_flight_(std::max<std::size_t>(options.limits.in_flight, 1)),
          stall_(options.limits.stall),
          hedge_(options.limits.hedge),
          close_timeout_(options.limits.close_timeout),
          ca_(std::move(options.gateway_ca)),
          user_agent_(std::move(options.user_agent)),
          audit_(std::move(options.audit)),
          done_(std::move(done)),
          tls_ctx_(asio::ssl::context::tls_client),
          timer_(io_) {
        for (auto& cfg : sources) src_.emplace_back().cfg = std::move(cfg);
    }

    struct Source {
        MultiFetchSource cfg;
        std::shared_ptr<Connection> conn;
        bool connecting = false, ready = false, dropped = false;
        std::string error;  // why it was dropped
        std::error_code error_code;
        std::uint64_t bytes = 0, blocks = 0;
        std::map<std::uint64_t, std::function<void()>> active;  // task id -> cancel
        std::map<std::string, std::function<void()>> uppers;    // upper block (CID) being fetched -> cancel
        Clock::time_point last_progress = Clock::now();
        Clock::time_point paused_until{};
    };

    std::error_code open() {
        if (auto ec = dl_.open()) return ec;
        if (!ca_.empty()) {
            boost::system::error_code cec;
            tls_ctx_.load_verify_file(ca_, cec);
            if (cec) {
                dl_.abort();
                dl_.discard();
                return std::make_error_code(std::errc::invalid_argument);
            }
        } else {
            boost::system::error_code ignored;
            tls_ctx_.set_default_verify_paths(ignored);
        }
        tls_ctx_.set_verify_mode(asio::ssl::verify_peer);
        SSL_CTX_set_min_proto_version(tls_ctx_.native_handle(), TLS1_2_VERSION);
        return {};
    }

    void start() {
        for (std::size_t i = 0; i < src_.size(); ++i) {
            Source& s = src_[i];
            if (s.cfg.kind == MultiFetchSource::Kind::gateway) {
                s.ready = true;  // connections are per request
                continue;
            }
            if (s.cfg.kind == MultiFetchSource::Kind::connection) {
                // The caller's connection: used as it is, never closed here.
                if (!s.cfg.connection || !s.cfg.connection->open()) {
                    drop(i, make_error_code(errc::not_connected), "the connection is not open");
                    continue;
                }
                s.conn = s.cfg.connection;
                s.ready = true;
                continue;
            }
            s.connecting = true;
            engine_.async_connect(s.cfg.connect, [this, self = shared_from_this(), i](
                                                     std::error_code ec, std::shared_ptr<Connection> c) {
                Source& src = src_[i];
                src.connecting = false;
                if (ec) return drop(i, ec, "connect: " + ec.message());
                src.conn = std::move(c);
                src.ready = true;
                src.last_progress = Clock::now();
                step();
            });
        }
        tick();
        step();
    }

    content::MultiDownload& download() { return dl_; }
    MultiFetchDone take_done() {
        auto d = std::move(done_);
        done_ = nullptr;
        return d;
    }

    /// Completes the fetch (once): the result, then the handler.
    void deliver() {
        if (!done_) return;
        MultiFetchResult r;
        r.units = dl_.units();
        r.resumed_units = dl_.units_resumed();
        r.resumed_bytes = dl_.bytes_resumed();
        r.resume_discarded = dl_.discarded_reason();
        r.bytes = result_ ? dl_.bytes_done() : dl_.file_size();
        for (const auto& s : src_)
            r.sources.push_back({s.cfg.name, s.bytes, s.blocks, s.error, s.error_code});
        if (result_) {
            if (result_ == errc::no_source_left) {
                std::string reasons;
                for (const auto& s : src_) {
                    if (s.error.empty()) continue;
                    reasons += (reasons.empty() ? "" : "; ") + s.cfg.name + ": " + s.error;
                }
                r.error_detail = "no source could supply the rest of " + dl_root_ + " (" + reasons + ")";
            } else {
                r.error_detail = dl_.error_detail().empty() ? result_.message() : dl_.error_detail();
            }
            // Nothing at the output path; verified units stay in the one resume state for a rerun.
            dl_.abort();
            r.kept_bytes = dl_.bytes_done();
            r.partial = content::MultiDownload::partial_path(out_);
            if (r.kept_bytes == 0) dl_.discard();
        }
        auto done = std::move(done_);
        done_ = nullptr;
        done(result_, std::move(r));
    }

    std::string dl_root_;
    fs::path out_;

  private:
    bool live(std::size_t i) const { return !src_[i].dropped && src_[i].ready; }

    void finish(std::error_code ec) {
        if (finished_) return;
        finished_ = true;
        result_ = ec;
        for (std::size_t i = 0; i < src_.size(); ++i) cancel_all(i);
        timer_.cancel();
        // Close every connection this fetch dialled in order (GOAWAY, close_notify, each bounded by the
        // engine's shutdown timeout), so each link, its session and the handlers that hold them end before
        // the caller's io_context does. The caller's own Connection stays open. The fetch completes when
        // the last one closed, or after close_timeout should a peer outlast the close.
        auto closing = std::make_shared<std::size_t>(0);
        for (auto& src : src_) {
            if (!src.conn || src.cfg.kind != MultiFetchSource::Kind::node) continue;
            ++*closing;
            src.conn->async_close([this, self = shared_from_this(), closing](std::error_code) {
                if (--*closing == 0) deliver();
            });
        }
        if (*closing == 0) return asio::post(io_, [self = shared_from_this()] { self->deliver(); });
        timer_.expires_after(close_timeout_);
        timer_.async_wait([this, self = shared_from_this()](boost::system::error_code e) {
            if (!e) deliver();
        });
    }

    void cancel_all(std::size_t i) {
        auto active = std::move(src_[i].active);
        src_[i].active.clear();
        for (auto& [id, cancel] : active) cancel();
        auto uppers = std::move(src_[i].uppers);
        src_[i].uppers.clear();
        for (auto& [key, cancel] : uppers) {
            if (auto it = uppers_.find(key); it != uppers_.end() && it->second == i) uppers_.erase(it);
            cancel();
        }
    }

    // A source is dropped for good: its tasks go back to the pool, its unstarted share to the others.
    void drop(std::size_t i, std::error_code ec, std::string why) {
        Source& s = src_[i];
        if (s.dropped || finished_) return;
        s.dropped = true;
        s.error = std::move(why);
        s.error_code = ec;
        for (auto& [id, cancel] : s.active) dl_.release(tasks_.at(id));
        cancel_all(i);
        dl_.drop_source(i);
        if (audit_) {
            AuditEvent e;
            e.kind = AuditEvent::Kind::source_dropped;
            e.time_ms = now_ms();
            e.peer = s.cfg.name;
            e.result = error_name(ec, "source_dropped");
            e.detail = s.error;
            audit_->record(e);
        }
        asio::post(io_, [this, self = shared_from_this()] { step(); });
    }

    // Refused for a rate limit (a gateway's 429, a node's requests_per_address): not a fault. The unit went
    // back to the pool; the source gets no new work for a second.
    void pause(std::size_t i) {
        src_[i].paused_until = Clock::now() + std::chrono::seconds(1);
        src_[i].last_progress = Clock::now();
        asio::post(io_, [this, self = shared_from_this()] { step(); });
    }

    void tick() {
        timer_.expires_after(std::chrono::milliseconds(200));
        timer_.async_wait([this, self = shared_from_this()](boost::system::error_code ec) {
            if (ec || finished_) return;
            const auto now = Clock::now();
            for (std::size_t i = 0; i < src_.size(); ++i) {
                Source& s = src_[i];
                const bool busy = !s.active.empty() || !s.uppers.empty();
                if (!s.dropped && busy && now - s.last_progress > stall_)
                    drop(i, make_error_code(errc::connection_lost),
                         "stalled: no verified block for " + std::to_string(stall_.count()) + " ms");
            }
            step();
            tick();
        });
    }

    void step() {
        if (finished_) return;
        bool any_live = false, any_pending = false;
        for (std::size_t i = 0; i < src_.size(); ++i) {
            any_live = any_live || live(i);
            any_pending = any_pending || (!src_[i].dropped && src_[i].connecting);
        }
        if (!any_live && !any_pending) return finish(make_error_code(errc::no_source_left));
        if (!dl_.planned()) return plan();
        if (!shared_) {
            // Shares are dealt once every source has connected or failed, so a node that is slower to
            // connect still gets its share (its connect is bounded by --timeout-ms).
            if (any_pending) return;
            dl_.set_sources(src_.size());
            for (std::size_t i = 0; i < src_.size(); ++i) {
                if (src_[i].dropped) dl_.drop_source(i);
            }
            shared_ = true;
        }
        if (dl_.complete()) {
            bool busy = false;
            for (const auto& s : src_) busy = busy || !s.active.empty();
            if (busy) {
                for (std::size_t i = 0; i < src_.size(); ++i) cancel_all(i);  // stale hedges
            }
            return finish(dl_.commit());
        }
        const auto now = Clock::now();
        for (std::size_t i = 0; i < src_.size(); ++i) {
            if (!live(i) || now < src_[i].paused_until) continue;
            while (src_[i].active.size() < in_flight_) {
                // Only an idle source steals or hedges (at most one duplicated unit per source at a time),
                // and it hedges only a unit another source has held for --hedge-ms.
                const bool idle = src_[i].active.empty();
                auto t = dl_.next_task(i, idle, idle && may_hedge(i, now));
                if (!t) break;
                start_task(i, *t);
                if (finished_ || src_[i].dropped) break;
            }
        }
    }

    bool may_hedge(std::size_t i, Clock::time_point now) const {
        for (std::size_t k = 0; k < src_.size(); ++k) {
            if (k == i) continue;
            for (const auto& [id, cancel] : src_[k].active) {
                if (now - started_.at(id) >= hedge_) return true;
            }
        }
        return false;
    }

    // Planning: each upper node is one block, asked of the live sources in turn.
    void plan() {
        for (const auto& cid : dl_.next_upper()) {
            const std::string key = cid.to_string();
            if (uppers_.count(key)) continue;
            std::optional<std::size_t> pick;
            for (std::size_t k = 0; k < src_.size() && !pick; ++k) {
                const std::size_t i = (next_upper_source_ + k) % src_.size();
                if (live(i) && src_[i].uppers.size() < in_flight_) pick = i;
            }
            if (!pick) return;  // wait for a connection or a free slot
            next_upper_source_ = *pick + 1;
            uppers_[key] = *pick;
            auto over = std::make_shared<bool>(false);
            src_[*pick].uppers[key] = [over] { *over = true; };
            fetch_block(*pick, cid, over,
                        [this, self = shared_from_this(), i = *pick, cid, key, over](std::error_code ec,
                                                                                     content::Bytes block) {
                            if (*over || finished_) return;  // cancelled: the source was dropped
                            *over = true;
                            Source& s = src_[i];
                            s.uppers.erase(key);
                            uppers_.erase(key);
                            const std::uint64_t before = dl_.bytes_done() - dl_.bytes_resumed();
                            if (!ec) ec = dl_.push_upper(cid, block);
                            if (ec) {
                                if (content::MultiDownload::is_local(ec)) return finish(ec);
                                if (ec == protocol::errc::rate_limited) return pause(i);
                                return drop(i, ec, "block " + key + ": " + ec.message());
                            }
                            ++s.blocks;
                            // A dag-pb leaf met while planning is a whole unit; resumed ones are nobody's.
                            s.bytes += dl_.bytes_done() - dl_.bytes_resumed() - before;
                            s.last_progress = Clock::now();
                            step();
                        });
        }
    }

    using BlockDone = std::function<void(std::error_code, content::Bytes)>;

    // `over` is set when the fetch is cancelled; a node's stream is then reset as well.
    void fetch_block(std::size_t i, const content::Cid& cid, std::shared_ptr<bool> over, BlockDone done) {
        if (src_[i].cfg.kind == MultiFetchSource::Kind::gateway) {
            auto body = std::make_shared<content::Bytes>();
            const std::string target = "/ipfs/" + cid.to_string() + "?format=raw";
            const std::size_t cap = content::Limits{}.max_block_size;
            return gateway_get(
                i, target, "application/vnd.ipld.raw", over,
                [body, cap](content::ByteView chunk) -> std::error_code {
                    if (body->size() + chunk.size() > cap)
                        return make_error_code(content::errc::block_too_large);
                    body->insert(body->end(), chunk.begin(), chunk.end());
                    return {};
                },
                [done, body](std::error_code ec) { done(ec, ec ? content::Bytes{} : std::move(*body)); });
        }
        // content.fetch streams the whole DAG below `cid`; the first message is the block itself.
        auto got = std::make_shared<bool>(false);
        auto stream = std::make_shared<std::shared_ptr<ClientStream>>();
        src_[i].uppers[cid.to_string()] = [over, stream] {
            *over = true;
            if (*stream) (*stream)->cancel();
        };
        open_fetch(
            i, cid,
            [got, stream, done](std::vector<std::uint8_t> m) {
                if (*got) return;
                *got = true;
                if (*stream) (*stream)->cancel();
                std::error_code ec;
                auto block = protocol::decode_content_block(
                    m, ec, protocol::content_block_limits(content::Limits{}.max_block_size));
                if (!block) return done(make_error_code(protocol::errc::bad_message), {});
                done({}, content::Bytes(block->data.begin(), block->data.end()));
            },
            [got, done](std::error_code ec) {
                if (*got) return;
                *got = true;
                done(ec ? ec : make_error_code(content::errc::missing_block), {});
            },
            stream);
    }

    void open_fetch(std::size_t i, const content::Cid& cid,
                    std::function<void(std::vector<std::uint8_t>)> on_message,
                    std::function<void(std::error_code)> on_done,
                    std::shared_ptr<std::shared_ptr<ClientStream>> stream_out) {
        auto request = protocol::encode(protocol::ContentFetch{cid.to_string(), 0});
        src_[i].conn->async_open_stream("content.fetch", std::move(on_message), on_done,
                                        [request = std::move(request), on_done, stream_out](
                                            std::error_code ec, std::shared_ptr<ClientStream> s) {
                                            if (ec) return on_done(ec);
                                            *stream_out = s;
                                            s->async_send(
                                                std::vector<std::uint8_t>(request.begin(), request.end()),
                                                [s, on_done](std::error_code e) {
                                                    if (e) return on_done(e);
                                                    s->finish();
                                                });
                                        });
    }

    void start_task(std::size_t i, const content::MultiTask& t) {
        tasks_.insert_or_assign(t.id, t);
        started_[t.id] = Clock::now();
        auto over = std::make_shared<bool>(false);
        Source& s = src_[i];
        // Ends the task once: ok -> the unit is finished (verified complete); error -> the source is dropped.
        auto end = [this, self = shared_from_this(), i, t, over](std::error_code ec) {
            if (*over || finished_) return;
            *over = true;
            Source& src = src_[i];
            src.active.erase(t.id);
            if (!ec) {
                const bool stale = dl_.stale(t);
                ec = dl_.finish(t);
                if (!ec && !stale) src.bytes += t.size;
            }
            if (ec) {
                if (content::MultiDownload::is_local(ec)) return finish(ec);
                if (!src.dropped) dl_.release(t);
                tasks_.erase(t.id);
                if (ec == protocol::errc::rate_limited) return pause(i);
                return drop(i, ec, "unit " + t.cid.to_string() + ": " + ec.message());
            }
            tasks_.erase(t.id);
            step();
        };
        auto on_block = [this, self = shared_from_this(), i, t, over, end](
                            content::ByteView block,
                            const std::optional<content::Cid>& claimed) -> std::error_code {
            if (*over) return make_error_code(protocol::errc::cancelled);
            if (dl_.stale(t)) {  // another source finished this unit first (a hedge)
                *over = true;
                src_[i].active.erase(t.id);
                dl_.finish(t);
                tasks_.erase(t.id);
                asio::post(io_, [this, self = shared_from_this()] { step(); });
                return make_error_code(protocol::errc::cancelled);
            }
            auto ec = dl_.push(t, block, claimed);
            if (ec) {
                end(ec);
                return ec;
            }
            ++src_[i].blocks;
            src_[i].last_progress = Clock::now();
            return {};
        };
        if (s.cfg.kind == MultiFetchSource::Kind::gateway) {
            auto cancelled = std::make_shared<bool>(false);
            s.active[t.id] = [cancelled, over] {
                *cancelled = true;
                *over = true;
            };
            start_gateway_task(i, t, on_block, end, cancelled);
            return;
        }
        auto stream = std::make_shared<std::shared_ptr<ClientStream>>();
        s.active[t.id] = [stream, over] {
            *over = true;
            if (*stream) (*stream)->cancel();
        };
        const auto limits = protocol::content_block_limits(content::Limits{}.max_block_size);
        open_fetch(
            i, t.cid,
            [on_block, end, stream, limits](std::vector<std::uint8_t> m) {
                std::error_code ec;
                auto block = protocol::decode_content_block(m, ec, limits);
                std::optional<content::Cid> claimed;
                if (block) claimed = content::Cid::from_bytes(block->cid, ec);
                if (!block || !claimed) {
                    if (*stream) (*stream)->cancel();
                    return end(make_error_code(protocol::errc::bad_message));
                }
                if (on_block(block->data, claimed) && *stream) (*stream)->cancel();
            },
            end, stream);
    }

    using OnBlock = std::function<std::error_code(content::ByteView, const std::optional<content::Cid>&)>;

    void start_gateway_task(std::size_t i, const content::MultiTask& t, OnBlock on_block,
                            std::function<void(std::error_code)> end, std::shared_ptr<bool> cancelled) {
        if (t.cid.codec() == content::Codec::raw) {
            // A raw leaf: the block itself, checked against the CID as a one-block DAG.
            auto body = std::make_shared<content::Bytes>();
            const std::size_t cap = content::Limits{}.max_block_size;
            return gateway_get(
                i, "/ipfs/" + t.cid.to_string() + "?format=raw", "application/vnd.ipld.raw", cancelled,
                [body, cap](content::ByteView chunk) -> std::error_code {
                    if (body->size() + chunk.size() > cap)
                        return make_error_code(content::errc::block_too_large);
                    body->insert(body->end(), chunk.begin(), chunk.end());
                    return {};
                },
                [body, on_block, end, cid = t.cid](std::error_code ec) {
                    if (!ec) ec = on_block(*body, cid);
                    end(ec);
                });
        }
        auto car = std::make_shared<content::CarStreamParser>(
            [on_block](const content::Cid& cid, content::ByteView block) { return on_block(block, cid); });
        gateway_get(
            i, "/ipfs/" + t.cid.to_string() + "?format=car&dag-scope=all&car-dups=y",
            "application/vnd.ipld.car; version=1; order=dfs; dups=y", cancelled,
            [car](content::ByteView chunk) { return car->feed(chunk); },
            [car, end](std::error_code ec) {
                if (!ec) ec = car->finish();
                end(ec);
            },
            /*need_dfs=*/true);
    }

    using Sink = GatewaySink;

    void gateway_get(std::size_t i, std::string target, std::string accept, std::shared_ptr<bool> cancelled,
                     Sink sink, std::function<void(std::error_code)> done, bool need_dfs = false) {
        // Any chunk that arrives is progress, whether or not it completes a block yet.
        Sink counted = [this, self = shared_from_this(), i, sink = std::move(sink)](content::ByteView chunk) {
            src_[i].last_progress = Clock::now();
            return sink(chunk);
        };
        GatewayGet get{src_[i].cfg, std::move(target),    std::move(accept), need_dfs,
                       timeout_,    std::move(cancelled), user_agent_};
        asio::co_spawn(io_, detail::gateway_get(io_, tls_ctx_, std::move(get), std::move(counted)),
                       [this, self = shared_from_this(), done](std::exception_ptr e, std::error_code ec) {
                           if (e) ec = make_error_code(errc::connection_lost);
                           if (finished_) return;
                           done(ec);
                       });
    }

    asio::any_io_executor io_;
    Engine& engine_;
    content::MultiDownload dl_;
    std::chrono::milliseconds timeout_;
    std::size_t in_flight_;
    std::chrono::milliseconds stall_;
    std::chrono::milliseconds hedge_;
    std::chrono::milliseconds close_timeout_;
    std::string ca_;
    std::string user_agent_;
    std::shared_ptr<AuditSink> audit_;
    MultiFetchDone done_;
    asio::ssl::context tls_ctx_;
    asio::steady_timer timer_;
    std::vector<Source> src_;
    std::map<std::uint64_t, content::MultiTask> tasks_;
    std::map<std::uint64_t, Clock::time_point> started_;  // task id -> when it was handed out
    std::map<std::string, std::size_t> uppers_;           // upper block being fetched -> the source asked
    std::size_t next_upper_source_ = 0;
    bool shared_ = false;
    bool finished_ = false;
    std::error_code result_;
};

}  // namespace

void start_multi_fetch(Engine& engine, std::vector<MultiFetchSource> sources, std::string cid,
                       std::filesystem::path dest, MultiFetchOptions options, MultiFetchDone done) {
    std::error_code cec;
    auto root = content::Cid::parse(cid, cec);
    if (!root) {
        MultiFetchResult r;
        r.error_detail = "'" + cid + "' is not a CID: " + cec.message();
        return asio::post(engine.get_executor(), [done = std::move(done), cec, r = std::move(r)]() mutable {
            done(cec, std::move(r));
        });
    }
    const std::string ca = options.gateway_ca;
    auto m =
        std::make_shared<Multi>(engine, std::move(sources), *root, dest, std::move(options), std::move(done));
    m->dl_root_ = cid;
    m->out_ = dest;
    if (auto ec = m->open()) {
        MultiFetchResult r;
        if (ec.category() != content::category())
            r.error_detail = "CA store " + ca + ": unreadable";
        else
            r.error_detail =
                m->download().error_detail().empty() ? ec.message() : m->download().error_detail();
        // The handler runs once: taken from the Multi, posted like every completion.
        return asio::post(engine.get_executor(),
                          [m, ec, r = std::move(r)]() mutable { m->take_done()(ec, std::move(r)); });
    }
    m->start();
}

}  // namespace detail

MultiFetchSource MultiFetchSource::open(std::shared_ptr<Connection> c, std::string name) {
    MultiFetchSource s;
    s.kind = Kind::connection;
    s.connection = std::move(c);
    s.name = std::move(name);
    return s;
}

MultiFetchSource MultiFetchSource::dial(ConnectOptions o, std::string name) {
    MultiFetchSource s;
    s.kind = Kind::node;
    s.name = name.empty() ? o.host + ":" + std::to_string(o.port) : std::move(name);
    s.connect = std::move(o);
    return s;
}

std::optional<MultiFetchSource> MultiFetchSource::gateway(const std::string& url) {
    std::string error;
    auto list = parse_fetch_sources(nlohmann::json::array({{{"gateway", url}}}).dump(), error);
    if (!list || list->size() != 1) return std::nullopt;
    return from(list->front(), {});
}

MultiFetchSource MultiFetchSource::from(const FetchSource& f, std::string token) {
    MultiFetchSource s;
    s.name = f.label;
    if (f.kind == FetchSource::Kind::gateway) {
        s.kind = Kind::gateway;
        s.host = f.host;
        s.port = f.port;
        s.tls = f.tls;
        return s;
    }
    s.kind = Kind::node;
    s.connect.host = f.host;
    s.connect.port = f.port;
    s.connect.pins = f.pins;
    s.connect.pin_from_token = f.pin_from_token;
    s.connect.token = std::move(token);
    return s;
}

}  // namespace cyxp2p::net
