// Beast HTTP(S) client for a trustless gateway. The CAR is requested in DFS order; when the response says
// `order=dfs` it is verified as it streams in (CarStreamParser -> FileWriter, one block in memory). Any other
// answer (order=unk, or a static file server that knows nothing of CARs) is spooled to a scratch file beside
// the output and verified from there through verify_car, which accepts any block order. Either way FILE
// appears only once the whole DAG verified, and a scratch file never survives the command.
#include "gateway_fetch.hpp"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>

#include <cyxp2p/content/car.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/file_writer.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/errc.hpp>

#include "../common/local_checks.hpp"
#include "../common/version.hpp"
#include "content_options.hpp"

namespace cyxp2p::tools::probe {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

namespace {

struct GatewayUrl {
    bool tls = false;
    std::string host;
    std::string port;
    std::string cid_text;
};

// http(s)://HOST[:PORT]/ipfs/CID[/][?ANYTHING]; no userinfo (RFC 3986 3.2.1), no content path.
std::optional<GatewayUrl> parse_url(std::string_view url, std::string& why) {
    GatewayUrl u;
    if (url.substr(0, 7) == "http://") {
        url.remove_prefix(7);
    } else if (url.substr(0, 8) == "https://") {
        u.tls = true;
        url.remove_prefix(8);
    } else {
        why = "a gateway URL starts with http:// or https://";
        return std::nullopt;
    }
    const auto slash = url.find('/');
    const std::string_view authority = url.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : url.substr(slash);
    path = path.substr(0, path.find_first_of("?#"));
    if (authority.empty() || authority.find('@') != std::string_view::npos) {
        why = "the URL needs a host (and no user@)";
        return std::nullopt;
    }
    if (authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            why = "unterminated IPv6 literal";
            return std::nullopt;
        }
        u.host = std::string(authority.substr(1, close - 1));
        const auto rest = authority.substr(close + 1);
        if (!rest.empty() && rest.front() == ':') u.port = std::string(rest.substr(1));
    } else {
        const auto colon = authority.rfind(':');
        u.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) u.port = std::string(authority.substr(colon + 1));
    }
    if (u.port.empty()) u.port = u.tls ? "443" : "80";
    constexpr std::string_view prefix = "/ipfs/";
    if (path.substr(0, prefix.size()) != prefix) {
        why = "the URL's path must be /ipfs/CID";
        return std::nullopt;
    }
    std::string_view cid = path.substr(prefix.size());
    if (!cid.empty() && cid.back() == '/') cid.remove_suffix(1);
    if (cid.empty() || cid.find('/') != std::string_view::npos) {
        why = "the URL's path must be /ipfs/CID (no path inside the content)";
        return std::nullopt;
    }
    u.cid_text = std::string(cid);
    return u;
}

// The outcome of one download, before it is reported.
struct Outcome {
    Exit exit = Exit::ok;
    std::string code;
    std::string message;
    std::uint64_t bytes = 0;
    std::uint64_t blocks = 0;
    bool streamed = false;  // verified as it arrived (order=dfs), else spooled and verified from the file
};

Outcome failed(Exit exit, std::string code, std::string message) {
    Outcome o;
    o.exit = exit;
    o.code = std::move(code);
    o.message = std::move(message);
    return o;
}

Outcome content_failure(const std::error_code& ec, const std::string& what) {
    return failed(exit_for(ec) == Exit::io ? Exit::io : Exit::content_mismatch,
                  content::to_string(static_cast<content::errc>(ec.value())), what + ": " + ec.message());
}

class Fetch {
  public:
    Fetch(asio::io_context& io, const GatewayUrl& url, const content::Cid& root, fs::path out,
          std::chrono::milliseconds timeout, std::string ca_file)
        : io_(io),
          url_(url),
          root_(root),
          out_(std::move(out)),
          timeout_(timeout),
          ca_file_(std::move(ca_file)),
          tls_ctx_(asio::ssl::context::tls_client) {}

