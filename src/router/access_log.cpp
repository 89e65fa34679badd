#include "access_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iterator>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace runway::router {

// --- AccessLog -----------------------------------------------------------------------------

namespace {

int openAppend(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

}  // namespace

Result<std::shared_ptr<AccessLog>> AccessLog::open(const AccessLogSettings& settings) {
  const int fd = openAppend(settings.path);
  if (fd < 0) {
    return fail(ErrorCode::InvalidArgument, fmt::format("access log {}: cannot open: {}",
                                                        settings.path, std::strerror(errno)));
  }
  struct stat st {};
  const std::uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  return std::shared_ptr<AccessLog>(new AccessLog(settings, fd, size));
}

AccessLog::AccessLog(AccessLogSettings settings, int fd, std::uint64_t size)
    : settings_(std::move(settings)), fd_(fd), size_(size) {
  thread_ = std::thread([this] { run(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

std::string AccessLog::submit(std::string batch) {
  std::string next;
  {
    std::lock_guard lock(mu_);
    if (queued_bytes_ + batch.size() > kMaxQueuedBytes) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      batch.clear();
      return batch;  // the writer is behind: this batch is lost, its buffer reused
    }
    queued_bytes_ += batch.size();
    queue_.push_back(std::move(batch));
    ++submitted_;
    if (!free_.empty()) {
      next = std::move(free_.back());
      free_.pop_back();
    }
  }
  wake_.notify_one();
  return next;
}

void AccessLog::flush() {
  std::unique_lock lock(mu_);
  const auto target = submitted_;
  written_.wait(lock, [&] { return done_ >= target; });
}

void AccessLog::run() {
  std::uint64_t reported_drops = 0;
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty() && stop_) return;
    std::string batch = std::move(queue_.front());
    queue_.pop_front();
    const std::size_t bytes = batch.size();
    lock.unlock();
    write(batch);
    const auto drops = dropped_.load(std::memory_order_relaxed);
    if (drops != reported_drops) {
      spdlog::warn("router: the access log {} fell behind: {} batches of lines dropped so far",
                   settings_.path, drops);
      reported_drops = drops;
    }
    batch.clear();
    lock.lock();
    queued_bytes_ -= bytes;
    ++done_;
    if (free_.size() < 64) free_.push_back(std::move(batch));
    written_.notify_all();
  }
}

// Writes whole lines, rotating first when a line would take the file past max_bytes (a file
// passes it only when one line alone is longer).
void AccessLog::write(std::string_view batch) {
  while (!batch.empty()) {
    const std::uint64_t room = settings_.max_bytes > size_ ? settings_.max_bytes - size_ : 0;
    if (batch.size() <= room) {
      writeAll(batch);
      return;
    }
    auto end = batch.substr(0, static_cast<std::size_t>(room)).rfind('\n');
    if (end == std::string_view::npos) {
      if (size_ > 0) {
        rotate();
        continue;
      }
      end = batch.find('\n');  // one line longer than max_bytes: alone in its file
      if (end == std::string_view::npos) end = batch.size() - 1;
    }
    writeAll(batch.substr(0, end + 1));
    batch.remove_prefix(end + 1);
    rotate();
  }
}

void AccessLog::writeAll(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::error("router: cannot write the access log {}: {}", settings_.path,
                    std::strerror(errno));
      return;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
    size_ += static_cast<std::uint64_t>(n);
  }
}

// path.<keep-1> -> path.<keep>, ..., path -> path.1, then a new empty path.
void AccessLog::rotate() {
  const auto& path = settings_.path;
  for (std::uint32_t i = settings_.keep; i > 1; --i) {
    const auto from = fmt::format("{}.{}", path, i - 1);
    const auto to = fmt::format("{}.{}", path, i);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      spdlog::error("router: cannot rotate {} to {}: {}", from, to, std::strerror(errno));
    }
  }
  const auto first = path + ".1";
  if (::rename(path.c_str(), first.c_str()) != 0) {
    spdlog::error("router: cannot rotate {} to {}: {}", path, first, std::strerror(errno));
  }
  const int fd = openAppend(path);
  if (fd < 0) {
    // Keep writing to the file we have (now path.1) rather than losing lines.
    spdlog::error("router: cannot reopen the access log {}: {}", path, std::strerror(errno));
    return;
  }
  ::close(fd_);
  fd_ = fd;
  size_ = 0;
}

// --- AccessLogBuffer -----------------------------------------------------------------------

namespace {

// Appends `text` as the inside of a JSON string.
void appendEscaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t plain = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x7f) continue;
    out.append(text.data() + plain, i - plain);
    plain = i + 1;
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else {
      // Controls, DEL and bytes above ASCII (a target is not necessarily UTF-8): \u00XX, so
      // that every line is valid JSON whatever the client sent.
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(text.data() + plain, text.size() - plain);
}

}  // namespace

void AccessLogBuffer::attach(std::shared_ptr<AccessLog> log) {
  if (log == log_) return;
  flush();
  log_ = std::move(log);
}

void AccessLogBuffer::append(const AccessRecord& r) {
  if (!log_) return;
  if (buffer_.capacity() < kFlushBytes + 4096) buffer_.reserve(kFlushBytes + 4096);
  const std::int64_t second = r.unix_ms / 1000;
  if (second != cached_second_) {
    const std::time_t t = static_cast<std::time_t>(second);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    std::strftime(cached_time_, sizeof cached_time_, "%Y-%m-%dT%H:%M:%S.", &tm);
    cached_second_ = second;
  }
  auto out = std::back_inserter(buffer_);
  fmt::format_to(out, R"({{"time":"{}{:03}Z","listener":")", cached_time_, r.unix_ms % 1000);
  appendEscaped(buffer_, r.listener);
  buffer_.append(R"(","client":")");
  appendEscaped(buffer_, r.client);
  buffer_.append(R"(","method":")");
  appendEscaped(buffer_, r.method);
  buffer_.append(R"(","target":")");
  appendEscaped(buffer_, r.target);
  fmt::format_to(out, R"(","status":{},"bytes_in":{},"bytes_out":{},"duration_ms":{:.3f},)",
                 r.status, r.bytes_in, r.bytes_out, static_cast<double>(r.duration_us) / 1000.0);
  buffer_.append(R"("version":")");
  appendEscaped(buffer_, r.version);
  buffer_.append(R"(","instance":")");
  appendEscaped(buffer_, r.instance);
  buffer_.append(R"(","request_id":")");
  appendEscaped(buffer_, r.request_id);
  buffer_.append("\"}\n");
  if (buffer_.size() >= kFlushBytes) flush();
}

void AccessLogBuffer::flush() {
  if (!log_ || buffer_.empty()) return;
  buffer_ = log_->submit(std::move(buffer_));
}

}  // namespace runway::router
