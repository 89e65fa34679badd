#include "runway/api/tokens.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <utility>

#include <boost/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

namespace runway::api {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kIdBytes = 8;       // 16 hex characters
constexpr std::size_t kSaltBytes = 16;    // 32 hex characters
constexpr std::size_t kSecretBytes = 32;  // 43 base64url characters
constexpr std::size_t kIdChars = 2 * kIdBytes;
constexpr std::size_t kSecretChars = (kSecretBytes * 4 + 2) / 3;
constexpr std::size_t kBearerChars = kTokenPrefix.size() + kIdChars + 1 + kSecretChars;
constexpr std::size_t kMaxNameChars = 64;
constexpr std::size_t kMaxTokenFileBytes = 4096;
constexpr std::size_t kDigestBytes = 32;

constexpr std::string_view kInvalidToken = "invalid token";
constexpr std::string_view kRevokedToken = "token revoked";
constexpr std::string_view kExpiredToken = "token expired";

using Digest = std::array<unsigned char, kDigestBytes>;

std::string toHex(std::span<const unsigned char> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0x0f]);
  }
  return hex;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Lowercase hex only, as this module writes it; nullopt for anything else.
std::optional<std::vector<unsigned char>> fromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::vector<unsigned char> bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = hexValue(hex[i]);
    const int low = hexValue(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes.push_back(static_cast<unsigned char>((high << 4) | low));
  }
  return bytes;
}

constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// RFC 4648 §5 without padding.
std::string toBase64Url(std::span<const unsigned char> bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) |
                            std::uint32_t{bytes[i + 2]};
    out.push_back(kBase64Url[(n >> 18) & 63]);
    out.push_back(kBase64Url[(n >> 12) & 63]);
    out.push_back(kBase64Url[(n >> 6) & 63]);
    out.push_back(kBase64Url[n & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t n = std::uint32_t{bytes[i]} << 16;
    out.push_back(kBase64Url[(n >> 18) & 63]);
    out.push_back(kBase64Url[(n >> 12) & 63]);
  } else if (rest == 2) {
    const std::uint32_t n = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    out.push_back(kBase64Url[(n >> 18) & 63]);
    out.push_back(kBase64Url[(n >> 12) & 63]);
    out.push_back(kBase64Url[(n >> 6) & 63]);
  }
  return out;
}

bool isBase64UrlChar(char c) { return kBase64Url.find(c) != std::string_view::npos; }

Result<std::vector<unsigned char>> randomBytes(std::size_t count) {
  std::vector<unsigned char> bytes(count);
  if (RAND_bytes(bytes.data(), static_cast<int>(count)) != 1) {
    return fail(ErrorCode::Internal, "the system random generator failed (OpenSSL RAND_bytes)");
  }
  return bytes;
}

// SHA-256(salt || secret).
Result<Digest> saltedHash(std::span<const unsigned char> salt, std::string_view secret) {
  std::vector<unsigned char> input(salt.begin(), salt.end());
  input.insert(input.end(), secret.begin(), secret.end());
  Digest digest{};
  unsigned int size = 0;
  const int ok = EVP_Digest(input.data(), input.size(), digest.data(), &size, EVP_sha256(), nullptr);
  OPENSSL_cleanse(input.data(), input.size());
  if (ok != 1 || size != kDigestBytes) {
    return fail(ErrorCode::Internal, "SHA-256 failed (OpenSSL EVP_Digest)");
  }
  return digest;
}

// A name quoted in an error message, cut short so a huge input does not make a huge message.
std::string shownName(std::string_view text) {
  constexpr std::size_t kShown = 40;
  if (text.size() <= kShown) return "\"" + std::string(text) + "\"";
  return "\"" + std::string(text.substr(0, kShown)) + "...\"";
}

std::string describeChar(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x21 && byte < 0x7f) return std::string("'") + c + "'";
  static constexpr char kDigits[] = "0123456789abcdef";
  return std::string("byte 0x") + kDigits[byte >> 4] + kDigits[byte & 0x0f];
}

