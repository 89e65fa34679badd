#pragma once

// The audit key: the secret the event log's chain links are HMAC-SHA256s with, kept outside
// the database (DATA/audit.key, or the file `runway serve --audit-key-file` names). Whoever can
// write the database but not read the key cannot rewrite history without `runway audit verify`
// finding it.
//
// A key file is text: the secret as hexadecimal (at least 64 characters: 32 bytes) on the first
// line; runway's own key files add a second line "since N": the first event linked with the key
// (events before it were written before the store had a key and are verified by SHA-256 alone).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "runway/core/error.hpp"

namespace runway::store {

struct AuditKey {
  std::string secret;                 // the key bytes (at least 32); never logged or shown
  std::string id;                     // auditKeyId(secret): how reports name the key
  std::optional<std::int64_t> since;  // first seq the key links; nullopt = not recorded
  std::string file;                   // where it was read from ("" = not from a file)
};

// The public name of a key: "k" + the first 16 hex characters of SHA-256("runway audit key " ||
// secret). Tells keys apart; says nothing usable about the secret.
std::string auditKeyId(std::string_view secret);

// A key from its secret bytes (REQUIRES: at least 32 bytes).
AuditKey auditKeyFromSecret(std::string secret, std::optional<std::int64_t> since = std::nullopt);

// Reads a key file. NotFound (no file), PermissionDenied (unreadable), InvalidArgument (not a
// key file: the message never quotes the content), Unavailable (other I/O errors).
Result<AuditKey> readAuditKey(const std::filesystem::path& file);

// The store's key file: read when it exists; otherwise created (32 random bytes from OpenSSL,
// mode 0600, written to a temporary file and renamed) with "since" = the seq after the last
// event of the store at `db_path` (1 for a new or missing store). Errors as readAuditKey, and
// Unavailable when the file cannot be written or the store read.
Result<AuditKey> ensureAuditKey(const std::filesystem::path& file, const std::string& db_path);
// The same with "since" given: for a store that is not an SQLite file (PostgreSQL), whose
// caller knows the seq its next event will get.
Result<AuditKey> ensureAuditKey(const std::filesystem::path& file, std::int64_t since_if_created);

}  // namespace runway::store
