// Multibase (github.com/multiformats/multibase): the text forms of CIDs. We write base58btc (CIDv0,
// no prefix) and base32 lower without padding (CIDv1, prefix 'b'), as kubo prints them. We read what
// kubo's `ipfs cid format` reads for CIDs: b/B (base32), z (base58btc), f/F (base16), k/K (base36),
// m (base64), u (base64url), all without padding.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

#include <cyxp2p/content/bytes.hpp>

namespace cyxp2p::content {

std::string base58btc_encode(ByteView in);
std::string base32_lower_encode(ByteView in);

/// Decodes base58btc text (no multibase prefix). Error: bad_base_digit.
std::error_code base58btc_decode(std::string_view text, Bytes& out);

/// Decodes multibase text: the first character names the base. Errors: empty_string,
/// bad_multibase_prefix, bad_base_digit.
std::error_code multibase_decode(std::string_view text, Bytes& out);

}  // namespace cyxp2p::content
