// Unsigned varint as multiformats defines it (github.com/multiformats/unsigned-varint): LEB128, at most
// 9 bytes (63 bits), minimally encoded. Used by CIDs, multihashes and CAR v1 section lengths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <system_error>

#include <cyxp2p/content/bytes.hpp>

namespace cyxp2p::content {

/// unsigned-varint spec: "the maximum length of a varint is 9 bytes".
inline constexpr std::size_t kMaxVarintBytes = 9;

/// Number of bytes append_varint writes for v.
std::size_t varint_size(std::uint64_t v) noexcept;

/// Appends v (v < 2^63) in minimal LEB128.
void append_varint(Bytes& out, std::uint64_t v);

/// Reads one varint from the front of `in` and advances `in` past it. Errors: varint_truncated,
/// varint_overflow (more than 9 bytes), varint_not_minimal (e.g. 0x80 0x00).
std::error_code read_varint(ByteView& in, std::uint64_t& value) noexcept;

}  // namespace cyxp2p::content
