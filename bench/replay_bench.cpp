// replay: NonceWindow and SequenceWindow checks per second (1 and 2 threads), next to the raw primitives they
// are built on (SipHash-2-4-128 from libsodium, one bit test), and bytes per remembered nonce.
#include <sodium.h>

#include <array>
#include <atomic>
#include <cstring>
#include <string>

#include <benchmark/benchmark.h>

#include <cyxp2p/replay/nonce_window.hpp>
#include <cyxp2p/replay/sequence_window.hpp>

namespace {

using namespace std::chrono_literals;
using cyxp2p::replay::Limits;
using cyxp2p::replay::NonceWindow;
using cyxp2p::replay::SequenceWindow;

std::array<std::uint8_t, 16> make_nonce(std::uint64_t i, std::uint64_t salt) {
    std::array<std::uint8_t, 16> n{};
    std::memcpy(n.data(), &i, 8);
    std::memcpy(n.data() + 8, &salt, 8);
    return n;
}

// One window shared by every thread and every run. Skew 100 ms and a clock that advances 1 us per check
// (over all threads) keep ~210k nonces live: steady state, with expiry included in the cost.
NonceWindow& shared_window() {
    static NonceWindow w([] {
        Limits l;
        l.skew = 100ms;
        l.bucket_width = 10ms;
        l.nonce_capacity = std::size_t{1} << 20;
        return l;
    }());
    return w;
}
std::atomic<std::int64_t> g_clock{1'700'000'000'000'000'000};
std::atomic<std::uint64_t> g_salt{1};

void BM_NonceWindow_Check(benchmark::State& state) {
    NonceWindow& w = shared_window();
    const std::uint64_t salt = g_salt.fetch_add(1);  // fresh nonces per thread and per run
    const std::string key = "peer-" + std::to_string(state.thread_index());
    std::uint64_t i = 0, accepted = 0;
    std::int64_t now = g_clock.load(std::memory_order_relaxed);
    for (auto _ : state) {
        if ((i & 255) == 0) now = g_clock.fetch_add(256'000, std::memory_order_relaxed) + 256'000;
        const auto n = make_nonce(i++, salt);
        const auto v = w.check(key, n, std::chrono::nanoseconds(now), std::chrono::nanoseconds(now));
        accepted += v.accepted() ? 1u : 0u;
        benchmark::DoNotOptimize(v);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["accepted_pct"] =
        benchmark::Counter(100.0 * static_cast<double>(accepted) / static_cast<double>(i ? i : 1),
                           benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_NonceWindow_Check)->Threads(1)->Threads(2)->UseRealTime();

void BM_NonceWindow_Duplicate(benchmark::State& state) {
    NonceWindow& w = shared_window();
    const std::int64_t now = g_clock.load();
    const auto n = make_nonce(0, g_salt.fetch_add(1));
    (void)w.check("dup", n, std::chrono::nanoseconds(now), std::chrono::nanoseconds(now));
    for (auto _ : state)
        benchmark::DoNotOptimize(
            w.check("dup", n, std::chrono::nanoseconds(now), std::chrono::nanoseconds(now)));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NonceWindow_Duplicate);

// The raw primitive: the two keyed hashes every check computes.
void BM_Raw_SipHash_KeyThenNonce(benchmark::State& state) {
    std::array<std::uint8_t, 16> k1{}, k2{};
    const std::string key = "peer-0";
    std::uint64_t i = 0;
    for (auto _ : state) {
        std::uint8_t buf[24];
        crypto_shorthash(buf, reinterpret_cast<const unsigned char*>(key.data()), key.size(), k1.data());
        const auto n = make_nonce(i++, 0);
        std::memcpy(buf + 8, n.data(), 16);
        std::uint8_t out[16];
        crypto_shorthash_siphashx24(out, buf, sizeof buf, k2.data());
        benchmark::DoNotOptimize(out);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Raw_SipHash_KeyThenNonce);

// Bytes per remembered nonce at full load (entries + hash heads + time buckets) / entries.
void BM_NonceWindow_BytesPerEntry(benchmark::State& state) {
    Limits l;  // the defaults: 2^20 entries
    for (auto _ : state) {
        NonceWindow w(l);
        const std::int64_t now = 1'000'000'000'000;
        std::uint64_t i = 0;
        while (w.check("k", make_nonce(i, 7), std::chrono::nanoseconds(now), std::chrono::nanoseconds(now)))
            ++i;
        // The loop stops at the first window_full: when the fullest of the 16 shards fills.
        state.counters["entries"] = static_cast<double>(w.size());
        state.counters["bytes_per_entry"] =
            static_cast<double>(w.memory_bytes()) / static_cast<double>(w.size());
    }
}
BENCHMARK(BM_NonceWindow_BytesPerEntry)->Iterations(1)->Unit(benchmark::kMillisecond);

// SequenceWindow is per session: each thread has its own, as sessions do. Numbers arrive with local
// reordering (pairs swapped), all accepted.
void BM_SequenceWindow_Accept(benchmark::State& state) {
    SequenceWindow w;
    std::uint64_t i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(w.accept((i++) ^ 1));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SequenceWindow_Accept)->Threads(1)->Threads(2)->UseRealTime();

void BM_SequenceWindow_Replay(benchmark::State& state) {
    SequenceWindow w;
    for (std::uint64_t s = 0; s < 2000; ++s) (void)w.accept(s);
    std::uint64_t i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(w.check(1000 + (i++ & 511)));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SequenceWindow_Replay);

// The raw primitive: one bit test-and-set in a 2048-bit map.
void BM_Raw_BitTestAndSet(benchmark::State& state) {
    std::array<std::uint64_t, 32> map{};
    std::uint64_t i = 0;
    for (auto _ : state) {
        const std::uint64_t s = i++;
        auto& word = map[(s >> 6) & 31];
        const bool was = (word >> (s & 63)) & 1;
        word |= std::uint64_t{1} << (s & 63);
        benchmark::DoNotOptimize(was);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Raw_BitTestAndSet);

}  // namespace
