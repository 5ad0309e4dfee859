// JWK parsing and writing (RFC 7517 4, RFC 7518 6.4 "oct", RFC 8037 2 "OKP"), key files with the 0600 rule.
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cyxp2p/auth/detail/base64url.hpp>
#include <cyxp2p/auth/detail/crypto.hpp>
#include <cyxp2p/auth/detail/strict_json.hpp>
#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/jwk.hpp>

namespace cyxp2p::auth {

using nlohmann::json;

const char* to_string(Algorithm a) noexcept {
    return a == Algorithm::hs256 ? "HS256" : "EdDSA";
}

std::optional<Algorithm> algorithm_from_string(std::string_view alg) noexcept {
    // RFC 7515 4.1.1: alg values are case-sensitive; "hs256" is not HS256.
    if (alg == "HS256") return Algorithm::hs256;
    if (alg == "EdDSA") return Algorithm::eddsa;
    return std::nullopt;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {
    other.bytes_.clear();
}
SecretBytes& SecretBytes::operator=(const SecretBytes& other) {
    if (this != &other) {
        wipe();
        bytes_ = other.bytes_;
    }
    return *this;
}
SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
        wipe();
        bytes_ = std::move(other.bytes_);
        other.bytes_.clear();
    }
    return *this;
}
SecretBytes::~SecretBytes() {
    wipe();
}
void SecretBytes::wipe() noexcept {
    if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
    bytes_.clear();
}

namespace {

constexpr std::size_t kMinHmacKey = 32;  // RFC 7518 3.2: a key of the same size as the hash output or larger

bool fail(std::error_code& ec, std::string* detail, errc code, std::string_view what) {
    ec = code;
    if (detail != nullptr) *detail = std::string(what);
    return false;
}

// A member that must be a string when present; nullopt if absent, sets ec if of the wrong type.
std::optional<std::string> opt_string(const json& j, const char* name, std::error_code& ec,
                                      std::string* detail) {
    auto it = j.find(name);
    if (it == j.end()) return std::nullopt;
    if (!it->is_string()) {
        fail(ec, detail, errc::bad_key, name);
        return std::nullopt;
    }
    return it->get<std::string>();
}

}  // namespace

bool Jwk::can_sign() const {
    return alg_ == Algorithm::hs256 ? !secret_.empty() : secret_.size() == 64;
}

Jwk Jwk::generate(Algorithm alg, std::string kid) {
    Jwk k;
    k.alg_ = alg;
    k.kid_ = std::move(kid);
    if (alg == Algorithm::hs256) {
        std::vector<std::uint8_t> key(kMinHmacKey);
        if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
            throw std::runtime_error("RAND_bytes failed");
        k.secret_ = SecretBytes(std::move(key));
    } else {
        detail::ensure_sodium();
        std::vector<std::uint8_t> sk(crypto_sign_SECRETKEYBYTES);
        k.public_.resize(crypto_sign_PUBLICKEYBYTES);
        crypto_sign_keypair(k.public_.data(), sk.data());
        k.secret_ = SecretBytes(std::move(sk));
    }
    return k;
}

std::optional<Jwk> Jwk::from_secret(std::vector<std::uint8_t> secret, std::string kid, std::error_code& ec) {
    if (secret.size() < kMinHmacKey) {
        OPENSSL_cleanse(secret.data(), secret.size());
        ec = errc::weak_key;
        return std::nullopt;
    }
    Jwk k;
    k.alg_ = Algorithm::hs256;
    k.kid_ = std::move(kid);
    k.secret_ = SecretBytes(std::move(secret));
    return k;
}

Jwk Jwk::from_ed25519_public(const std::array<std::uint8_t, 32>& pk, std::string kid) {
    Jwk k;
    k.alg_ = Algorithm::eddsa;
    k.kid_ = std::move(kid);
    k.public_.assign(pk.begin(), pk.end());
    return k;
}

