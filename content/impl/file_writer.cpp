#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <vector>

#include <cyxp2p/content/detail/posix_io.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/file_writer.hpp>

namespace cyxp2p::content {
namespace {

std::error_code last_error() {
    return {errno, std::generic_category()};
}

std::error_code write_all(int fd, ByteView bytes, std::uint64_t offset) {
    return detail::pwrite_all(fd, bytes, offset) ? std::error_code{} : last_error();
}

}  // namespace

FileWriter::FileWriter(const Cid& root, std::filesystem::path destination, const Limits& limits)
    : verifier_(root, limits), dest_(std::move(destination)) {}

FileWriter::~FileWriter() {
    abort();
}

std::error_code FileWriter::open() {
    if (fd_ >= 0) return {};
    const auto dir = dest_.has_parent_path() ? dest_.parent_path() : std::filesystem::path(".");
    // Same directory, so the final rename() is atomic; a leading dot and ".part" so nobody takes it
    // for the finished file.
    std::string name = ".";  // built piecewise: GCC 12 -O3 warns (-Wrestrict) on "." + string
    name += dest_.filename().string();
    name += ".XXXXXX.part";
    std::string templ = (dir / name).string();
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    fd_ = ::mkostemps(buf.data(), 5, O_CLOEXEC);
    if (fd_ < 0) return last_error();
    temp_ = buf.data();
    return {};
}

std::error_code FileWriter::fail(std::error_code ec) {
    abort();
    return ec;
}

std::error_code FileWriter::push(ByteView block, const std::optional<Cid>& claimed) {
    if (committed_) throw std::logic_error("FileWriter used after commit()");
    if (fd_ < 0) {
        if (auto ec = open()) return ec;
    }
    VerifiedData out;
    if (auto ec = verifier_.push(block, claimed, out)) return fail(ec);
    if (!out.bytes.empty()) {
        if (auto ec = write_all(fd_, out.bytes, out.offset)) return fail(ec);
    }
    return {};
}

std::error_code FileWriter::commit() {
    if (committed_) return {};
    if (fd_ < 0) {
        if (auto ec = open()) return ec;
    }
    if (auto ec = verifier_.finish()) return fail(ec);
    if (::fsync(fd_) != 0) return fail(last_error());
    if (::close(fd_) != 0) {
        fd_ = -1;
        return fail(last_error());
    }
    fd_ = -1;
    if (::rename(temp_.c_str(), dest_.c_str()) != 0) return fail(last_error());
    committed_ = true;
    temp_.clear();
    // Make the rename itself durable.
    const auto dir = dest_.has_parent_path() ? dest_.parent_path() : std::filesystem::path(".");
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

void FileWriter::abort() noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    if (!temp_.empty() && !committed_) {
        ::unlink(temp_.c_str());
        temp_.clear();
    }
}

}  // namespace cyxp2p::content
