// The loopback fixture every integration test shares: a node identity, an EdDSA Central-Server key, a
// 3 MiB file in a blockstore served by reference, a multi-threaded Node and an Engine on an io_context.
#pragma once

#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <support.hpp>

#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/node.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/protocol/body.hpp>

namespace net = cyxp2p::net;
namespace auth = cyxp2p::auth;
namespace pinning = cyxp2p::pinning;
namespace protocol = cyxp2p::protocol;
namespace content = cyxp2p::content;
using namespace std::chrono_literals;
using cyxp2p::test::TempDir;

namespace it {

inline std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class MemoryAudit final : public net::AuditSink {
  public:
    void record(const net::AuditEvent& e) override {
        std::lock_guard lock(mutex_);
        events_.push_back(e);
    }
    std::vector<net::AuditEvent> events() {
        std::lock_guard lock(mutex_);
        return events_;
    }
    bool has(net::AuditEvent::Kind k, std::string_view result) {
        for (const auto& e : events()) {
            if (e.kind == k && e.result == result) return true;
        }
        return false;
    }

  private:
    std::mutex mutex_;
    std::vector<net::AuditEvent> events_;
};

class Transport : public ::testing::Test {
  protected:
    void SetUp() override {
        std::error_code ec;
        identity_ = pinning::Identity::generate({.node_id = "node-it"}, ec);
        ASSERT_TRUE(identity_);
        key_ = auth::Jwk::generate(auth::Algorithm::eddsa, "central-1");
        auto keys = std::make_shared<auth::Keyring>();
        ASSERT_FALSE(keys->add(key_));
        keys_ = keys;
        // A 3 MiB pseudo-random file, served by reference from the blockstore (no copy of the leaves).
        source_ = tmp_ / "model.bin";
        std::mt19937_64 rng(42);
        std::string data(3 * 1024 * 1024 + 12345, '\0');
        for (auto& c : data) c = static_cast<char>(rng());
        cyxp2p::test::write_file(source_, data);
        store_ = content::Blockstore::open(tmp_ / "blocks", ec);
        ASSERT_TRUE(store_) << ec.message();
        auto imported =
            content::import_file(source_, content::ImportOptions::kubo_default(), store_->sink(source_), ec);
        ASSERT_TRUE(imported) << ec.message();
        root_ = imported->root.to_string();
    }

    void TearDown() override {
        if (node_) node_->stop();
        io_.stop();
        for (auto& t : io_threads_) t.join();
    }

    void start_node(unsigned threads = 2, std::function<void(net::NodeOptions&)> tweak = {}) {
        net::NodeOptions o{.identity = *identity_, .keys = keys_};  // NOLINT(missing-field-initializers)
        o.threads = threads;
        o.content = store_;
        o.audit = audit_;
        if (tweak) tweak(o);
        node_ = std::make_unique<net::Node>(std::move(o));
        node_->handle_unary("job.submit", "job:execute", [](const net::Request& r, std::error_code& ec) {
            auto job = protocol::decode_job_submit(r.body, ec);
            if (!job) return std::vector<std::uint8_t>{};
            return protocol::encode(
                protocol::Outcome{false, "echo", job->job_id + " from " + r.claims->subject});
        });
        ASSERT_FALSE(node_->start());
        ASSERT_NE(node_->local_port(), 0);
    }

    void run_io(unsigned threads = 2) {
        for (unsigned i = 0; i < threads; ++i) io_threads_.emplace_back([this] { io_.run(); });
    }

    std::string token(std::function<void(auth::Claims&)> tweak = {}) {
        auth::Claims c;
        c.subject = "user-7";
        c.node_id = "node-it";
        c.session_id = "session-1";
        c.issued_at = unix_now();
        c.expires_at = c.issued_at + 3600;
        c.scope = {"job:execute", "content:read"};
        if (tweak) tweak(c);
        std::error_code ec;
        auto t = auth::mint(c, key_, ec);
        EXPECT_TRUE(t) << ec.message();
        return t.value_or("");
    }

    net::ConnectOptions options(std::string tok) {
        return {.host = "127.0.0.1",
                .port = node_->local_port(),
                .pins = pinning::PinSet(identity_->pin()),
                .token = std::move(tok),
                .expected_node_id = "node-it",
                .report = std::make_shared<net::ConnectReport>()};
    }

    std::pair<std::error_code, std::shared_ptr<net::Connection>> connect(net::ConnectOptions o) {
        std::promise<std::pair<std::error_code, std::shared_ptr<net::Connection>>> p;
        engine_->async_connect(std::move(o), [&p](std::error_code ec, std::shared_ptr<net::Connection> c) {
            p.set_value({ec, std::move(c)});
        });
        auto f = p.get_future();
        if (f.wait_for(30s) != std::future_status::ready)
            return {std::make_error_code(std::errc::timed_out), nullptr};
        return f.get();
    }

    TempDir tmp_;
    std::optional<pinning::Identity> identity_;
    auth::Jwk key_ = auth::Jwk::generate(auth::Algorithm::eddsa, "unused");
    std::shared_ptr<const auth::Keyring> keys_;
    std::filesystem::path source_;
    std::optional<content::Blockstore> store_;
    std::string root_;
    std::shared_ptr<MemoryAudit> audit_ = std::make_shared<MemoryAudit>();
    std::unique_ptr<net::Node> node_;
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
        boost::asio::make_work_guard(io_);
    std::unique_ptr<net::Engine> engine_ = std::make_unique<net::Engine>(io_.get_executor());
    void make_engine(net::EngineOptions o) {
        engine_ = std::make_unique<net::Engine>(io_.get_executor(), std::move(o));
    }
    std::vector<std::thread> io_threads_;
};

}  // namespace it
