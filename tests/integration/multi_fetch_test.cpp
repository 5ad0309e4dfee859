// Multi-source fetch through the engine API (net/multi_fetch.hpp, issue 18 item 4), with real in-process
// Nodes and a Gateway on loopback: the hired node's open Connection mixed with a dialled node and a gateway;
// a source whose copy changed after import dropped (audited) while the fetch completes from the others;
// every source failing => no_source_left and nothing at the output path.
#include <cyxp2p/net/gateway.hpp>
#include <cyxp2p/net/multi_fetch.hpp>

#include "fixture.hpp"

namespace it {

using namespace std::chrono_literals;

namespace {

std::string read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class MultiFetch : public Transport {
  protected:
    /// A second node with the same identity and keys, serving `store`.
    std::unique_ptr<net::Node> second_node(content::Blockstore store) {
        net::NodeOptions o{.identity = *identity_, .keys = keys_};  // NOLINT(missing-field-initializers)
        o.threads = 1;
        o.content = std::move(store);
        auto n = std::make_unique<net::Node>(std::move(o));
        EXPECT_FALSE(n->start());
        return n;
    }

    net::ConnectOptions dial(std::uint16_t port) {
        auto o = options(token());
        o.port = port;
        return o;
    }

    std::pair<std::error_code, net::MultiFetchResult> fetch(std::vector<net::MultiFetchSource> sources,
                                                            const std::filesystem::path& dest,
                                                            net::MultiFetchOptions o = {}) {
        std::promise<std::pair<std::error_code, net::MultiFetchResult>> p;
        net::async_fetch_from(*engine_, std::move(sources), root_, dest, std::move(o),
                              [&p](std::error_code ec, net::MultiFetchResult r) {
                                  p.set_value({ec, std::move(r)});
                              });
        auto f = p.get_future();
        if (f.wait_for(30s) != std::future_status::ready)
            return {std::make_error_code(std::errc::timed_out), {}};
        return f.get();
    }
};

TEST_F(MultiFetch, OpenConnectionAndDialledNodeBothContribute) {
    start_node();
    run_io(1);  // the fetch runs on the Engine's executor: one thread
    auto b = second_node(*store_);
    auto [cec, hired] = connect(options(token()));
    ASSERT_FALSE(cec) << cec.message();
    const auto dest = tmp_ / "out.bin";
    auto [ec, r] = fetch({net::MultiFetchSource::open(hired, "hired"),
                          net::MultiFetchSource::dial(dial(b->local_port()), "second")},
                         dest);
    ASSERT_FALSE(ec) << ec.message() << ": " << r.error_detail;
    EXPECT_EQ(read_all(dest), read_all(source_));
    ASSERT_EQ(r.sources.size(), 2U);
    EXPECT_EQ(r.bytes, std::filesystem::file_size(source_));
    for (const auto& s : r.sources) {
        EXPECT_GT(s.bytes, 0U) << s.name;
        EXPECT_TRUE(s.error.empty()) << s.name << ": " << s.error;
    }
    EXPECT_EQ(r.sources[0].bytes + r.sources[1].bytes, r.bytes);
    EXPECT_TRUE(hired->open()) << "the caller's connection stays open";
    b->stop();
}

TEST_F(MultiFetch, SourceWhoseCopyChangedIsDroppedAndAudited) {
    start_node();
    run_io(1);
    // The second node serves a copy by reference, changed after import: it cannot serve those blocks.
    std::error_code ec;
    const auto copy = tmp_ / "copy.bin";
    std::filesystem::copy_file(source_, copy);
    auto store2 = content::Blockstore::open(tmp_ / "blocks2", ec);
    ASSERT_TRUE(store2) << ec.message();
    ASSERT_TRUE(content::import_file(copy, content::ImportOptions::kubo_default(), store2->sink(copy), ec));
    {
        std::string data = read_all(copy);
        for (std::size_t i = 0; i < data.size(); i += 4096) data[i] = static_cast<char>(data[i] ^ 0x5a);
        cyxp2p::test::write_file(copy, data);
    }
    auto b = second_node(*store2);
    auto audit = std::make_shared<MemoryAudit>();
    net::MultiFetchOptions o;
    o.audit = audit;
    const auto dest = tmp_ / "out.bin";
    auto [fec, r] = fetch({net::MultiFetchSource::dial(dial(b->local_port()), "changed"),
                           net::MultiFetchSource::dial(dial(node_->local_port()), "good")},
                          dest, o);
    ASSERT_FALSE(fec) << fec.message() << ": " << r.error_detail;
    EXPECT_EQ(read_all(dest), read_all(source_));
    ASSERT_EQ(r.sources.size(), 2U);
    EXPECT_FALSE(r.sources[0].error.empty());
    EXPECT_TRUE(r.sources[1].error.empty()) << r.sources[1].error;
    bool audited = false;
    for (const auto& e : audit->events()) {
        if (e.kind != net::AuditEvent::Kind::source_dropped) continue;
        audited = true;
        EXPECT_EQ(e.peer, "changed");
        EXPECT_FALSE(e.detail.empty());
        EXPECT_EQ(net::to_json(e).find("eyJ"), std::string::npos) << "no token in the event";
    }
    EXPECT_TRUE(audited);
    b->stop();
}

TEST_F(MultiFetch, EverySourceFailingIsNoSourceLeftAndNothingAtTheOutput) {
    start_node();
    run_io(1);
    const std::uint16_t dead = node_->local_port();
    node_->stop();  // nothing listens there now
    const auto dest = tmp_ / "out.bin";
    auto [ec, r] = fetch(
        {net::MultiFetchSource::dial(dial(dead), "stopped"), net::MultiFetchSource::dial(dial(1), "port-1")},
        dest);
    EXPECT_EQ(ec, net::errc::no_source_left) << ec.message();
    EXPECT_NE(r.error_detail.find("stopped"), std::string::npos) << r.error_detail;
    EXPECT_NE(r.error_detail.find("port-1"), std::string::npos) << r.error_detail;
    ASSERT_EQ(r.sources.size(), 2U);
    EXPECT_FALSE(r.sources[0].error.empty());
    EXPECT_FALSE(r.sources[1].error.empty());
    EXPECT_FALSE(std::filesystem::exists(dest));
    EXPECT_FALSE(std::filesystem::exists(r.partial)) << "nothing verified: no resume state either";
}

TEST_F(MultiFetch, GatewayMixedWithANode) {
    start_node();
    run_io(1);
    net::Gateway gw(*store_, net::GatewayOptions{});
    ASSERT_FALSE(gw.start());
    auto g = net::MultiFetchSource::gateway("http://127.0.0.1:" + std::to_string(gw.local_port()));
    ASSERT_TRUE(g);
    const auto dest = tmp_ / "out.bin";
    auto [ec, r] = fetch({*g, net::MultiFetchSource::dial(dial(node_->local_port()))}, dest);
    ASSERT_FALSE(ec) << ec.message() << ": " << r.error_detail;
    EXPECT_EQ(read_all(dest), read_all(source_));
    ASSERT_EQ(r.sources.size(), 2U);
    EXPECT_GT(r.sources[0].bytes, 0U) << "the gateway contributed";
    EXPECT_TRUE(r.sources[0].error.empty()) << r.sources[0].error;
    EXPECT_TRUE(r.sources[1].error.empty()) << r.sources[1].error;
    gw.stop();
}

}  // namespace

}  // namespace it
