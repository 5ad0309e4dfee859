#include <stdexcept>

#include <openssl/evp.h>

#include <cyxp2p/content/detail/sha256.hpp>

namespace cyxp2p::content::detail {
namespace {

const EVP_MD* md() {
    // Explicit fetch: EVP_sha256() would look the implementation up again on every digest.
    static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) throw std::runtime_error("OpenSSL has no SHA-256");
    return fetched;
}

EVP_MD_CTX* as_ctx(void* p) {
    return static_cast<EVP_MD_CTX*>(p);
}

}  // namespace

Sha256Digest sha256(ByteView data) {
    Sha256Digest out{};
    if (EVP_Digest(data.data(), data.size(), out.data(), nullptr, md(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 failed");
    }
    return out;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr || EVP_DigestInit_ex(as_ctx(ctx_), md(), nullptr) != 1) {
        EVP_MD_CTX_free(as_ctx(ctx_));
        throw std::runtime_error("SHA-256 init failed");
    }
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(as_ctx(ctx_));
}

void Sha256::update(ByteView data) {
    if (EVP_DigestUpdate(as_ctx(ctx_), data.data(), data.size()) != 1)
        throw std::runtime_error("SHA-256 failed");
}

Sha256Digest Sha256::finish() {
    Sha256Digest out{};
    if (EVP_DigestFinal_ex(as_ctx(ctx_), out.data(), nullptr) != 1)
        throw std::runtime_error("SHA-256 failed");
    return out;
}

}  // namespace cyxp2p::content::detail
