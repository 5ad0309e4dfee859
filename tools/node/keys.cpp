// p2p-node --keys FILE|URL and its SIGHUP reload.
#include "keys.hpp"

#include <iostream>

#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/net/errc.hpp>

#include "../common/cli.hpp"

namespace cyxp2p::tools::node {

std::shared_ptr<const auth::KeySource> NodeKeys::source() const {
    if (url) return url;
    return file;
}

bool is_keys_url(const std::string& keys) {
    return keys.rfind("https://", 0) == 0 || keys.rfind("http://", 0) == 0;
}

std::optional<int> open_keys(const RunSettings& rs, std::shared_ptr<net::AuditSink> audit, bool background,
                             NodeKeys& out) {
    std::error_code ec;
    std::string detail;
    if (!is_keys_url(rs.keys)) {
        if (!rs.keys_ca.empty())
            return fail(nullptr, Exit::usage, "usage", "--keys-ca needs --keys https://...");
        out.file = auth::FileKeySource::open(rs.keys, ec, &detail);
        if (out.file) return std::nullopt;
        return fail(nullptr, Exit::bad_input, ec ? net::error_name(ec, "io_error") : "no_keys",
                    rs.keys + ": " + (ec ? ec.message() : "the JWKS holds no usable key") +
                        " (expected the JWKS written by 'p2p-probe key new')");
    }
    net::JwksUrlOptions o;
    o.url = rs.keys;
    o.ca_file = rs.keys_ca;
    o.allow_secret = rs.keys_allow_secret;
    if (rs.keys_refresh_s != 0) o.refresh = std::chrono::seconds(rs.keys_refresh_s);
    o.min_refetch = std::chrono::seconds(rs.keys_min_refetch_s);
    o.audit = std::move(audit);
    o.log = [](const std::string& line) { std::cerr << "p2p-node: " << line << std::endl; };
    o.background = background;
    out.url = net::JwksUrlSource::open(std::move(o), ec, &detail);
    if (out.url) return std::nullopt;
    if (ec == net::errc::keys_bad_url) {
        return fail(nullptr, Exit::usage, "keys_bad_url",
                    "--keys " + rs.keys + ": " + ec.message() + " (plain http is refused: keys need TLS)");
    }
    return fail(nullptr, Exit::keys_unavailable, net::error_name(ec, "keys_fetch_failed"),
                "--keys " + rs.keys + ": " + ec.message() + (detail.empty() ? "" : " (" + detail + ")") +
                    "; the node does not start without its token keys");
}

void reload_keys(const NodeKeys& keys, const std::string& where, net::AuditSink* audit) {
    std::string detail;
    const std::error_code ec = keys.url ? keys.url->refresh(&detail) : keys.file->reload(&detail);
    const auto st = keys.source()->status();
    // The URL source records its own audit event and log line; the file is this function's to report.
    if (keys.file && audit != nullptr) {
        audit->record({.kind = net::AuditEvent::Kind::keys_loaded,
                       .result = ec ? net::error_name(ec, "io_error") : "ok",
                       .detail = where + (ec ? ": " + ec.message() + "; the previous key set stays" : ""),
                       .value = static_cast<std::int64_t>(st.keys)});
    }
    if (ec) {
        if (keys.file) {
            std::cerr << "p2p-node: reload: keys " << where << ": " << ec.message()
                      << (detail.empty() ? "" : " (" + detail + ")") << "; the previous " << st.keys
                      << " key(s) stay in force" << std::endl;
        }
        return;
    }
    std::string kids;
    for (const auto& k : keys.source()->current()->keys()) kids += (kids.empty() ? "" : ",") + k.kid();
    std::cout << "reloaded keys " << where << ": " << st.keys << " key(s) " << kids << std::endl;
}

}  // namespace cyxp2p::tools::node
