// libFuzzer target over the router's admin table (the body of PUT /table on the admin socket,
// and the table persisted for a restart): arbitrary bytes through tableFromJson, then, for what
// it accepts, compileTable (what the data plane serves from) and a round trip through toJson.
// Nothing may crash, and an accepted table must read back as itself.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "routing.hpp"
#include "runway/router/routing_table.hpp"
#include "stats_store.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace runway::router;
  SeriesRegistry registry;  // per input: the series a table registers must not pile up
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto table = tableFromJson(text);
  if (!table) return 0;
  const auto again = tableFromJson(toJson(*table));
  if (!again) std::abort();
  if (!(*again == *table)) std::abort();
  const auto compiled = compileTable(*table, registry);
  if (!compiled) std::abort();
  return 0;
}
