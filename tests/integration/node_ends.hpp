// What the node's handler API tests record about each stream: how many end notifications it got, the last
// one, and any callback that came after it (there must be none).
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <cyxp2p/net/node.hpp>

namespace hostile {

namespace net = cyxp2p::net;

class StreamEnds {
  public:
    // A stream's key: its connection (peer address) and id; ids repeat across connections.
    static std::string key(const net::ServerStream& s) { return s.peer() + "/" + std::to_string(s.id()); }

    // Wraps `h`: on_close is recorded, every other callback checked not to follow it.
    net::MethodHandlers counted(net::MethodHandlers h) {
        auto wrap1 = [this](std::function<void(const net::StreamPtr&)> f) {
            return [this, f](const net::StreamPtr& s) {
                after_end(*s);
                if (f) f(s);
            };
        };
        h.on_open = wrap1(h.on_open);
        h.on_end = wrap1(h.on_end);
        h.on_going_away = [this, f = h.on_going_away](const net::StreamPtr& s) {
            after_end(*s);
            {
                std::lock_guard lock(mutex_);
                ++going_away_[key(*s)];
            }
            if (f) f(s);
        };
        h.on_message = [this, f = h.on_message](const net::StreamPtr& s, std::vector<std::uint8_t> m) {
            after_end(*s);
            if (f) f(s, std::move(m));
        };
        h.on_close = [this, f = h.on_close](const net::StreamPtr& s, const net::StreamEnd& e) {
            {
                std::lock_guard lock(mutex_);
                ++count_[key(*s)];
                last_[key(*s)] = e;
                last_stream_ = s;
            }
            changed_.notify_all();
            if (f) f(s, e);
        };
        return h;
    }

    // The end of the `n`th stream to end (any key), waiting up to 10 s.
    std::optional<net::StreamEnd> wait_for_ends(std::size_t n) {
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, std::chrono::seconds(10), [&] { return count_.size() >= n; });
        if (count_.size() < n) return std::nullopt;
        return last_[last_key_locked()];
    }
    std::optional<net::StreamEnd> end_of(const std::string& key) {
        std::lock_guard lock(mutex_);
        auto it = last_.find(key);
        if (it == last_.end()) return std::nullopt;
        return it->second;
    }
    std::optional<net::StreamEnd> wait_end_of(const std::string& key) {
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, std::chrono::seconds(10), [&] { return last_.count(key) != 0; });
        auto it = last_.find(key);
        if (it == last_.end()) return std::nullopt;
        return it->second;
    }
    // Every stream's on_close count (each must be 1) and the callbacks that came after an on_close.
    std::map<std::string, int> counts() {
        std::lock_guard lock(mutex_);
        return count_;
    }
    int going_away(const std::string& key) {
        std::lock_guard lock(mutex_);
        return going_away_[key];
    }
    int late_callbacks() {
        std::lock_guard lock(mutex_);
        return late_;
    }
    std::size_t ended() {
        std::lock_guard lock(mutex_);
        return count_.size();
    }

  private:
    void after_end(const net::ServerStream& s) {
        std::lock_guard lock(mutex_);
        if (count_.count(key(s)) != 0) ++late_;
    }
    std::string last_key_locked() { return last_stream_ ? key(*last_stream_) : std::string(); }

    std::mutex mutex_;
    std::condition_variable changed_;
    std::map<std::string, int> count_;
    std::map<std::string, int> going_away_;
    std::map<std::string, net::StreamEnd> last_;
    net::StreamPtr last_stream_;
    int late_ = 0;
};

}  // namespace hostile
