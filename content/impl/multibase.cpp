#include <array>
#include <cstdint>

#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/multibase.hpp>

namespace cyxp2p::content {
namespace {

constexpr std::string_view kBase58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr std::string_view kBase36 = "0123456789abcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kBase32 = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kBase64Url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

using Table = std::array<std::int8_t, 256>;

Table make_table(std::string_view alphabet, bool fold_case) {
    Table t;
    t.fill(-1);
    for (std::size_t i = 0; i < alphabet.size(); ++i) {
        const auto c = static_cast<unsigned char>(alphabet[i]);
        t[c] = static_cast<std::int8_t>(i);
        if (fold_case && c >= 'a' && c <= 'z')
            t[static_cast<unsigned char>(c - 'a' + 'A')] = static_cast<std::int8_t>(i);
    }
    return t;
}

// Big-number base conversion for the bases that are not a power of two (base58btc, base36). Leading
// zero digits stand for leading zero bytes (multibase spec, as in Bitcoin's base58).
std::error_code decode_radix(std::string_view text, std::string_view alphabet, const Table& table,
                             Bytes& out) {
    std::size_t zeros = 0;
    while (zeros < text.size() && text[zeros] == alphabet[0]) ++zeros;
    Bytes num;  // little-endian base-256
    for (std::size_t i = zeros; i < text.size(); ++i) {
        const int d = table[static_cast<unsigned char>(text[i])];
        if (d < 0) return errc::bad_base_digit;
        auto carry = static_cast<std::uint32_t>(d);
        for (auto& b : num) {
            carry += static_cast<std::uint32_t>(b) * static_cast<std::uint32_t>(alphabet.size());
            b = static_cast<std::uint8_t>(carry & 0xff);
            carry >>= 8;
        }
        while (carry != 0) {
            num.push_back(static_cast<std::uint8_t>(carry & 0xff));
            carry >>= 8;
        }
    }
    out.assign(zeros, 0);
    out.insert(out.end(), num.rbegin(), num.rend());
    return {};
}

std::string encode_radix(ByteView in, std::string_view alphabet) {
    std::size_t zeros = 0;
    while (zeros < in.size() && in[zeros] == 0) ++zeros;
    std::vector<std::uint8_t> digits;  // little-endian base-N
    for (std::size_t i = zeros; i < in.size(); ++i) {
        std::uint32_t carry = in[i];
        for (auto& d : digits) {
            carry += static_cast<std::uint32_t>(d) << 8;
            d = static_cast<std::uint8_t>(carry % alphabet.size());
            carry /= static_cast<std::uint32_t>(alphabet.size());
        }
        while (carry != 0) {
            digits.push_back(static_cast<std::uint8_t>(carry % alphabet.size()));
            carry /= static_cast<std::uint32_t>(alphabet.size());
        }
    }
    std::string s(zeros, alphabet[0]);
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) s.push_back(alphabet[*it]);
    return s;
}

// RFC 4648 bases whose digit is `bits` wide, without padding. Leftover bits must be zero, so every
// byte string has exactly one text form.
std::error_code decode_bits(std::string_view text, const Table& table, unsigned bits, Bytes& out) {
    out.clear();
    std::uint32_t acc = 0;
    unsigned have = 0;
    for (char c : text) {
        const int d = table[static_cast<unsigned char>(c)];
        if (d < 0) return errc::bad_base_digit;
        acc = (acc << bits) | static_cast<std::uint32_t>(d);
        have += bits;
        if (have >= 8) {
            have -= 8;
            out.push_back(static_cast<std::uint8_t>(acc >> have));
            acc &= (1u << have) - 1;
        }
    }
    if (have >= bits || acc != 0) return errc::bad_base_digit;
    return {};
}

}  // namespace

std::string base58btc_encode(ByteView in) {
    return encode_radix(in, kBase58);
}

std::string base32_lower_encode(ByteView in) {
    std::string s;
    s.reserve((in.size() * 8 + 4) / 5);
    std::uint32_t acc = 0;
    unsigned have = 0;
    for (std::uint8_t b : in) {
        acc = (acc << 8) | b;
        have += 8;
        while (have >= 5) {
            have -= 5;
            s.push_back(kBase32[(acc >> have) & 31]);
        }
        acc &= (1u << have) - 1;
    }
    if (have > 0) s.push_back(kBase32[(acc << (5 - have)) & 31]);
    return s;
}

std::error_code base58btc_decode(std::string_view text, Bytes& out) {
    static const Table t = make_table(kBase58, false);
    return decode_radix(text, kBase58, t, out);
}

std::error_code multibase_decode(std::string_view text, Bytes& out) {
    if (text.empty()) return errc::empty_string;
    const std::string_view body = text.substr(1);
    switch (text[0]) {
        case 'b':
        case 'B': {
            // Base32 is case-insensitive only within one case: 'b' is lower, 'B' is upper.
            static const Table lower = make_table(kBase32, false);
            static const Table upper = [] {
                Table t;
                t.fill(-1);
                for (std::size_t i = 0; i < kBase32.size(); ++i) {
                    const char c = kBase32[i];
                    const char u = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
                    t[static_cast<unsigned char>(u)] = static_cast<std::int8_t>(i);
                }
                return t;
            }();
            return decode_bits(body, text[0] == 'b' ? lower : upper, 5, out);
        }
        case 'z':
            return base58btc_decode(body, out);
        case 'f':
        case 'F': {
            static const Table lower = make_table("0123456789abcdef", false);
            static const Table upper = make_table("0123456789ABCDEF", false);
            return decode_bits(body, text[0] == 'f' ? lower : upper, 4, out);
        }
        case 'k':
        case 'K': {
            static const Table t = make_table(kBase36, true);
            return decode_radix(body, kBase36, t, out);
        }
        case 'm': {
            static const Table t = make_table(kBase64, false);
            return decode_bits(body, t, 6, out);
        }
        case 'u': {
            static const Table t = make_table(kBase64Url, false);
            return decode_bits(body, t, 6, out);
        }
        default:
            return errc::bad_multibase_prefix;
    }
}

}  // namespace cyxp2p::content
