#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cyxp2p/pinning/detail/openssl.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/identity.hpp>

namespace cyxp2p::pinning {
namespace {

using detail::Owned;

std::string random_uuid() {
    std::array<std::uint8_t, 16> b{};
    if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) return {};
    b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);  // RFC 4122 4.4: version 4
    b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);  // variant 10
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
        s += hex[b[i] >> 4];
        s += hex[b[i] & 0x0F];
    }
    return s;
}

Owned<EVP_PKEY> generate_key(KeyType type) {
    if (type == KeyType::ed25519) return Owned<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    return Owned<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

bool add_ext(X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

Owned<X509> self_sign(EVP_PKEY* key, KeyType type, const std::string& node_id, std::chrono::hours validity) {
    Owned<X509> cert(X509_new());
    if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return nullptr;
    // RFC 5280 4.1.2.2: positive, at most 20 octets; 127 random bits keep it positive and unique.
    Owned<BIGNUM> serial(BN_new());
    if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
        return nullptr;
    }
    // Back-date by an hour so peers with a slightly slow clock accept a brand-new certificate.
    if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
        X509_time_adj_ex(X509_getm_notAfter(cert.get()), static_cast<int>(validity.count() / 24),
                         static_cast<long>((validity.count() % 24) * 3600), nullptr) == nullptr) {
        return nullptr;
    }
    X509_NAME* name = X509_get_subject_name(cert.get());
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(node_id.c_str()), -1, -1, 0) != 1 ||
        X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
        return nullptr;
    }
    if (!add_ext(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(cert.get(), NID_key_usage, "critical,digitalSignature") ||
        !add_ext(cert.get(), NID_ext_key_usage, "serverAuth,clientAuth") ||
        !add_ext(cert.get(), NID_subject_key_identifier, "hash") ||
        !add_ext(cert.get(), NID_subject_alt_name, ("DNS:" + node_id).c_str())) {
        return nullptr;
    }
    // Ed25519 signs the message itself (RFC 8410), so no digest is named.
    const EVP_MD* md = type == KeyType::ed25519 ? nullptr : EVP_sha256();
    if (X509_sign(cert.get(), key, md) <= 0) return nullptr;
    return cert;
}

std::string to_pem(int (*write)(BIO*, void*), void* obj) {
    Owned<BIO> bio(BIO_new(BIO_s_mem()));
    if (!bio || write(bio.get(), obj) != 1) return {};
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

int write_cert(BIO* b, void* c) {
    return PEM_write_bio_X509(b, static_cast<X509*>(c));
}
int write_key(BIO* b, void* k) {
    return PEM_write_bio_PrivateKey(b, static_cast<EVP_PKEY*>(k), nullptr, nullptr, 0, nullptr, nullptr);
}

std::optional<std::string> read_small_file(const std::filesystem::path& p, std::error_code& ec) {
    std::FILE* f = std::fopen(p.c_str(), "rb");
    if (f == nullptr) {
        ec = errno == ENOENT ? errc::identity_not_found : errc::io_error;
        return std::nullopt;
    }
    // A PEM key or certificate is a few KiB; a larger file is refused as a whole rather than read in part
    // (a truncated read could parse as the wrong thing, or fail far from the cause).
    constexpr std::size_t max_size = std::size_t{1} << 20;
    std::string data;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && data.size() <= max_size) data.append(buf, n);
    const bool bad = std::ferror(f) != 0;
    std::fclose(f);
    if (bad) {
        ec = errc::io_error;
        return std::nullopt;
    }
    if (data.size() > max_size) {
        ec = errc::bad_pem;
        return std::nullopt;
    }
    return data;
}

// Writes `data` to `path` created exclusively with `mode`, flushed to disk before returning.
std::error_code write_new_file(const std::filesystem::path& path, const std::string& data, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) return errno == EEXIST ? errc::identity_exists : errc::io_error;
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n <= 0) {
            ::close(fd);
            ::unlink(path.c_str());
            return errc::io_error;
        }
        done += static_cast<std::size_t>(n);
    }
    // The umask may have narrowed the mode; make it exactly `mode` either way.
    const bool ok = ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
        ::unlink(path.c_str());
        return errc::io_error;
    }
    return {};
}

}  // namespace

bool valid_node_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

Identity::Identity(std::shared_ptr<X509> cert, std::shared_ptr<EVP_PKEY> key, std::string node_id,
                   KeyType type, Pin pin)
    : cert_(std::move(cert)),
      key_(std::move(key)),
      node_id_(std::move(node_id)),
      key_type_(type),
      pin_(pin) {}

