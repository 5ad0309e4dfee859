// The request half of the IPFS Trustless Gateway (specs.ipfs.tech/http-gateways/trustless-gateway), sans-IO:
// what a `GET`/`HEAD /ipfs/{cid}` asks for, decided from the request target and its Accept header, so the
// HTTP server (net/gateway.hpp) and the fuzz harness share one parser. Subset served: one raw block
// (`format=raw`, application/vnd.ipld.raw) or a CAR v1 of the DAG in DFS order (`format=car`,
// application/vnd.ipld.car) with `dag-scope=all|entity|block` and `dups=y|n`; no content paths, no IPNS,
// no `entity-bytes` (each refused with 400 and a reason, never silently ignored).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <cyxp2p/content/cid.hpp>

namespace cyxp2p::content {

enum class GatewayFormat { raw, car };
enum class DagScope { all, entity, block };

struct GatewayRequest {
    Cid cid = Cid::v0(Digest{});
    GatewayFormat format = GatewayFormat::raw;
    DagScope scope = DagScope::all;
    bool dups = true;  // CAR: a block the DAG names twice is sent twice (what our DFS walk does)
    bool head = false;
};

/// Why a request is refused: the HTTP status (400, 405, 406) and a one-line reason for the body.
struct GatewayRefusal {
    int status = 400;
    std::string reason;
};

/// Limits of the parser (documented defaults; the HTTP layer caps the header block itself).
struct GatewayRequestLimits {
    std::size_t max_target = 2048;  // bytes of the request target: a CIDv1 in base32 is ~60
};

/// Parses `method` ("GET", "HEAD"), `target` (origin-form: path and optional query) and `accept` (the
/// Accept header, possibly empty). `format` in the query takes precedence over Accept (the spec's SHOULD);
/// with neither, 400 (the spec's strict trustless mode). Unknown query parameters are ignored, as URL
/// parameters are; a known one with a value we do not serve is refused.
std::optional<GatewayRequest> parse_gateway_request(std::string_view method, std::string_view target,
                                                    std::string_view accept, GatewayRefusal& refusal,
                                                    const GatewayRequestLimits& limits = {});

/// The response's Content-Type for a request that parsed.
std::string gateway_content_type(const GatewayRequest& r);
/// Its Etag: unique per CID, format and (CAR) scope and dups, as the spec asks.
std::string gateway_etag(const GatewayRequest& r);

}  // namespace cyxp2p::content
