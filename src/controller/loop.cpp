#include "loop.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>

namespace runway::controller {

Loop::Loop(int workers, std::chrono::milliseconds poll)
    : poll_(poll), pool_(static_cast<std::size_t>(std::max(1, workers))) {}

Loop::~Loop() { stop(); }

void Loop::run(std::function<bool(bool refresh)> periodic) {
  thread_ = std::thread([this, periodic = std::move(periodic)] { loop(periodic); });
}

void Loop::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  pool_.stop();
  pool_.join();
}

void Loop::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void Loop::offload(std::function<std::function<void()>()> job) {
  boost::asio::post(pool_, [this, job = std::move(job)] {
    if (auto then = job()) post(std::move(then));
  });
}

void Loop::runRequests() {
  std::deque<std::function<void()>> requests;
  {
    std::lock_guard lock(mu_);
    requests.swap(requests_);
  }
  for (auto& r : requests) r();
}

void Loop::loop(std::function<bool(bool refresh)> periodic) {
  auto last_refresh = std::chrono::steady_clock::now();
  bool more = false;  // the last pass left work
  while (true) {
    std::deque<std::function<void()>> tasks;
    {
      std::unique_lock lock(mu_);
      const auto ready = [&] { return stopping_ || !tasks_.empty() || !requests_.empty(); };
      if (!more) cv_.wait_for(lock, poll_, ready);
      if (stopping_) {
        // Answer waiting callers before leaving.
        std::deque<std::function<void()>> requests;
        requests.swap(requests_);
        tasks.swap(tasks_);
        lock.unlock();
        for (auto& r : requests) r();
        for (auto& t : tasks) t();
        return;
      }
      tasks.swap(tasks_);
    }
    runRequests();
    for (auto& t : tasks) {
      t();
      runRequests();
    }
    const auto steady = std::chrono::steady_clock::now();
    const bool refresh = steady - last_refresh >= std::chrono::milliseconds(250);
    if (refresh) last_refresh = steady;
    more = periodic(refresh);
  }
}

}  // namespace runway::controller
