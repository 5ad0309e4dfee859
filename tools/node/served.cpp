// p2p-node --serve: see served.hpp.
#include "served.hpp"

#include <algorithm>
#include <cerrno>
#include <set>

#include <sys/stat.h>

#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/importer.hpp>

namespace cyxp2p::tools::node {

namespace fs = std::filesystem;

namespace {

bool stat_file(const fs::path& p, ServedDir::File& f) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return false;
    f.device = st.st_dev;
    f.inode = st.st_ino;
    f.size = static_cast<std::uint64_t>(st.st_size);
    f.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    return true;
}

bool same_version(const ServedDir::File& a, const ServedDir::File& b) {
    return a.device == b.device && a.inode == b.inode && a.size == b.size && a.mtime_ns == b.mtime_ns;
}

}  // namespace

std::error_code ServedDir::list(std::vector<fs::path>& out) const {
    std::error_code ec;
    out.clear();
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code fec;
        if (it->is_regular_file(fec)) out.push_back(it->path());
    }
    std::sort(out.begin(), out.end());
    return ec;
}

std::error_code ServedDir::import(const fs::path& path, File& out) {
    // The identity is taken before hashing: a file written during the import then differs at the next
    // rescan (and the blockstore re-hashes its references, so it is never served with the wrong bytes).
    if (!stat_file(path, out)) return std::error_code(errno, std::generic_category());
    std::error_code ec;
    auto result = content::import_file(path, content::ImportOptions::kubo_default(), store_.sink(path), ec);
    if (!result) return ec;
    out.cid = result->root.to_string();
    return {};
}

std::error_code ServedDir::import_all(std::string& failed) {
    std::vector<fs::path> paths;
    if (auto ec = list(paths)) return ec;
    for (const auto& p : paths) {
        File f;
        if (auto ec = import(p, f)) {
            failed = p.string();
            return ec;
        }
        files_[p.filename().string()] = f;
    }
    return {};
}

ServedDir::Counts ServedDir::rescan(std::vector<Change>& changes, std::error_code& ec) {
    Counts counts;
    changes.clear();
    std::vector<fs::path> paths;
    ec = list(paths);
    if (ec) return counts;  // a directory that cannot be listed is not "every file removed"
    std::map<std::string, File> next;
    std::vector<std::string> dropped;  // CIDs that a file no longer has
    std::set<std::string> listed;
    for (const auto& p : paths) {
        const std::string name = p.filename().string();
        listed.insert(name);
        const auto was = files_.find(name);
        File now;
        if (was != files_.end() && stat_file(p, now) && same_version(now, was->second)) {
            next[name] = was->second;
            ++counts.unchanged;
            continue;
        }
        if (auto e = import(p, now)) {
            ++counts.failed;
            changes.push_back({Change::Kind::failed, name, "", e.message()});
            if (was != files_.end()) dropped.push_back(was->second.cid);
            continue;
        }
        if (was == files_.end()) {
            ++counts.added;
            changes.push_back({Change::Kind::added, name, now.cid, ""});
        } else {
            ++counts.changed;
            changes.push_back({Change::Kind::changed, name, now.cid, ""});
            if (was->second.cid != now.cid) dropped.push_back(was->second.cid);
        }
        next[name] = now;
    }
    for (const auto& [name, f] : files_) {
        if (listed.count(name) != 0) continue;  // still there (served, or failed above)
        ++counts.removed;
        changes.push_back({Change::Kind::removed, name, f.cid, ""});
        dropped.push_back(f.cid);
    }
    // Only the root goes: has(root) is what content.fetch checks, and the leaves of a file that another
    // served file shares (the same chunk in both) must stay.
    std::set<std::string> served;
    for (const auto& [name, f] : next) served.insert(f.cid);
    for (const auto& cid : dropped) {
        if (served.count(cid) != 0) continue;
        std::error_code pe;
        auto root = content::Cid::parse(cid, pe);
        if (auto e = root ? store_.remove(*root) : pe) {
            ++counts.failed;
            changes.push_back(
                {Change::Kind::failed, "", cid, "cannot forget it, still served: " + e.message()});
        }
    }
    files_ = std::move(next);
    return counts;
}

std::map<std::string, std::string> ServedDir::names() const {
    std::map<std::string, std::string> out;
    for (const auto& [name, f] : files_) out[f.cid] = name;
    return out;
}

}  // namespace cyxp2p::tools::node
