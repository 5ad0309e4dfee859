// p2p-probe fetch CID -o FILE --sources SOURCES.json: reads the list and the tokens, checks the flags, runs
// net::async_fetch_from (net/multi_fetch.hpp) and prints its result. The fetch itself, the drop of a bad
// source and the ordered close at the end are the library's.
#include "multi_fetch.hpp"

#include <charconv>
#include <chrono>
#include <iostream>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/multi_download.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/fetch_sources.hpp>
#include <cyxp2p/net/multi_fetch.hpp>

#include "../common/local_checks.hpp"
#include "../common/version.hpp"

namespace cyxp2p::tools::probe {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::optional<std::uint64_t> positive(const std::string& s, std::uint64_t max) {
    std::uint64_t v = 0;
    const auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (err != std::errc{} || end != s.data() + s.size() || v < 1 || v > max) return std::nullopt;
    return v;
}

/// Prints a source's drop the way the tool always did (the library audits it; a person reads stderr).
class StderrDrops final : public net::AuditSink {
  public:
    void record(const net::AuditEvent& e) override {
        if (e.kind == net::AuditEvent::Kind::source_dropped)
            std::cerr << "p2p-probe: source " << e.peer << " dropped: " << e.detail << '\n';
    }
};

}  // namespace

int fetch_from_sources(const Args& a, const std::string& cid_text, const std::string& sources_path) {
    std::error_code rec;
    auto text = read_input(sources_path, rec);
    if (!text) return fail(&a, Exit::io, "io_error", "cannot read " + sources_path + ": " + rec.message());
    std::string why;
    auto parsed = net::parse_fetch_sources(*text, why);
    if (!parsed) return fail(&a, Exit::bad_input, "bad_sources", sources_path + ": " + why);
    std::vector<net::MultiFetchSource> sources;
    for (const auto& s : *parsed) {
        std::string token = s.token;
        if (s.kind == net::FetchSource::Kind::node && token.empty()) {
            InputError e;
            auto t = read_token("token_file", s.token_file, TokenSource::file_or_stdin, e);
            if (!t) return fail(&a, e.exit, e.code, s.label + ": " + e.message);
            token = std::move(*t);
        }
        sources.push_back(net::MultiFetchSource::from(s, std::move(token)));
    }
    std::error_code cec;
    auto root = content::Cid::parse(cid_text, cec);
    if (!root)
        return fail(&a, Exit::bad_input, content::to_string(static_cast<content::errc>(cec.value())),
                    "'" + cid_text + "' is not a CID: " + cec.message());
    const fs::path out = *a.get("--output");
    if (auto e = check_output_path(out, a.has("--force"))) return fail(&a, *e);
    const auto replaced_mode = existing_permissions(out);
    net::MultiFetchOptions options;
    std::chrono::milliseconds timeout = net::EngineOptions{}.connect_timeout;
    if (auto t = a.get("--timeout-ms")) {
        auto v = positive(*t, 3'600'000);
        if (!v) return fail(&a, Exit::usage, "usage", "--timeout-ms must be 1..3600000, not '" + *t + "'");
        timeout = std::chrono::milliseconds(*v);
    }
    options.limits.gateway_timeout = timeout;
    if (auto t = a.get("--in-flight")) {
        auto v = positive(*t, 64);
        if (!v) return fail(&a, Exit::usage, "usage", "--in-flight must be 1..64, not '" + *t + "'");
        options.limits.in_flight = static_cast<std::size_t>(*v);
    }
    if (auto t = a.get("--stall-ms")) {
        auto v = positive(*t, 3'600'000);
        if (!v) return fail(&a, Exit::usage, "usage", "--stall-ms must be 1..3600000, not '" + *t + "'");
        options.limits.stall = std::chrono::milliseconds(*v);
    }
    if (auto t = a.get("--hedge-ms")) {
        auto v = positive(*t, 3'600'000);
        if (!v) return fail(&a, Exit::usage, "usage", "--hedge-ms must be 1..3600000, not '" + *t + "'");
        options.limits.hedge = std::chrono::milliseconds(*v);
    }
    options.gateway_ca = a.get("--gateway-ca").value_or("");
    options.user_agent = "p2p-probe/" + build_info().version;
    options.audit = std::make_shared<StderrDrops>();

    asio::io_context io;
    net::EngineOptions eo;
    eo.connect_timeout = eo.tls_timeout = timeout;
    eo.session.handshake_timeout = timeout;
    net::Engine engine(io.get_executor(), eo);
    std::error_code ec;
    net::MultiFetchResult r;
    const auto t0 = Clock::now();
    net::async_fetch_from(engine, std::move(sources), cid_text, out, options,
                          [&](std::error_code e, net::MultiFetchResult res) {
                              ec = e;
                              r = std::move(res);
                          });
    // The library closes the connections it dialled in order (bounded), so the context runs out of work.
    io.run();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!r.resume_discarded.empty() && !a.json())
        std::cerr << "p2p-probe: the resume state " << content::MultiDownload::partial_path(out).string()
                  << " was discarded (" << r.resume_discarded << "); fetching from the start\n";

    nlohmann::json per_source = nlohmann::json::array();
    std::size_t contributed = 0;
    for (const auto& s : r.sources) {
        nlohmann::json j{{"source", s.name}, {"bytes", s.bytes}, {"blocks", s.blocks}};
        j["error"] = s.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.error);
        per_source.push_back(j);
        if (s.bytes > 0) ++contributed;
    }
    if (ec && ec != net::errc::no_source_left && r.sources.empty()) {
        // Refused before any source was asked: the output or resume state, or the CA file.
        if (ec.category() != content::category()) return fail(&a, Exit::io, "io_error", r.error_detail);
        return fail(&a, Exit::io, content::to_string(static_cast<content::errc>(ec.value())), r.error_detail);
    }
    if (ec) {
        // Every source gone: the exit says why. A block that did not verify anywhere (15) before a
        // connection failure: the content problem is the one to act on.
        Exit exit = Exit::failure;
        std::string code = "no_source_left";
        if (ec == net::errc::no_source_left) {
            for (const auto& s : r.sources) {
                if (s.error.empty()) continue;
                const Exit e = exit_of(s.error_code);
                if (exit == Exit::failure || e == Exit::content_mismatch) exit = e;
            }
        } else {
            exit = Exit::io;
            code = ec.category() == content::category()
                       ? content::to_string(static_cast<content::errc>(ec.value()))
                       : "io_error";
        }
        std::string msg = r.error_detail + "; nothing was written to " + out.string();
        if (r.kept_bytes > 0)
            msg += "; " + std::to_string(r.kept_bytes) + " verified bytes are kept in " + r.partial.string() +
                   ": run the same fetch again to resume";
        if (a.json()) {
            print_json({{"ok", false},
                        {"error", code},
                        {"message", msg},
                        {"exit_code", static_cast<int>(exit)},
                        {"resumable", r.kept_bytes > 0},
                        {"sources", per_source}});
            return static_cast<int>(exit);
        }
        return fail(&a, exit, code, msg);
    }
    restore_permissions(out, replaced_mode);
    const double mibs = static_cast<double>(r.bytes) / (1024.0 * 1024.0) / std::max(secs, 1e-9);
    if (a.json()) {
        print_json({{"cid", cid_text},
                    {"path", out.string()},
                    {"bytes", r.bytes},
                    {"units", r.units},
                    {"resumed_units", r.resumed_units},
                    {"resumed_bytes", r.resumed_bytes},
                    {"seconds", secs},
                    {"mib_per_s", mibs},
                    {"verified", true},
                    {"sources", per_source}});
    } else {
        std::cout << "fetched " << cid_text << " -> " << out.string() << ": " << r.bytes << " bytes from "
                  << contributed << " of " << r.sources.size() << " sources, every block verified";
        if (r.resumed_units > 0) std::cout << " (resumed: " << r.resumed_bytes << " bytes were already here)";
        std::cout << '\n';
        for (const auto& s : r.sources)
            std::cout << "  " << s.name << ": " << s.bytes << " bytes, " << s.blocks << " blocks"
                      << (s.error.empty() ? "" : " (dropped: " + s.error + ")") << '\n';
    }
    return 0;
}

}  // namespace cyxp2p::tools::probe
