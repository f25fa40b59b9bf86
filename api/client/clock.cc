#include "api/client/clock.h"

namespace kernlet::client {

std::shared_ptr<WallClock> SystemWallClock::shared() {
  static const std::shared_ptr<WallClock> clock = std::make_shared<SystemWallClock>();
  return clock;
}

api::TimePoint FakeWallClock::now() const {
  std::lock_guard lock(mu_);
  return now_;
}

void FakeWallClock::advance(std::chrono::system_clock::duration d) {
  std::lock_guard lock(mu_);
  now_ += d;
}

void FakeWallClock::set(api::TimePoint t) {
  std::lock_guard lock(mu_);
  now_ = t;
}

}  // namespace kernlet::client
