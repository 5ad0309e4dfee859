// p2p-node --serve: the files of one directory, imported by reference into the node's blockstore, and
// rescanned on SIGHUP (docs/operations.md "Reload (SIGHUP)").
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include <cyxp2p/content/blockstore.hpp>

namespace cyxp2p::tools::node {

class ServedDir {
  public:
    /// One file as it was imported. A file counts as unchanged while none of device, inode, size and mtime
    /// moved: the same rule the blockstore's references use before re-hashing.
    struct File {
        std::string cid;
        std::uint64_t device = 0, inode = 0, size = 0;
        std::int64_t mtime_ns = 0;
    };
    struct Counts {
        std::size_t added = 0, changed = 0, removed = 0, unchanged = 0, failed = 0;
    };
    /// What one scan did, file by file, for the log.
    struct Change {
        enum class Kind { added, changed, removed, failed } kind;
        std::string name;
        std::string cid;     // the CID now served (added, changed) or no longer served (removed)
        std::string detail;  // failed: why
    };

    ServedDir(std::filesystem::path dir, content::Blockstore store)
        : dir_(std::move(dir)), store_(std::move(store)) {}

    /// At start: imports every regular file, in name order. The first failure stops it (the node does not
    /// start half-serving): returns it with the file's name in `failed`.
    std::error_code import_all(std::string& failed);
    /// SIGHUP: imports new files and files whose identity changed, and forgets the roots of removed ones
    /// (and the old roots of changed ones) unless another served file has the same CID, so fetching them
    /// is content_not_found. A file that fails to import is left out (its old CID is no longer served).
    /// Runs on the calling thread; the node's I/O threads keep serving the store meanwhile, and a fetch of
    /// an unchanged file never sees a change. An unreadable directory changes nothing (`ec`).
    Counts rescan(std::vector<Change>& changes, std::error_code& ec);

    /// Served files by name.
    const std::map<std::string, File>& files() const { return files_; }
    /// Served CID -> file name (the operator log names files by CID).
    std::map<std::string, std::string> names() const;

  private:
    std::error_code import(const std::filesystem::path& path, File& out);
    std::error_code list(std::vector<std::filesystem::path>& out) const;

    std::filesystem::path dir_;
    content::Blockstore store_;
    std::map<std::string, File> files_;
};

}  // namespace cyxp2p::tools::node
