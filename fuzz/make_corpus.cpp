// Writes the seed corpora of fuzz/corpus/: real protocol transcripts (an EngineSession and a NodeSession
// talking on the fixed clock and keys of the harnesses), tokens and keys minted by auth, a DAG made by the
// importer, and a few hand-made hostile inputs. Files are named seed-*; regeneration replaces exactly those,
// so regression inputs (regress-*) stay. Usage: fuzz_make_corpus DIR   (normally fuzz/corpus)
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <cyxp2p/content/car.hpp>
#include <cyxp2p/content/multibase.hpp>
#include <cyxp2p/content/unixfs.hpp>
#include <cyxp2p/content/varint.hpp>
#include <cyxp2p/pinning/pin.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/body_builder.hpp>
#include <cyxp2p/protocol/frame.hpp>

#include "auth_fixture.hpp"
#include "content_fixture.hpp"
#include "session_fixture.hpp"

namespace {

using namespace cyxp2p;
using fuzz::Bytes;
namespace fs = std::filesystem;

fs::path g_root;

Bytes bytes_of(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

void write(const std::string& harness, const std::string& name, const Bytes& data) {
    const fs::path dir = g_root / harness;
    const fs::path file = dir / ("seed-" + name);
    std::ofstream(file, std::ios::binary)
        .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}
void write(const std::string& harness, const std::string& name, std::string_view text) {
    write(harness, name, bytes_of(text));
}

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}
Bytes with_knob(Bytes wire, std::uint8_t knob) {
    wire.push_back(knob);
    return wire;
}
Bytes frame(protocol::FrameType type, std::uint8_t flags, std::uint32_t stream, const Bytes& payload) {
    protocol::FrameEncoder e;
    e.append(type, flags, stream, payload);
    return e.take();
}

// ---------------------------------------------------------------------------------------------------------
// Sessions

struct Transcript {
    Bytes to_node;               // everything the engine sent, HELLO first
    std::size_t hello_size = 0;  // bytes of to_node that are the HELLO
    Bytes to_engine;             // everything the node sent
};

Transcript converse(const std::string& token, bool full) {
    Transcript t;
    auto now = fuzz::at(fuzz::kNow);
    fuzz::NodeRig rig(now);
    auto config = fuzz::engine_config(token);
    config.expected_node_id = std::string(fuzz::kNodeId);
    protocol::EngineSession engine(std::move(config), now);
    protocol::NodeSession& node = *rig.node;
    bool first = true;
    auto pump = [&] {
        for (int i = 0; i < 1000; ++i) {
            auto a = engine.poll_output();
            if (first) t.hello_size = a.size();
            first = false;
            t.to_node.insert(t.to_node.end(), a.begin(), a.end());
            if (!a.empty()) node.receive(a, now);
            fuzz::react(node);
            auto b = node.poll_output();
            t.to_engine.insert(t.to_engine.end(), b.begin(), b.end());
            if (!b.empty()) engine.receive(b, now);
            fuzz::react(engine, now);  // on ready: opens job.submit and pings, as the engine harness does
            if (a.empty() && b.empty()) return;
        }
    };
    pump();
    if (!full || !engine.ready()) return t;
    std::error_code ec;
    if (auto id = engine.open_stream("metrics.subscribe", now, ec)) {
        (void)engine.send_message(*id, protocol::encode(protocol::MetricsUpdate{7, 1, {{"loss", 0.25}}}));
        (void)engine.finish(*id);
    }
    if (auto id = engine.open_stream("content.fetch", now, ec)) {
        (void)engine.send_message(*id, protocol::encode(protocol::ContentFetch{"QmFoo", 2}));
    }
    (void)engine.open_stream("node.status", now, ec);  // forbidden: the token lacks node:admin
    pump();
    now += std::chrono::seconds(1);
    auto c = fuzz::p2p_claims();
    c.issued_at += 1;
    (void)engine.reauth(fuzz::mint(c), now);
    pump();
    engine.close(now);
    pump();
    return t;
}

void sessions() {
    const auto t = converse(fuzz::p2p_token(), true);
    if (t.hello_size == 0 || t.to_engine.empty()) {
        std::cerr << "make_corpus: the session transcript is empty\n";
        std::exit(1);
    }
    const Bytes hello(t.to_node.begin(), t.to_node.begin() + static_cast<std::ptrdiff_t>(t.hello_size));
    const Bytes after(t.to_node.begin() + static_cast<std::ptrdiff_t>(t.hello_size), t.to_node.end());

    write("node_session", "transcript", with_knob(t.to_node, 0));
    write("node_session", "transcript-chunks5", with_knob(t.to_node, 5));
    write("node_session", "transcript-chunks64", with_knob(t.to_node, 64));
    write("node_session", "hello", with_knob(hello, 0));
    write("node_session", "hello-bytewise", with_knob(hello, 1));
    write("node_session", "garbage-then-hello",
          with_knob(cat({bytes_of("GET / HTTP/1.1\r\n\r\n"), hello}), 0));
    write("node_session", "open-before-hello",
          with_knob(frame(protocol::FrameType::open, 0, 1, bytes_of("\x0a\x0ajob.submit")), 0));
    {
        auto c = fuzz::p2p_claims();
        c.issued_at = fuzz::kNow - 4000;
        c.expires_at = fuzz::kNow - 1000;
        const auto expired = converse(fuzz::mint(c), false);
        write("node_session", "hello-expired-token", with_knob(expired.to_node, 0));
        write("engine_session", "rejected-expired", with_knob(expired.to_engine, 0));
        c = fuzz::p2p_claims();
        c.node_id = "node-2";
        write("node_session", "hello-wrong-node", with_knob(converse(fuzz::mint(c), false).to_node, 0));
        const auto ed = converse(fuzz::mint(fuzz::p2p_claims(), fuzz::kEdKid), false);
        write("node_session", "hello-eddsa", with_knob(ed.to_node, 0));
    }

    write("node_session_authed", "after-hello", with_knob(after, 0));
    write("node_session_authed", "after-hello-chunks3", with_knob(after, 3));
    write("node_session_authed", "after-hello-chunks200", with_knob(after, 200));
    write("node_session_authed", "ping",
          with_knob(frame(protocol::FrameType::ping, 0, 0, Bytes(8, 0x42)), 0));
    write("node_session_authed", "window-update-session",
          with_knob(frame(protocol::FrameType::window_update, 0, 0, {0x7f, 0xff, 0xff, 0xff}), 0));
    write("node_session_authed", "data-on-closed-stream",
          with_knob(frame(protocol::FrameType::data, 0, 9, {0, 0, 0, 1, 0xc0}), 0));
    write("node_session_authed", "unknown-critical-frame",
          with_knob(frame(static_cast<protocol::FrameType>(0x42), 0x80, 0, {}), 0));
    write("node_session_authed", "goaway-then-timeouts",
          with_knob(frame(protocol::FrameType::goaway, 0, 0, {0x08, 0x00, 0x10, 0x01}), 250));
    write("node_session_authed", "second-hello", with_knob(hello, 0));

    write("engine_session", "transcript", with_knob(t.to_engine, 0));
    write("engine_session", "transcript-chunks7", with_knob(t.to_engine, 7));
    write("engine_session", "transcript-slow", with_knob(t.to_engine, 255));
    write("engine_session", "error-frame",
          with_knob(frame(protocol::FrameType::error, 0, 0, bytes_of("\x08\x05\x12\x04nope")), 0));

    // Frame decoder: byte 0 = payload cap and split seed, then frames.
    const Bytes frames =
        cat({hello, frame(protocol::FrameType::data, protocol::flags::end_stream, 1, {1, 2, 3}),
             frame(protocol::FrameType::ping, protocol::flags::ack, 0, Bytes(8, 0))});
    for (std::uint8_t mode : std::initializer_list<std::uint8_t>{0x00, 0x01, 0x02, 0x03, 0x17, 0xfe}) {
        write("frame", "frames-" + std::to_string(mode), cat({{mode}, frames}));
    }
    write("frame", "transcript", cat({{2}, t.to_node}));
    write("frame", "bad-version", cat({{3}, {2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}));
    write("frame", "reserved-set", cat({{3}, {1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}}));
    write("frame", "too-large", cat({{1}, {1, 5, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0}}));
    write("frame", "truncated", cat({{3}, Bytes(frames.begin(), frames.begin() + 20)}));
}

// ---------------------------------------------------------------------------------------------------------
// Job-link messages: one of each kind, an unknown kind, and refusals (missing tag, bad field).

void job_messages() {
    using namespace protocol;
    const JobMessage kinds[] = {
        JobSubmit{"job-1", MapBuilder().add("epochs", 3).add("lr", 1.0).add("model", "resnet").build()},
        JobCommand{Command::pause, "job-1", {}},
        JobCommand{Command::set_hyperparameters, "", {{"lr", 0.01}}},
        JobProgress{10, 100, 1, 5, "running"},
        MetricsUpdate{10, 1, {{"loss", 0.5}, {"acc", -0.0}}},
        JobLog{LogLevel::warning, "loss is nan", 1'700'000'000'000},
        JobError{"out_of_memory", "CUDA out of memory", true},
        Outcome{false, "bad_config", "epochs must be positive"},
        Unknown{"job.telemetry"},
    };
    for (const auto& m : kinds) write("job_message", std::string(tag_of(m)), encode(m));
    write("job_message", "no-tag", encode(ContentFetch{"bafkreifoo", 1}));
    write("job_message", "bad-level", {0x83, 0xa1, 't', 0xa7, 'j',  'o', 'b',  '.', 'l', 'o', 'g', 0xa5, 'l',
                                       'e',  'v',  'e', 'l',  0xa1, 'x', 0xa4, 'l', 'i', 'n', 'e', 0xa0});
}

// ---------------------------------------------------------------------------------------------------------
// Bodies

void bodies() {
    write("body", "job-submit",
          protocol::encode(protocol::JobSubmit{
              "job-1", {0x81, 0xa2, 'l', 'r', 0xcb, 0x3f, 0x50, 0x62, 0x4d, 0xd2, 0xf1, 0xa9, 0xfc}}));
    write("body", "metrics",
          protocol::encode(protocol::MetricsUpdate{100, 3, {{"loss", 0.5}, {"acc", 0.9}}}));
    write("body", "command-pause",
          protocol::encode(protocol::JobCommand{protocol::Command::pause, "job-1", {}}));
    write("body", "command-hp",
          protocol::encode(protocol::JobCommand{
              protocol::Command::set_hyperparameters, "", {{"lr", 0.001}, {"momentum", 0.9}}}));
    write("body", "content-fetch", protocol::encode(protocol::ContentFetch{"bafkreifoo", 12}));
    write("body", "content-block",
          protocol::encode(protocol::ContentBlock{{1, 0x55, 0x12, 0x20}, {1, 2, 3}}));
    write("body", "outcome-ok", protocol::encode(protocol::Outcome{}));
    write("body", "outcome-error", protocol::encode(protocol::Outcome{false, "not_found", "no such job"}));
    // Hand-made: deep nesting, a huge announced array, trailing bytes, int keys.
    write("body", "deep", Bytes(40, 0x91));
    write("body", "huge-array", {0xdd, 0xff, 0xff, 0xff, 0xff});
    write("body", "trailing", {0x80, 0x80});
    write("body", "int-key", {0x81, 0x01, 0x02});
}

// ---------------------------------------------------------------------------------------------------------
// Auth

std::string b64url(std::string_view s) {
    static constexpr char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::uint32_t buf = 0;
    int bits = 0;
    for (char ch : s) {
        buf = (buf << 8) | static_cast<unsigned char>(ch);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += a[(buf >> bits) & 63U];
        }
    }
    if (bits > 0) out += a[(buf << (6 - bits)) & 63U];
    return out;
}

void tokens() {
    write("jwt", "p2p-hs256", fuzz::p2p_token());
    write("jwt", "p2p-eddsa", fuzz::mint(fuzz::p2p_claims(), fuzz::kEdKid));
    auto c = fuzz::p2p_claims();
    c.cnf_x5t_s256 = b64url(std::string(32, 'x'));
    c.node_pin = "sha256//" + std::string(43, 'A') + "=";
    c.not_before = fuzz::kNow - 5;
    write("jwt", "p2p-cnf-pin-nbf", fuzz::mint(c));
    auth::Claims s;
    s.type = auth::TokenType::session;
    s.subject = "node-1";
    s.session_id = "sess-9";
    s.issued_at = fuzz::kNow - 60;
    s.expires_at = fuzz::kNow + 3600;
    write("jwt", "session", fuzz::mint(s));
    auth::Claims j;
    j.type = auth::TokenType::job;
    j.subject = "user-1";
    j.job_id = "job-1";
    j.scope = {"job:execute"};
    j.issued_at = fuzz::kNow - 60;
    j.expires_at = fuzz::kNow + 3600;
    write("jwt", "job", fuzz::mint(j, fuzz::kEdKid));
    auth::Claims r;
    r.type = auth::TokenType::refresh;
    r.subject = "user-1";
    r.token_id = "jti-1";
    r.issued_at = fuzz::kNow - 60;
    r.expires_at = fuzz::kNow + 3600;
    write("jwt", "refresh", fuzz::mint(r));

    // Sign mode: header JSON, NUL, payload JSON; the harness signs with the trusted HS256 key.
    const std::string payload =
        R"({"iss":"cyxwiz-central-server","sub":"user-1","node_id":"node-1","session_id":"sess-1",)"
        R"("token_type":"p2p","iat":1699999990,"exp":1700003000,"scope":["job:execute"]})";
    write("jwt", "sign-p2p", std::string(R"({"alg":"HS256","typ":"JWT","kid":"hs1"})") + '\0' + payload);
    write("jwt", "sign-nokid", std::string(R"({"alg":"HS256"})") + '\0' + payload);
    write("jwt", "sign-crit", std::string(R"({"alg":"HS256","kid":"hs1","crit":["exp"]})") + '\0' + payload);
    write("jwt", "sign-dup-key", std::string(R"({"alg":"HS256","alg":"none"})") + '\0' + payload);
    write("jwt", "sign-aud-array",
          std::string(R"({"alg":"HS256","kid":"hs1"})") + '\0' +
              R"({"iss":"cyxwiz-central-server","sub":"u","aud":["a","b"],"token_type":"refresh","jti":"x",)"
              R"("iat":1699999990,"exp":1700003000,"cnf":{"x5t#S256":"abc"}})");
    write("jwt", "alg-none", b64url(R"({"alg":"none"})") + "." + b64url(payload) + ".");
    write("jwt", "garbage", "eyJ.eyJ.");

    write("jwk", "jwks", fuzz::kJwks);
    const auth::Jwk& hs = fuzz::key(fuzz::kHsKid);
    const auth::Jwk& ed = fuzz::key(fuzz::kEdKid);
    write("jwk", "hs256", hs.to_json(true).value());
    write("jwk", "ed25519-private", ed.to_json(true).value());
    write("jwk", "ed25519-public", ed.to_json(false).value());
    write("jwk", "public-jwks", fuzz::keyring().to_public_jwks());
    write("jwk", "unknown-kty-skipped",
          R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},)" + ed.to_json(false).value() + "]}");
    write("jwk", "duplicate-kid",
          "{\"keys\":[" + ed.to_json(false).value() + "," + ed.to_json(false).value() + "]}");
    write("jwk", "wrong-alg",
          R"({"kty":"oct","alg":"EdDSA","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"})");
    write("jwk", "weak-secret", R"({"kty":"oct","k":"AAEC"})");
}