std::optional<Identity> Identity::generate(const IdentityOptions& options, std::error_code& ec) {
    ec.clear();
    std::string node_id = options.node_id.empty() ? random_uuid() : options.node_id;
    if (!valid_node_id(node_id)) {
        ec = errc::bad_node_id;
        return std::nullopt;
    }
    if (options.validity.count() <= 0) {
        ec = errc::crypto_failure;
        return std::nullopt;
    }
    Owned<EVP_PKEY> key = generate_key(options.key_type);
    Owned<X509> cert = key ? self_sign(key.get(), options.key_type, node_id, options.validity) : nullptr;
    if (!cert) {
        ec = errc::crypto_failure;
        return std::nullopt;
    }
    auto pin = Pin::of_certificate(cert.get(), ec);
    if (!pin) return std::nullopt;
    return Identity(std::shared_ptr<X509>(cert.release(), X509_free),
                    std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free), std::move(node_id),
                    options.key_type, *pin);
}

std::optional<Identity> Identity::load(const std::filesystem::path& dir, std::error_code& ec) {
    ec.clear();
    const auto key_path = dir / key_file;
    struct stat st {};
    if (::stat(key_path.c_str(), &st) != 0) {
        ec = errno == ENOENT ? errc::identity_not_found : errc::io_error;
        return std::nullopt;
    }
    // Same rule as ssh: a private key others can read is already compromised, so refuse to use it.
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        ec = errc::key_file_permissions;
        return std::nullopt;
    }
    auto key_pem = read_small_file(key_path, ec);
    if (!key_pem) return std::nullopt;
    auto cert_pem = read_small_file(dir / cert_file, ec);
    if (!cert_pem) return std::nullopt;

    Owned<BIO> kb(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
    Owned<EVP_PKEY> key(kb ? PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr) : nullptr);
    OPENSSL_cleanse(key_pem->data(), key_pem->size());
    Owned<BIO> cb(BIO_new_mem_buf(cert_pem->data(), static_cast<int>(cert_pem->size())));
    Owned<X509> cert(cb ? PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!key || !cert) {
        ec = errc::bad_pem;
        return std::nullopt;
    }
    KeyType type{};
    if (EVP_PKEY_is_a(key.get(), "ED25519") == 1) {
        type = KeyType::ed25519;
    } else if (EVP_PKEY_is_a(key.get(), "EC") == 1) {
        type = KeyType::p256;
        char group[32] = {};
        if (EVP_PKEY_get_utf8_string_param(key.get(), "group", group, sizeof group, nullptr) != 1 ||
            std::string_view(group) != "prime256v1") {
            ec = errc::unsupported_key_type;
            return std::nullopt;
        }
    } else {
        ec = errc::unsupported_key_type;
        return std::nullopt;
    }
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
        ec = errc::key_cert_mismatch;
        return std::nullopt;
    }
    char cn[128] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn) <= 0 ||
        !valid_node_id(cn)) {
        ec = errc::bad_node_id;
        return std::nullopt;
    }
    auto pin = Pin::of_certificate(cert.get(), ec);
    if (!pin) return std::nullopt;
    return Identity(std::shared_ptr<X509>(cert.release(), X509_free),
                    std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free), cn, type, *pin);
}

std::error_code Identity::save(const std::filesystem::path& dir, bool overwrite) const {
    std::error_code fs_ec;
    if (!std::filesystem::exists(dir, fs_ec)) {
        if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return errc::io_error;
    }
    const auto key_path = dir / key_file;
    const auto cert_path = dir / cert_file;
    const bool exists = std::filesystem::exists(key_path, fs_ec) || std::filesystem::exists(cert_path, fs_ec);
    if (exists && !overwrite) return errc::identity_exists;

    std::string key_pem = private_key_pem();
    const std::string cert_pem = certificate_pem();
    if (key_pem.empty() || cert_pem.empty()) return errc::crypto_failure;

    // Write both to temporaries first, then rename: the directory never holds a key without its cert
    // (or a new key next to an old cert) for longer than between two renames.
    const auto key_tmp = dir / (std::string(key_file) + ".tmp");
    const auto cert_tmp = dir / (std::string(cert_file) + ".tmp");
    ::unlink(key_tmp.c_str());
    ::unlink(cert_tmp.c_str());
    std::error_code ec = write_new_file(key_tmp, key_pem, 0600);
    OPENSSL_cleanse(key_pem.data(), key_pem.size());
    if (!ec) ec = write_new_file(cert_tmp, cert_pem, 0644);
    if (!ec && (::rename(cert_tmp.c_str(), cert_path.c_str()) != 0 ||
                ::rename(key_tmp.c_str(), key_path.c_str()) != 0)) {
        ec = errc::io_error;
    }
    if (ec) {
        ::unlink(key_tmp.c_str());
        ::unlink(cert_tmp.c_str());
        return ec == errc::identity_exists ? make_error_code(errc::io_error) : ec;
    }
    return {};
}

std::string Identity::certificate_pem() const {
    return to_pem(write_cert, cert_.get());
}
std::string Identity::private_key_pem() const {
    return to_pem(write_key, key_.get());
}

}  // namespace cyxp2p::pinning
