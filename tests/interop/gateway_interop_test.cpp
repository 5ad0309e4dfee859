// The trustless gateway (net::Gateway) against clients written by others: curl makes the requests, @ipld/car
// (content_interop.mjs readcar) reads the CAR and hash-checks every block, ipfs-unixfs-importer computes the
// root CID independently, and sha256sum checks a raw block against its CID.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/net/gateway.hpp>

#include "support.hpp"

namespace c = cyxp2p::content;
namespace net = cyxp2p::net;
namespace fs = std::filesystem;
using cyxp2p::test::run;

namespace {

std::string script() {
    return (cyxp2p::test::interop_dir() / "content_interop.mjs").string();
}

fs::path make_file(const fs::path& dir, std::uint64_t size) {
    const fs::path p = dir / "model.bin";
    std::ofstream out(p, std::ios::binary);
    std::uint64_t x = 88172645463325252ull;
    for (std::uint64_t i = 0; i < size; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.put(static_cast<char>(x));
    }
    return p;
}

std::string hex(const c::Digest& d) {
    std::string out;
    for (auto b : d) {
        static const char* digits = "0123456789abcdef";
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

class GatewayInterop : public ::testing::Test {
  protected:
    void SetUp() override {
        file_ = make_file(dir_.path(), 3 * 262144 + 12345);  // four leaves under one dag-pb root
        std::error_code ec;
        auto store = c::Blockstore::open(dir_ / "blocks", ec);
        ASSERT_TRUE(store) << ec.message();
        auto r = c::import_file(file_, c::ImportOptions::kubo_default(), store->sink(file_), ec);
        ASSERT_TRUE(r) << ec.message();
        root_ = r->root.to_string();
        gateway_.emplace(std::move(*store), net::GatewayOptions{});
        ASSERT_FALSE(gateway_->start());
        base_ = "http://127.0.0.1:" + std::to_string(gateway_->local_port()) + "/ipfs/";
    }

    // curl's status code for a request, its body in `body_file` and its headers in `headers`.
    int curl(const std::vector<std::string>& args, const fs::path& body_file,
             std::string* headers = nullptr) {
        std::vector<std::string> argv{"curl", "-sS", "-o", body_file.string(),
                                      "-D",   "-",   "-w", "\n%{http_code}"};
        argv.insert(argv.end(), args.begin(), args.end());
        auto res = run(argv);
        EXPECT_EQ(res.exit_code, 0) << res.err;
        const auto nl = res.out.rfind('\n');
        if (headers != nullptr) *headers = res.out.substr(0, nl);
        return std::stoi(res.out.substr(nl + 1));
    }

    cyxp2p::test::TempDir dir_;
    fs::path file_;
    std::string root_;
    std::optional<net::Gateway> gateway_;
    std::string base_;
};

bool has_header(const std::string& headers, const std::string& line) {
    std::string lower = headers, want = line;
    for (auto* s : {&lower, &want}) {
        for (auto& ch : *s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    return lower.find(want) != std::string::npos;
}

}  // namespace

TEST_F(GatewayInterop, CarReadByIpldCarMatchesTheJsImporter) {
    const fs::path car = dir_ / "got.car";
    std::string headers;
    ASSERT_EQ(curl({base_ + root_ + "?format=car"}, car, &headers), 200);
    EXPECT_TRUE(has_header(headers, "Content-Type: application/vnd.ipld.car; version=1; order=dfs; dups=y"));
    EXPECT_TRUE(has_header(headers, "Cache-Control: public, max-age=29030400, immutable"));
    EXPECT_TRUE(has_header(headers, "X-Ipfs-Roots: " + root_));
    EXPECT_TRUE(has_header(headers, "Etag: \""));
    EXPECT_TRUE(has_header(headers, "Content-Disposition: attachment"));
    // @ipld/car: every block hashes to its CID, the file reassembled from the DAG is ours.
    auto res = run({"node", script(), "readcar", car.string()});
    ASSERT_EQ(res.exit_code, 0) << res.err;
    const auto j = nlohmann::json::parse(res.out);
    EXPECT_EQ(j["roots"][0], root_);
    EXPECT_EQ(j["size"], fs::file_size(file_));
    EXPECT_EQ(j["blocks"], 5);
    const auto sum = run({"sha256sum", file_.string()});
    EXPECT_EQ(j["sha256"], sum.out.substr(0, 64));
    // The root is the one ipfs-unixfs-importer computes for the same file with kubo's defaults.
    cyxp2p::test::write_file(dir_ / "jobs.json", nlohmann::json::array({{{"file", file_.string()},
                                                                         {"cidVersion", 0},
                                                                         {"rawLeaves", false},
                                                                         {"chunkSize", 262144},
                                                                         {"maxLinks", 174}}})
                                                     .dump());
    res = run({"node", script(), "cids", (dir_ / "jobs.json").string()});
    ASSERT_EQ(res.exit_code, 0) << res.err;
    EXPECT_EQ(nlohmann::json::parse(res.out)[0], root_);
    // The same through Accept alone, and dag-scope=block is the root block only.
    ASSERT_EQ(curl({"-H", "Accept: application/vnd.ipld.car", base_ + root_}, dir_ / "accept.car"), 200);
    EXPECT_EQ(cyxp2p::test::read_file(dir_ / "accept.car"), cyxp2p::test::read_file(car));
    ASSERT_EQ(curl({base_ + root_ + "?format=car&dag-scope=block"}, dir_ / "block.car"), 200);
    EXPECT_LT(fs::file_size(dir_ / "block.car"), 1024u);
    EXPECT_GT(fs::file_size(dir_ / "block.car"), 40u);
}

TEST_F(GatewayInterop, RawBlockHashesToItsCid) {
    const fs::path body = dir_ / "root.bin";
    std::string headers;
    ASSERT_EQ(curl({base_ + root_ + "?format=raw"}, body, &headers), 200);
    EXPECT_TRUE(has_header(headers, "Content-Type: application/vnd.ipld.raw"));
    std::error_code ec;
    const auto cid = c::Cid::parse(root_, ec);
    ASSERT_TRUE(cid);
    const auto sum = run({"sha256sum", body.string()});
    EXPECT_EQ(sum.out.substr(0, 64), hex(cid->digest()));
    // Accept alone, and a conditional request with the Etag.
    ASSERT_EQ(curl({"-H", "Accept: application/vnd.ipld.raw", base_ + root_}, dir_ / "again.bin"), 200);
    EXPECT_EQ(cyxp2p::test::read_file(dir_ / "again.bin"), cyxp2p::test::read_file(body));
    const std::string etag = "\"" + root_ + ".raw\"";
    EXPECT_EQ(curl({"-H", "If-None-Match: " + etag, base_ + root_ + "?format=raw"}, dir_ / "nm.bin"), 304);
}

TEST_F(GatewayInterop, HeadAndErrors) {
    std::string headers;
    const fs::path body = dir_ / "body";
    EXPECT_EQ(curl({"-I", base_ + root_ + "?format=raw"}, body, &headers), 200);
    EXPECT_TRUE(has_header(headers, "Content-Length: "));
    EXPECT_EQ(curl({"-I", base_ + root_ + "?format=car"}, body, &headers), 200);
    EXPECT_TRUE(has_header(headers, "Content-Type: application/vnd.ipld.car"));
    // Content the node does not hold: 404, for GET and HEAD.
    const std::string absent =
        c::Cid::of_block(1, c::Codec::raw, c::as_bytes(std::string_view("absent"))).to_string();
    EXPECT_EQ(curl({base_ + absent + "?format=raw"}, body), 404);
    EXPECT_EQ(curl({base_ + absent + "?format=car"}, body), 404);
    EXPECT_EQ(curl({"-I", base_ + absent + "?format=car"}, body), 404);
    // Malformed: 400 with a reason; a type we do not serve: 406; other methods: 405.
    EXPECT_EQ(curl({base_ + "notacid?format=raw"}, body), 400);
    EXPECT_NE(cyxp2p::test::read_file(body).find("not a CID"), std::string::npos);
    EXPECT_EQ(curl({base_ + root_}, body), 400);  // curl's default Accept: */* names no format
    EXPECT_EQ(curl({"-H", "Accept:", base_ + root_}, body), 400);
    EXPECT_EQ(curl({"-H", "Accept: text/html", base_ + root_}, body), 406);
    EXPECT_EQ(curl({"-X", "POST", base_ + root_ + "?format=raw"}, body), 405);
    EXPECT_EQ(curl({base_ + root_ + "/file.txt?format=car"}, body), 400);
    // Every answer above went over one gateway that still serves.
    EXPECT_EQ(curl({base_ + root_ + "?format=raw"}, body), 200);
    EXPECT_GE(gateway_->stats().not_found, 3u);
    EXPECT_GE(gateway_->stats().bad_requests, 5u);
}

// --- a gateway as a source: p2p-probe fetch http(s)://... against servers written by others ---------------

namespace {

class GatewaySource : public ::testing::Test {
  protected:
    void SetUp() override {
        file_ = make_file(dir_.path(), 2 * 262144 + 999);
        cyxp2p::test::write_file(dir_ / "job.json", nlohmann::json{{"file", file_.string()},
                                                                   {"cidVersion", 1},
                                                                   {"rawLeaves", true},
                                                                   {"chunkSize", 262144},
                                                                   {"maxLinks", 174}}
                                                        .dump());
        fs::create_directories(dir_ / "www" / "ipfs");
        // @ipld/car, fed straight from ipfs-unixfs-importer: leaves first, the root last.
        const fs::path car = dir_ / "written.car";
        auto res = run({"node", script(), "writecar", file_.string(), car.string(),
                        (dir_ / "job.json").string(), "import"});
        ASSERT_EQ(res.exit_code, 0) << res.err;
        cid_ = nlohmann::json::parse(res.out)["root"];
        fs::copy_file(car, dir_ / "www" / "ipfs" / cid_);
    }
    // A static server (Python's http.server) over www/: GET /ipfs/CID?format=car returns the file.
    std::unique_ptr<cyxp2p::test::BackgroundProcess> serve(std::vector<std::string> tls = {}) {
        std::vector<std::string> argv{"python3", (cyxp2p::test::interop_dir() / "static_http.py").string(),
                                      (dir_ / "www").string()};
        argv.insert(argv.end(), tls.begin(), tls.end());
        auto p = std::make_unique<cyxp2p::test::BackgroundProcess>(argv);
        port_ = p->wait_for_line("port ").value_or("");
        while (!port_.empty() && (port_.back() == '\n' || port_.back() == ' ')) port_.pop_back();
        EXPECT_FALSE(port_.empty()) << p->output();
        return p;
    }
    cyxp2p::test::ProcessResult fetch(const std::string& url, std::vector<std::string> extra = {}) {
        std::vector<std::string> argv{cyxp2p::test::tool("p2p-probe").string(),
                                      "fetch",
                                      url,
                                      "-o",
                                      (dir_ / "out.bin").string(),
                                      "--json"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return run(argv);
    }
    // Nothing but what was there before the fetch: no output, no scratch file.
    void expect_nothing_left() {
        EXPECT_FALSE(fs::exists(dir_ / "out.bin"));
        for (const auto& e : fs::directory_iterator(dir_.path()))
            EXPECT_NE(e.path().filename().string().rfind(".out.bin", 0), 0u) << e.path();
    }

    cyxp2p::test::TempDir dir_;
    fs::path file_;
    std::string cid_, port_;
};

}  // namespace

TEST_F(GatewaySource, AStaticServerHoldingAnIpldCarInImporterOrder) {
    auto server = serve();
    auto r = fetch("http://127.0.0.1:" + port_ + "/ipfs/" + cid_);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_EQ(cyxp2p::test::read_file(dir_ / "out.bin"), cyxp2p::test::read_file(file_));
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["cid"], cid_);
    EXPECT_EQ(j["bytes"], fs::file_size(file_));
    EXPECT_NE(j["verified"].get<std::string>().find("spooled"), std::string::npos);  // not DFS: indexed
    for (const auto& e : fs::directory_iterator(dir_.path()))  // the scratch copy is gone
        EXPECT_NE(e.path().filename().string().rfind(".out.bin", 0), 0u) << e.path();
}

TEST_F(GatewaySource, ATamperedCarExits15AndLeavesNothing) {
    std::string bytes = cyxp2p::test::read_file(dir_ / "www" / "ipfs" / cid_);
    bytes[bytes.size() / 3] ^= 0x01;  // inside a leaf
    cyxp2p::test::write_file(dir_ / "www" / "ipfs" / cid_, bytes);
    auto server = serve();
    auto r = fetch("http://127.0.0.1:" + port_ + "/ipfs/" + cid_);
    EXPECT_EQ(r.exit_code, 15) << r.err << r.out;
    expect_nothing_left();
    // A CID the server does not have: 404, exit 16.
    const std::string other =
        c::Cid::of_block(1, c::Codec::raw, c::as_bytes(std::string_view("x"))).to_string();
    r = fetch("http://127.0.0.1:" + port_ + "/ipfs/" + other);
    EXPECT_EQ(r.exit_code, 16) << r.err << r.out;
    expect_nothing_left();
}

TEST_F(GatewaySource, HttpsVerifiesTheServersCertificate) {
    // A self-signed certificate for 127.0.0.1 made by openssl itself.
    const fs::path crt = dir_ / "srv.crt", key = dir_ / "srv.key";
    auto made = run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-nodes", "-keyout", key.string(), "-out", crt.string(), "-days", "1", "-subj",
                     "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    auto server = serve({"--tls", crt.string(), key.string()});
    const std::string url = "https://127.0.0.1:" + port_ + "/ipfs/" + cid_;
    auto r = fetch(url);  // the system store does not know this certificate
    EXPECT_EQ(r.exit_code, 11) << r.err << r.out;
    expect_nothing_left();
    r = fetch(url, {"--gateway-ca", crt.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_EQ(cyxp2p::test::read_file(dir_ / "out.bin"), cyxp2p::test::read_file(file_));
}

TEST_F(GatewaySource, OurGatewayStreamsInDfsOrder) {
    std::error_code ec;
    auto store = c::Blockstore::open(dir_ / "blocks", ec);
    ASSERT_TRUE(store);
    auto imported = c::import_file(file_, c::ImportOptions::kubo_cid_v1(), store->sink(file_), ec);
    ASSERT_TRUE(imported);
    ASSERT_EQ(imported->root.to_string(), cid_);  // the same root as ipfs-unixfs-importer's
    net::Gateway gateway(std::move(*store), net::GatewayOptions{});
    ASSERT_FALSE(gateway.start());
    auto r = fetch("http://127.0.0.1:" + std::to_string(gateway.local_port()) + "/ipfs/" + cid_);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_EQ(cyxp2p::test::read_file(dir_ / "out.bin"), cyxp2p::test::read_file(file_));
    EXPECT_NE(nlohmann::json::parse(r.out)["verified"].get<std::string>().find("order=dfs"),
              std::string::npos);
    EXPECT_EQ(fetch("http://127.0.0.1:1/ipfs/not-a-cid").exit_code, 4);
    EXPECT_EQ(fetch("http://127.0.0.1:1/ipfs/" + cid_ + "/inner/path").exit_code, 4);
}