    asio::awaitable<Outcome> run() {
        beast::tcp_stream tcp_stream(io_);
        tcp::resolver resolver(io_);
        boost::system::error_code ec;
        tcp_stream.expires_after(timeout_);
        auto endpoints = co_await resolver.async_resolve(url_.host, url_.port,
                                                         asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) co_await tcp_stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
            co_return failed(Exit::connect_failed, "connect_failed",
                             url_.host + ":" + url_.port + ": " + ec.message());
        if (!url_.tls) co_return co_await exchange(tcp_stream);
        // HTTPS: the system CA store (or --gateway-ca), the host name checked against the certificate, SNI.
        tls_ctx_.set_verify_mode(asio::ssl::verify_peer);
        boost::system::error_code cec;
        if (ca_file_.empty()) {
            tls_ctx_.set_default_verify_paths(cec);
        } else {
            tls_ctx_.load_verify_file(ca_file_, cec);
        }
        if (cec) co_return failed(Exit::io, "io_error", "CA store " + ca_file_ + ": " + cec.message());
        SSL_CTX_set_min_proto_version(tls_ctx_.native_handle(), TLS1_2_VERSION);
        beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp_stream), tls_ctx_);
        tls.set_verify_callback(asio::ssl::host_name_verification(url_.host));
        // SNI for a name, never for an address literal (RFC 6066 3). SSL_set_tlsext_host_name is a macro with
        // a C cast; this is the control call it expands to.
        boost::system::error_code not_ip;
        asio::ip::make_address(url_.host, not_ip);
        if (not_ip)
            SSL_ctrl(tls.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                     const_cast<char*>(url_.host.c_str()));
        beast::get_lowest_layer(tls).expires_after(timeout_);
        co_await tls.async_handshake(asio::ssl::stream_base::client,
                                     asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            const long v = SSL_get_verify_result(tls.native_handle());
            const std::string why = v != X509_V_OK ? X509_verify_cert_error_string(v) : ec.message();
            co_return failed(Exit::tls_failed, "tls_failed", url_.host + ": TLS handshake failed: " + why);
        }
        co_return co_await exchange(tls);
    }

  private:
    template <class Stream>
    asio::awaitable<Outcome> exchange(Stream& stream) {
        http::request<http::empty_body> req{
            http::verb::get, "/ipfs/" + url_.cid_text + "?format=car&dag-scope=all&car-dups=y", 11};
        req.set(http::field::host, url_.host);
        req.set(http::field::accept, "application/vnd.ipld.car; version=1; order=dfs; dups=y");
        req.set(http::field::user_agent, "p2p-probe/" + build_info().version);
        boost::system::error_code ec;
        beast::get_lowest_layer(stream).expires_after(timeout_);
        co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
        beast::flat_buffer buffer;
        http::response_parser<http::buffer_body> parser;
        // No body limit: what is kept is bounded by the DAG's own limits, and every byte is verified. Not
        // boost::none: Beast 1.74 compares a Content-Length with the empty optional and always fails.
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        if (!ec)
            co_await http::async_read_header(stream, buffer, parser,
                                             asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
            co_return failed(Exit::connect_failed, "connection_lost",
                             "the gateway's answer: " + ec.message());
        const auto status = parser.get().result_int();
        if (status == 404)
            co_return failed(Exit::protocol_error, "content_not_found",
                             "the gateway does not hold " + url_.cid_text);
        if (status != 200)
            co_return failed(Exit::protocol_error, "http_" + std::to_string(status),
                             "the gateway answered HTTP " + std::to_string(status) + " " +
                                 std::string(parser.get().reason()));
        const std::string type(parser.get()[http::field::content_type]);
        const bool dfs =
            type.rfind("application/vnd.ipld.car", 0) == 0 && type.find("order=dfs") != std::string::npos;

        std::optional<content::FileWriter> writer;
        std::optional<content::CarStreamParser> car;
        fs::path spool;
        std::ofstream spool_out;
        if (dfs) {
            writer.emplace(root_, out_);
            if (auto e = writer->open()) co_return content_failure(e, out_.string());
            car.emplace(
                [&](const content::Cid& cid, content::ByteView block) { return writer->push(block, cid); });
        } else {
            // A scratch name beside the output (same file system, removed on every path out).
            spool = out_.parent_path() /
                    ("." + out_.filename().string() + "." + std::to_string(::getpid()) + ".car");
            spool_out.open(spool, std::ios::binary | std::ios::trunc);
            if (!spool_out) co_return failed(Exit::io, "io_error", "cannot create " + spool.string());
        }
        struct RemoveSpool {
            const fs::path& p;
            ~RemoveSpool() {
                std::error_code ignored;
                if (!p.empty()) fs::remove(p, ignored);
            }
        } remove_spool{spool};

        std::vector<std::uint8_t> chunk(256 * 1024);
        std::uint64_t received = 0;
        while (!parser.is_done()) {
            parser.get().body().data = chunk.data();
            parser.get().body().size = chunk.size();
            beast::get_lowest_layer(stream).expires_after(timeout_);
            co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
            if (ec == http::error::need_buffer) ec = {};
            if (ec)
                co_return failed(Exit::connect_failed, "connection_lost",
                                 "the gateway's answer ended after " + std::to_string(received) +
                                     " bytes: " + ec.message() + "; nothing was written to " + out_.string());
            const std::size_t n = chunk.size() - parser.get().body().size;
            received += n;
            if (car) {
                if (auto e = car->feed(content::ByteView(chunk.data(), n)))
                    co_return content_failure(e, "block from the gateway");
            } else {
                spool_out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(n));
                if (!spool_out) co_return failed(Exit::io, "io_error", "cannot write " + spool.string());
            }
        }
        Outcome o;
        o.streamed = dfs;
        if (car) {
            if (auto e = car->finish()) co_return content_failure(e, "the gateway's CAR");
            if (auto e = writer->commit()) co_return content_failure(e, "the gateway's CAR");
            o.bytes = writer->verifier().file_size();
            o.blocks = writer->verifier().blocks_verified();
            co_return o;
        }
        spool_out.close();
        if (!spool_out) co_return failed(Exit::io, "io_error", "cannot write " + spool.string());
        std::ifstream in(spool, std::ios::binary);
        std::error_code vec;
        auto v = content::verify_car(in, root_, vec, &out_);
        if (!v) co_return content_failure(vec, "the gateway's CAR");
        o.bytes = v->file_size;
        o.blocks = v->blocks;
        co_return o;
    }

    asio::io_context& io_;
    GatewayUrl url_;
    content::Cid root_;
    fs::path out_;
    std::chrono::milliseconds timeout_;
    std::string ca_file_;
    asio::ssl::context tls_ctx_;
};

}  // namespace

