#pragma once

// Release evidence: what a deploy request says about the release it deploys (`runway deploy
// --commit SHA --repo OWNER/NAME --attach KIND=FILE`). Stored with the deployment when it is
// created (DeploymentRecord::evidence_json) and never changed afterwards; the pre-deployment
// checklist judges it (docs/checklist.md).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "runway/core/error.hpp"

namespace runway::store {

// The kinds of attachment a deploy request may carry, at most one of each:
//   vulnerabilities: a vulnerability report (SARIF 2.1.0, Trivy JSON or Grype JSON)
//   tests:           a test report (JUnit XML)
//   changelog:       the release's changelog entry (text)
inline constexpr std::string_view kAttachmentKinds[] = {"vulnerabilities", "tests", "changelog"};

// The largest attachment accepted, in bytes: the API's request body limit (1 MiB) must hold
// every attachment of one request, escaped as JSON.
inline constexpr std::size_t kMaxAttachmentBytes = 256 * 1024;

struct Attachment {
  std::string kind;     // one of kAttachmentKinds
  std::string name;     // the file it was read from ("trivy.json"), named in the gate's reasons
  std::string content;  // the file as read: UTF-8 text, at most kMaxAttachmentBytes
  bool operator==(const Attachment&) const = default;
};

struct ReleaseEvidence {
  std::string commit;      // the git commit: 7 to 64 lowercase hex digits; "" = not given
  std::string repository;  // its source repository, "owner/name"; "" = not given
  std::vector<Attachment> attachments;  // at most one per kind

  bool empty() const { return commit.empty() && repository.empty() && attachments.empty(); }
  // The attachment of `kind`, or nullptr.
  const Attachment* attachment(std::string_view kind) const;
  bool operator==(const ReleaseEvidence&) const = default;
};

// InvalidArgument naming the field (commit, repository, attachments.KIND) when the commit is
// not 7..64 hex digits, the repository not "owner/name" in GitHub's characters, an attachment's
// kind unknown or repeated, its name empty, its content empty, larger than kMaxAttachmentBytes
// or not UTF-8.
Result<void> validateEvidence(const ReleaseEvidence& evidence);

// {"commit": "...", "repository": "...", "attachments": [{"kind", "name", "content"}]}; the
// stored form. parseEvidence("{}") is empty evidence; InvalidArgument for anything else that
// is not this shape.
std::string toJson(const ReleaseEvidence& evidence);
Result<ReleaseEvidence> parseEvidence(std::string_view json);

}  // namespace runway::store
