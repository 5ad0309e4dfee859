// The node's side of one stream as method handlers see it (net/node.hpp ServerStream). Its operations act
// at once on the connection's thread and are queued to it from any other (docs/net.md, "Threads").
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <cyxp2p/net/impl/node_impl.hpp>

namespace cyxp2p::net {

class ServerStreamImpl final : public ServerStream, public std::enable_shared_from_this<ServerStreamImpl> {
  public:
    ServerStreamImpl(std::weak_ptr<NodeLink> link, detail::asio::io_context::executor_type executor,
                     std::shared_ptr<const std::atomic<bool>> link_gone, std::uint32_t id, std::string method,
                     std::shared_ptr<const auth::Claims> claims, std::string peer, const MethodEntry* entry)
        : link_(std::move(link)),
          executor_(std::move(executor)),
          link_gone_(std::move(link_gone)),
          id_(id),
          method_(std::move(method)),
          claims_(std::move(claims)),
          peer_(std::move(peer)),
          entry_(entry) {}

    std::uint32_t id() const override { return id_; }
    const std::string& method() const override { return method_; }
    const auth::Claims& claims() const override { return *claims_; }
    std::shared_ptr<const auth::Claims> shared_claims() const override { return claims_; }
    const std::string& peer() const override { return peer_; }
    std::error_code send(std::span<const std::uint8_t> message) override;
    std::error_code finish() override;
    std::error_code fail(const protocol::Status& status) override;
    using ServerStream::fail;
    std::size_t pending_bytes() const override;
    bool closed() const override { return closed_.load(std::memory_order_acquire); }
    bool on_connection_thread() const override { return executor_.running_in_this_thread(); }
    bool post(std::function<void()> fn) override;
    void on_writable(std::function<void()> fn) override;

    // For NodeLink, on the connection's thread.
    /// The stream is over: no operation acts any more, the producer callback is dropped.
    void mark_closed() {
        closed_.store(true, std::memory_order_release);
        writable_fn_ = nullptr;
    }
    /// Exactly once: the caller delivers on_close when this returns true.
    bool take_close() { return !std::exchange(close_taken_, true); }
    void release_state() { slot_ = {}; }
    /// What fail() sent, so on_close reports the whole status (the session's event carries no detail).
    const std::optional<protocol::Status>& failed_with() const { return failed_with_; }
    void run_writable();
    bool has_writable() const { return static_cast<bool>(writable_fn_); }
    const MethodEntry* entry() const { return entry_; }
    std::error_code fail_now(const protocol::Status& status);

  protected:
    StateSlot& state_slot() override { return slot_; }

  private:
    // Runs `op` on the connection's thread: now when called there, else queued (false: connection gone).
    bool queue(std::function<void(ServerStreamImpl&)> op);
    std::error_code send_now(std::span<const std::uint8_t> message);
    std::error_code finish_now();
    void note_pending();

    std::weak_ptr<NodeLink> link_;
    detail::asio::io_context::executor_type executor_;
    std::shared_ptr<const std::atomic<bool>> link_gone_;  // set when the connection ended
    std::uint32_t id_;
    std::string method_;
    std::shared_ptr<const auth::Claims> claims_;
    std::string peer_;
    const MethodEntry* entry_;
    std::function<void()> writable_fn_;
    StateSlot slot_;
    std::optional<protocol::Status> failed_with_;
    std::atomic<bool> closed_{false};
    bool close_taken_ = false;
    // For pending_bytes() off the connection's thread: the session's count when last seen, plus what other
    // threads queued that has not reached the session yet.
    std::atomic<std::size_t> pending_seen_{0};
    std::atomic<std::size_t> queued_elsewhere_{0};
};

}  // namespace cyxp2p::net
