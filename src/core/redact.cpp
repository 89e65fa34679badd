#include "runway/core/redact.hpp"

#include <algorithm>

namespace runway {
namespace {

constexpr std::string_view kTokenPrefix = "rwy_";
constexpr std::size_t kTokenIdChars = 16;
constexpr std::size_t kTokenSecretChars = 43;
constexpr std::size_t kTokenChars = kTokenPrefix.size() + kTokenIdChars + 1 + kTokenSecretChars;

bool isLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool isTokenSecretChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool tokenAt(std::string_view text, std::size_t at) {
  if (text.size() - at < kTokenChars || text.substr(at, kTokenPrefix.size()) != kTokenPrefix) {
    return false;
  }
  std::size_t i = at + kTokenPrefix.size();
  for (std::size_t n = 0; n < kTokenIdChars; ++n, ++i) {
    if (!isLowerHex(text[i])) return false;
  }
  if (text[i++] != '_') return false;
  for (std::size_t n = 0; n < kTokenSecretChars; ++n, ++i) {
    if (!isTokenSecretChar(text[i])) return false;
  }
  return true;
}

// Long enough values, longest first (so the longest of overlapping values wins), each once.
std::shared_ptr<const std::vector<std::string>> normalized(std::vector<std::string> values) {
  std::erase_if(values, [](const std::string& v) { return v.size() < SecretRedactor::kMinLength; });
  std::sort(values.begin(), values.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return std::make_shared<const std::vector<std::string>>(std::move(values));
}

}  // namespace

void SecretRedactor::setValues(std::vector<std::string> values) {
  auto next = normalized(std::move(values));
  std::lock_guard lock(mu_);
  values_ = std::move(next);
}

void SecretRedactor::addValue(std::string value) {
  std::lock_guard lock(mu_);  // read, add and swap as one step: no concurrent add is lost
  std::vector<std::string> values = *values_;
  values.push_back(std::move(value));
  values_ = normalized(std::move(values));
}

std::shared_ptr<const std::vector<std::string>> SecretRedactor::current() const {
  std::lock_guard lock(mu_);
  return values_;
}

std::string SecretRedactor::redact(std::string_view text) const {
  const auto values = current();
  std::string out;
  out.reserve(text.size());
  // One pass, so that nothing is matched inside a replacement already made.
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t matched = 0;
    for (const auto& value : *values) {  // longest first
      if (text.compare(i, value.size(), value) == 0) {
        matched = value.size();
        break;
      }
    }
    if (matched == 0 && tokenAt(text, i)) {
      matched = kTokenChars;
      // A longer run of secret characters is still the token's tail: take it too.
      while (i + matched < text.size() && isTokenSecretChar(text[i + matched])) ++matched;
    }
    if (matched == 0) {
      out.push_back(text[i++]);
      continue;
    }
    out.append(kRedacted);
    i += matched;
  }
  return out;
}

SecretRedactor& secretRedactor() {
  static SecretRedactor redactor;
  return redactor;
}

}  // namespace runway
