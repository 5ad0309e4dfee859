// Import throughput of the kubo-compatible importer next to raw SHA-256 over the same bytes, in one
// binary: the importer hashes every byte once (plus small internal nodes), so SHA-256 is its ceiling.
// docs/performance.md ("content") has the figures and the command.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/dag_verifier.hpp>
#include <cyxp2p/content/importer.hpp>

namespace c = cyxp2p::content;

namespace {

const std::string& data() {
    static const std::string d = [] {
        std::string s(64u << 20, '\0');
        std::uint64_t x = 88172645463325252ull;
        for (auto& ch : s) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ch = static_cast<char>(x);
        }
        return s;
    }();
    return d;
}

void BM_Sha256(benchmark::State& state) {
    const auto& d = data();
    unsigned char md[32];
    for (auto _ : state) {
        EVP_Digest(d.data(), d.size(), md, nullptr, EVP_sha256(), nullptr);
        benchmark::DoNotOptimize(md);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(d.size()));
}

// Whole-buffer hashing in 256 KiB pieces, as the importer does per chunk.
void BM_Sha256Chunked(benchmark::State& state) {
    const auto& d = data();
    unsigned char md[32];
    for (auto _ : state) {
        for (std::size_t off = 0; off < d.size(); off += 262144) {
            EVP_Digest(d.data() + off, 262144, md, nullptr, EVP_sha256(), nullptr);
        }
        benchmark::DoNotOptimize(md);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(d.size()));
}

void import(benchmark::State& state, const c::ImportOptions& opt) {
    const auto& d = data();
    for (auto _ : state) {
        c::Importer imp(opt);
        std::string chunk;
        for (std::size_t off = 0; off < d.size(); off += opt.chunk_size) {
            chunk.assign(d, off, opt.chunk_size);
            if (imp.add_chunk(chunk)) state.SkipWithError("import failed");
        }
        std::error_code ec;
        auto r = imp.finish(ec);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(d.size()));
}

void BM_ImportKuboDefault(benchmark::State& s) {
    import(s, c::ImportOptions::kubo_default());
}
void BM_ImportCidV1RawLeaves(benchmark::State& s) {
    import(s, c::ImportOptions::kubo_cid_v1());
}
void BM_ImportUnixfsV1_2025(benchmark::State& s) {
    import(s, c::ImportOptions{1, true, 1 << 20, 1024});
}

// Verification speed: a DAG in DFS order through DagVerifier (hash + decode + checks).
void BM_VerifyKuboDefault(benchmark::State& state) {
    const auto& d = data();
    std::vector<std::pair<c::Cid, c::Bytes>> blocks;
    c::Importer imp(c::ImportOptions::kubo_default(), [&](const c::ImportedBlock& b) {
        blocks.emplace_back(b.cid, c::Bytes(b.bytes.begin(), b.bytes.end()));
        return std::error_code{};
    });
    (void)imp.write(c::as_bytes(d));
    std::error_code ec;
    const auto root = imp.finish(ec)->root;
    // DFS pre-order from the root, the order the verifier requires.
    std::map<c::Digest, std::size_t> index;
    for (std::size_t i = 0; i < blocks.size(); ++i) index[blocks[i].first.digest()] = i;
    std::vector<std::size_t> order;
    std::function<void(const c::Cid&)> walk = [&](const c::Cid& cid) {
        const std::size_t i = index.at(cid.digest());
        order.push_back(i);
        if (cid.codec() != c::Codec::dag_pb) return;
        c::PbNode node;
        if (c::decode_dag_pb(blocks[i].second, node, 8192)) return;
        for (const auto& l : node.links) walk(l.hash);
    };
    walk(root);
    for (auto _ : state) {
        c::DagVerifier v(root);
        c::VerifiedData out;
        for (auto i : order) {
            if (v.push(blocks[i].second, blocks[i].first, out)) state.SkipWithError("verify failed");
        }
        if (v.finish()) state.SkipWithError("verify failed");
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(d.size()));
}

}  // namespace

BENCHMARK(BM_Sha256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Sha256Chunked)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ImportKuboDefault)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ImportCidV1RawLeaves)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ImportUnixfsV1_2025)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_VerifyKuboDefault)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
