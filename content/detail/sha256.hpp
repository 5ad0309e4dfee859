// SHA-256 through OpenSSL's EVP interface with the digest fetched once: OpenSSL picks the fastest code
// for this CPU (SHA-NI on x86-64 when present, the ARMv8 crypto extensions on arm64).
#pragma once

#include <array>
#include <cstdint>

#include <cyxp2p/content/bytes.hpp>

namespace cyxp2p::content::detail {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(ByteView data);

/// Incremental form, for blocks assembled from pieces (a dag-pb leaf = header + file bytes + trailer)
/// without copying the file bytes.
class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(ByteView data);
    Sha256Digest finish();

  private:
    void* ctx_;  // EVP_MD_CTX*
};

}  // namespace cyxp2p::content::detail
