// ratelimit: TokenBucket and KeyedLimiter checks per second (1 and 2 threads), ConnectionLimiter admissions,
// next to the obvious baseline (a mutex-guarded std::unordered_map of buckets), and bytes per tracked key.
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <benchmark/benchmark.h>

#include <cyxp2p/ratelimit/connection_limiter.hpp>
#include <cyxp2p/ratelimit/keyed_limiter.hpp>
#include <cyxp2p/ratelimit/token_bucket.hpp>

namespace {

using namespace std::chrono_literals;
using namespace cyxp2p::ratelimit;
using ns = std::chrono::nanoseconds;

constexpr std::size_t kKeys = 10'000;

const std::vector<std::string>& keys() {
    static const std::vector<std::string> k = [] {
        std::vector<std::string> v;
        for (std::size_t i = 0; i < kKeys; ++i) v.push_back("peer-" + std::to_string(i * 7919));
        return v;
    }();
    return k;
}

// A bucket is per session: each thread has its own. Rate high enough that most calls are allowed.
void BM_TokenBucket_TryAcquire(benchmark::State& state) {
    TokenBucket b(Rate{1'000'000'000, 1s, 1000});
    std::int64_t now = 0;
    for (auto _ : state) benchmark::DoNotOptimize(b.try_acquire(ns(now += 1)));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TokenBucket_TryAcquire)->Threads(1)->Threads(2)->UseRealTime();

KeyedLimiter& shared_limiter() {
    static KeyedLimiter l(KeyedLimits{Rate{100, 1s, 200}, 65536, 16});
    return l;
}

void BM_KeyedLimiter_TryAcquire(benchmark::State& state) {
    KeyedLimiter& l = shared_limiter();
    const auto& k = keys();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 5003;
    std::int64_t now = 1'000'000'000;
    for (auto _ : state) {
        i = (i + 7) % kKeys;  // wander over 10k keys, both threads over the same ones
        benchmark::DoNotOptimize(l.try_acquire(k[i], ns(now += 100)));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KeyedLimiter_TryAcquire)->Threads(1)->Threads(2)->UseRealTime();

void BM_KeyedLimiter_Address(benchmark::State& state) {
    KeyedLimiter& l = shared_limiter();
    std::uint32_t i = static_cast<std::uint32_t>(state.thread_index()) * 5003;
    std::int64_t now = 1'000'000'000;
    for (auto _ : state) {
        i = (i + 7) % kKeys;
        const Address a = Address::v4({10, static_cast<std::uint8_t>(i >> 16),
                                       static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)});
        benchmark::DoNotOptimize(l.try_acquire(a, ns(now += 100)));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KeyedLimiter_Address)->Threads(1)->Threads(2)->UseRealTime();

// Baseline: what one would write first. Unbounded, unkeyed std::hash, one lock, a full bucket per entry.
struct Baseline {
    std::mutex mu;
    std::unordered_map<std::string, TokenBucket> map;
};
void BM_Baseline_MutexUnorderedMap(benchmark::State& state) {
    static Baseline b;
    const auto& k = keys();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 5003;
    std::int64_t now = 1'000'000'000;
    for (auto _ : state) {
        i = (i + 7) % kKeys;
        const std::lock_guard lock(b.mu);
        auto it = b.map.find(k[i]);
        if (it == b.map.end()) it = b.map.emplace(k[i], TokenBucket(Rate{100, 1s, 200})).first;
        benchmark::DoNotOptimize(it->second.try_acquire(ns(now += 100)));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Baseline_MutexUnorderedMap)->Threads(1)->Threads(2)->UseRealTime();

void BM_ConnectionLimiter_AdmitRelease(benchmark::State& state) {
    // The node's defaults, with a rate high enough that the bucket never refuses.
    static ConnectionLimiter c([] {
        ConnectionLimits l;
        l.new_connections_per_address = Rate{1'000'000, 1s, 1'000'000};
        return l;
    }());
    std::uint32_t i = static_cast<std::uint32_t>(state.thread_index()) * 5003;
    std::int64_t now = 1'000'000'000;
    for (auto _ : state) {
        i = (i + 7) % kKeys;
        const Address a = Address::v4({10, static_cast<std::uint8_t>(i >> 16),
                                       static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)});
        Admission adm = c.admit(a, ns(now += 100));
        benchmark::DoNotOptimize(adm.decision);
    }  // the permit is released here: admission + release per iteration
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ConnectionLimiter_AdmitRelease)->Threads(1)->Threads(2)->UseRealTime();

// Bytes per tracked key at full load (entries + hash heads) / keys.
void BM_KeyedLimiter_BytesPerKey(benchmark::State& state) {
    for (auto _ : state) {
        KeyedLimiter l(KeyedLimits{Rate{1, 1h, 1}, 65536, 16});
        std::size_t i = 0;
        while (l.try_acquire("key-" + std::to_string(i), ns(1))) ++i;
        state.counters["keys"] = static_cast<double>(l.size());
        state.counters["bytes_per_key"] =
            static_cast<double>(l.memory_bytes()) / static_cast<double>(l.size());
    }
}
BENCHMARK(BM_KeyedLimiter_BytesPerKey)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
