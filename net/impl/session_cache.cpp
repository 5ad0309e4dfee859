#include <openssl/ssl.h>

#include <cyxp2p/net/impl/session_cache.hpp>

namespace cyxp2p::net::detail {
namespace {

int cache_key_index() {
    static const int index = SSL_get_ex_new_index(
        0, nullptr, nullptr, nullptr,
        [](void*, void* p, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<std::string*>(p); });
    return index;
}
int cache_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

// OpenSSL hands TLS 1.3 tickets over after the handshake; store them under the connection's key.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* key = static_cast<std::string*>(SSL_get_ex_data(ssl, cache_key_index()));
    auto* cache = static_cast<SessionCache*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), cache_index()));
    if (key == nullptr || cache == nullptr) return 0;
    cache->put(*key, session);
    return 1;  // we took the reference
}

}  // namespace

SessionCache::~SessionCache() {
    for (auto& [k, s] : map_) SSL_SESSION_free(s);
}

void SessionCache::attach(SSL_CTX* ctx) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    SSL_CTX_set_ex_data(ctx, cache_index(), this);
}

void SessionCache::prepare(SSL* ssl, const std::string& key) {
    SSL_set_ex_data(ssl, cache_key_index(), new std::string(key));
    if (SSL_SESSION* cached = get(key)) {
        SSL_set_session(ssl, cached);
        SSL_SESSION_free(cached);
    }
}

SSL_SESSION* SessionCache::get(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    SSL_SESSION_up_ref(it->second);
    return it->second;
}

void SessionCache::put(const std::string& key, SSL_SESSION* s) {
    std::lock_guard lock(mutex_);
    if (auto it = map_.find(key); it != map_.end()) {
        SSL_SESSION_free(it->second);
        it->second = s;
        return;
    }
    if (capacity_ == 0) {
        SSL_SESSION_free(s);
        return;
    }
    if (map_.size() >= capacity_) {
        SSL_SESSION_free(map_.begin()->second);
        map_.erase(map_.begin());
    }
    map_[key] = s;
}

}  // namespace cyxp2p::net::detail
