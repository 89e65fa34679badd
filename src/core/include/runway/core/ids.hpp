#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway {

// Source of randomness, behind an interface so tests are reproducible.
class Random {
 public:
  virtual ~Random() = default;
  virtual std::uint64_t next() = 0;
};

// A non-deterministic source (std::random_device seeded, thread-safe).
std::unique_ptr<Random> systemRandom();
// A deterministic source (splitmix64) for tests and simulations.
std::unique_ptr<Random> seededRandom(std::uint64_t seed);

// Makes identifiers such as "dep-01jdk3m5qz-7hx2ka": a prefix, ten Crockford base32 characters
// of the creation time in milliseconds (so ids sort by creation) and six random ones.
class IdGenerator {
 public:
  IdGenerator(std::shared_ptr<Clock> clock, std::unique_ptr<Random> random);
  // Not thread-safe; one generator per strand.
  std::string next(std::string_view prefix);

 private:
  std::shared_ptr<Clock> clock_;
  std::unique_ptr<Random> random_;
};

// Names of applications, services, environments and templates: 1..63 characters of
// lowercase letters, digits and '-', starting with a letter and not ending with '-'.
bool isValidName(std::string_view name);
// InvalidArgument naming `what` when isValidName() is false.
Result<void> validateName(std::string_view what, std::string_view name);

// An RFC 9110 token: the characters a header field name or a cookie name may have (visible
// ASCII except separators), at least one.
bool isHttpToken(std::string_view text);

// Whether a client's X-Request-Id is kept as it is (by the API server and the router): 1..64
// letters, digits, '-', '_' and '.' (UUIDs, hex and most generated ids). Anything else is
// replaced by a generated id.
bool isUsableRequestId(std::string_view id);

}  // namespace runway
