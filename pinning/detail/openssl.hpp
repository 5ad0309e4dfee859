// RAII owners for OpenSSL objects used inside pinning/ (and by its tests and tools).
#pragma once

#include <memory>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace cyxp2p::pinning::detail {

struct Free {
    void operator()(X509* p) const noexcept { X509_free(p); }
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
    void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
    void operator()(BIO* p) const noexcept { BIO_free_all(p); }
    void operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); }
    void operator()(SSL* p) const noexcept { SSL_free(p); }
    void operator()(X509_NAME* p) const noexcept { X509_NAME_free(p); }
    void operator()(ASN1_INTEGER* p) const noexcept { ASN1_INTEGER_free(p); }
    void operator()(BIGNUM* p) const noexcept { BN_free(p); }
    void operator()(X509_EXTENSION* p) const noexcept { X509_EXTENSION_free(p); }
};

template <class T>
using Owned = std::unique_ptr<T, Free>;

}  // namespace cyxp2p::pinning::detail
