#include <cctype>
#include <vector>

#include <cyxp2p/content/gateway_request.hpp>

namespace cyxp2p::content {
namespace {

constexpr std::string_view kRaw = "application/vnd.ipld.raw";
constexpr std::string_view kCar = "application/vnd.ipld.car";

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    for (;;) {
        const auto at = s.find(sep);
        out.push_back(s.substr(0, at));
        if (at == std::string_view::npos) return out;
        s.remove_prefix(at + 1);
    }
}

// What an Accept entry or the query asks of a CAR.
struct CarParams {
    std::optional<bool> dups;
};

// One media range of an Accept header (RFC 9110 12.5.1): type, parameters, weight. Entries we do not serve
// (other types, `*/*`, CAR versions or orders other than 1 and dfs/unk, malformed weights) are skipped.
struct Choice {
    GatewayFormat format;
    CarParams car;
    double q;
};

std::optional<Choice> accept_entry(std::string_view entry) {
    auto parts = split(entry, ';');
    const auto type = trim(parts[0]);
    Choice c{GatewayFormat::raw, {}, 1.0};
    if (iequals(type, kRaw)) {
        c.format = GatewayFormat::raw;
    } else if (iequals(type, kCar)) {
        c.format = GatewayFormat::car;
    } else {
        return std::nullopt;
    }
    for (std::size_t i = 1; i < parts.size(); ++i) {
        const auto p = trim(parts[i]);
        const auto eq = p.find('=');
        if (eq == std::string_view::npos) return std::nullopt;
        const auto key = trim(p.substr(0, eq));
        auto value = trim(p.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
            value = value.substr(1, value.size() - 2);
        if (iequals(key, "q")) {
            // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
            if (value.empty() || value.size() > 5 || (value[0] != '0' && value[0] != '1'))
                return std::nullopt;
            double q = value[0] - '0';
            if (value.size() > 1) {
                if (value[1] != '.') return std::nullopt;
                double scale = 0.1;
                for (std::size_t k = 2; k < value.size(); ++k, scale /= 10) {
                    if (!std::isdigit(static_cast<unsigned char>(value[k]))) return std::nullopt;
                    q += (value[k] - '0') * scale;
                }
            }
            if (q > 1.0) return std::nullopt;
            c.q = q;
        } else if (c.format == GatewayFormat::car && iequals(key, "version")) {
            if (value != "1") return std::nullopt;
        } else if (c.format == GatewayFormat::car && iequals(key, "order")) {
            if (value != "dfs" && value != "unk") return std::nullopt;  // DFS satisfies both
        } else if (c.format == GatewayFormat::car && iequals(key, "dups")) {
            if (value != "y" && value != "n") return std::nullopt;
            c.car.dups = value == "y";
        }
    }
    return c;
}

std::optional<GatewayRequest> refuse(GatewayRefusal& r, int status, std::string reason) {
    r.status = status;
    r.reason = std::move(reason);
    return std::nullopt;
}

}  // namespace

std::optional<GatewayRequest> parse_gateway_request(std::string_view method, std::string_view target,
                                                    std::string_view accept, GatewayRefusal& refusal,
                                                    const GatewayRequestLimits& limits) {
    GatewayRequest req;
    if (method == "HEAD") {
        req.head = true;
    } else if (method != "GET") {
        return refuse(refusal, 405, "only GET and HEAD are served");
    }
    if (target.size() > limits.max_target) return refuse(refusal, 400, "request target too long");
    const auto qmark = target.find('?');
    const std::string_view path = target.substr(0, qmark);
    const std::string_view query =
        qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);
    constexpr std::string_view prefix = "/ipfs/";
    if (path.substr(0, prefix.size()) != prefix)
        return refuse(refusal, 400, "only /ipfs/{cid} is served (no /ipns/, no other paths)");
    std::string_view cid_text = path.substr(prefix.size());
    const auto slash = cid_text.find('/');
    if (slash != std::string_view::npos) {
        if (slash + 1 != cid_text.size())
            return refuse(refusal, 400, "content paths are not served: request the CID of the file itself");
        cid_text = cid_text.substr(0, slash);
    }
    std::error_code ec;
    auto cid = Cid::parse(cid_text, ec);
    if (!cid) return refuse(refusal, 400, "not a CID: " + ec.message());
    req.cid = *cid;

