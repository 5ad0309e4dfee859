// FileWriter: a DagVerifier that writes the verified bytes to a file. The bytes go to a temporary file
// beside the destination (".NAME.XXXXXX.part"), and only commit() renames it into place, after the
// whole DAG verified. On any failure, or if the writer is destroyed without commit(), the temporary
// file is deleted: a failed transfer never leaves a file at the destination that looks complete.
#pragma once

#include <filesystem>
#include <optional>
#include <system_error>

#include <cyxp2p/content/bytes.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/dag_verifier.hpp>
#include <cyxp2p/content/limits.hpp>

namespace cyxp2p::content {

class FileWriter {
  public:
    FileWriter(const Cid& root, std::filesystem::path destination, const Limits& limits = {});
    ~FileWriter();
    FileWriter(const FileWriter&) = delete;
    FileWriter& operator=(const FileWriter&) = delete;

    /// Creates the temporary file. Errors: io errors (std::generic_category).
    std::error_code open();
    /// Verifies one block (see DagVerifier::push) and writes its bytes. On error the temporary file is
    /// already gone.
    std::error_code push(ByteView block, const std::optional<Cid>& claimed = std::nullopt);
    /// Ends input: checks no block is missing, syncs and renames the file into place.
    std::error_code commit();
    /// Deletes the temporary file (also done by every failure and by the destructor).
    void abort() noexcept;

    const DagVerifier& verifier() const { return verifier_; }
    const std::filesystem::path& temp_path() const { return temp_; }

  private:
    std::error_code fail(std::error_code ec);

    DagVerifier verifier_;
    std::filesystem::path dest_;
    std::filesystem::path temp_;
    int fd_ = -1;
    bool committed_ = false;
};

}  // namespace cyxp2p::content
