// The metadata record of a resumable download (content::Download), next to its partial file. It names the
// root and, for each held leaf, its CID and where its file bytes sit in the partial file, plus the few bytes
// a dag-pb leaf wraps around them, so the leaf block can be rebuilt from the partial file and hashed again.
//
//   record = header batch*
//   header = "cyxp2p-resume\n" u32 version(1) u16 len(root CID) root-CID SHA-256(all header bytes before)
//   batch  = u32 count(>0) entry{count} SHA-256(count and entries)
//   entry  = u16 len(CID) CID u64 offset u32 length u16 len(prefix) prefix u16 len(suffix) suffix
//
// Integers are big-endian. A batch is appended only after the partial file's data it claims was fsynced, so
// any batch whose checksum holds describes data that is on disk; a torn or damaged batch ends the record.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <cyxp2p/content/bytes.hpp>
#include <cyxp2p/content/cid.hpp>

namespace cyxp2p::content::detail {

struct HeldLeaf {
    Cid cid;
    std::uint64_t offset = 0;  // of the leaf's file bytes in the file (and the partial file)
    std::uint32_t length = 0;
    Bytes prefix;  // block = prefix + file bytes + suffix (both empty for a raw leaf)
    Bytes suffix;
};

inline constexpr std::uint32_t kResumeRecordVersion = 1;

void encode_resume_header(const Cid& root, Bytes& out);
void encode_resume_batch(std::span<const HeldLeaf> leaves, Bytes& out);
/// Bytes one entry takes in a batch (the metadata budget counts them).
std::size_t encoded_entry_size(const HeldLeaf& leaf);
inline constexpr std::size_t kBatchOverhead = 4 + 32;

struct ResumeRecord {
    std::vector<HeldLeaf> leaves;
    std::uint64_t good_end = 0;  // bytes of the record that decoded; anything after is a torn tail
};

/// Decodes a record for `root`. nullopt with `why` set when the header is damaged, of another version, or
/// names another root (then `foreign` is set too); a torn or damaged batch only ends the leaves early
/// (good_end says where).
std::optional<ResumeRecord> decode_resume_record(ByteView record, const Cid& root, std::string& why,
                                                 bool& foreign);

/// Rebuilds each leaf from the partial file `fd` and hashes it against its CID. Empty when all match;
/// otherwise which leaf at which offset does not.
std::string check_held_leaves(int fd, std::span<const HeldLeaf> leaves);

/// pread exactly n bytes at offset (false on an error or a short file).
bool read_at(int fd, std::uint8_t* out, std::size_t n, std::uint64_t offset);

/// Finds the file bytes inside a leaf block: block = prefix + data + suffix. False if they are not in it.
bool split_leaf(ByteView block, ByteView data, Bytes& prefix, Bytes& suffix);

}  // namespace cyxp2p::content::detail
