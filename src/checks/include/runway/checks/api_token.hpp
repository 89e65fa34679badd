#pragma once

// The token a SaaS API of the checklist is read with (GitHub, PagerDuty): from a file, else from
// an environment variable of the server. Read when an item is judged; never logged.

#include <string>
#include <string_view>

#include "runway/core/error.hpp"

namespace runway::checks {

// The contents of `file` (trimmed) when `file` is set, else the variable `env_var`. NotFound
// naming the file, or `service` and both settings (`settings` is where they are configured,
// e.g. "github"), when there is none.
Result<std::string> readApiToken(const std::string& file, const std::string& env_var, std::string_view service,
                                 std::string_view settings);

}  // namespace runway::checks
