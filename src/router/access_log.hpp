#pragma once

// The router's access log: one JSON object per line, written to a file that is rotated by size.
//
// Off the request path: each worker formats its lines into its own AccessLogBuffer (no lock,
// no allocation once the buffer has grown, no system call) and hands a full buffer, or what it
// holds every 250 ms, to the AccessLog's writer thread, which writes each batch with one
// write(2) and rotates the file. When the writer falls behind by more than kMaxQueuedBytes the
// newest batches are dropped, counted and reported in the router's log: the log never holds
// requests up.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "runway/core/error.hpp"
#include "runway/router/routing_table.hpp"

namespace runway::router {

// What one line says. Views are only read during AccessLogBuffer::append.
struct AccessRecord {
  std::int64_t unix_ms = 0;  // when the request's header had arrived
  std::string_view listener;
  std::string_view client;   // the client's IP address
  std::string_view method;   // "" when the request line could not be read
  std::string_view target;
  int status = 0;            // 0 = no response (the client or the upstream went away)
  std::uint64_t bytes_in = 0;   // read from the client: header and body
  std::uint64_t bytes_out = 0;  // written to the client: header and body
  std::uint64_t duration_us = 0;
  std::string_view version;   // "" when none was chosen
  std::string_view instance;  // "" when no instance was reached
  std::string_view request_id;
};

class AccessLog {
 public:
  static constexpr std::size_t kMaxQueuedBytes = 16 * 1024 * 1024;

  // Opens (creates, mode 0640) or appends to settings.path and starts the writer thread.
  // Errors: InvalidArgument (cannot open the file, with the reason).
  static Result<std::shared_ptr<AccessLog>> open(const AccessLogSettings& settings);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  const AccessLogSettings& settings() const { return settings_; }

  // Queues `batch` (whole lines) for the writer and returns an empty buffer to fill next (a
  // recycled one when there is one). Thread-safe.
  std::string submit(std::string batch);
  // Blocks until everything submitted so far is written. Thread-safe (tests, shutdown).
  void flush();
  std::uint64_t droppedBatches() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  AccessLog(AccessLogSettings settings, int fd, std::uint64_t size);
  void run();
  void write(std::string_view batch);
  void writeAll(std::string_view bytes);
  void rotate();

  const AccessLogSettings settings_;
  int fd_;
  std::uint64_t size_;  // of the current file; writer thread only
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable written_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t submitted_ = 0;
  std::uint64_t done_ = 0;
  std::vector<std::string> free_;
  bool stop_ = false;
  std::atomic<std::uint64_t> dropped_{0};
  std::thread thread_;
};

// One worker's lines not yet handed to the log. Worker thread only.
class AccessLogBuffer {
 public:
  static constexpr std::size_t kFlushBytes = 48 * 1024;

  // Switches to `log` (null = off), handing what is buffered to the previous log.
  void attach(std::shared_ptr<AccessLog> log);
  bool enabled() const { return log_ != nullptr; }
  // Formats one line; hands the buffer over when it passes kFlushBytes.
  void append(const AccessRecord& record);
  // Hands over what is buffered (the worker's timer, every 250 ms).
  void flush();

 private:
  std::shared_ptr<AccessLog> log_;
  std::string buffer_;
  std::int64_t cached_second_ = -1;
  char cached_time_[24] = {};  // "2026-12-07T21:30:05." for cached_second_
};

}  // namespace runway::router
