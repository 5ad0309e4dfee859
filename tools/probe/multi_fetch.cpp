// The I/O half of a multi-source fetch, on one thread (one io_context): every callback below runs there,
// so the MultiDownload needs no lock. Nodes: one connection each, up to --in-flight content.fetch streams
// on it. Gateways: one HTTP(S) request per unit (raw blocks with ?format=raw, subtrees as a DFS CAR), up to
// --in-flight at once. A source that fails, stalls or sends a block that does not verify is dropped and its
// share goes back to the others; the fetch fails only when no source is left.
#include "multi_fetch.hpp"

#include <charconv>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>

#include <cyxp2p/content/car.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/multi_download.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/fetch_sources.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/errc.hpp>

#include "../common/local_checks.hpp"
#include "gateway_client.hpp"

namespace cyxp2p::tools::probe {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

class Multi {
  public:
    Multi(asio::io_context& io, std::vector<net::FetchSource> sources, std::vector<std::string> tokens,
          const content::Cid& root, const fs::path& out, std::chrono::milliseconds timeout,
          std::size_t in_flight, std::chrono::milliseconds stall, std::chrono::milliseconds hedge,
          std::string ca)
        : io_(io),
          engine_(io.get_executor(), engine_options(timeout)),
          dl_(root, out, content::Limits{}),
          timeout_(timeout),
          in_flight_(in_flight),
          stall_(stall),
          hedge_(hedge),
          ca_(std::move(ca)),
          tls_ctx_(asio::ssl::context::tls_client),
          timer_(io) {
        for (std::size_t i = 0; i < sources.size(); ++i) {
            Source& s = src_.emplace_back();
            s.cfg = std::move(sources[i]);
            s.token = std::move(tokens[i]);
        }
    }