std::optional<Jwk> Jwk::parse(std::string_view text, std::error_code& ec, std::string* detail,
                              const Limits& limits) {
    ec.clear();
    if (text.size() > limits.max_jwks_bytes) {
        fail(ec, detail, errc::bad_key, "size");
        return std::nullopt;
    }
    auto doc = detail::parse_strict_object(text, limits.max_json_depth);
    if (!doc) {
        fail(ec, detail, errc::bad_key, "json");
        return std::nullopt;
    }
    const json& j = *doc;
    auto kty = opt_string(j, "kty", ec, detail);
    if (ec) return std::nullopt;
    if (!kty) {
        fail(ec, detail, errc::bad_key, "kty");
        return std::nullopt;
    }
    auto alg = opt_string(j, "alg", ec, detail);
    auto kid = opt_string(j, "kid", ec, detail);
    auto use = opt_string(j, "use", ec, detail);
    if (ec) return std::nullopt;
    // RFC 7517 4.2: "sig" or "enc". A key meant for encryption never verifies a signature.
    if (use && *use != "sig") {
        fail(ec, detail, errc::bad_key, "use");
        return std::nullopt;
    }
    if (kid && (kid->empty() || kid->size() > limits.max_kid_bytes)) {
        fail(ec, detail, errc::bad_key, "kid");
        return std::nullopt;
    }
    // RFC 7517 4.3: key_ops, when present, must allow signing or verifying.
    if (auto ops = j.find("key_ops"); ops != j.end()) {
        bool ok = ops->is_array();
        bool sig = false;
        if (ok) {
            for (const auto& op : *ops) {
                if (!op.is_string())
                    ok = false;
                else if (op == "sign" || op == "verify")
                    sig = true;
            }
        }
        if (!ok || !sig) {
            fail(ec, detail, errc::bad_key, "key_ops");
            return std::nullopt;
        }
    }

    auto decode = [&](const char* name, std::size_t want) -> std::optional<std::vector<std::uint8_t>> {
        auto s = opt_string(j, name, ec, detail);
        if (ec) return std::nullopt;
        if (!s) {
            fail(ec, detail, errc::bad_key, name);
            return std::nullopt;
        }
        auto bytes = detail::base64url_decode(*s);
        if (!bytes || (want != 0 && bytes->size() != want)) {
            if (bytes) OPENSSL_cleanse(bytes->data(), bytes->size());
            fail(ec, detail, errc::bad_key, name);
            return std::nullopt;
        }
        return bytes;
    };

    Jwk k;
    k.kid_ = kid.value_or("");
    if (*kty == "oct") {
        // RFC 8725 3.1: the key is bound to HS256, the one HMAC algorithm we accept.
        if (alg && *alg != "HS256") {
            fail(ec, detail, errc::unsupported_key, "alg");
            return std::nullopt;
        }
        auto key = decode("k", 0);
        if (!key) return std::nullopt;
        if (key->size() < kMinHmacKey) {
            OPENSSL_cleanse(key->data(), key->size());
            fail(ec, detail, errc::weak_key, "k");
            return std::nullopt;
        }
        k.alg_ = Algorithm::hs256;
        k.secret_ = SecretBytes(std::move(*key));
        return k;
    }
    if (*kty == "OKP") {
        auto crv = opt_string(j, "crv", ec, detail);
        if (ec) return std::nullopt;
        // RFC 8037 2: crv names the curve; only Ed25519 signs (X25519 is for key agreement).
        if (!crv || *crv != "Ed25519") {
            fail(ec, detail, errc::unsupported_key, "crv");
            return std::nullopt;
        }
        if (alg && *alg != "EdDSA") {
            fail(ec, detail, errc::unsupported_key, "alg");
            return std::nullopt;
        }
        auto x = decode("x", crypto_sign_PUBLICKEYBYTES);
        if (!x) return std::nullopt;
        k.alg_ = Algorithm::eddsa;
        k.public_ = std::move(*x);
        if (j.contains("d")) {
            auto d = decode("d", crypto_sign_SEEDBYTES);
            if (!d) return std::nullopt;
            detail::ensure_sodium();
            std::vector<std::uint8_t> sk(crypto_sign_SECRETKEYBYTES);
            std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
            crypto_sign_seed_keypair(pk.data(), sk.data(), d->data());
            OPENSSL_cleanse(d->data(), d->size());
            SecretBytes secret(std::move(sk));
            // RFC 8037 2: "x" must be the public key of "d"; a mismatched pair would mint unverifiable
            // tokens.
            if (CRYPTO_memcmp(pk.data(), k.public_.data(), pk.size()) != 0) {
                fail(ec, detail, errc::bad_key, "d");
                return std::nullopt;
            }
            k.secret_ = std::move(secret);
        }
        return k;
    }
    fail(ec, detail, errc::unsupported_key, "kty");
    return std::nullopt;
}

