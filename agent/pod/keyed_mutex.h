// KeyedMutex: one mutex per key (the agent keys by pod uid), made on first use and dropped
// when its last user leaves, so work on different keys never waits on each other and the
// table holds only the keys in use. Thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace kernlet::agent {

class KeyedMutex {
  struct Entry {
    std::mutex mu;
    int users = 0;  // holders and waiters; guarded by KeyedMutex::mu_
  };

 public:
  // Holds the lock of one key; releases it (and the key's entry when unused) on destruction.
  class [[nodiscard]] Guard {
   public:
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() { owner_->release(key_, entry_); }

   private:
    friend class KeyedMutex;
    Guard(KeyedMutex* owner, std::string key, Entry* entry) : owner_(owner), key_(std::move(key)), entry_(entry) {}
    KeyedMutex* owner_;
    std::string key_;
    Entry* entry_;
  };

  // Blocks until the lock of `key` is ours.
  Guard lock(const std::string& key) {
    Entry* e;
    {
      std::lock_guard g(mu_);
      auto& slot = entries_[key];
      if (!slot) slot = std::make_unique<Entry>();
      e = slot.get();
      ++e->users;
    }
    e->mu.lock();
    return Guard(this, key, e);
  }

  // Keys locked or waited for now (tests).
  std::size_t size() const {
    std::lock_guard g(mu_);
    return entries_.size();
  }

 private:
  void release(const std::string& key, Entry* e) {
    e->mu.unlock();
    std::lock_guard g(mu_);
    if (--e->users == 0) entries_.erase(key);
  }
  mutable std::mutex mu_;  // guards entries_ and Entry::users
  std::map<std::string, std::unique_ptr<Entry>> entries_;
};

}  // namespace kernlet::agent