    struct Source {
        net::FetchSource cfg;
        std::string token;
        std::shared_ptr<net::Connection> conn;
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
            if (cec) return std::make_error_code(std::errc::invalid_argument);
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
            if (s.cfg.kind == net::FetchSource::Kind::gateway) {
                s.ready = true;  // connections are per request
                continue;
            }
            net::ConnectOptions o;
            o.host = s.cfg.host;
            o.port = s.cfg.port;
            o.pins = s.cfg.pins;
            o.pin_from_token = s.cfg.pin_from_token;
            o.token = s.token;
            s.connecting = true;
            engine_.async_connect(std::move(o),
                                  [this, i](std::error_code ec, std::shared_ptr<net::Connection> c) {
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

    bool finished() const { return finished_; }
    std::error_code result() const { return result_; }
    content::MultiDownload& download() { return dl_; }
    const std::vector<Source>& sources() const { return src_; }

  private:
    static net::EngineOptions engine_options(std::chrono::milliseconds timeout) {
        net::EngineOptions o;
        o.connect_timeout = o.tls_timeout = timeout;
        o.session.handshake_timeout = timeout;
        return o;
    }

    bool live(std::size_t i) const { return !src_[i].dropped && src_[i].ready; }

    void finish(std::error_code ec) {
        if (finished_) return;
        finished_ = true;
        result_ = ec;
        for (std::size_t i = 0; i < src_.size(); ++i) cancel_all(i);
        timer_.cancel();
        // Close every connection in order (GOAWAY, close_notify, each bounded by the engine's shutdown
        // timeout), so each link, its session and the handlers that hold them end before the io_context
        // does: stopping the context with links open left them to its destructor, and LeakSanitizer found
        // them. The context then runs out of work; a timer stops it should a peer outlast the close.
        auto closing = std::make_shared<std::size_t>(0);
        for (auto& src : src_) {
            if (!src.conn) continue;
            ++*closing;
            src.conn->async_close([this, closing](std::error_code) {
                if (--*closing == 0) timer_.cancel();
            });
        }
        if (*closing == 0) return;
        timer_.expires_after(std::chrono::seconds(10));
        timer_.async_wait([this](boost::system::error_code e) {
            if (!e) io_.stop();
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
        std::cerr << "p2p-probe: source " << s.cfg.label << " dropped: " << s.error << '\n';
        asio::post(io_, [this] { step(); });
    }

    // Refused for a rate limit (a gateway's 429, a node's requests_per_address): not a fault. The unit went
    // back to the pool; the source gets no new work for a second.
    void pause(std::size_t i) {
        src_[i].paused_until = Clock::now() + std::chrono::seconds(1);
        src_[i].last_progress = Clock::now();
        asio::post(io_, [this] { step(); });
    }

    void tick() {
        timer_.expires_after(std::chrono::milliseconds(200));
        timer_.async_wait([this](boost::system::error_code ec) {
            if (ec || finished_) return;
            const auto now = Clock::now();
            for (std::size_t i = 0; i < src_.size(); ++i) {
                Source& s = src_[i];
                const bool busy = !s.active.empty() || !s.uppers.empty();
                if (!s.dropped && busy && now - s.last_progress > stall_)
                    drop(i, make_error_code(net::errc::connection_lost),
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
        if (!any_live && !any_pending) return finish(make_error_code(content::errc::missing_block));
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
                        [this, i = *pick, cid, key, over](std::error_code ec, content::Bytes block) {
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
        if (src_[i].cfg.kind == net::FetchSource::Kind::gateway) {
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
        auto stream = std::make_shared<std::shared_ptr<net::ClientStream>>();
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
                    std::shared_ptr<std::shared_ptr<net::ClientStream>> stream_out) {
        auto request = protocol::encode(protocol::ContentFetch{cid.to_string(), 0});
        src_[i].conn->async_open_stream("content.fetch", std::move(on_message), on_done,
                                        [request = std::move(request), on_done, stream_out](
                                            std::error_code ec, std::shared_ptr<net::ClientStream> s) {
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
        auto end = [this, i, t, over](std::error_code ec) {
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
        auto on_block = [this, i, t, over, end](
                            content::ByteView block,
                            const std::optional<content::Cid>& claimed) -> std::error_code {
            if (*over) return make_error_code(protocol::errc::cancelled);
            if (dl_.stale(t)) {  // another source finished this unit first (a hedge)
                *over = true;
                src_[i].active.erase(t.id);
                dl_.finish(t);
                tasks_.erase(t.id);
                asio::post(io_, [this] { step(); });
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
        if (s.cfg.kind == net::FetchSource::Kind::gateway) {
            auto cancelled = std::make_shared<bool>(false);
            s.active[t.id] = [cancelled, over] {
                *cancelled = true;
                *over = true;
            };
            start_gateway_task(i, t, on_block, end, cancelled);
            return;
        }
        auto stream = std::make_shared<std::shared_ptr<net::ClientStream>>();
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
        Sink counted = [this, i, sink = std::move(sink)](content::ByteView chunk) {
            src_[i].last_progress = Clock::now();
            return sink(chunk);
        };
        GatewayGet get{src_[i].cfg, std::move(target), std::move(accept),
                       need_dfs,    timeout_,          std::move(cancelled)};
        asio::co_spawn(io_, probe::gateway_get(io_, tls_ctx_, std::move(get), std::move(counted)),
                       [this, done](std::exception_ptr e, std::error_code ec) {
                           if (e) ec = make_error_code(net::errc::connection_lost);
                           if (finished_) return;
                           done(ec);
                       });
    }

    asio::io_context& io_;
    net::Engine engine_;
    content::MultiDownload dl_;
    std::chrono::milliseconds timeout_;
    std::size_t in_flight_;
    std::chrono::milliseconds stall_;
    std::chrono::milliseconds hedge_;
    std::string ca_;
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

std::optional<std::uint64_t> positive(const std::string& s, std::uint64_t max) {
    std::uint64_t v = 0;
    const auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (err != std::errc{} || end != s.data() + s.size() || v < 1 || v > max) return std::nullopt;
    return v;
}

}  // namespace

int fetch_from_sources(const Args& a, const std::string& cid_text, const std::string& sources_path) {
    std::error_code rec;
    auto text = read_input(sources_path, rec);
    if (!text) return fail(&a, Exit::io, "io_error", "cannot read " + sources_path + ": " + rec.message());
    std::string why;
    auto sources = net::parse_fetch_sources(*text, why);
    if (!sources) return fail(&a, Exit::bad_input, "bad_sources", sources_path + ": " + why);
    std::vector<std::string> tokens;
    for (const auto& s : *sources) {
        if (s.kind == net::FetchSource::Kind::gateway) {
            tokens.emplace_back();
            continue;
        }
        if (!s.token.empty()) {
            tokens.push_back(s.token);
            continue;
        }
        InputError e;
        auto token = read_token("token_file", s.token_file, TokenSource::file_or_stdin, e);
        if (!token) return fail(&a, e.exit, e.code, s.label + ": " + e.message);
        tokens.push_back(std::move(*token));
    }
    std::error_code cec;
    auto root = content::Cid::parse(cid_text, cec);
    if (!root)
        return fail(&a, Exit::bad_input, content::to_string(static_cast<content::errc>(cec.value())),
                    "'" + cid_text + "' is not a CID: " + cec.message());
    const fs::path out = *a.get("--output");
    if (auto e = check_output_path(out, a.has("--force"))) return fail(&a, *e);
    const auto replaced_mode = existing_permissions(out);
    std::chrono::milliseconds timeout = net::EngineOptions{}.connect_timeout;
    if (auto t = a.get("--timeout-ms")) {
        auto v = positive(*t, 3'600'000);
        if (!v) return fail(&a, Exit::usage, "usage", "--timeout-ms must be 1..3600000, not '" + *t + "'");
        timeout = std::chrono::milliseconds(*v);
    }
    std::size_t in_flight = kSourcesInFlight;
    if (auto t = a.get("--in-flight")) {
        auto v = positive(*t, 64);
        if (!v) return fail(&a, Exit::usage, "usage", "--in-flight must be 1..64, not '" + *t + "'");
        in_flight = static_cast<std::size_t>(*v);
    }
    std::chrono::milliseconds stall(kSourcesStallMs);
    if (auto t = a.get("--stall-ms")) {
        auto v = positive(*t, 3'600'000);
        if (!v) return fail(&a, Exit::usage, "usage", "--stall-ms must be 1..3600000, not '" + *t + "'");
        stall = std::chrono::milliseconds(*v);
    }

    std::chrono::milliseconds hedge(kSourcesHedgeMs);
    if (auto t = a.get("--hedge-ms")) {
        auto v = positive(*t, 3'600'000);
        if (!v) return fail(&a, Exit::usage, "usage", "--hedge-ms must be 1..3600000, not '" + *t + "'");
        hedge = std::chrono::milliseconds(*v);
    }

    asio::io_context io;
    Multi m(io, std::move(*sources), std::move(tokens), *root, out, timeout, in_flight, stall, hedge,
            a.get("--gateway-ca").value_or(""));
    if (auto e = m.open()) {
        if (e.category() != content::category())
            return fail(&a, Exit::io, "io_error",
                        "CA store " + a.get("--gateway-ca").value_or("") + ": unreadable");
        return fail(&a, Exit::io, content::to_string(static_cast<content::errc>(e.value())),
                    m.download().error_detail().empty() ? e.message() : m.download().error_detail());
    }
    auto& dl = m.download();
    if (!dl.discarded_reason().empty() && !a.json())
        std::cerr << "p2p-probe: the resume state " << content::MultiDownload::partial_path(out).string()
                  << " was discarded (" << dl.discarded_reason() << "); fetching from the start\n";
    const auto t0 = Clock::now();
    m.start();
    io.run();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();

    nlohmann::json per_source = nlohmann::json::array();
    std::size_t contributed = 0;
    for (const auto& s : m.sources()) {
        nlohmann::json j{{"source", s.cfg.label}, {"bytes", s.bytes}, {"blocks", s.blocks}};
        j["error"] = s.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.error);
        per_source.push_back(j);
        if (s.bytes > 0) ++contributed;
    }
    const std::error_code ec = m.result();
    if (ec) {
        // Every source gone: the exit says why. A block that did not verify anywhere (15) before a
        // connection failure: the content problem is the one to act on.
        Exit exit = Exit::failure;
        std::string reasons;
        for (const auto& s : m.sources()) {
            if (s.error.empty()) continue;
            const Exit e = exit_of(s.error_code);
            if (exit == Exit::failure || e == Exit::content_mismatch) exit = e;
            reasons += (reasons.empty() ? "" : "; ") + s.cfg.label + ": " + s.error;
        }
        std::string code = "no_source_left";
        std::string msg = "no source could supply the rest of " + cid_text + " (" + reasons + ")";
        if (content::MultiDownload::is_local(ec)) {
            exit = Exit::io;
            code = content::to_string(static_cast<content::errc>(ec.value()));
            msg = dl.error_detail();
        }
        dl.abort();
        const std::uint64_t kept = dl.bytes_done();
        msg += "; nothing was written to " + out.string();
        if (kept > 0) {
            msg += "; " + std::to_string(kept) + " verified bytes are kept in " +
                   content::MultiDownload::partial_path(out).string() +
                   ": run the same fetch again to resume";
        } else {
            dl.discard();
        }
        if (a.json()) {
            print_json({{"ok", false},
                        {"error", code},
                        {"message", msg},
                        {"exit_code", static_cast<int>(exit)},
                        {"resumable", kept > 0},
                        {"sources", per_source}});
            return static_cast<int>(exit);
        }
        return fail(&a, exit, code, msg);
    }
    restore_permissions(out, replaced_mode);
    const double mibs = static_cast<double>(dl.file_size()) / (1024.0 * 1024.0) / std::max(secs, 1e-9);
    if (a.json()) {
        print_json({{"cid", cid_text},
                    {"path", out.string()},
                    {"bytes", dl.file_size()},
                    {"units", dl.units()},
                    {"resumed_units", dl.units_resumed()},
                    {"resumed_bytes", dl.bytes_resumed()},
                    {"seconds", secs},
                    {"mib_per_s", mibs},
                    {"verified", true},
                    {"sources", per_source}});
    } else {
        std::cout << "fetched " << cid_text << " -> " << out.string() << ": " << dl.file_size()
                  << " bytes from " << contributed << " of " << m.sources().size()
                  << " sources, every block verified";
        if (dl.units_resumed() > 0)
            std::cout << " (resumed: " << dl.bytes_resumed() << " bytes were already here)";
        std::cout << '\n';
        for (const auto& s : m.sources())
            std::cout << "  " << s.cfg.label << ": " << s.bytes << " bytes, " << s.blocks << " blocks"
                      << (s.error.empty() ? "" : " (dropped: " + s.error + ")") << '\n';
    }
    return 0;
}

}  // namespace cyxp2p::tools::probe
