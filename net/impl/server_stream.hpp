// The node's side of one stream as method handlers see it (net/node.hpp ServerStream). Its methods run on
// the connection's thread, except post().
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <cyxp2p/net/impl/node_impl.hpp>

namespace cyxp2p::net {

class ServerStreamImpl final : public ServerStream, public std::enable_shared_from_this<ServerStreamImpl> {
  public:
    ServerStreamImpl(std::weak_ptr<NodeLink> link, std::uint32_t id, std::string method, auth::Claims claims,
                     std::string peer, const MethodEntry* entry)
        : link_(std::move(link)),
          id_(id),
          method_(std::move(method)),
          claims_(std::move(claims)),
          peer_(std::move(peer)),
          entry_(entry) {}

    std::uint32_t id() const override { return id_; }
    const std::string& method() const override { return method_; }
    const auth::Claims& claims() const override { return claims_; }
    const std::string& peer() const override { return peer_; }
    std::error_code send(std::span<const std::uint8_t> message) override;
    std::error_code finish() override;
    void fail(protocol::errc code, std::string_view message) override;
    std::size_t pending_bytes() const override;
    bool closed() const override { return closed_; }
    void post(std::function<void()> fn) override;
    void on_writable(std::function<void()> fn) override;
    std::shared_ptr<void>& state() override { return state_; }

    // For NodeLink.
    void mark_closed() {
        closed_ = true;
        writable_fn_ = nullptr;
    }
    void run_writable() {
        if (writable_fn_ && !closed_) {
            auto fn = writable_fn_;  // the callback may replace or clear itself
            fn();
        }
    }
    bool has_writable() const { return static_cast<bool>(writable_fn_); }
    const MethodEntry* entry() const { return entry_; }

  private:
    std::weak_ptr<NodeLink> link_;
    std::uint32_t id_;
    std::string method_;
    auth::Claims claims_;
    std::string peer_;
    const MethodEntry* entry_;
    std::function<void()> writable_fn_;
    std::shared_ptr<void> state_;
    bool closed_ = false;
};

}  // namespace cyxp2p::net