    std::optional<GatewayFormat> format;
    std::optional<DagScope> scope;
    std::optional<bool> dups;
    std::vector<std::string_view> seen;
    if (!query.empty()) {
        for (const auto param : split(query, '&')) {
            if (param.empty()) continue;
            const auto eq = param.find('=');
            const auto key = param.substr(0, eq);
            const auto value = eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
            const bool known = key == "format" || key == "dag-scope" || key == "car-version" ||
                               key == "car-order" || key == "car-dups" || key == "entity-bytes";
            if (!known) continue;  // unknown URL parameters are ignored
            for (auto s : seen) {
                if (s == key)
                    return refuse(refusal, 400, "query parameter '" + std::string(key) + "' given twice");
            }
            seen.push_back(key);
            if (key == "format") {
                if (value == "raw") {
                    format = GatewayFormat::raw;
                } else if (value == "car") {
                    format = GatewayFormat::car;
                } else {
                    return refuse(refusal, 400,
                                  "format must be raw or car (a trustless gateway serves no other)");
                }
            } else if (key == "dag-scope") {
                if (value == "all") {
                    scope = DagScope::all;
                } else if (value == "entity") {
                    scope = DagScope::entity;
                } else if (value == "block") {
                    scope = DagScope::block;
                } else {
                    return refuse(refusal, 400, "dag-scope must be all, entity or block");
                }
            } else if (key == "car-version") {
                if (value != "1") return refuse(refusal, 400, "car-version: only CAR v1 is served");
            } else if (key == "car-order") {
                if (value != "dfs" && value != "unk")
                    return refuse(refusal, 400, "car-order must be dfs or unk");
            } else if (key == "car-dups") {
                if (value != "y" && value != "n") return refuse(refusal, 400, "car-dups must be y or n");
                dups = value == "y";
            } else {
                return refuse(refusal, 400, "entity-bytes is not supported: request the whole file");
            }
        }
    }
    if (!format) {
        // RFC 9110 12.5.1: the highest weight wins, the first listed among equals; q=0 means "not this".
        std::optional<Choice> best;
        bool any_type = false;
        if (!trim(accept).empty()) {
            for (const auto entry : split(accept, ',')) {
                const auto type = trim(entry.substr(0, entry.find(';')));
                if (type.empty()) continue;
                // `*/*` and `application/*` state no preference between a block and a CAR (curl and
                // browsers send `*/*` by default): treated like a missing Accept.
                if (type != "*/*" && !iequals(type, "application/*")) any_type = true;
                auto c = accept_entry(entry);
                if (c && c->q > 0 && (!best || c->q > best->q)) best = c;
            }
        }
        if (!best) {
            if (any_type)
                return refuse(refusal, 406,
                              "Accept names no type served here: use application/vnd.ipld.raw or "
                              "application/vnd.ipld.car (or ?format=raw|car)");
            return refuse(refusal, 400,
                          "say what to return: ?format=raw or ?format=car, or an Accept header "
                          "(this is a trustless gateway: no deserialized responses)");
        }
        format = best->format;
        if (!dups) dups = best->car.dups;
    }
    req.format = *format;
    if (req.format == GatewayFormat::car) {
        req.scope = scope.value_or(DagScope::all);
        req.dups = dups.value_or(true);
    }
    return req;
}

std::string gateway_content_type(const GatewayRequest& r) {
    if (r.format == GatewayFormat::raw) return std::string(kRaw);
    return std::string(kCar) + "; version=1; order=dfs; dups=" + (r.dups ? "y" : "n");
}

std::string gateway_etag(const GatewayRequest& r) {
    if (r.format == GatewayFormat::raw) return "\"" + r.cid.to_string() + ".raw\"";
    static constexpr const char* kScopes[] = {"all", "entity", "block"};
    return "\"" + r.cid.to_string() + ".car." + kScopes[static_cast<int>(r.scope)] +
           (r.dups ? ".dups" : ".nodups") + "\"";
}

}  // namespace cyxp2p::content
