#pragma once

// Where the controller's work runs. Everything that touches controller state runs on one strand;
// blocking work (measurements, checks, hooks) runs elsewhere and sends its result back to the
// strand. The controller's parts see only this interface, so a test drives them on its own
// thread, one task at a time, in an order it chooses (manual_scheduler.hpp),
// and the server runs them on a thread and a pool (loop.hpp).

#include <functional>

namespace runway::controller {

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  // Runs `task` on the strand after the current task. Any thread (a job may post). Dropped once
  // the scheduler stops.
  virtual void post(std::function<void()> task) = 0;

  // Runs `job` off the strand (it may block); the continuation it returns, if any, then runs on
  // the strand. `job` must not touch controller state: it gets copies of what it needs.
  virtual void offload(std::function<std::function<void()>()> job) = 0;
};

}  // namespace runway::controller
