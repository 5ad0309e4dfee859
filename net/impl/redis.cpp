// RedisClient: hiredis's blocking API on one thread, pipelined. Blocking is fine here because this thread
// does nothing else; the node's I/O threads only queue calls and get callbacks.
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <hiredis/hiredis.h>
#include <sys/stat.h>

#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/redis.hpp>

#include "redis_tls.hpp"

namespace cyxp2p::net {
namespace {

using Clock = std::chrono::steady_clock;

// How often an idle connection is checked for a close by the server.
constexpr auto kIdleCheck = std::chrono::milliseconds(100);

timeval to_timeval(std::chrono::nanoseconds d) {
    d = std::max(d, std::chrono::nanoseconds(std::chrono::milliseconds(1)));  // 0 would mean "no timeout"
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(d);
    return {static_cast<time_t>(s.count()),
            static_cast<suseconds_t>(std::chrono::duration_cast<std::chrono::microseconds>(d - s).count())};
}

RedisReply convert(const redisReply* r) {
    RedisReply out;
    switch (r->type) {
        case REDIS_REPLY_INTEGER:
            out.type = RedisReply::Type::integer;
            out.integer = r->integer;
            break;
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
        case REDIS_REPLY_ERROR:
            out.type = r->type == REDIS_REPLY_STRING   ? RedisReply::Type::string
                       : r->type == REDIS_REPLY_STATUS ? RedisReply::Type::status
                                                       : RedisReply::Type::error;
            out.str.assign(r->str, r->len);
            if (r->type == REDIS_REPLY_ERROR) out.error = errc::redis_error;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = RedisReply::Type::array;
            out.elements.reserve(r->elements);
            for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
            break;
        default:
            out.type = RedisReply::Type::nil;
    }
    return out;
}

RedisReply failure(errc e, std::string why = {}) {
    RedisReply r;
    r.error = e;
    r.type = RedisReply::Type::error;
    r.str = std::move(why);
    return r;
}

// A connection: hiredis's context and, for rediss://, the TLS relay behind its socket. hiredis goes first
// (closing its end of the socketpair), then the relay, which then has nothing left to move.
struct ContextFree {
    mutable std::shared_ptr<detail::RedisTlsLink> tls{};
    void operator()(redisContext* c) const noexcept {
        redisFree(c);
        tls.reset();
    }
};
using Context = std::unique_ptr<redisContext, ContextFree>;

// What went wrong on a connection: the TLS relay's reason when there is one (hiredis only saw its
// socketpair close), else hiredis's.
std::string transport_error(const Context& c) {
    if (const auto& tls = c.get_deleter().tls) {
        if (std::string why = tls->failure(); !why.empty()) return why;
    }
    return c->errstr;
}

// One command, waiting for its reply (AUTH, SELECT, PING at connect).
bool command(const Context& ctx, std::initializer_list<std::string_view> args, std::string& why) {
    redisContext* c = ctx.get();
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (auto a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (r == nullptr) {
        why = transport_error(ctx);
        return false;
    }
    const bool ok = r->type != REDIS_REPLY_ERROR;
    if (!ok) why.assign(r->str, r->len);
    freeReplyObject(r);
    return ok;
}

}  // namespace

std::string RedisEndpoint::describe() const {
    if (!path.empty()) return "unix://" + path + (db != 0 ? "?db=" + std::to_string(db) : "");
    return (tls ? "rediss://" : "redis://") +
           (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port) +
           "/" + std::to_string(db);
}

std::optional<RedisEndpoint> parse_redis_url(std::string_view url, std::error_code& ec) {
    auto bad = [&ec](errc e = errc::redis_bad_url) -> std::optional<RedisEndpoint> {
        ec = e;
        return std::nullopt;
    };
    auto number = [](std::string_view s, unsigned max, unsigned& out) {
        if (s.empty()) return false;
        auto [p, e] = std::from_chars(s.data(), s.data() + s.size(), out);
        return e == std::errc{} && p == s.data() + s.size() && out <= max;
    };
    RedisEndpoint ep;
    if (url.starts_with("unix://")) {
        std::string_view rest = url.substr(7);
        if (auto q = rest.find('?'); q != std::string_view::npos) {
            std::string_view query = rest.substr(q + 1);
            rest = rest.substr(0, q);
            if (!query.starts_with("db=") || !number(query.substr(3), 15, ep.db)) return bad();
        }
        if (rest.size() < 2 || rest[0] != '/') return bad();
        ep.path = std::string(rest);
        ec.clear();
        return ep;
    }
    std::string_view rest;
    if (url.starts_with("rediss://")) {
        ep.tls = true;
        rest = url.substr(9);
    } else if (url.starts_with("redis://")) {
        rest = url.substr(8);
    } else {
        return bad();
    }
    if (rest.find('@') != std::string_view::npos) return bad();  // no password in the URL: use a file
    std::string_view authority = rest.substr(0, rest.find('/'));
    if (authority.size() < rest.size()) {
        std::string_view db = rest.substr(authority.size() + 1);
        if (!db.empty() && !number(db, 15, ep.db)) return bad();
    }
    std::string_view port;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return bad();
        ep.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') return bad();
            port = after.substr(1);
        }
    } else {
        const auto colon = authority.find(':');
        ep.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (ep.host.empty()) return bad();
    if (!port.empty()) {
        unsigned p = 0;
        if (!number(port, 65535, p) || p == 0) return bad();
        ep.port = static_cast<std::uint16_t>(p);
    }
    ec.clear();
    return ep;
}

std::optional<std::string> read_redis_password(const std::filesystem::path& file, std::error_code& ec) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        ec = errc::redis_password_file;
        return std::nullopt;
    }
    std::ifstream in(file, std::ios::binary);
    std::string line;
    if (!in || !std::getline(in, line)) {
        ec = errc::redis_password_file;
        return std::nullopt;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
        ec = errc::redis_password_file;
        return std::nullopt;
    }
    ec.clear();
    return line;
}