std::optional<std::string> Jwk::to_json(bool include_private) const {
    json j;
    if (alg_ == Algorithm::hs256) {
        if (!include_private) return std::nullopt;
        j["kty"] = "oct";
    } else {
        j["kty"] = "OKP";
        j["crv"] = "Ed25519";
    }
    if (!kid_.empty()) j["kid"] = kid_;
    j["alg"] = to_string(alg_);
    j["use"] = "sig";
    if (alg_ == Algorithm::hs256) {
        j["k"] = detail::base64url_encode(secret_.data(), secret_.size());
    } else {
        j["x"] = detail::base64url_encode(public_.data(), public_.size());
        // libsodium's secret key is seed || public key; the JWK "d" is the seed (RFC 8037 2).
        if (include_private && secret_.size() == 64) j["d"] = detail::base64url_encode(secret_.data(), 32);
    }
    return j.dump();
}

std::string Jwk::thumbprint() const {
    // RFC 7638 3.2: required members only, sorted, no whitespace. nlohmann's object is sorted by key.
    json j;
    if (alg_ == Algorithm::hs256) {
        j = {{"k", detail::base64url_encode(secret_.data(), secret_.size())}, {"kty", "oct"}};
    } else {
        j = {{"crv", "Ed25519"},
             {"kty", "OKP"},
             {"x", detail::base64url_encode(public_.data(), public_.size())}};
    }
    std::string text = j.dump();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const bool ok = EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr) == 1;
    OPENSSL_cleanse(text.data(), text.size());
    if (!ok) throw std::runtime_error("SHA-256 failed");
    return detail::base64url_encode(digest, len);
}

std::optional<Jwk> load_jwk_file(const std::filesystem::path& path, std::error_code& ec,
                                 std::string* detail) {
    ec.clear();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ec = errc::io_error;
        if (detail != nullptr) *detail = path.string();
        return std::nullopt;
    }
    struct stat st {};
    std::string text;
    bool ok = ::fstat(fd, &st) == 0 && st.st_size >= 0 && st.st_size <= 1024 * 1024;
    if (ok) {
        text.resize(static_cast<std::size_t>(st.st_size));
        std::size_t got = 0;
        while (ok && got < text.size()) {
            const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
            if (n <= 0)
                ok = false;
            else
                got += static_cast<std::size_t>(n);
        }
    }
    ::close(fd);
    if (!ok) {
        ec = errc::io_error;
        if (detail != nullptr) *detail = path.string();
        return std::nullopt;
    }
    auto key = Jwk::parse(text, ec, detail);
    OPENSSL_cleanse(text.data(), text.size());
    if (!key) return std::nullopt;
    // Same rule as node keys: secret material must not be readable by group or others.
    if (key->is_secret() && (st.st_mode & 077) != 0) {
        ec = errc::key_file_permissions;
        if (detail != nullptr) *detail = path.string();
        return std::nullopt;
    }
    return key;
}

std::error_code write_key_file(const std::filesystem::path& path, std::string_view json_text, bool secret,
                               bool force) {
    const mode_t mode = secret ? 0600 : 0644;
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
    const int fd = ::open(path.c_str(), flags, mode);
    if (fd < 0) return errc::io_error;
    // open() keeps the mode of an existing file; make sure a replaced secret file is 0600 too.
    bool ok = ::fchmod(fd, mode) == 0;
    std::size_t done = 0;
    while (ok && done < json_text.size()) {
        const ssize_t n = ::write(fd, json_text.data() + done, json_text.size() - done);
        if (n <= 0)
            ok = false;
        else
            done += static_cast<std::size_t>(n);
    }
    ok = ok && ::write(fd, "\n", 1) == 1;
    ok = (::close(fd) == 0) && ok;
    return ok ? std::error_code{} : std::error_code(errc::io_error);
}

}  // namespace cyxp2p::auth
