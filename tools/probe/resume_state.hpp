// What a fetch's local resume state holds, asked in one place so the fetch's advice is true: "run it again
// to resume" only when verified data is kept, and a damaged state is found and discarded before the
// network is touched instead of failing every rerun as if the node were lying.
//
// The state is content::Download's (FILE.cyxp2p-partial and its .meta record, content/download.hpp); this
// header is the tools' view of it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <cyxp2p/content/cid.hpp>

namespace cyxp2p::tools::probe {

struct ResumeState {
    std::filesystem::path path;         // where the state lives
    std::filesystem::path destination;  // the fetch's output path the state belongs to
    bool exists = false;                // anything is there
    bool for_this_root = false;         // it belongs to the CID being fetched
    std::uint64_t verified_blocks = 0;  // complete records that hash to their CID
    std::uint64_t verified_bytes = 0;   // their block bytes
    bool corrupt = false;               // a complete record does not hash to its CID, or cannot be read
    std::string problem;                // for a person: what is wrong with a corrupt state

    /// True when a rerun of the same fetch would reuse verified data.
    bool holds_verified_data() const { return for_this_root && !corrupt && verified_blocks > 0; }
};

/// The resume state of a fetch of `root` to `destination`: content::Download::inspect (every held leaf
/// hashed again, read-only).
ResumeState inspect_resume_state(const std::filesystem::path& destination, const content::Cid& root);

/// Removes the state. Returns false (and leaves `ec` set) when it exists and cannot be removed.
bool discard_resume_state(const ResumeState& state, std::error_code& ec);

}  // namespace cyxp2p::tools::probe