// ---------------------------------------------------------------------------------------------------------
// Pins

void pins() {
    std::array<std::uint8_t, 32> d{};
    const std::string zero = pinning::Pin(d).to_string();
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::uint8_t>(i * 7 + 1);
    const std::string other = pinning::Pin(d).to_string();
    write("pin", "one", zero);
    write("pin", "two", zero + ";" + other);
    write("pin", "empty-entry", zero + ";;" + other);
    write("pin", "wrong-prefix", "sha1//" + other.substr(8));
    write("pin", "short", zero.substr(0, 30));
    write("pin", "not-canonical", zero.substr(0, zero.size() - 2) + "B=");
}

// ---------------------------------------------------------------------------------------------------------
// Content

void content_seeds() {
    using namespace cyxp2p::content;
    Bytes v;
    for (std::uint64_t x : {0ULL, 1ULL, 127ULL, 128ULL, 300ULL, 16384ULL, (1ULL << 63) - 1})
        append_varint(v, x);
    write("varint", "values", v);
    write("varint", "not-minimal", {0x80, 0x00});
    write("varint", "overflow", Bytes(10, 0xff));
    write("varint", "truncated", {0x80});

    const auto& dag = fuzz::fixed_dag();
    const fuzz::FixedDag raw = fuzz::make_dag(1, true);
    const Cid leaf_raw = raw.dfs.back().first;
    write("cid", "v0-text", dag.root.to_string());
    write("cid", "v1-text", dag.root.to_v1().to_string());
    write("cid", "v1-raw-text", leaf_raw.to_string());
    write("cid", "v0-bytes", dag.root.bytes());
    write("cid", "v1-bytes", leaf_raw.bytes());
    write("cid", "two-bytes", cat({dag.root.bytes(), leaf_raw.bytes()}));
    write("cid", "base16", "f" + std::string("01551220") + std::string(64, 'a'));
    write("cid", "sha512", cat({{0x01, 0x55, 0x13, 0x40}, Bytes(64, 1)}));

    const Bytes mh = dag.root.bytes();
    write("multibase", "base58", dag.root.to_string());
    write("multibase", "base32", "b" + base32_lower_encode(mh));
    write("multibase", "base32-upper", "B" + std::string("AFKREIA"));
    write("multibase", "base16", "f0155");
    write("multibase", "base36", "k2jmtxu61mbugxlkzzt");
    write("multibase", "base64", "mAVUSIA");
    write("multibase", "base64url", "uAVUSIA");
    write("multibase", "leading-ones", "z1112");
    write("multibase", "bad-prefix", "x123");

    for (std::size_t i = 0; i < dag.dfs.size(); ++i) {
        write("dag_pb", "block-" + std::to_string(i), dag.dfs[i].second);
        PbNode n;
        if (!decode_dag_pb(dag.dfs[i].second, n, 64) && n.data) {
            write("unixfs", "data-" + std::to_string(i), Bytes(n.data->begin(), n.data->end()));
        }
    }
    write("dag_pb", "raw-dag-root", raw.dfs.front().second);
    write("dag_pb", "data-before-links", {0x0a, 0x02, 0x08, 0x02, 0x12, 0x00});
    write("unixfs", "directory", {0x08, 0x01});
    write("unixfs", "file-blocksizes", {0x08, 0x02, 0x18, 0xc8, 0x01, 0x20, 0x64, 0x20, 0x64});

    // DagVerifier: mode byte, then varint-prefixed blocks.
    auto stream = [](const fuzz::FixedDag& d, std::size_t n) {
        Bytes out;
        for (std::size_t i = 0; i < n && i < d.dfs.size(); ++i) {
            append_varint(out, d.dfs[i].second.size());
            out.insert(out.end(), d.dfs[i].second.begin(), d.dfs[i].second.end());
        }
        return out;
    };
    write("dag_verifier", "whole", cat({{0}, stream(dag, 100)}));
    write("dag_verifier", "whole-claimed", cat({{4}, stream(dag, 100)}));
    write("dag_verifier", "prefix", cat({{0}, stream(dag, 3)}));
    write("dag_verifier", "own-root", cat({{1}, stream(dag, 100)}));
    write("dag_verifier", "own-root-raw-dag", cat({{5}, stream(raw, 100)}));
    write("dag_verifier", "own-root-raw", cat({{3}, Bytes{0x05, 'h', 'e', 'l', 'l', 'o'}}));
    write("dag_verifier", "extra", cat({{0}, stream(dag, 100), stream(dag, 1)}));

    std::ostringstream car;
    CarWriter w(car, {dag.root});
    for (const auto& [cid, block] : dag.dfs) (void)w.add(cid, block);
    const std::string carbytes = car.str();
    write("car", "fixed-dag", carbytes);
    write("car", "truncated", carbytes.substr(0, carbytes.size() / 2));
    std::ostringstream car2;
    CarWriter w2(car2, {raw.root, dag.root});
    for (const auto& [cid, block] : raw.dfs) (void)w2.add(cid, block);
    write("car", "raw-leaves-two-roots", car2.str());
    write("car", "header-payload", encode_car_header({dag.root, leaf_raw}));
    std::ostringstream car3;
    CarWriter w3(car3, std::vector<Cid>{});
    write("car", "no-roots", car3.str());
    std::ostringstream car4;  // leaves first, root last: the indexed path
    CarWriter w4(car4, {dag.root});
    for (auto it = dag.dfs.rbegin(); it != dag.dfs.rend(); ++it) (void)w4.add(it->first, it->second);
    write("car", "reversed", car4.str());

    const std::string id = dag.root.to_string();
    write("gateway_request", "raw", "GET\n/ipfs/" + id + "?format=raw\n");
    write("gateway_request", "car-accept",
          "GET\n/ipfs/" + id +
              "/\napplication/vnd.ipld.raw;q=0.5, application/vnd.ipld.car;version=1;order=dfs;dups=n");
    write("gateway_request", "car-scope",
          "HEAD\n/ipfs/" + id + "?format=car&dag-scope=block&car-dups=y&x=1\n");
    write("gateway_request", "refused", "POST\n/ipns/" + id + "/a?entity-bytes=0:*\ntext/html;q=0.9, */*");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: fuzz_make_corpus DIR   (normally fuzz/corpus)\n";
        return 2;
    }
    g_root = argv[1];
    for (const char* h : {"frame", "node_session", "node_session_authed", "engine_session", "body",
                          "job_message", "jwt", "jwk", "pin", "varint", "multibase", "cid", "dag_pb",
                          "unixfs", "dag_verifier", "car", "gateway_request"}) {
        const fs::path dir = g_root / h;
        fs::create_directories(dir);
        for (const auto& e : fs::directory_iterator(dir)) {
            if (e.path().filename().string().rfind("seed-", 0) == 0) fs::remove(e.path());
        }
    }
    sessions();
    bodies();
    job_messages();
    tokens();
    pins();
    content_seeds();
    std::cout << "make_corpus: seeds written under " << g_root << "\n";
    return 0;
}