bool isLower(char c) { return c >= 'a' && c <= 'z'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

// The parts of "rwy_<id>_<secret>"; nullopt for anything malformed.
struct ParsedBearer {
  std::string_view id;
  std::string_view secret;
};

std::optional<ParsedBearer> parseBearer(std::string_view bearer) {
  if (bearer.size() != kBearerChars) return std::nullopt;
  if (bearer.substr(0, kTokenPrefix.size()) != kTokenPrefix) return std::nullopt;
  const std::string_view id = bearer.substr(kTokenPrefix.size(), kIdChars);
  if (!std::all_of(id.begin(), id.end(), [](char c) { return hexValue(c) >= 0; })) {
    return std::nullopt;
  }
  if (bearer[kTokenPrefix.size() + kIdChars] != '_') return std::nullopt;
  const std::string_view secret = bearer.substr(kTokenPrefix.size() + kIdChars + 1);
  if (!std::all_of(secret.begin(), secret.end(), isBase64UrlChar)) return std::nullopt;
  return ParsedBearer{id, secret};
}

class StoreAuthenticatorImpl final : public Authenticator {
 public:
  StoreAuthenticatorImpl(std::shared_ptr<store::Store> store, std::function<TimePoint()> now)
      : store_(std::move(store)), now_(std::move(now)) {}

  // Authenticator
  Result<Identity> authenticate(std::string_view bearer_token) override {
    const auto parsed = parseBearer(bearer_token);
    if (!parsed) return fail(ErrorCode::Unauthenticated, std::string(kInvalidToken));
    const std::string id(parsed->id);
    auto record = store_->getToken(id);
    if (!record) {
      if (record.error().code == ErrorCode::NotFound) {
        return fail(ErrorCode::Unauthenticated, std::string(kInvalidToken));
      }
      return fail(ErrorCode::Unavailable,
                  "cannot check the token: the token store failed: " + record.error().message);
    }
    const auto salt = fromHex(record->salt);
    const auto stored_hash = fromHex(record->hash);
    if (!salt || salt->empty() || !stored_hash || stored_hash->size() != kDigestBytes) {
      return fail(ErrorCode::Unavailable,
                  "cannot check the token: the token store holds a damaged row for token " + id);
    }
    auto computed = saltedHash(*salt, parsed->secret);
    if (!computed) return fail(std::move(computed).error());
    if (CRYPTO_memcmp(computed->data(), stored_hash->data(), kDigestBytes) != 0) {
      return fail(ErrorCode::Unauthenticated, std::string(kInvalidToken));
    }
    // Checked after the secret, so only the token's holder learns that it was revoked.
    if (record->revoked_at) return fail(ErrorCode::Unauthenticated, std::string(kRevokedToken));
    if (record->expires_at && now_() >= *record->expires_at) {
      return fail(ErrorCode::Unauthenticated, std::string(kExpiredToken));
    }
    return Identity{record->name, record->roles, record->id};
  }

 private:
  std::shared_ptr<store::Store> store_;
  std::function<TimePoint()> now_;
};

// An Authenticator over a Store the caller owns (ensureBootstrapToken takes a reference), at a
// fixed time.
std::shared_ptr<Authenticator> borrowedStoreAuthenticator(store::Store& store, TimePoint now) {
  return std::make_shared<StoreAuthenticatorImpl>(
      std::shared_ptr<store::Store>(&store, [](store::Store*) {}), [now] { return now; });
}

std::string errnoText(int error) { return std::strerror(error); }

Result<void> ensurePrivateDirectory(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  if (fs::exists(dir, ec)) {
    return fail(ErrorCode::Unavailable,
                "data directory " + dir.string() + " exists but is not a directory");
  }
  if (dir.has_parent_path()) {
    fs::create_directories(dir.parent_path(), ec);
    if (ec) {
      return fail(ErrorCode::Unavailable,
                  "cannot create directory " + dir.parent_path().string() + ": " + ec.message());
    }
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return fail(ErrorCode::Unavailable,
                "cannot create data directory " + dir.string() + ": " + errnoText(errno));
  }
  // mkdir applied the umask; the data directory holds secrets, so set 0700 exactly.
  if (::chmod(dir.c_str(), 0700) != 0) {
    return fail(ErrorCode::Unavailable,
                "cannot set mode 0700 on " + dir.string() + ": " + errnoText(errno));
  }
  return {};
}

Result<void> writeAll(int fd, std::string_view content, const fs::path& path) {
  while (!content.empty()) {
    const ssize_t written = ::write(fd, content.data(), content.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorCode::Unavailable, "cannot write " + path.string() + ": " + errnoText(errno));
    }
    content.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

// A temporary file (mode 0600) next to its final path, removed on destruction unless renamed.
class PrivateTempFile {
 public:
  static Result<PrivateTempFile> create(const fs::path& target, std::string_view content) {
    std::string pattern = (target.parent_path() / ("." + target.filename().string() + ".XXXXXX"))
                              .string();
    const int fd = ::mkstemp(pattern.data());  // O_EXCL, mode 0600
    if (fd < 0) {
      return fail(ErrorCode::Unavailable,
                  "cannot create a file in " + target.parent_path().string() + ": " +
                      errnoText(errno));
    }
    PrivateTempFile file(pattern);
    Result<void> written = writeAll(fd, content, file.path_);
    if (written && ::fchmod(fd, 0600) != 0) {
      written = fail(ErrorCode::Unavailable,
                     "cannot set mode 0600 on " + file.path_.string() + ": " + errnoText(errno));
    }
    if (written && ::fsync(fd) != 0) {
      written = fail(ErrorCode::Unavailable,
                     "cannot sync " + file.path_.string() + ": " + errnoText(errno));
    }
    ::close(fd);
    if (!written) return fail(std::move(written).error());
    return file;
  }

  PrivateTempFile(PrivateTempFile&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  PrivateTempFile& operator=(PrivateTempFile&&) = delete;
  PrivateTempFile(const PrivateTempFile&) = delete;
  PrivateTempFile& operator=(const PrivateTempFile&) = delete;
  ~PrivateTempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  // Atomically replaces `target` with this file and syncs the directory.
  Result<void> renameTo(const fs::path& target) {
    if (::rename(path_.c_str(), target.c_str()) != 0) {
      return fail(ErrorCode::Unavailable,
                  "cannot write " + target.string() + ": rename failed: " + errnoText(errno));
    }
    path_.clear();
    // Best effort: the rename is durable once the directory entry is on disk.
    const int dir_fd = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
    return {};
  }

 private:
  explicit PrivateTempFile(fs::path path) : path_(std::move(path)) {}
  fs::path path_;
};

std::string tokenCreatedData(const store::TokenRecord& record) {
  boost::json::array roles;
  for (const std::string& role : record.roles) roles.emplace_back(role);
  boost::json::object data;
  data["id"] = record.id;
  data["name"] = record.name;
  data["roles"] = std::move(roles);
  data["created_by"] = record.created_by;
  return boost::json::serialize(data);
}

}  // namespace

Result<void> validateTokenName(std::string_view name) {
  if (name.empty()) return fail(ErrorCode::InvalidArgument, "token name is empty");
  if (name.size() > kMaxNameChars) {
    return fail(ErrorCode::InvalidArgument,
                "token name " + shownName(name) + " is longer than 64 characters");
  }
  if (!isLower(name[0]) && !isDigit(name[0])) {
    return fail(ErrorCode::InvalidArgument,
                "token name " + shownName(name) + " must start with a lowercase letter or a digit");
  }
  for (char c : name) {
    if (!isLower(c) && !isDigit(c) && c != '.' && c != '_' && c != '@' && c != '-') {
      return fail(ErrorCode::InvalidArgument,
                  "token name " + shownName(name) + " contains " + describeChar(c) +
                      "; use lowercase letters, digits, '.', '_', '@' and '-'");
    }
  }
  return {};
}

Result<void> validateRoleName(std::string_view role) {
  if (role.empty()) return fail(ErrorCode::InvalidArgument, "role name is empty");
  if (role.size() > kMaxNameChars) {
    return fail(ErrorCode::InvalidArgument,
                "role " + shownName(role) + " is longer than 64 characters");
  }
  if (!isLower(role[0])) {
    return fail(ErrorCode::InvalidArgument,
                "role " + shownName(role) + " must start with a lowercase letter");
  }
  for (char c : role) {
    if (!isLower(c) && !isDigit(c) && c != '-') {
      return fail(ErrorCode::InvalidArgument,
                  "role " + shownName(role) + " contains " + describeChar(c) +
                      "; use lowercase letters, digits and '-'");
    }
  }
  return {};
}

Result<std::string> randomBase64Url(std::size_t bytes) {
  auto random = randomBytes(bytes);
  if (!random) return fail(std::move(random).error());
  std::string text = toBase64Url(*random);
  OPENSSL_cleanse(random->data(), random->size());
  return text;
}

Result<IssuedToken> issueToken(std::string name, std::vector<std::string> roles,
                               std::string created_by, TimePoint now, std::optional<Duration> ttl) {
  if (auto valid = validateTokenName(name); !valid) return fail(std::move(valid).error());
  if (ttl && (*ttl < kMinTokenTtl || *ttl > kMaxTokenTtl)) {
    return fail(ErrorCode::InvalidArgument,
                "a token's lifetime must be from 1m to 3650d (e.g. 24h, 30d)");
  }
  if (roles.empty()) {
    return fail(ErrorCode::InvalidArgument, "token " + shownName(name) + " needs at least one role");
  }
  for (std::size_t i = 0; i < roles.size(); ++i) {
    if (auto valid = validateRoleName(roles[i]); !valid) return fail(std::move(valid).error());
    if (std::find(roles.begin(), roles.begin() + static_cast<std::ptrdiff_t>(i), roles[i]) !=
        roles.begin() + static_cast<std::ptrdiff_t>(i)) {
      return fail(ErrorCode::InvalidArgument,
                  "role " + shownName(roles[i]) + " is given twice for token " + shownName(name));
    }
  }
  auto id = randomBytes(kIdBytes);
  if (!id) return fail(std::move(id).error());
  auto salt = randomBytes(kSaltBytes);
  if (!salt) return fail(std::move(salt).error());
  auto secret_bytes = randomBytes(kSecretBytes);
  if (!secret_bytes) return fail(std::move(secret_bytes).error());
  std::string secret = toBase64Url(*secret_bytes);
  OPENSSL_cleanse(secret_bytes->data(), secret_bytes->size());
  auto hash = saltedHash(*salt, secret);
  if (!hash) return fail(std::move(hash).error());

  IssuedToken issued;
  issued.record.id = toHex(*id);
  issued.record.name = std::move(name);
  issued.record.roles = std::move(roles);
  issued.record.salt = toHex(*salt);
  issued.record.hash = toHex(*hash);
  issued.record.created_by = std::move(created_by);
  issued.record.created_at = now;
  if (ttl) issued.record.expires_at = now + *ttl;
  issued.bearer = std::string(kTokenPrefix) + issued.record.id + "_" + secret;
  OPENSSL_cleanse(secret.data(), secret.size());
  return issued;
}

std::shared_ptr<Authenticator> storeAuthenticator(std::shared_ptr<store::Store> store,
                                                  std::shared_ptr<Clock> clock) {
  if (!clock) clock = systemClock();
  return std::make_shared<StoreAuthenticatorImpl>(std::move(store),
                                                  [clock] { return clock->now(); });
}

Result<std::string> readTokenFile(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR) {
      return fail(ErrorCode::NotFound, "token file " + path.string() + " does not exist");
    }
    if (error == EACCES || error == EPERM) {
      return fail(ErrorCode::PermissionDenied,
                  "cannot read token file " + path.string() + ": " + errnoText(error));
    }
    return fail(ErrorCode::Unavailable,
                "cannot open token file " + path.string() + ": " + errnoText(error));
  }
  std::string content;
  std::array<char, 1024> buffer{};
  Result<void> status;
  while (true) {
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      status = fail(ErrorCode::Unavailable,
                    "cannot read token file " + path.string() + ": " + errnoText(errno));
      break;
    }
    if (got == 0) break;
    content.append(buffer.data(), static_cast<std::size_t>(got));
    if (content.size() > kMaxTokenFileBytes) {
      status = fail(ErrorCode::InvalidArgument,
                    "token file " + path.string() + " is larger than 4 KiB; it is not a token file");
      break;
    }
  }
  ::close(fd);
  if (!status) {
    OPENSSL_cleanse(content.data(), content.size());
    return fail(std::move(status).error());
  }
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const auto first = content.find_first_not_of(kSpace);
  if (first == std::string::npos) {
    return fail(ErrorCode::InvalidArgument, "token file " + path.string() + " is empty");
  }
  const auto last = content.find_last_not_of(kSpace);
  std::string bearer = content.substr(first, last - first + 1);
  OPENSSL_cleanse(content.data(), content.size());
  return bearer;
}

