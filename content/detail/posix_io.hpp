// The one pwrite loop of the content module's files (Download, MultiDownload, FileWriter).
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include <sys/types.h>

#include <cyxp2p/content/bytes.hpp>

namespace cyxp2p::content::detail {

/// Writes all of `bytes` at `offset`, retrying short writes and EINTR. False with errno set on failure (EIO
/// for a write that made no progress, which would otherwise loop for ever).
inline bool pwrite_all(int fd, ByteView bytes, std::uint64_t offset) {
    while (!bytes.empty()) {
        const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            return false;
        }
        bytes = bytes.subspan(static_cast<std::size_t>(n));
        offset += static_cast<std::uint64_t>(n);
    }
    return true;
}

}  // namespace cyxp2p::content::detail
