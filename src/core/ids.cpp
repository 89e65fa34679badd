#include "runway/core/ids.hpp"

#include <mutex>
#include <random>

#include <fmt/format.h>

namespace runway {
namespace {

constexpr std::string_view kCrockford = "0123456789abcdefghjkmnpqrstvwxyz";

class SystemRandom final : public Random {
 public:
  SystemRandom() : engine_(std::random_device{}()) {}
  // Random
  std::uint64_t next() override {
    std::lock_guard lock(mutex_);
    return engine_();
  }

 private:
  std::mutex mutex_;
  std::mt19937_64 engine_;
};

class SeededRandom final : public Random {
 public:
  explicit SeededRandom(std::uint64_t seed) : state_(seed) {}
  // Random
  std::uint64_t next() override {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31U);
  }

 private:
  std::uint64_t state_;
};

}  // namespace

std::unique_ptr<Random> systemRandom() { return std::make_unique<SystemRandom>(); }
std::unique_ptr<Random> seededRandom(std::uint64_t seed) {
  return std::make_unique<SeededRandom>(seed);
}

IdGenerator::IdGenerator(std::shared_ptr<Clock> clock, std::unique_ptr<Random> random)
    : clock_(std::move(clock)), random_(std::move(random)) {}

std::string IdGenerator::next(std::string_view prefix) {
  auto ms = static_cast<std::uint64_t>(toUnixMillis(clock_->now()));
  std::string time_part(10, '0');
  for (int i = 9; i >= 0; --i) {
    time_part[static_cast<std::size_t>(i)] = kCrockford[ms & 31U];
    ms >>= 5U;
  }
  auto bits = random_->next();
  std::string random_part(6, '0');
  for (auto& c : random_part) {
    c = kCrockford[bits & 31U];
    bits >>= 5U;
  }
  return fmt::format("{}-{}-{}", prefix, time_part, random_part);
}

bool isUsableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (const char c : id) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

bool isHttpToken(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127) return false;
    if (std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos) return false;
  }
  return true;
}

bool isValidName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (name.front() < 'a' || name.front() > 'z') return false;
  if (name.back() == '-') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<void> validateName(std::string_view what, std::string_view name) {
  if (isValidName(name)) return {};
  return fail(ErrorCode::InvalidArgument,
              fmt::format("invalid {} name \"{}\": use 1-63 lowercase letters, digits and '-', "
                          "starting with a letter",
                          what, name));
}

}  // namespace runway
