#pragma once

// The controller's counters for /metrics, written by its parts on the strand and read by the
// API on any thread.

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "runway/controller/controller.hpp"

namespace runway::controller {

class MetricsRecorder {
 public:
  MetricsRecorder();

  void countFailure(const std::string& action);
  void countOutcome(const std::string& outcome);
  void observeReconcile(std::chrono::steady_clock::duration took);
  void setLiveByPhase(std::map<std::string, std::uint64_t> by_phase);
  ControllerMetrics snapshot() const;

 private:
  mutable std::mutex mu_;
  ControllerMetrics metrics_;
};

}  // namespace runway::controller
