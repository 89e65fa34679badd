#pragma once

// Secrets out of what runway keeps and says: hook and check output stored in events, the
// server's log lines and notification messages. Two kinds of text are replaced by "[redacted]":
//   - the values declared secret (runway serve: the variables the configuration names as
//     holding secrets, `secrets:` of each environment among them; docs/configuration.md);
//   - anything shaped like an API token, "rwy_" + 16 lowercase hex + "_" + 43 base64url
//     characters (api/tokens.hpp), so every token is covered without runway knowing it.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace runway {

inline constexpr std::string_view kRedacted = "[redacted]";

class SecretRedactor {
 public:
  // Declared values shorter than this are ignored: redacting "on" or "1" would garble ordinary
  // text and tell a reader what the secret is.
  static constexpr std::size_t kMinLength = 4;

  // Replaces the declared values. Thread-safe (readers see the old or the new set).
  void setValues(std::vector<std::string> values);
  // Adds one declared value. Thread-safe.
  void addValue(std::string value);

  // `text` with every declared value and every token-shaped string replaced by kRedacted.
  // Where declared values overlap, the longest is replaced first. Thread-safe.
  std::string redact(std::string_view text) const;

 private:
  std::shared_ptr<const std::vector<std::string>> current() const;
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<std::string>> values_ =
      std::make_shared<const std::vector<std::string>>();  // longest first
};

// The process's redactor: what the server declared. The log formatter (logging.hpp) and the
// places that store or send output use it.
SecretRedactor& secretRedactor();

}  // namespace runway
