#pragma once

// A Scheduler run by hand: posted tasks and offloaded jobs wait in FIFO queues until
// runUntilIdle() runs them on the calling thread, jobs first then tasks, until both are empty.
// Deterministic: the same inputs give the same order of effects. The Stepper (stepper.hpp)
// drives the reconciler with it; so do the controller's tests (tests/unit/controller).

#include <deque>
#include <functional>

#include "scheduler.hpp"

namespace runway::controller {

class ManualScheduler final : public Scheduler {
 public:
  // Scheduler
  void post(std::function<void()> task) override { tasks_.push_back(std::move(task)); }
  void offload(std::function<std::function<void()>()> job) override { jobs_.push_back(std::move(job)); }

  // Runs queued work until nothing is left (at most `limit` items: a loop that never settles
  // is a bug the test should see). Returns how many ran.
  int runUntilIdle(int limit = 100000) {
    int ran = 0;
    while ((!jobs_.empty() || !tasks_.empty()) && ran < limit) {
      if (!jobs_.empty()) {
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        if (auto then = job()) tasks_.push_back(std::move(then));
      } else {
        auto task = std::move(tasks_.front());
        tasks_.pop_front();
        task();
      }
      ++ran;
    }
    return ran;
  }
  bool idle() const { return jobs_.empty() && tasks_.empty(); }
  // Drops everything queued (a crash: work in flight is lost).
  void clear() {
    jobs_.clear();
    tasks_.clear();
  }

 private:
  std::deque<std::function<std::function<void()>()>> jobs_;
  std::deque<std::function<void()>> tasks_;
};

}  // namespace runway::controller
