// Multi-source fetch from the engine API (issue 18 item 4; docs/net.md "Multi-source fetch"): one CID from
// several sources at once, mixing the node an Engine already holds a Connection to, nodes to dial and IPFS
// trustless gateways. content::MultiDownload plans the DAG, shares the units out (work stealing, hedging),
// verifies every block against the CID its verified parent named and keeps one resume state; a source
// needs no trust. A source that fails, stalls or sends a block that does not hash is dropped (audited as
// source_dropped, named in the result) and its share goes to the others.
//
//   std::vector<net::MultiFetchSource> sources{net::MultiFetchSource::open(hired, "hired"),
//                                              net::MultiFetchSource::dial(std::move(other)),
//                                              net::MultiFetchSource::gateway("https://ipfs.example")};
//   net::async_fetch_from(engine, std::move(sources), cid, "out.bin", {},
//       [](std::error_code ec, net::MultiFetchResult r) { ... });
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/fetch_sources.hpp>
#include <cyxp2p/net/limits.hpp>

namespace cyxp2p::net {

/// One source of a multi-source fetch.
struct MultiFetchSource {
    enum class Kind { connection, node, gateway };
    Kind kind = Kind::node;
    /// How the result, the audit log and messages name the source. Never holds a token.
    std::string name;
    /// Kind::connection: an open Connection (the hired node). Left open at the end: it is the caller's.
    std::shared_ptr<Connection> connection;
    /// Kind::node: dialled with the fetch's Engine, closed in order at the end.
    ConnectOptions connect;
    /// Kind::gateway: http(s)://HOST[:PORT]. HTTPS verifies the host name against the system CA store or
    /// MultiFetchOptions::gateway_ca.
    std::string host;
    std::uint16_t port = 0;
    bool tls = false;

    static MultiFetchSource open(std::shared_ptr<Connection> c, std::string name);
    /// `name` empty: "HOST:PORT".
    static MultiFetchSource dial(ConnectOptions o, std::string name = {});
    /// Parses "http(s)://HOST[:PORT]" (the form of a sources list, net/fetch_sources.hpp); nullopt if
    /// malformed.
    static std::optional<MultiFetchSource> gateway(const std::string& url);
    /// A parsed sources-list entry; `token` is the node's token (read from token_file by the caller).
    static MultiFetchSource from(const FetchSource& s, std::string token);
};

struct MultiFetchOptions {
    MultiFetchLimits limits{};
    /// A PEM CA file for https gateways; empty: the system CA store.
    std::string gateway_ca;
    /// User-Agent of gateway requests.
    std::string user_agent = "cyxp2p-engine/0.1";
    /// Limits of the fetched DAG and its resume state (content/limits.hpp).
    content::Limits content{};
    /// Receives source_dropped (may be null).
    std::shared_ptr<AuditSink> audit{};
};

struct MultiFetchSourceResult {
    std::string name;
    std::uint64_t bytes = 0;   // verified bytes this source supplied
    std::uint64_t blocks = 0;  // verified blocks
    std::string error;         // why it was dropped; empty: it stayed to the end
    std::error_code error_code;
};

struct MultiFetchResult {
    std::uint64_t bytes = 0;  // the file's size (complete) or verified bytes kept (failed)
    std::uint64_t units = 0, resumed_units = 0, resumed_bytes = 0;
    std::vector<MultiFetchSourceResult> sources;  // in the order given
    /// On failure, a sentence for a person: what failed and, for no_source_left, each source's reason.
    std::string error_detail;
    /// Non-empty: a resume state was found and discarded (why); the fetch started from the beginning.
    std::string resume_discarded;
    /// On failure: verified bytes kept in `partial` (run the same fetch again to resume); 0: nothing kept.
    std::uint64_t kept_bytes = 0;
    std::filesystem::path partial;
};

using MultiFetchDone = std::function<void(std::error_code, MultiFetchResult)>;

namespace detail {
void start_multi_fetch(Engine& engine, std::vector<MultiFetchSource> sources, std::string cid,
                       std::filesystem::path dest, MultiFetchOptions options, MultiFetchDone done);
}

/// Fetches `cid` into `dest` from every source at once; completes with (error, result) once the file is in
/// place (renamed into place only when the whole DAG verified) or the fetch failed, and the connections it
/// dialled are closed. Errors: net::errc::no_source_left (every source dropped: result.sources says why),
/// content::errc (a bad CID, the output or resume state: local problems). On failure nothing is at `dest`.
/// `engine` must outlive the fetch.
template <class Token>
auto async_fetch_from(Engine& engine, std::vector<MultiFetchSource> sources, std::string cid,
                      std::filesystem::path dest, MultiFetchOptions options, Token&& token) {
    return detail::initiate<void(std::error_code, MultiFetchResult)>(
        engine.get_executor(), std::forward<Token>(token),
        [&engine, sources = std::move(sources), cid = std::move(cid), dest = std::move(dest),
         options = std::move(options)](auto done) mutable {
            detail::start_multi_fetch(engine, std::move(sources), std::move(cid), std::move(dest),
                                      std::move(options), std::move(done));
        });
}

}  // namespace cyxp2p::net