struct RedisClient::State {
    struct Call {
        std::vector<std::string> argv;
        Done done;
        Clock::time_point start;
    };

    RedisEndpoint endpoint;
    std::optional<std::string> password;
    RedisLimits limits;
    std::function<void(bool, const std::string&)> on_state;
    std::atomic<bool>* connected;

    std::mutex mu;
    std::condition_variable cv;
    std::deque<Call> queue;
    bool stopping = false;
    std::atomic<std::int64_t> backoff_ms{0};
    std::atomic<std::uint64_t> calls{0}, errors{0}, timeouts{0}, unavailable{0}, connects{0}, disconnects{0};
    std::thread thread;

    void run();
    Context connect(std::string& why);
    std::string last_why;   // under mu: why the client is down, carried by the calls it fails at once
    bool reported = false;  // client thread: on_state has been called once (a first connect may fail)

    void set_state(bool up, const std::string& why) {
        {
            std::lock_guard lock(mu);
            last_why = up ? std::string() : why;
        }
        const bool was = connected->exchange(up);
        // A first connect that fails is reported too: a wrong CA or a refused handshake must reach the
        // operator (audit, log) even though the client was never up.
        if (was == up && reported) return;
        reported = true;
        if (was != up) (up ? connects : disconnects)++;
        if (on_state) on_state(up, why);
    }
    void deliver(Call& c, RedisReply r) {
        r.latency = Clock::now() - c.start;
        if (r.error == errc::redis_error) errors++;
        if (r.error == errc::redis_timeout) timeouts++;
        if (r.error == errc::redis_unavailable) unavailable++;
        c.done(std::move(r));
    }
    void fail_queued(errc e) {
        std::deque<Call> failed;
        {
            std::lock_guard lock(mu);
            failed.swap(queue);
        }
        for (auto& c : failed) deliver(c, failure(e));
    }
};

RedisClient::RedisClient(RedisEndpoint endpoint, std::optional<std::string> password,
                         const RedisLimits& limits, std::function<void(bool, const std::string&)> on_state)
    : state_(std::make_unique<State>()) {
    if (limits.call_deadline.count() <= 0 || limits.max_pipeline == 0 || limits.max_queued == 0 ||
        limits.reconnect_min.count() <= 0 || limits.reconnect_max < limits.reconnect_min)
        throw std::invalid_argument("RedisClient: limits out of range");
    state_->endpoint = std::move(endpoint);
    state_->password = std::move(password);
    state_->limits = limits;
    state_->on_state = std::move(on_state);
    state_->connected = &connected_;
    state_->backoff_ms = limits.reconnect_min.count();
    state_->thread = std::thread([s = state_.get()] { s->run(); });
}

RedisClient::~RedisClient() {
    {
        std::lock_guard lock(state_->mu);
        state_->stopping = true;
    }
    state_->cv.notify_all();
    state_->thread.join();
    state_->fail_queued(errc::redis_unavailable);
}

void RedisClient::call(std::vector<std::string> argv, Done done) {
    State& s = *state_;
    s.calls++;
    std::string why;
    {
        std::lock_guard lock(s.mu);
        if (!s.stopping && connected() && s.queue.size() < s.limits.max_queued) {
            s.queue.push_back({std::move(argv), std::move(done), Clock::now()});
            s.cv.notify_one();
            return;
        }
        why = connected() ? "too many calls queued" : s.last_why;
    }
    State::Call c{{}, std::move(done), Clock::now()};
    s.deliver(c, failure(errc::redis_unavailable, std::move(why)));
}

std::chrono::milliseconds RedisClient::retry_delay() const noexcept {
    return std::chrono::milliseconds(state_->backoff_ms.load());
}
const RedisLimits& RedisClient::limits() const noexcept {
    return state_->limits;
}
const RedisEndpoint& RedisClient::endpoint() const noexcept {
    return state_->endpoint;
}
RedisStats RedisClient::stats() const {
    const State& s = *state_;
    return {s.calls.load(),       s.errors.load(),   s.timeouts.load(),
            s.unavailable.load(), s.connects.load(), s.disconnects.load()};
}

