// Keyring: JWKS parsing (RFC 7517 5), kid lookup and signing-key rotation.
#include <fcntl.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <cyxp2p/auth/detail/strict_json.hpp>
#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/keyring.hpp>

namespace cyxp2p::auth {

using nlohmann::json;

std::optional<Keyring> Keyring::from_jwks(std::string_view text, std::error_code& ec, std::string* detail,
                                          const Limits& limits) {
    ec.clear();
    auto set_error = [&](errc code, std::string what) {
        ec = code;
        if (detail != nullptr) *detail = std::move(what);
        return std::nullopt;
    };
    if (text.size() > limits.max_jwks_bytes) return set_error(errc::bad_key, "size");
    auto doc = detail::parse_strict_object(text, limits.max_json_depth);
    if (!doc) return set_error(errc::bad_key, "json");

    Keyring ring;
    if (!doc->contains("keys")) {  // a single JWK
        auto key = Jwk::parse(text, ec, detail, limits);
        if (!key) return std::nullopt;
        if (auto e = ring.add(std::move(*key))) return set_error(static_cast<errc>(e.value()), "kid");
        return ring;
    }
    const json& keys = (*doc)["keys"];
    if (!keys.is_array()) return set_error(errc::bad_key, "keys");
    if (keys.size() > limits.max_jwks_keys) return set_error(errc::bad_key, "keys");
    for (const auto& entry : keys) {
        if (!entry.is_object()) return set_error(errc::bad_key, "keys");
        std::error_code key_ec;
        std::string key_detail;
        auto key = Jwk::parse(entry.dump(), key_ec, &key_detail, limits);
        // RFC 7517 5: keys of a type we do not understand are ignored, not fatal; so are encryption keys.
        if (key_ec == errc::unsupported_key) continue;
        if (key_ec == errc::bad_key && key_detail == "use") continue;
        if (!key) {
            ec = key_ec;
            if (detail != nullptr) *detail = key_detail;
            return std::nullopt;
        }
        if (auto e = ring.add(std::move(*key))) return set_error(static_cast<errc>(e.value()), "kid");
    }
    if (ring.empty()) return set_error(errc::unsupported_key, "keys");
    return ring;
}

std::optional<Keyring> Keyring::load(const std::filesystem::path& path, std::error_code& ec,
                                     std::string* detail, const Limits& limits) {
    ec.clear();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ec = errc::io_error;
        if (detail != nullptr) *detail = path.string();
        return std::nullopt;
    }
    struct stat st {};
    std::string text;
    bool ok = ::fstat(fd, &st) == 0 && st.st_size >= 0 &&
              static_cast<std::size_t>(st.st_size) <= limits.max_jwks_bytes;
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
    auto ring = from_jwks(text, ec, detail, limits);
    OPENSSL_cleanse(text.data(), text.size());
    if (!ring) return std::nullopt;
    bool secret = false;
    for (const auto& k : ring->keys()) secret = secret || k.is_secret();
    if (secret && (st.st_mode & 077) != 0) {
        ec = errc::key_file_permissions;
        if (detail != nullptr) *detail = path.string();
        return std::nullopt;
    }
    return ring;
}

std::error_code Keyring::add(Jwk key) {
    for (const auto& k : keys_) {
        if (k.kid() == key.kid()) return errc::duplicate_kid;  // also: a second key without kid
    }
    keys_.push_back(std::move(key));
    return {};
}

std::error_code Keyring::rotate(Jwk key) {
    if (!key.can_sign()) return errc::no_signing_key;
    if (auto e = add(std::move(key))) return e;
    signing_ = keys_.size() - 1;
    return {};
}

std::error_code Keyring::set_signing(std::string_view kid) {
    for (std::size_t i = 0; i < keys_.size(); ++i) {
        if (keys_[i].kid() == kid) {
            if (!keys_[i].can_sign()) return errc::no_signing_key;
            signing_ = i;
            return {};
        }
    }
    return errc::unknown_kid;
}

bool Keyring::remove(std::string_view kid) {
    for (std::size_t i = 0; i < keys_.size(); ++i) {
        if (keys_[i].kid() != kid) continue;
        keys_.erase(keys_.begin() + static_cast<std::ptrdiff_t>(i));
        if (signing_) {
            if (*signing_ == i)
                signing_.reset();  // the retired key never signs again
            else if (*signing_ > i)
                --*signing_;
        }
        return true;
    }
    return false;
}

const Jwk* Keyring::find(std::string_view kid) const {
    if (kid.empty()) return nullptr;
    for (const auto& k : keys_) {
        if (k.kid() == kid) return &k;
    }
    return nullptr;
}

std::vector<const Jwk*> Keyring::keys_for(Algorithm alg) const {
    std::vector<const Jwk*> out;
    for (const auto& k : keys_) {
        if (k.alg() == alg) out.push_back(&k);
    }
    return out;
}

const Jwk* Keyring::signing_key() const {
    return signing_ ? &keys_[*signing_] : nullptr;
}

std::string Keyring::to_public_jwks() const {
    json keys = json::array();
    for (const auto& k : keys_) {
        if (k.alg() != Algorithm::eddsa) continue;
        if (auto s = k.to_json(false)) keys.push_back(json::parse(*s));
    }
    return json{{"keys", keys}}.dump();
}

}  // namespace cyxp2p::auth
