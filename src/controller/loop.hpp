#pragma once

// The server's strand: one thread that runs tasks one at a time (requests, results of work
// done elsewhere) and, between them, the reconciler's periodic work; and a small pool for the
// blocking work the strand offloads (measurements, checks, hooks).
//
// Requests (call(): the API's deploy, approve, abort...) go first: they run before the next
// queued task and before the next periodic pass, so a request waits for at most the one task or
// pass in progress, never behind thousands of queued results. The periodic pass bounds its own
// work (Reconciler::pass) and says when it left some, so that the loop passes again at once.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include <boost/asio/thread_pool.hpp>

#include "scheduler.hpp"

namespace runway::controller {

class Loop final : public Scheduler {
 public:
  // `workers` pool threads; `poll`: how long the strand waits for a task before its periodic
  // work runs anyway.
  Loop(int workers, std::chrono::milliseconds poll);
  ~Loop() override;

  // Starts the strand thread. `periodic(refresh)` runs after every batch of tasks and at least
  // every `poll`; `refresh` is true at most every 250 ms (runtime reports). When it returns true
  // (work left), it runs again without waiting, after the requests that arrived.
  void run(std::function<bool(bool refresh)> periodic);

  // Runs `f` on the strand and returns its result; from the strand itself, runs it at once.
  // After stop(), returns `stopped()` instead.
  template <typename R, typename F, typename Stopped>
  R call(F&& f, Stopped stopped) {
    if (std::this_thread::get_id() == thread_.get_id()) return f();
    std::promise<R> promise;
    auto future = promise.get_future();
    {
      std::lock_guard lock(mu_);
      if (stopping_) return stopped();
      requests_.push_back([&] { promise.set_value(f()); });
    }
    cv_.notify_one();
    return future.get();
  }

  // Stops after the current task (callers already waiting get their answers), then the pool.
  // Idempotent.
  void stop();

  // How many call()s wait for the strand now (tests).
  std::size_t waitingRequests() {
    std::lock_guard lock(mu_);
    return requests_.size();
  }

  // Scheduler
  void post(std::function<void()> task) override;
  void offload(std::function<std::function<void()>()> job) override;

 private:
  void loop(std::function<bool(bool refresh)> periodic);
  // Runs the requests waiting now.
  void runRequests();

  std::chrono::milliseconds poll_;
  boost::asio::thread_pool pool_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::deque<std::function<void()>> requests_;  // call()s: run before tasks_
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace runway::controller
