// bench/redis_bench.cpp: what fleet mode's Redis checks cost (issue 20 targets; docs/fleet.md,
// docs/performance.md "Fleet mode"). Against a redis-server the caller started (bench/fleet.sh starts one on
// a unix socket):
//   - HELLO nonce checks/s through net::RedisAdmission (the admission script: SET NX PX behind EVALSHA), with
//     1, 16 and 256 checks in flight (RedisClient pipelines what is queued), and the latency of each check
//     from check() to its verdict: at 1 in flight that is what Redis adds to one HELLO;
//   - OPEN checks (both GCRA buckets and the nonce, one script call), the same way;
//   - baseline in the same run: a bare `SET key 1 NX PX 61000` through the same RedisClient, the least an
//     atomic nonce check can cost over this client and socket.
// A replayed nonce must be refused at the end, or the run is void. Not a test; prints one JSON line per row.
//   redis_bench --socket PATH [--checks N]        default 100000
#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <cyxp2p/net/admission.hpp>
#include <cyxp2p/net/redis.hpp>

namespace net = cyxp2p::net;
namespace p = cyxp2p::protocol;
using Clock = std::chrono::steady_clock;

namespace {

struct Row {
    double per_s = 0;
    double p50_us = 0;
    double p99_us = 0;
    std::size_t failed = 0;
};

// Keeps `in_flight` operations outstanding until `total` completed; start(i, done) issues operation i and
// done(ok) must be called exactly once, on any thread.
template <class Start>
Row run(std::size_t total, std::size_t in_flight, Start start) {
    std::mutex m;
    std::condition_variable cv;
    std::size_t outstanding = 0, finished = 0, failed = 0;
    std::vector<double> latency(total);
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < total; ++i) {
        {
            std::unique_lock lock(m);
            cv.wait(lock, [&] { return outstanding < in_flight; });
            ++outstanding;
        }
        const auto issued = Clock::now();
        start(i, [&, i, issued](bool ok) {
            const double us = std::chrono::duration<double, std::micro>(Clock::now() - issued).count();
            std::lock_guard lock(m);
            latency[i] = us;
            --outstanding;
            ++finished;
            if (!ok) ++failed;
            cv.notify_all();
        });
    }
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return finished == total; });
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::sort(latency.begin(), latency.end());
    const auto at = [&](double q) {
        return latency[std::min(total - 1, static_cast<std::size_t>(q * static_cast<double>(total)))];
    };
    return {static_cast<double>(total) / secs, at(0.5), at(0.99), failed};
}

void print(const char* what, std::size_t in_flight, const Row& r) {
    std::printf(
        "{\"row\": \"%s\", \"in_flight\": %zu, \"per_s\": %.0f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
        "\"failed\": %zu}\n",
        what, in_flight, r.per_s, r.p50_us, r.p99_us, r.failed);
    std::fflush(stdout);
}

p::Now now() {
    const auto wall = std::chrono::system_clock::now().time_since_epoch();
    return {.mono = std::chrono::duration_cast<p::Time>(Clock::now().time_since_epoch()),
            .wall = std::chrono::duration_cast<p::Time>(wall)};
}

p::AdmissionRequest request(p::AdmissionRequest::Step step, std::uint64_t run_id, std::uint64_t i) {
    p::AdmissionRequest r;
    r.step = step;
    r.subject = "bench-subject-" + std::to_string(i % 64);
    r.method = "content.fetch";
    std::memcpy(r.nonce.data(), &run_id, sizeof run_id);
    std::memcpy(r.nonce.data() + 8, &i, sizeof i);
    r.now = now();
    r.timestamp = r.now.wall;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    std::string socket;
    std::size_t checks = 100'000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--socket") == 0) socket = argv[i + 1];
        if (std::strcmp(argv[i], "--checks") == 0) checks = std::strtoull(argv[i + 1], nullptr, 10);
    }
    if (socket.empty() || checks == 0) {
        std::fprintf(stderr, "usage: redis_bench --socket PATH [--checks N]\n");
        return 2;
    }
    net::RedisEndpoint endpoint;
    endpoint.path = socket;
    auto client = std::make_shared<net::RedisClient>(endpoint, std::nullopt);
    for (int i = 0; i < 200 && !client->connected(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!client->connected()) {
        std::fprintf(stderr, "redis_bench: no Redis at %s\n", socket.c_str());
        return 1;
    }
    cyxp2p::ratelimit::Limits rate;  // generous buckets: the bench measures the check, not refusals
    rate.requests_per_peer.rate = {1'000'000'000, std::chrono::seconds(1), 1'000'000'000};
    rate.requests_per_method.rate = {1'000'000'000, std::chrono::seconds(1), 1'000'000'000};
    net::RedisAdmission admission(client, "bench:", net::RedisUnavailable::refuse, {}, rate);
    const auto run_id = static_cast<std::uint64_t>(now().wall.count());

    std::uint64_t base = 0;
    for (const std::size_t in_flight : {std::size_t{1}, std::size_t{16}, std::size_t{256}}) {
        const std::size_t n = in_flight == 1 ? std::min<std::size_t>(checks, 20'000) : checks;
        print("set_nx_px", in_flight, run(n, in_flight, [&](std::size_t i, auto done) {
                  client->call({"SET", "bench:raw:" + std::to_string(run_id) + ":" + std::to_string(base + i),
                                "1", "NX", "PX", "61000"},
                               [done](net::RedisReply r) { done(!r.error); });
              }));
        print("hello_nonce", in_flight, run(n, in_flight, [&](std::size_t i, auto done) {
                  admission.check(request(p::AdmissionRequest::Step::hello, run_id, base + i),
                                  [done](p::AdmissionVerdict v) { done(static_cast<bool>(v)); });
              }));
        print("open_buckets_and_nonce", in_flight, run(n, in_flight, [&](std::size_t i, auto done) {
                  admission.check(request(p::AdmissionRequest::Step::open, run_id, base + i),
                                  [done](p::AdmissionVerdict v) { done(static_cast<bool>(v)); });
              }));
        base += n;
    }
    // The run is void unless a nonce it used is refused when seen again.
    std::mutex m;
    std::condition_variable cv;
    std::optional<p::AdmissionVerdict> again;
    admission.check(request(p::AdmissionRequest::Step::hello, run_id, 0), [&](p::AdmissionVerdict v) {
        std::lock_guard lock(m);
        again = std::move(v);
        cv.notify_all();
    });
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return again.has_value(); });
    if (*again) {
        std::fprintf(stderr, "redis_bench: a replayed nonce was admitted: the checks did not reach Redis\n");
        return 1;
    }
    std::printf("{\"row\": \"replay_refused\", \"detail\": \"%s\"}\n", again->detail.c_str());
    return 0;
}
