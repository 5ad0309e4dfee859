#include "resume_state.hpp"

#include <cstdio>
#include <memory>

#include <cyxp2p/content/limits.hpp>

namespace cyxp2p::tools::probe {
namespace {

constexpr std::string_view kMagic = "cyxp2p-partial 1\n";
constexpr std::uint32_t kMaxCidBytes = 128;  // the same bound ContentReceiver reads with

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

// 0: a complete u32 was read; 1: clean end of file; 2: torn.
int get_u32(std::FILE* f, std::uint32_t& v) {
    unsigned char b[4];
    const std::size_t n = std::fread(b, 1, 4, f);
    if (n == 0) return 1;
    if (n != 4) return 2;
    v = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
    return 0;
}

}  // namespace

ResumeState inspect_resume_state(const std::filesystem::path& destination, const content::Cid& root) {
    ResumeState s;
    s.path = destination;
    s.path += ".cyxp2p-partial";
    std::error_code ec;
    if (!std::filesystem::exists(s.path, ec)) return s;
    s.exists = true;
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(s.path.c_str(), "rb"));
    if (!f) {
        s.corrupt = true;
        s.problem = "it cannot be read";
        return s;
    }
    const std::string header = std::string(kMagic) + root.to_string() + "\n";
    std::string head(header.size(), '\0');
    const std::size_t got = std::fread(head.data(), 1, head.size(), f.get());
    head.resize(got);
    if (head != header) {
        // Another root's log, or not a log at all: the fetch starts a new one; nothing of it is reused.
        if (head.rfind(kMagic, 0) != 0 && got > 0) {
            s.corrupt = true;
            s.problem = "it does not start with the resume header";
        }
        return s;
    }
    s.for_this_root = true;
    const std::size_t max_block = content::Limits{}.max_block_size;
    content::Bytes cid_bytes, block;
    for (std::uint64_t record = 1;; ++record) {
        std::uint32_t n = 0;
        const int first = get_u32(f.get(), n);
        if (first != 0) return s;  // end, or a torn length: dropped by the fetch
        auto bad = [&](std::string why) {
            s.corrupt = true;
            s.problem = "record " + std::to_string(record) + " " + why;
            return s;
        };
        if (n == 0 || n > kMaxCidBytes) return bad("has an impossible CID length");
        cid_bytes.resize(n);
        if (std::fread(cid_bytes.data(), 1, n, f.get()) != n) return s;
        if (get_u32(f.get(), n) != 0) return s;
        if (n > max_block) return bad("is larger than a block may be");
        block.resize(n);
        if (std::fread(block.data(), 1, n, f.get()) != n) return s;
        auto cid = content::Cid::from_bytes(cid_bytes, ec);
        if (!cid) return bad("names no valid CID");
        if (!cid->matches(block)) return bad("does not hash to the CID it is stored under");
        ++s.verified_blocks;
        s.verified_bytes += n;
    }
}

bool discard_resume_state(const ResumeState& state, std::error_code& ec) {
    ec.clear();
    if (!state.exists) return true;
    std::filesystem::remove(state.path, ec);
    return !ec;
}

}  // namespace cyxp2p::tools::probe
