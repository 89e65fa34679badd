#pragma once

// The clocks of a simulation: simulated time that a discrete-event driver moves forward to the
// next thing due. JumpingClock gets there at once (as fast as the engine allows);
// ScaledClock runs N times faster than real time and waits, in real time, until it gets there.

#include <chrono>
#include <memory>

#include "runway/core/clock.hpp"

namespace runway::rehearse {

class SimulatedClock : public Clock {
 public:
  // Moves time forward to `to` (a time in the past changes nothing). Blocks for as long as
  // this clock takes to get there.
  virtual void advanceTo(TimePoint to) = 0;
};

// Stands still until advanceTo() jumps it. Thread-safe.
class JumpingClock final : public SimulatedClock {
 public:
  explicit JumpingClock(TimePoint start);

  // Clock
  TimePoint now() const override;
  // SimulatedClock: returns at once.
  void advanceTo(TimePoint to) override;

 private:
  FakeClock clock_;
};

// start + (real time since construction) x speed. Thread-safe.
class ScaledClock final : public SimulatedClock {
 public:
  // REQUIRES: speed > 0.
  ScaledClock(TimePoint start, double speed);

  // Clock
  TimePoint now() const override;
  // SimulatedClock: sleeps (to - now()) / speed of real time.
  void advanceTo(TimePoint to) override;

 private:
  TimePoint start_;
  double speed_;
  std::chrono::steady_clock::time_point real_start_;
};

}  // namespace runway::rehearse
