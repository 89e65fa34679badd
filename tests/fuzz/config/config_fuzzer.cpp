// libFuzzer target over the configuration loader: arbitrary YAML text (an operator's typo, a
// file from elsewhere, a hostile merge request) through the YAML reader, the model, duration and
// value parsing, ${...} substitution and every cross-check. Whatever the text, the loader must
// not crash, hang or read out of bounds, and every error it reports must name a place
// (file:line:column) and say something.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "runway/config/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto result = runway::config::loadConfigText(text, "fuzz.yaml");
  for (const auto& diagnostic : result.diagnostics) {
    if (diagnostic.message.empty()) std::abort();                 // an error that says nothing
    if (diagnostic.location.file != "fuzz.yaml") std::abort();    // or names no file
    if (diagnostic.location.line < 1) std::abort();               // or no line
  }
  return 0;
}
