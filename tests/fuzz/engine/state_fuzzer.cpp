// libFuzzer target over the engine's persisted state (DeploymentRecord::state_json, which a
// restart reads back and the controller acts on): arbitrary bytes through stateFromJson. It must
// never crash, and whatever it accepts must round-trip exactly (stateFromJson(stateToJson(s))
// == s), the promise engine/json.hpp makes and crash recovery depends on.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "runway/engine/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto state = runway::engine::stateFromJson(text);
  if (!state) return 0;
  const auto written = runway::engine::stateToJson(*state);
  const auto again = runway::engine::stateFromJson(written);
  if (!again) std::abort();          // it wrote what it cannot read
  if (!(*again == *state)) std::abort();  // or read back something else
  return 0;
}
