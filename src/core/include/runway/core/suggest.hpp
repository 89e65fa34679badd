#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runway {

// Levenshtein edit distance between two strings (bytes).
std::size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a plausible typo (distance at
// most max(1, word.size() / 3), or `word` is a prefix of it); nullopt otherwise. Ties go to the
// earlier candidate.
std::optional<std::string> closestMatch(std::string_view word,
                                        const std::vector<std::string>& candidates);

}  // namespace runway