Result<bool> ensureBootstrapToken(store::Store& store, const fs::path& data_dir, TimePoint now) {
  if (auto made = ensurePrivateDirectory(data_dir); !made) return fail(std::move(made).error());
  const fs::path file = data_dir / kAdminTokenFile;

  std::string why;  // for the event and the log: why a new token was needed
  auto existing = readTokenFile(file);
  if (existing) {
    auto who = borrowedStoreAuthenticator(store, now)->authenticate(*existing);
    OPENSSL_cleanse(existing->data(), existing->size());
    if (who && hasRole(*who, "admin")) return false;
    if (!who && who.error().code != ErrorCode::Unauthenticated) return fail(who.error());
    if (who) {
      why = file.string() + " holds a token without the admin role";
    } else if (who.error().message == kRevokedToken) {
      why = file.string() + " holds a revoked token";
    } else if (who.error().message == kExpiredToken) {
      why = file.string() + " holds an expired token";
    } else {
      why = file.string() + " holds an invalid token";
    }
  } else if (existing.error().code == ErrorCode::NotFound) {
    why = file.string() + " does not exist";
  } else if (existing.error().code == ErrorCode::InvalidArgument) {
    why = existing.error().message;  // empty or oversized: not a token file, replace it
  } else {
    return fail(existing.error());
  }

  auto issued = issueToken("admin", {"admin"}, "bootstrap", now);
  if (!issued) return fail(std::move(issued).error());
  const store::TokenRecord& record = issued->record;
  // The bearer goes to a temporary file before the token is stored, so a full disk or a
  // read-only directory fails before anything is committed; the rename after the commit makes
  // it visible. Only a failed rename leaves a stored token nobody holds (it can be revoked).
  auto temp = PrivateTempFile::create(file, issued->bearer + "\n");
  OPENSSL_cleanse(issued->bearer.data(), issued->bearer.size());
  if (!temp) return fail(std::move(temp).error());

  store::NewEvent created{now,         "bootstrap", "token.created", record.id,
                          "first start: " + why, tokenCreatedData(record)};
  if (auto stored = store.createToken(record, {created}); !stored) {
    return fail(stored.error().code,
                "cannot store the bootstrap admin token: " + stored.error().message);
  }
  if (auto renamed = temp->renameTo(file); !renamed) return fail(std::move(renamed).error());
  spdlog::info("wrote a new admin token {} to {} ({})", record.id, file.string(), why);
  return true;
}

}  // namespace runway::api
