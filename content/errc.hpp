// Error codes of the content module: codecs (varint, multibase, multihash, CID, dag-pb, UnixFS), the
// importer, the DAG verifier, the blockstore and CAR v1. One code per kind of malformed input, so a log
// line or a --json answer says exactly what was wrong. docs/content.md lists them all.
#pragma once

#include <string>
#include <system_error>

namespace cyxp2p::content {

enum class errc {
    // Unsigned varint (multiformats/unsigned-varint).
    varint_overflow = 1,
    varint_truncated,
    varint_not_minimal,
    // Multibase and multihash.
    empty_string,
    bad_multibase_prefix,
    bad_base_digit,
    unsupported_multihash,
    wrong_digest_length,
    // CID.
    bad_cid_version,
    unsupported_codec,
    cid_trailing_bytes,
    // dag-pb (PBNode / PBLink) strict decoding.
    pb_truncated,
    pb_bad_wire_type,
    pb_unknown_field,
    pb_duplicate_field,
    pb_field_order,
    pb_missing_hash,
    pb_bad_name,
    // UnixFS.
    unixfs_missing,
    unixfs_malformed,
    unixfs_unsupported_type,
    // DAG verification.
    hash_mismatch,
    unexpected_block,
    block_out_of_order,
    missing_block,
    extra_block,
    block_too_large,
    too_deep,
    too_many_links,
    cycle,
    filesize_mismatch,
    blocksizes_mismatch,
    truncated_input,
    // CAR v1.
    car_bad_header,
    car_unsupported_version,
    car_no_roots,
    car_header_too_large,
    car_section_too_large,
    car_root_mismatch,
    // Importer options.
    bad_chunk_size,
    bad_max_links,
    bad_profile,
    // Blockstore and files.
    block_not_found,
    source_changed,
    io_error,
    // Local files of a download (content::Download).
    no_space,
    write_failed,
    resume_state_damaged,
    // CAR v1 in any block order (indexed reading).
    car_too_many_blocks,
    car_unordered_stream,
    // Receiving an upload (content::Upload).
    upload_too_large,
    disk_budget_exceeded,
    too_many_uploads,
    upload_in_progress,
    upload_size_mismatch,
    upload_over_reservation,
};

const std::error_category& category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), category()};
}

/// The enumerator's name ("hash_mismatch"), for logs, --json output and exit-code tables.
const char* to_string(errc e) noexcept;

}  // namespace cyxp2p::content

template <>
struct std::is_error_code_enum<cyxp2p::content::errc> : std::true_type {};
