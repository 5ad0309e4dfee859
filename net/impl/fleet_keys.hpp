// Key derivation and script naming shared by the fleet's Redis users (redis_admission.cpp,
// connection_leases.cpp): every process of a fleet must derive the same key from the same parts.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include <cyxp2p/ratelimit/limits.hpp>

namespace cyxp2p::net::fleet {

/// The 32 hex digits of an unkeyed BLAKE2b-128 over the length-prefixed parts: a fixed-length key part that
/// stores nothing in clear. Unkeyed on purpose: every node of the fleet must derive the same key, and Redis's
/// own dict is SipHash-keyed per server, so there is no hash table to flood. Needs sodium_init() first.
std::string digest(std::initializer_list<std::string_view> parts);

/// Lowercase hex SHA-1 of `s` (the name EVALSHA calls a script by).
std::string sha1_hex(const std::string& s);

/// T (the emission interval, period / tokens) and B x T (burst x T) of `rate`, in microseconds as the GCRA
/// scripts take them (Lua numbers are doubles: exact to 2^53 us, 285 years). tokens == 0: one request per
/// 1e15 us, i.e. the burst and then nothing.
std::pair<std::string, std::string> gcra_args(const ratelimit::Rate& rate);

}  // namespace cyxp2p::net::fleet