bool is_gateway_url(std::string_view s) {
    return s.substr(0, 7) == "http://" || s.substr(0, 8) == "https://";
}

int fetch_from_gateway(const Args& a, const std::string& url) {
    std::string why;
    auto u = parse_url(url, why);
    if (!u) return fail(&a, Exit::bad_input, "bad_url", url + ": " + why);
    std::error_code cec;
    auto root = content::Cid::parse(u->cid_text, cec);
    if (!root)
        return fail(&a, Exit::bad_input, content::to_string(static_cast<content::errc>(cec.value())),
                    "'" + u->cid_text + "' is not a CID: " + cec.message());
    const fs::path out = *a.get("--output");
    if (auto e = check_output_path(out, a.has("--force"))) return fail(&a, *e);
    const auto replaced_mode = existing_permissions(out);
    std::chrono::milliseconds timeout = net::EngineOptions{}.connect_timeout;
    if (auto t = a.get("--timeout-ms")) {
        std::uint64_t v = 0;
        const auto [end, err] = std::from_chars(t->data(), t->data() + t->size(), v);
        if (err != std::errc{} || end != t->data() + t->size() || v < 1 || v > 3'600'000)
            return fail(&a, Exit::usage, "usage", "--timeout-ms must be 1..3600000, not '" + *t + "'");
        timeout = std::chrono::milliseconds(v);
    }
    const std::string ca = a.get("--gateway-ca").value_or("");
    if (!ca.empty() && !u->tls) return fail(&a, Exit::usage, "usage", "--gateway-ca needs an https:// URL");

    asio::io_context io;
    Fetch fetch(io, *u, *root, out, timeout, ca);
    std::optional<Outcome> result;
    asio::co_spawn(io, fetch.run(), [&](std::exception_ptr e, Outcome o) {
        if (e) o = failed(Exit::failure, "internal", "unexpected failure");
        result = std::move(o);
    });
    io.run();
    const Outcome& o = *result;
    if (o.exit != Exit::ok) {
        const std::string msg = o.message.find("nothing was written") == std::string::npos
                                    ? o.message + "; nothing was written to " + out.string()
                                    : o.message;
        return fail(&a, o.exit, o.code, msg);
    }
    restore_permissions(out, replaced_mode);
    if (a.json()) {
        print_json(
            {{"ok", true},
             {"cid", root->to_string()},
             {"file", out.string()},
             {"bytes", o.bytes},
             {"blocks", o.blocks},
             {"source", url},
             {"verified", o.streamed ? "as it arrived (order=dfs)" : "from a spooled copy (any order)"}});
    } else {
        std::cout << "fetched " << root->to_string() << " -> " << out.string() << ": " << o.bytes
                  << " bytes, " << o.blocks << " blocks, every block verified ("
                  << (o.streamed ? "streamed in DFS order" : "any order, spooled then verified") << ") from "
                  << url << '\n';
    }
    return 0;
}

}  // namespace cyxp2p::tools::probe
