// Strict JSON for JOSE headers, JWT payloads and JWKs; also used by net/ for the fetch sources list.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

namespace cyxp2p::auth::detail {

/// Parses `text` as one JSON object with nlohmann_json's SAX interface, refusing what the DOM parser
/// would silently accept: duplicate member names (RFC 7515 5.2 step 4 / RFC 7519 4: reject, because two
/// parsers that keep different duplicates see different claims), nesting deeper than `max_depth`,
/// a byte-order mark, and a top-level value that is not an object. Invalid UTF-8 and lone surrogates are
/// refused by the lexer itself. Returns nullopt on any of these.
std::optional<nlohmann::json> parse_strict_object(std::string_view text, std::size_t max_depth);
/// The same rules for a document whose top level may also be an array (net/fetch_sources.hpp: a list of
/// sources).
std::optional<nlohmann::json> parse_strict_document(std::string_view text, std::size_t max_depth);

}  // namespace cyxp2p::auth::detail
