#include <array>
#include <cstddef>

#include <cyxp2p/content/errc.hpp>

namespace cyxp2p::content {
namespace {

struct Entry {
    errc code;
    const char* name;
    const char* message;
};

// One row per errc, in enum order (checked at compile time below).
constexpr std::array kEntries{
    Entry{errc::varint_overflow, "varint_overflow",
          "varint is longer than 9 bytes (multiformats unsigned-varint limit)"},
    Entry{errc::varint_truncated, "varint_truncated", "input ends inside a varint"},
    Entry{errc::varint_not_minimal, "varint_not_minimal",
          "varint is not minimally encoded (trailing zero byte)"},
    Entry{errc::empty_string, "empty_string", "CID string is empty"},
    Entry{
        errc::bad_multibase_prefix, "bad_multibase_prefix",
        "unknown multibase prefix: use a CIDv0 (Qm...) or a CIDv1 such as b... (base32) or z... (base58btc)"},
    Entry{errc::bad_base_digit, "bad_base_digit",
          "CID string has a character outside its multibase alphabet"},
    Entry{errc::unsupported_multihash, "unsupported_multihash",
          "multihash is not sha2-256, the only one accepted"},
    Entry{errc::wrong_digest_length, "wrong_digest_length",
          "sha2-256 multihash must carry exactly 32 digest bytes"},
    Entry{errc::bad_cid_version, "bad_cid_version", "CID version must be 0 or 1"},
    Entry{errc::unsupported_codec, "unsupported_codec", "CID codec must be dag-pb (0x70) or raw (0x55)"},
    Entry{errc::cid_trailing_bytes, "cid_trailing_bytes", "bytes follow the multihash of the CID"},
    Entry{errc::pb_truncated, "pb_truncated", "dag-pb block ends inside a field"},
    Entry{errc::pb_bad_wire_type, "pb_bad_wire_type", "dag-pb field has the wrong protobuf wire type"},
    Entry{errc::pb_unknown_field, "pb_unknown_field", "dag-pb block has a field the spec does not allow"},
    Entry{errc::pb_duplicate_field, "pb_duplicate_field", "dag-pb field appears twice"},
    Entry{errc::pb_field_order, "pb_field_order", "dag-pb PBLink fields are not in Hash, Name, Tsize order"},
    Entry{errc::pb_missing_hash, "pb_missing_hash", "dag-pb link has no Hash"},
    Entry{errc::pb_bad_name, "pb_bad_name", "dag-pb link Name is not valid UTF-8"},
    Entry{errc::unixfs_missing, "unixfs_missing", "dag-pb node has no UnixFS Data field"},
    Entry{errc::unixfs_malformed, "unixfs_malformed", "UnixFS Data is not a valid protobuf message"},
    Entry{errc::unixfs_unsupported_type, "unixfs_unsupported_type",
          "UnixFS node is not a file (directories, symlinks and HAMT shards are not fetched)"},
    Entry{errc::hash_mismatch, "hash_mismatch",
          "block does not hash to the CID that names it: the sender is faulty or malicious"},
    Entry{errc::unexpected_block, "unexpected_block", "block is not part of the DAG being verified"},
    Entry{errc::block_out_of_order, "block_out_of_order",
          "block belongs to the DAG but arrived before the one expected: send blocks in DFS order"},
    Entry{errc::missing_block, "missing_block", "input ended before every block of the DAG arrived"},
    Entry{errc::extra_block, "extra_block", "block arrived after the DAG was complete"},
    Entry{errc::block_too_large, "block_too_large", "block is larger than the limit (2 MiB by default)"},
    Entry{errc::too_deep, "too_deep", "DAG is deeper than the depth limit"},
    Entry{errc::too_many_links, "too_many_links", "node has more links than the limit"},
    Entry{errc::cycle, "cycle", "node links to one of its own ancestors"},
    Entry{errc::filesize_mismatch, "filesize_mismatch",
          "UnixFS filesize is not the data length plus the sum of blocksizes"},
    Entry{errc::blocksizes_mismatch, "blocksizes_mismatch",
          "UnixFS blocksizes disagree with the links or with the sizes of the children"},
    Entry{errc::truncated_input, "truncated_input", "input ends in the middle of a header or section"},
    Entry{errc::car_bad_header, "car_bad_header", "CAR header is not the dag-cbor map {roots, version}"},
    Entry{errc::car_unsupported_version, "car_unsupported_version", "only CAR version 1 is supported"},
    Entry{errc::car_no_roots, "car_no_roots", "CAR header names no root: pass --root CID"},
    Entry{errc::car_header_too_large, "car_header_too_large", "CAR header is larger than the limit (32 MiB)"},
    Entry{errc::car_section_too_large, "car_section_too_large",
          "CAR section is larger than the limit (8 MiB)"},
    Entry{errc::car_root_mismatch, "car_root_mismatch", "CAR header roots do not include the trusted root"},
    Entry{errc::bad_chunk_size, "bad_chunk_size",
          "chunk size must be between 1 byte and 1 MiB (kubo's limit)"},
    Entry{errc::bad_max_links, "bad_max_links", "links per node must be at least 2"},
    Entry{errc::bad_profile, "bad_profile", "unknown profile: use unixfs-v0-2015 or unixfs-v1-2025"},
    Entry{errc::block_not_found, "block_not_found", "block is not in the blockstore"},
    Entry{errc::source_changed, "source_changed",
          "the file a referenced block points into has changed: re-import it"},
    Entry{errc::io_error, "io_error", "file could not be read or written"},
    Entry{errc::no_space, "no_space",
          "no space left on the device (or a file size or quota limit reached) writing a local file"},
    Entry{errc::write_failed, "write_failed", "a local file could not be written"},
    Entry{errc::resume_state_damaged, "resume_state_damaged",
          "the local resume state does not match the DAG: it was discarded, the next fetch starts over"},
    Entry{errc::car_too_many_blocks, "car_too_many_blocks",
          "CAR is not in depth-first order and has more blocks than can be indexed "
          "(Limits::max_car_index_blocks)"},
    Entry{
        errc::car_unordered_stream, "car_unordered_stream",
        "CAR blocks are not in depth-first order and the input cannot be re-read to index them: save it to a "
        "file first"},
    Entry{errc::upload_too_large, "upload_too_large",
          "upload declares a file larger than the node accepts (Limits::max_upload_size)"},
    Entry{errc::disk_budget_exceeded, "disk_budget_exceeded",
          "upload does not fit the node's disk budget (free space minus the reserve and other partial "
          "uploads): nothing was written"},
    Entry{errc::too_many_uploads, "too_many_uploads",
          "the store holds as many partial uploads as it allows (Limits::max_partial_uploads): retry later"},
    Entry{errc::upload_in_progress, "upload_in_progress",
          "another upload of the same root is in progress on this store"},
    Entry{errc::upload_size_mismatch, "upload_size_mismatch",
          "the root's UnixFS filesize is not the size the upload declared"},
    Entry{errc::upload_over_reservation, "upload_over_reservation",
          "the DAG's blocks take more disk than its declared size reserved (chunks under 64 KiB?)"},
};

constexpr bool in_enum_order() {
    for (std::size_t i = 0; i < kEntries.size(); ++i) {
        if (static_cast<std::size_t>(kEntries[i].code) != i + 1) return false;
    }
    return true;
}
static_assert(in_enum_order(), "kEntries must list every errc in declaration order");
static_assert(static_cast<std::size_t>(errc::upload_over_reservation) == kEntries.size(),
              "kEntries misses an errc");

const Entry* find(int ev) {
    if (ev < 1 || static_cast<std::size_t>(ev) > kEntries.size()) return nullptr;
    return &kEntries[static_cast<std::size_t>(ev) - 1];
}

class Category final : public std::error_category {
  public:
    const char* name() const noexcept override { return "cyxp2p.content"; }
    std::string message(int ev) const override {
        const Entry* e = find(ev);
        return e != nullptr ? e->message : "unknown content error";
    }
};

}  // namespace

const std::error_category& category() noexcept {
    static const Category instance;
    return instance;
}

const char* to_string(errc e) noexcept {
    const Entry* entry = find(static_cast<int>(e));
    return entry != nullptr ? entry->name : "unknown";
}

}  // namespace cyxp2p::content
