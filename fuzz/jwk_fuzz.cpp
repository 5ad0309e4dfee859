// JWK and JWKS parsing (Jwk::parse, Keyring::from_jwks). A parsed key must survive its own JSON: to_json and
// parse again give the same algorithm, kid, key bytes and thumbprint.
#include "auth_fixture.hpp"

namespace {

using namespace cyxp2p;

bool same_key(const auth::Jwk& a, const auth::Jwk& b) {
    return a.alg() == b.alg() && a.kid() == b.kid() && a.public_key() == b.public_key() &&
           a.secret().size() == b.secret().size() &&
           std::equal(a.secret().data(), a.secret().data() + a.secret().size(), b.secret().data()) &&
           a.thumbprint() == b.thumbprint() && a.can_sign() == b.can_sign();
}

void round_trip(const auth::Jwk& k) {
    for (bool include_private : {true, false}) {
        auto json = k.to_json(include_private);
        if (!json) {
            CYXP2P_FUZZ_CHECK(!include_private && k.alg() == auth::Algorithm::hs256);
            continue;
        }
        std::error_code ec;
        auto again = auth::Jwk::parse(*json, ec);
        CYXP2P_FUZZ_CHECK(again.has_value());
        if (include_private) {
            CYXP2P_FUZZ_CHECK(same_key(k, *again));
        } else {
            CYXP2P_FUZZ_CHECK(again->public_key() == k.public_key() && !again->is_secret());
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    std::error_code ec;
    std::string detail;
    if (auto k = auth::Jwk::parse(in, ec, &detail)) {
        CYXP2P_FUZZ_CHECK(!ec);
        round_trip(*k);
    } else {
        CYXP2P_FUZZ_CHECK(ec);
    }
    detail.clear();
    if (auto ring = auth::Keyring::from_jwks(in, ec, &detail)) {
        CYXP2P_FUZZ_CHECK(!ring->empty());
        for (const auto& k : ring->keys()) {
            round_trip(k);
            if (!k.kid().empty()) CYXP2P_FUZZ_CHECK(ring->find(k.kid()) == &k);
        }
        (void)ring->to_public_jwks();
    } else {
        CYXP2P_FUZZ_CHECK(ec);
    }
    return 0;
}
