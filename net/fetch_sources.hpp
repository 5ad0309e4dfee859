// Sources of a multi-source fetch (issue 18; docs/net.md "Sources"): where the blocks of one CID may come
// from. Every block is verified against the CID its verified parent named whatever its source, so a source
// needs no trust, only a way to reach it: a node (address, pin, token) or an IPFS trustless gateway.
//
// The list is JSON, one object per source:
//   [{"address": "HOST:PORT", "pin": "sha256//...", "token_file": "PATH"},
//    {"address": "HOST:PORT", "pin_from_token": true, "token": "eyJ..."},
//    {"gateway": "https://HOST[:PORT]"}]
// Parsed strictly (auth/detail/strict_json.hpp: no duplicate keys, no BOM, bounded depth): an unknown
// key, a node without a pin (or "pin_from_token": true with a token), a bad address, pin list or URL is
// refused with the source's index and what is wrong. Nothing is read from disk here (token_file is a path
// for the caller to read) and nothing is dialled.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <cyxp2p/net/limits.hpp>
#include <cyxp2p/pinning/pin_set.hpp>

namespace cyxp2p::net {

struct FetchSource {
    enum class Kind { node, gateway };
    Kind kind = Kind::node;
    /// How results and logs name the source: "HOST:PORT" or the gateway URL. Never holds a token.
    std::string label;
    std::string host;
    std::uint16_t port = 0;
    // A node.
    std::optional<pinning::PinSet> pins;
    bool pin_from_token = false;
    std::string token;       // inline token ("token"), a secret: never printed
    std::string token_file;  // or a file holding it ("token_file")
    // A gateway.
    bool tls = false;  // https://
};

/// Parses a sources list. On failure returns nullopt and sets `error` to a sentence for a person
/// ("source 2: unknown key \"pins\" (expected address, pin, pin_from_token, token, token_file or gateway)").
std::optional<std::vector<FetchSource>> parse_fetch_sources(std::string_view text, std::string& error,
                                                            const SourceLimits& limits = {});

}  // namespace cyxp2p::net
