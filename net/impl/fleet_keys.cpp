// Fleet key derivation: see fleet_keys.hpp.
#include <sodium.h>

#include <cstdint>
#include <cstdio>

#include <openssl/evp.h>

#include <cyxp2p/net/impl/fleet_keys.hpp>

namespace cyxp2p::net::fleet {

std::string digest(std::initializer_list<std::string_view> parts) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, 16);
    for (auto p : parts) {
        const std::uint64_t n = p.size();  // length-prefixed: ("ab","c") and ("a","bc") differ
        crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&n), sizeof n);
        crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(p.data()), p.size());
    }
    unsigned char out[16];
    crypto_generichash_final(&st, out, sizeof out);
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    for (unsigned char c : out) {
        s += hex[c >> 4];
        s += hex[c & 15];
    }
    return s;
}

std::string sha1_hex(const std::string& s) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(s.data(), s.size(), md, &len, EVP_sha1(), nullptr);
    std::string hex;
    char buf[3];
    for (unsigned i = 0; i < len; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", md[i]);
        hex += buf;
    }
    return hex;
}

std::pair<std::string, std::string> gcra_args(const ratelimit::Rate& r) {
    const double period_us = std::chrono::duration<double, std::micro>(r.period).count();
    const double t = r.tokens == 0 ? 1e15 : period_us / static_cast<double>(r.tokens);
    char a[64];
    char b[64];
    std::snprintf(a, sizeof a, "%.3f", t);
    std::snprintf(b, sizeof b, "%.3f", t * static_cast<double>(r.burst));
    return {a, b};
}

}  // namespace cyxp2p::net::fleet
