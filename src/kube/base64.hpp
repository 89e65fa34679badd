#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace runway::kube::detail {

// Standard base64 (RFC 4648 §4, with padding; whitespace ignored) -> bytes; nullopt when the
// text is not base64.
std::optional<std::string> decodeBase64(std::string_view text);

// Bytes -> standard base64 with padding.
std::string encodeBase64(std::string_view bytes);

}  // namespace runway::kube::detail
