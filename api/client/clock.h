// WallClock: the wall time a component stamps on what it writes (agent/node's condition
// heartbeats and transitions and lease renewals; the event recorder's event timestamps)
// and measures its intervals with (status report every 60 s, event aggregation window of
// 10 minutes). Injected so unit tests can move time by hand; background threads still
// sleep in real (steady) time.
// Thread-safety: every method of both clocks is thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>

#include "api/time.h"

namespace kernlet::client {

class WallClock {
 public:
  virtual ~WallClock() = default;
  // The current time.
  virtual api::TimePoint now() const = 0;
};

// std::chrono::system_clock.
class SystemWallClock final : public WallClock {
 public:
  api::TimePoint now() const override { return std::chrono::system_clock::now(); }
  // One shared instance.
  static std::shared_ptr<WallClock> shared();
};

// A clock that moves only when told to; starts at 2026-01-01T00:00:00Z.
class FakeWallClock final : public WallClock {
 public:
  api::TimePoint now() const override;
  // Moves the clock forward by d.
  void advance(std::chrono::system_clock::duration d);
  // Sets the clock.
  void set(api::TimePoint t);

 private:
  mutable std::mutex mu_;
  api::TimePoint now_{std::chrono::seconds(1767225600)};
};

}  // namespace kernlet::client
