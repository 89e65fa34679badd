#include "runway/store/audit_key.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "chain.hpp"
#include "sqlite.hpp"

namespace runway::store {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kMaxKeyFileBytes = 4096;

int keyHexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string keyToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0x0f]);
  }
  return hex;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The seq after the last event of the store at `db_path`: 1 for a missing or empty store.
Result<std::int64_t> nextEventSeq(const std::string& db_path) {
  std::error_code ec;
  if (!fs::exists(db_path, ec)) return std::int64_t{1};
  auto conn = sqlite::Connection::open(db_path, /*create=*/false);
  if (!conn) return fail(ErrorCode::Unavailable, "cannot read the store " + db_path + ": " + conn.error().message);
  auto table = conn->prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'event_chain_head'");
  if (!table) return fail(ErrorCode::Unavailable, "cannot read the store " + db_path + ": " + table.error().message);
  auto has = table->step();
  if (!has || !*has || table->int64(0) == 0) return std::int64_t{1};
  auto head = conn->prepare("SELECT seq FROM event_chain_head WHERE id = 1");
  if (!head) return fail(ErrorCode::Unavailable, "cannot read the store " + db_path + ": " + head.error().message);
  auto found = head->step();
  if (!found) return fail(ErrorCode::Unavailable, "cannot read the store " + db_path + ": " + found.error().message);
  return *found ? head->int64(0) + 1 : std::int64_t{1};
}

}  // namespace

std::string auditKeyId(std::string_view secret) {
  std::string input = "runway audit key ";
  input.append(secret);
  std::string id = "k" + sha256Hex(input).substr(0, 16);
  OPENSSL_cleanse(input.data(), input.size());
  return id;
}

AuditKey auditKeyFromSecret(std::string secret, std::optional<std::int64_t> since) {
  AuditKey key;
  key.id = auditKeyId(secret);
  key.secret = std::move(secret);
  key.since = since;
  return key;
}

Result<AuditKey> readAuditKey(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return fail(ErrorCode::NotFound, "no audit key file " + file.string());
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return fail(errno == EACCES ? ErrorCode::PermissionDenied : ErrorCode::Unavailable,
                "cannot read the audit key file " + file.string() + ": " + std::strerror(errno));
  }
  std::string content(kMaxKeyFileBytes + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  content.resize(static_cast<std::size_t>(in.gcount()));
  const auto invalid = [&](std::string_view why) {
    OPENSSL_cleanse(content.data(), content.size());
    return fail(ErrorCode::InvalidArgument, "the audit key file " + file.string() + " is not a key file: " +
                                                std::string(why));
  };
  if (content.size() > kMaxKeyFileBytes) return invalid("larger than 4 KiB");
  std::string_view rest = content;
  const auto newline = rest.find('\n');
  const std::string_view hex = trimmed(rest.substr(0, newline));
  rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
  if (hex.size() < 2 * kKeyBytes || hex.size() % 2 != 0) {
    return invalid("the first line must be at least 64 hexadecimal characters (32 bytes), an even number");
  }
  std::string secret;
  secret.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = keyHexValue(hex[i]);
    const int low = keyHexValue(hex[i + 1]);
    if (high < 0 || low < 0) {
      OPENSSL_cleanse(secret.data(), secret.size());
      return invalid("the first line must be hexadecimal");
    }
    secret.push_back(static_cast<char>((high << 4) | low));
  }
  std::optional<std::int64_t> since;
  while (!rest.empty()) {
    const auto end = rest.find('\n');
    const std::string_view line = trimmed(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (line.empty()) continue;
    std::int64_t n = 0;
    constexpr std::string_view kSince = "since ";
    if (!line.starts_with(kSince) ||
        std::from_chars(line.data() + kSince.size(), line.data() + line.size(), n).ec != std::errc{} || n < 1) {
      OPENSSL_cleanse(secret.data(), secret.size());
      return invalid("after the key, only a line \"since N\" (N >= 1) may follow");
    }
    since = n;
  }
  OPENSSL_cleanse(content.data(), content.size());
  AuditKey key = auditKeyFromSecret(std::move(secret), since);
  key.file = file.string();
  return key;
}

Result<AuditKey> ensureAuditKey(const fs::path& file, const std::string& db_path) {
  auto existing = readAuditKey(file);
  if (existing || existing.error().code != ErrorCode::NotFound) return existing;
  auto since = nextEventSeq(db_path);
  if (!since) return fail(since.error());
  return ensureAuditKey(file, *since);
}

Result<AuditKey> ensureAuditKey(const fs::path& file, std::int64_t since_if_created) {
  auto existing = readAuditKey(file);
  if (existing || existing.error().code != ErrorCode::NotFound) return existing;
  const std::optional<std::int64_t> since = since_if_created;
  std::string secret(kKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), static_cast<int>(secret.size())) != 1) {
    return fail(ErrorCode::Internal, "the system random generator failed (OpenSSL RAND_bytes)");
  }
  std::string text = keyToHex(secret) + "\nsince " + std::to_string(*since) + "\n";
  std::string temp = (file.parent_path() / (file.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkstemp(temp.data());  // O_EXCL, mode 0600
  if (fd < 0) {
    OPENSSL_cleanse(text.data(), text.size());
    return fail(ErrorCode::Unavailable, "cannot create the audit key file " + file.string() + ": " + std::strerror(errno));
  }
  bool ok = ::fchmod(fd, 0600) == 0;
  std::size_t written = 0;
  while (ok && written < text.size()) {
    const auto n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    if (n > 0) written += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  OPENSSL_cleanse(text.data(), text.size());
  // link(2) fails when the file appeared meanwhile: never replace a key that exists.
  if (!ok || ::link(temp.c_str(), file.c_str()) != 0) {
    const int err = ok ? errno : saved;
    ::unlink(temp.c_str());
    if (err == EEXIST) return readAuditKey(file);
    return fail(ErrorCode::Unavailable, "cannot write the audit key file " + file.string() + ": " + std::strerror(err));
  }
  ::unlink(temp.c_str());
  AuditKey key = auditKeyFromSecret(std::move(secret), *since);
  key.file = file.string();
  return key;
}

}  // namespace runway::store
