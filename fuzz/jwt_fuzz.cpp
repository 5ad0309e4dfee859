// JWS/JWT parse and verify against a fixed keyring at a fixed time, for every token type, plus
// decode_unverified. Two input forms:
//   - a compact token (no NUL byte), verified as it is;
//   - "header JSON" NUL "payload JSON": the harness encodes both and signs them with the trusted HS256 key,
//     so the fuzzer reaches the header, claims and policy checks behind a valid signature.
// Whatever verifies must mint again and verify to the same claims.
#include <cstring>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth_fixture.hpp"

namespace {

using namespace cyxp2p;

std::string b64url(std::string_view s) {
    static constexpr char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::uint32_t buf = 0;
    int bits = 0;
    for (char ch : s) {
        buf = (buf << 8) | static_cast<unsigned char>(ch);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += a[(buf >> bits) & 63U];
        }
    }
    if (bits > 0) out += a[(buf << (6 - bits)) & 63U];
    return out;
}

std::string hs256_sign(std::string_view header, std::string_view payload) {
    const auth::Jwk& k = fuzz::key(fuzz::kHsKid);
    std::string input = b64url(header) + "." + b64url(payload);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    HMAC(EVP_sha256(), k.secret().data(), static_cast<int>(k.secret().size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    return input + "." + b64url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

bool same_claims(const auth::Claims& a, const auth::Claims& b) {
    return a.type == b.type && a.issuer == b.issuer && a.subject == b.subject && a.issued_at == b.issued_at &&
           a.expires_at == b.expires_at && a.not_before == b.not_before && a.node_id == b.node_id &&
           a.session_id == b.session_id && a.job_id == b.job_id && a.token_id == b.token_id &&
           a.scope == b.scope && a.cnf_x5t_s256 == b.cnf_x5t_s256 && a.node_pin == b.node_pin;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    std::string token;
    if (const auto nul = in.find('\0'); nul != std::string_view::npos) {
        token = hs256_sign(in.substr(0, nul), in.substr(nul + 1));
    } else {
        token = std::string(in);
    }

    std::error_code ec;
    auto u = auth::decode_unverified(token, ec);
    CYXP2P_FUZZ_CHECK(u.has_value() != static_cast<bool>(ec));

    for (auto type :
         {auth::TokenType::p2p, auth::TokenType::session, auth::TokenType::job, auth::TokenType::refresh}) {
        auth::VerifyOptions opts;
        opts.now = fuzz::kNow;
        opts.node_id = std::string(fuzz::kNodeId);
        opts.expected_type = type;
        const auth::Verified v = auth::verify(token, fuzz::keyring(), opts);
        CYXP2P_FUZZ_CHECK(v.claims.has_value() != static_cast<bool>(v.error));
        (void)v.message();
        if (!v) continue;
        CYXP2P_FUZZ_CHECK(u.has_value());  // what verifies must also decode
        CYXP2P_FUZZ_CHECK(v.claims->type == type);
        // Round trip: the verified claims mint again (both algorithms) and verify to the same claims.
        for (auto kid : {fuzz::kHsKid, fuzz::kEdKid}) {
            std::string detail;
            auto again = auth::mint(*v.claims, fuzz::key(kid), ec, &detail);
            CYXP2P_FUZZ_CHECK(again.has_value());
            const auth::Verified w = auth::verify(*again, fuzz::keyring(), opts);
            CYXP2P_FUZZ_CHECK(w && same_claims(*w.claims, *v.claims));
        }
    }
    return 0;
}
