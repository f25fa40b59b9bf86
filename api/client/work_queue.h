// WorkQueue: the rate-limited, de-duplicating queue of keys that controllers and the
// agent's pod workers drain, with client-go's workqueue semantics:
//  - a key is queued at most once (add() of a queued key is a no-op);
//  - a key being processed (between get() and done()) is not handed out again; if it is
//    added meanwhile it is marked dirty and re-queued by done(), so one key is never
//    processed by two workers at once and no change is lost;
//  - add_after() delays a key; add_rate_limited() delays it by the rate limiter (per-key
//    exponential back-off 5 ms doubling to 1000 s, and an overall token bucket of 10/s
//    with a burst of 100, the larger delay wins); forget() resets a key's back-off;
//  - shut_down() stops accepting keys; get() hands out what is queued, then returns nullopt.
//
// Time comes from an injected Clock, so tests are deterministic with FakeClock (use
// try_get()/len() after advance(); blocking get() waits in real time).
// Thread-safety: every method of WorkQueue, the rate limiters and the clocks is thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace kernlet::client {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

// std::chrono::steady_clock.
class RealClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
  static std::shared_ptr<Clock> shared();
};

// A clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  time_point now() const override;
  void advance(duration d);

 private:
  mutable std::mutex mu_;
  time_point now_{std::chrono::hours(1)};
};

// How long to wait before an item may be retried.
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // The delay for this retry of `item` (and records the retry).
  virtual Clock::duration when(const std::string& item) = 0;
  // Forgets the item's history (after it succeeded).
  virtual void forget(const std::string& item) = 0;
  // Retries recorded for the item since the last forget().
  virtual int num_requeues(const std::string& item) = 0;
};

// base * 2^failures, capped at max, per item.
class ItemExponentialRateLimiter final : public RateLimiter {
 public:
  ItemExponentialRateLimiter(Clock::duration base, Clock::duration max) : base_(base), max_(max) {}
  Clock::duration when(const std::string& item) override;
  void forget(const std::string& item) override;
  int num_requeues(const std::string& item) override;

 private:
  Clock::duration base_, max_;
  std::mutex mu_;
  std::unordered_map<std::string, int> failures_;
};

// A token bucket over all items: `qps` tokens per second, at most `burst` saved up. Each
// when() takes a token, waiting (a negative balance) when none is left.
class BucketRateLimiter final : public RateLimiter {
 public:
  BucketRateLimiter(double qps, int burst, std::shared_ptr<Clock> clock);
  Clock::duration when(const std::string& item) override;
  void forget(const std::string&) override {}
  int num_requeues(const std::string&) override { return 0; }

 private:
  double qps_;
  double burst_;
  std::shared_ptr<Clock> clock_;
  std::mutex mu_;
  double tokens_;
  Clock::time_point last_;
};

// The largest delay of several limiters; requeues as the largest count.
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters) : limiters_(std::move(limiters)) {}
  Clock::duration when(const std::string& item) override;
  void forget(const std::string& item) override;
  int num_requeues(const std::string& item) override;

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// client-go's DefaultControllerRateLimiter: max(per-item 5 ms..1000 s, bucket 10 qps / 100).
std::unique_ptr<RateLimiter> default_controller_rate_limiter(std::shared_ptr<Clock> clock);

class WorkQueue {
 public:
  // Defaults: the real clock and default_controller_rate_limiter.
  explicit WorkQueue(std::shared_ptr<Clock> clock = nullptr, std::unique_ptr<RateLimiter> limiter = nullptr);
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues the key unless it is queued already (or marks it dirty while processed).
  // Ignored after shut_down().
  void add(const std::string& key);
  // Queues the key once `delay` has passed (now when delay <= 0). A key waiting twice
  // keeps the earlier time.
  void add_after(const std::string& key, Clock::duration delay);
  // add_after(key, limiter.when(key)).
  void add_rate_limited(const std::string& key);
  // Resets the key's back-off.
  void forget(const std::string& key);
  int num_requeues(const std::string& key);

  // Blocks for the next key and marks it processing; nullopt once shut down and empty.
  std::optional<std::string> get();
  // The next key if one is ready now, else nullopt. Does not block.
  std::optional<std::string> try_get();
  // Ends processing of a key from get(); re-queues it if it was added meanwhile.
  void done(const std::string& key);

  // Stops accepting keys and wakes every get(); delayed keys are dropped.
  void shut_down();
  bool shutting_down() const;

  // Keys ready to be handed out (due delayed keys count), and keys still waiting.
  std::size_t len();
  std::size_t waiting() const;

 private:
  void add_locked(const std::string& key);
  void promote_locked();
  std::optional<std::string> pop_locked();

  std::shared_ptr<Clock> clock_;
  std::unique_ptr<RateLimiter> limiter_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;
  std::unordered_set<std::string> processing_;
  std::multimap<Clock::time_point, std::string> waiting_;        // ready time -> key
  std::unordered_map<std::string, Clock::time_point> wait_time_;  // key -> its ready time
  bool shutting_down_ = false;
};

}  // namespace kernlet::client