Context RedisClient::State::connect(std::string& why) {
    const timeval tv = to_timeval(limits.connect_timeout);
    Context c;
    if (endpoint.tls) {
        // TLS is ours (redis_tls.hpp), the Redis protocol hiredis's, over a socketpair to the relay.
        std::error_code ec;
        std::shared_ptr<detail::RedisTlsLink> link =
            detail::RedisTlsLink::open(endpoint, limits.connect_timeout, ec, why);
        if (!link) return nullptr;
        const int fd = link->release_client_fd();  // before the move below: argument order is unspecified
        c = Context(redisConnectFd(fd), ContextFree{std::move(link)});
    } else {
        c.reset(endpoint.path.empty() ? redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, tv)
                                      : redisConnectUnixWithTimeout(endpoint.path.c_str(), tv));
    }
    if (!c) {
        why = "out of memory";
        return nullptr;
    }
    if (c->err != 0) {
        why = c->errstr;
        return nullptr;
    }
    redisSetTimeout(c.get(), tv);
    if (password && !command(c, {"AUTH", *password}, why)) return nullptr;  // `why` never holds it
    if (endpoint.db != 0 && !command(c, {"SELECT", std::to_string(endpoint.db)}, why)) return nullptr;
    // TLS 1.3 ends the client's handshake before the server has checked the client's certificate: a
    // refusal (no or a wrong --redis-cert) arrives at the first read. One PING makes that a failed
    // connect, with the server's alert as the reason, instead of a connection that fails its first call.
    if (endpoint.tls && !password && endpoint.db == 0 && !command(c, {"PING"}, why)) return nullptr;
    return c;
}

void RedisClient::State::run() {
    // hiredis writes with write(2): a server that went away would raise SIGPIPE and kill the process. Blocked
    // on this thread only, the write fails with EPIPE instead (the signal stays pending here, harmless).
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    Context c;
    for (;;) {
        if (!c) {
            std::string why;
            c = connect(why);
            if (!c) {
                set_state(false, why);
                fail_queued(errc::redis_unavailable);
                std::unique_lock lock(mu);
                const auto wait = std::chrono::milliseconds(backoff_ms.load());
                if (cv.wait_for(lock, wait, [this] { return stopping; })) return;
                backoff_ms = std::min<std::int64_t>(backoff_ms.load() * 2, limits.reconnect_max.count());
                continue;
            }
            backoff_ms = limits.reconnect_min.count();
            set_state(true, "connected to " + endpoint.describe());
        }
        std::vector<Call> batch;
        {
            std::unique_lock lock(mu);
            if (!cv.wait_for(lock, kIdleCheck, [this] { return stopping || !queue.empty(); })) {
                // Idle: nothing is outstanding, so a readable socket means the server closed it (or sent
                // what nobody asked for). Noticed now, not at the next handshake.
                lock.unlock();
                pollfd p{c->fd, POLLIN, 0};
                if (::poll(&p, 1, 0) != 0) {
                    c.reset();
                    set_state(false, "connection closed by the server");
                }
                continue;
            }
            if (stopping) return;
            const std::size_t n = std::min(queue.size(), limits.max_pipeline);
            batch.reserve(n);
            for (std::size_t i = 0; i < n; ++i) {
                batch.push_back(std::move(queue.front()));
                queue.pop_front();
            }
        }
        // Pipelining: every command of the batch is written before the first reply is read.
        for (auto& call : batch) {
            std::vector<const char*> argv;
            std::vector<std::size_t> lens;
            for (const auto& a : call.argv) {
                argv.push_back(a.data());
                lens.push_back(a.size());
            }
            redisAppendCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data());
        }
        std::size_t i = 0;
        for (; i < batch.size(); ++i) {
            // The socket timeout is what is left of this call's deadline: a late server costs no more.
            const auto left = batch[i].start + limits.call_deadline - Clock::now();
            redisSetTimeout(c.get(), to_timeval(left));
            void* raw = nullptr;
            if (redisGetReply(c.get(), &raw) != REDIS_OK || raw == nullptr) break;
            auto* r = static_cast<redisReply*>(raw);
            RedisReply reply = convert(r);
            freeReplyObject(r);
            // A reply after the deadline is reported as a timeout: callers were promised an answer in time,
            // and a late "yes" must not be mistaken for a prompt one.
            if (Clock::now() - batch[i].start > limits.call_deadline) reply = failure(errc::redis_timeout);
            deliver(batch[i], std::move(reply));
        }
        if (i < batch.size()) {
            // A read or write failed or timed out: the stream's position is unknown, so the connection goes.
            const bool late = Clock::now() - batch[i].start >= limits.call_deadline;
            const std::string why = late ? "call deadline passed" : transport_error(c);
            for (; i < batch.size(); ++i)
                deliver(batch[i], failure(late ? errc::redis_timeout : errc::redis_unavailable, why));
            c.reset();
            set_state(false, why);
            fail_queued(errc::redis_unavailable);
        }
    }
}

}  // namespace cyxp2p::net
