#pragma once

// The release evidence flags of `runway deploy` (and `runway checklist`): --commit SHA,
// --repo OWNER/NAME, --attach KIND=FILE (repeatable). The files are read here and their contents
// sent; the server validates the whole (store::validateEvidence).

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json/object.hpp>

#include "runway/core/error.hpp"

namespace runway::cli {

struct EvidenceFlags {
  std::string commit;
  std::string repository;
  std::vector<std::string> attach;  // "KIND=FILE"
};

std::shared_ptr<EvidenceFlags> addEvidenceFlags(CLI::App* command);

// Adds "commit", "repository" and "attachments" ({"KIND": {"name", "content"}}) to a request
// body. InvalidArgument (exit 2) for an --attach that is not KIND=FILE, an unknown or repeated
// kind, or a file that cannot be read or is larger than store::kMaxAttachmentBytes, naming it.
Result<void> addEvidence(const EvidenceFlags& flags, boost::json::object& body);

}  // namespace runway::cli
