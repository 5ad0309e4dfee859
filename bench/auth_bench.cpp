// P2P token verification (cyxp2p::auth::verify) next to the raw primitive over the same signing input:
// HMAC-SHA256 + constant-time compare for HS256, libsodium Ed25519 verify for EdDSA. The difference is
// the JWT layer's own cost: base64url, strict JSON of header and payload, key selection, claims policy.
#include <sodium.h>

#include <array>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cyxp2p/auth/jwt.hpp>

namespace {

namespace auth = cyxp2p::auth;

constexpr std::int64_t kNow = 1'764'000'000;

struct Fixture {
    auth::Keyring ring;
    std::string token;
    std::string signing_input;
    std::vector<unsigned char> signature;
    std::vector<unsigned char> key;  // HMAC key or Ed25519 public key
    auth::VerifyOptions opts;

    explicit Fixture(auth::Algorithm alg) {
        if (sodium_init() < 0) std::abort();
        auto jwk = auth::Jwk::generate(alg, "bench-1");
        if (alg == auth::Algorithm::hs256) {
            key.assign(jwk.secret().data(), jwk.secret().data() + jwk.secret().size());
        } else {
            key = jwk.public_key();
        }
        ring.rotate(std::move(jwk));
        auth::Claims c;
        c.subject = "user-4242";
        c.issued_at = kNow - 60;
        c.expires_at = kNow + 3540;
        c.node_id = "node-9c1f2e7a";
        c.session_id = "3f0b8e7c-5d2a-4c41-9a57-0e6f3b2d1c90";
        c.scope = {"job:execute", "metrics:read", "content:read"};
        std::error_code ec;
        token = *auth::mint(c, ring, ec);
        signing_input = token.substr(0, token.rfind('.'));
        std::string sig_b64 = token.substr(token.rfind('.') + 1);
        // Standard base64 decode of the signature, done once outside the timed loop.
        for (auto& ch : sig_b64) ch = ch == '-' ? '+' : ch == '_' ? '/' : ch;
        while (sig_b64.size() % 4 != 0) sig_b64 += '=';
        signature.resize(sig_b64.size());
        const int n =
            EVP_DecodeBlock(signature.data(), reinterpret_cast<const unsigned char*>(sig_b64.data()),
                            static_cast<int>(sig_b64.size()));
        signature.resize(alg == auth::Algorithm::hs256 ? 32U : 64U);
        if (n < 0) std::abort();
        opts.now = kNow;
        opts.node_id = "node-9c1f2e7a";
        if (!auth::verify(token, ring, opts)) std::abort();
    }
};

void BM_Hs256_TokenVerify(benchmark::State& state) {
    Fixture f(auth::Algorithm::hs256);
    for (auto _ : state) {
        auto r = auth::verify(f.token, f.ring, f.opts);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["token_bytes"] = static_cast<double>(f.token.size());
}

void BM_Hs256_RawHmacSha256(benchmark::State& state) {
    Fixture f(auth::Algorithm::hs256);
    std::array<unsigned char, 32> mac{};
    for (auto _ : state) {
        unsigned len = 0;
        HMAC(EVP_sha256(), f.key.data(), static_cast<int>(f.key.size()),
             reinterpret_cast<const unsigned char*>(f.signing_input.data()), f.signing_input.size(),
             mac.data(), &len);
        const bool ok = CRYPTO_memcmp(mac.data(), f.signature.data(), mac.size()) == 0;
        if (!ok) state.SkipWithError("raw HMAC mismatch");
        benchmark::DoNotOptimize(ok);
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_EdDsa_TokenVerify(benchmark::State& state) {
    Fixture f(auth::Algorithm::eddsa);
    for (auto _ : state) {
        auto r = auth::verify(f.token, f.ring, f.opts);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["token_bytes"] = static_cast<double>(f.token.size());
}

void BM_EdDsa_RawEd25519Verify(benchmark::State& state) {
    Fixture f(auth::Algorithm::eddsa);
    for (auto _ : state) {
        const bool ok =
            crypto_sign_verify_detached(f.signature.data(),
                                        reinterpret_cast<const unsigned char*>(f.signing_input.data()),
                                        f.signing_input.size(), f.key.data()) == 0;
        if (!ok) state.SkipWithError("raw Ed25519 verify failed");
        benchmark::DoNotOptimize(ok);
    }
    state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Hs256_TokenVerify);
BENCHMARK(BM_Hs256_RawHmacSha256);
BENCHMARK(BM_EdDsa_TokenVerify);
BENCHMARK(BM_EdDsa_RawEd25519Verify);

}  // namespace
