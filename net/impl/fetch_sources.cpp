#include <charconv>
#include <utility>

#include <cyxp2p/auth/detail/strict_json.hpp>
#include <cyxp2p/net/fetch_sources.hpp>

namespace cyxp2p::net {
namespace {

using json = nlohmann::json;

// HOST:PORT or [IPv6]:PORT; the port 1..65535.
bool split_host_port(std::string_view s, std::string& host, std::uint16_t& port, std::string& why) {
    std::string_view h, p;
    if (!s.empty() && s.front() == '[') {
        const auto close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
            why = "expected [IPV6]:PORT";
            return false;
        }
        h = s.substr(1, close - 1);
        p = s.substr(close + 2);
    } else {
        const auto colon = s.rfind(':');
        if (colon == std::string_view::npos) {
            why = "expected HOST:PORT";
            return false;
        }
        h = s.substr(0, colon);
        p = s.substr(colon + 1);
        if (h.find(':') != std::string_view::npos) {
            why = "an IPv6 address is written [ADDRESS]:PORT";
            return false;
        }
    }
    if (h.empty()) {
        why = "the host is empty";
        return false;
    }
    for (char c : h) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '-' || c == ':' || c == '_';
        if (!ok) {
            why = "the host may hold letters, digits, '.', '-', '_' (and ':' inside [])";
            return false;
        }
    }
    unsigned v = 0;
    const auto [end, err] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || err != std::errc{} || end != p.data() + p.size() || v == 0 || v > 65535) {
        why = "the port must be 1..65535";
        return false;
    }
    host = std::string(h);
    port = static_cast<std::uint16_t>(v);
    return true;
}

bool parse_gateway(const std::string& url, FetchSource& s, std::string& why) {
    std::string_view rest = url;
    if (rest.substr(0, 7) == "http://") {
        rest.remove_prefix(7);
    } else if (rest.substr(0, 8) == "https://") {
        s.tls = true;
        rest.remove_prefix(8);
    } else {
        why = "a gateway is http://HOST[:PORT] or https://HOST[:PORT]";
        return false;
    }
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    if (rest.find_first_of("/?#@") != std::string_view::npos) {
        why = "a gateway URL has no path, query or user@ (the fetch adds /ipfs/CID)";
        return false;
    }
    const bool bracket = !rest.empty() && rest.front() == '[';
    const auto colon = rest.rfind(':');
    const bool has_port = colon != std::string_view::npos && (!bracket || rest[colon - 1] == ']');
    const std::string with_port = has_port ? std::string(rest) : std::string(rest) + (s.tls ? ":443" : ":80");
    if (!split_host_port(with_port, s.host, s.port, why)) return false;
    s.kind = FetchSource::Kind::gateway;
    s.label = url;
    return true;
}

std::optional<FetchSource> parse_one(const json& j, std::string& why) {
    if (!j.is_object()) {
        why = "each source is an object";
        return std::nullopt;
    }
    FetchSource s;
    static constexpr std::string_view keys[] = {"address", "pin",        "pin_from_token",
                                                "token",   "token_file", "gateway"};
    for (const auto& [k, v] : j.items()) {
        bool known = false;
        for (auto key : keys) known = known || k == key;
        if (!known) {
            why = "unknown key \"" + k +
                  "\" (expected address, pin, pin_from_token, token, token_file or gateway)";
            return std::nullopt;
        }
        if (k == "pin_from_token" ? !v.is_boolean() : !v.is_string()) {
            why = "\"" + k + "\" must be " + (k == "pin_from_token" ? "true or false" : "a string");
            return std::nullopt;
        }
    }
    if (j.contains("gateway")) {
        if (j.size() != 1) {
            why = "a gateway source has only \"gateway\" (no pin or token: a gateway is not trusted either)";
            return std::nullopt;
        }
        if (!parse_gateway(j["gateway"].get<std::string>(), s, why)) return std::nullopt;
        return s;
    }
    if (!j.contains("address")) {
        why = "a source needs \"address\" (a node) or \"gateway\"";
        return std::nullopt;
    }
    const std::string address = j["address"].get<std::string>();
    if (!split_host_port(address, s.host, s.port, why)) {
        why = "bad address \"" + address + "\": " + why;
        return std::nullopt;
    }
    s.label = address;
    if (j.contains("token") && j.contains("token_file")) {
        why = "give \"token\" or \"token_file\", not both";
        return std::nullopt;
    }
    if (j.contains("token")) s.token = j["token"].get<std::string>();
    if (j.contains("token_file")) s.token_file = j["token_file"].get<std::string>();
    if ((j.contains("token") && s.token.empty()) || (j.contains("token_file") && s.token_file.empty())) {
        why = "the token (or token_file) is empty";
        return std::nullopt;
    }
    if (s.token.empty() && s.token_file.empty()) {
        why = "a node source needs \"token_file\" or \"token\" (a P2P token for that node)";
        return std::nullopt;
    }
    s.pin_from_token = j.value("pin_from_token", false);
    if (j.contains("pin")) {
        pinning::PinListError pe;
        s.pins = pinning::PinSet::parse(j["pin"].get<std::string>(), &pe);
        if (!s.pins) {
            why = "bad pin: " + pe.describe();
            return std::nullopt;
        }
    } else if (!s.pin_from_token) {
        why = "missing \"pin\" (sha256//...; or \"pin_from_token\": true): an unpinned link is refused";
        return std::nullopt;
    }
    return s;
}

}  // namespace

std::optional<std::vector<FetchSource>> parse_fetch_sources(std::string_view text, std::string& error,
                                                            const SourceLimits& limits) {
    if (text.size() > limits.max_text) {
        error = "the sources list is larger than " + std::to_string(limits.max_text) + " bytes";
        return std::nullopt;
    }
    auto doc = auth::detail::parse_strict_document(text, limits.max_depth);
    if (!doc || !doc->is_array()) {
        error = "the sources list must be one JSON array of objects (valid UTF-8, no duplicate keys, no BOM)";
        return std::nullopt;
    }
    if (doc->empty()) {
        error = "the sources list is empty";
        return std::nullopt;
    }
    if (doc->size() > limits.max_sources) {
        error = "more than " + std::to_string(limits.max_sources) + " sources";
        return std::nullopt;
    }
    std::vector<FetchSource> out;
    for (std::size_t i = 0; i < doc->size(); ++i) {
        std::string why;
        auto s = parse_one((*doc)[i], why);
        if (!s) {
            error = "source " + std::to_string(i + 1) + ": " + why;
            return std::nullopt;
        }
        out.push_back(std::move(*s));
    }
    return out;
}

}  // namespace cyxp2p::net
