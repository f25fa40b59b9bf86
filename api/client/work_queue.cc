#include "api/client/work_queue.h"

#include <algorithm>

namespace kernlet::client {

std::shared_ptr<Clock> RealClock::shared() {
  static const std::shared_ptr<Clock> clock = std::make_shared<RealClock>();
  return clock;
}

Clock::time_point FakeClock::now() const {
  std::lock_guard lock(mu_);
  return now_;
}

void FakeClock::advance(duration d) {
  std::lock_guard lock(mu_);
  now_ += d;
}

Clock::duration ItemExponentialRateLimiter::when(const std::string& item) {
  std::lock_guard lock(mu_);
  int exp = failures_[item]++;
  // Doubling past 2^62 overflows; the cap is reached long before with sane settings.
  if (exp >= 62) return max_;
  auto d = base_ * (int64_t{1} << exp);
  if (d > max_ || d < base_) return max_;
  return d;
}

void ItemExponentialRateLimiter::forget(const std::string& item) {
  std::lock_guard lock(mu_);
  failures_.erase(item);
}

int ItemExponentialRateLimiter::num_requeues(const std::string& item) {
  std::lock_guard lock(mu_);
  auto it = failures_.find(item);
  return it == failures_.end() ? 0 : it->second;
}

BucketRateLimiter::BucketRateLimiter(double qps, int burst, std::shared_ptr<Clock> clock)
    : qps_(qps), burst_(burst), clock_(std::move(clock)), tokens_(burst), last_(clock_->now()) {}

Clock::duration BucketRateLimiter::when(const std::string&) {
  std::lock_guard lock(mu_);
  auto now = clock_->now();
  if (now > last_) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
    last_ = now;
  }
  tokens_ -= 1;
  if (tokens_ >= 0) return Clock::duration::zero();
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(-tokens_ / qps_));
}

Clock::duration MaxOfRateLimiter::when(const std::string& item) {
  Clock::duration d = Clock::duration::zero();
  for (auto& l : limiters_) d = std::max(d, l->when(item));
  return d;
}

void MaxOfRateLimiter::forget(const std::string& item) {
  for (auto& l : limiters_) l->forget(item);
}

int MaxOfRateLimiter::num_requeues(const std::string& item) {
  int n = 0;
  for (auto& l : limiters_) n = std::max(n, l->num_requeues(item));
  return n;
}

std::unique_ptr<RateLimiter> default_controller_rate_limiter(std::shared_ptr<Clock> clock) {
  std::vector<std::unique_ptr<RateLimiter>> v;
  v.push_back(std::make_unique<ItemExponentialRateLimiter>(std::chrono::milliseconds(5), std::chrono::seconds(1000)));
  v.push_back(std::make_unique<BucketRateLimiter>(10.0, 100, std::move(clock)));
  return std::make_unique<MaxOfRateLimiter>(std::move(v));
}

WorkQueue::WorkQueue(std::shared_ptr<Clock> clock, std::unique_ptr<RateLimiter> limiter)
    : clock_(clock ? std::move(clock) : RealClock::shared()),
      limiter_(limiter ? std::move(limiter) : default_controller_rate_limiter(clock_)) {}

void WorkQueue::add_locked(const std::string& key) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;   // queued (or dirty) already
  if (processing_.count(key) != 0) return;  // done() will queue it
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::promote_locked() {
  auto now = clock_->now();
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    std::string key = std::move(waiting_.begin()->second);
    waiting_.erase(waiting_.begin());
    wait_time_.erase(key);
    add_locked(key);
  }
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  add_locked(key);
}

void WorkQueue::add_after(const std::string& key, Clock::duration delay) {
  std::lock_guard lock(mu_);
  if (shutting_down_) return;
  if (delay <= Clock::duration::zero()) {
    add_locked(key);
    return;
  }
  auto ready = clock_->now() + delay;
  auto it = wait_time_.find(key);
  if (it != wait_time_.end()) {
    if (it->second <= ready) return;  // already waiting for an earlier time
    auto range = waiting_.equal_range(it->second);
    for (auto w = range.first; w != range.second; ++w) {
      if (w->second == key) {
        waiting_.erase(w);
        break;
      }
    }
    it->second = ready;
  } else {
    wait_time_.emplace(key, ready);
  }
  waiting_.emplace(ready, key);
  cv_.notify_all();  // a blocked get() may need to wake earlier
}

void WorkQueue::add_rate_limited(const std::string& key) { add_after(key, limiter_->when(key)); }

void WorkQueue::forget(const std::string& key) { limiter_->forget(key); }

int WorkQueue::num_requeues(const std::string& key) { return limiter_->num_requeues(key); }

std::optional<std::string> WorkQueue::pop_locked() {
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mu_);
  for (;;) {
    promote_locked();
    if (auto key = pop_locked()) return key;
    if (shutting_down_) return std::nullopt;
    if (waiting_.empty()) {
      cv_.wait(lock);
    } else {
      // Real time to the earliest delayed key, by this queue's clock.
      auto wait = waiting_.begin()->first - clock_->now();
      cv_.wait_for(lock, std::max(wait, Clock::duration(std::chrono::milliseconds(1))));
    }
  }
}

std::optional<std::string> WorkQueue::try_get() {
  std::lock_guard lock(mu_);
  promote_locked();
  return pop_locked();
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key) != 0) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::shut_down() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
  waiting_.clear();
  wait_time_.clear();
  cv_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard lock(mu_);
  return shutting_down_;
}

std::size_t WorkQueue::len() {
  std::lock_guard lock(mu_);
  promote_locked();
  return queue_.size();
}

std::size_t WorkQueue::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

}  // namespace kernlet::client
