#include "runway/runtime/records.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace runway::runtime {
namespace {

namespace json = boost::json;

json::array toArray(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& item : items) out.emplace_back(item);
  return out;
}

json::object toObject(const std::map<std::string, std::string>& items) {
  json::object out;
  for (const auto& [k, v] : items) out[k] = v;
  return out;
}

// Field readers over a parsed object; each failure names the field.
class Reader {
 public:
  explicit Reader(const json::object& object) : object_(object) {}

  Result<std::string> string(std::string_view key) const {
    const auto* v = object_.if_contains(key);
    if (v == nullptr || !v->is_string()) return missing(key, "a string");
    return std::string(v->as_string());
  }
  Result<std::int64_t> integer(std::string_view key) const {
    const auto* v = object_.if_contains(key);
    if (v == nullptr) return missing(key, "an integer");
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
      return static_cast<std::int64_t>(v->as_uint64());
    }
    return missing(key, "an integer");
  }
  Result<int> smallInt(std::string_view key) const {
    auto v = integer(key);
    if (!v) return fail(v.error());
    if (*v < INT32_MIN || *v > INT32_MAX) return missing(key, "a 32-bit integer");
    return static_cast<int>(*v);
  }
  Result<bool> boolean(std::string_view key) const {
    const auto* v = object_.if_contains(key);
    if (v == nullptr || !v->is_bool()) return missing(key, "a boolean");
    return v->as_bool();
  }
  Result<std::vector<std::string>> strings(std::string_view key) const {
    const auto* v = object_.if_contains(key);
    if (v == nullptr || !v->is_array()) return missing(key, "an array of strings");
    std::vector<std::string> out;
    for (const auto& item : v->as_array()) {
      if (!item.is_string()) return missing(key, "an array of strings");
      out.emplace_back(item.as_string());
    }
    return out;
  }
  Result<std::map<std::string, std::string>> stringMap(std::string_view key) const {
    const auto* v = object_.if_contains(key);
    if (v == nullptr || !v->is_object()) return missing(key, "an object of strings");
    std::map<std::string, std::string> out;
    for (const auto& [k, item] : v->as_object()) {
      if (!item.is_string()) return missing(key, "an object of strings");
      out.emplace(std::string(k), std::string(item.as_string()));
    }
    return out;
  }
  Result<json::object> object(std::string_view key) const {
    const auto* v = object_.if_contains(key);
    if (v == nullptr || !v->is_object()) return missing(key, "an object");
    return v->as_object();
  }
  Result<json::array> array(std::string_view key) const {
    const auto* v = object_.if_contains(key);
    if (v == nullptr || !v->is_array()) return missing(key, "an array");
    return v->as_array();
  }

 private:
  static tl::unexpected<Error> missing(std::string_view key, std::string_view what) {
    return fail(ErrorCode::InvalidArgument, fmt::format("field '{}' must be {}", key, what));
  }
  const json::object& object_;
};

Result<json::object> parseObject(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) return fail(ErrorCode::InvalidArgument, "invalid JSON: " + ec.message());
  if (!value.is_object()) return fail(ErrorCode::InvalidArgument, "expected a JSON object");
  return std::move(value.as_object());
}

// Unwraps a Result into `target` or returns its error from the enclosing function.
#define RUNWAY_READ(target, expr)              \
  do {                                         \
    auto read_result_ = (expr);                \
    if (!read_result_) return fail(read_result_.error()); \
    (target) = std::move(*read_result_);       \
  } while (false)

std::string_view matchName(TrafficRoute::Match m) {
  switch (m) {
    case TrafficRoute::Match::Exact: return "exact";
    case TrafficRoute::Match::Prefix: return "prefix";
    case TrafficRoute::Match::Regex: return "regex";
  }
  return "exact";
}

}  // namespace

std::string toJson(const InstanceRecord& r) {
  json::object o;
  o["environment"] = r.environment;
  o["service"] = r.service;
  o["version"] = r.version;
  o["index"] = r.index;
  o["pid"] = r.process.pid;
  o["pgid"] = r.process.pgid;
  o["start_ticks"] = r.process.start_ticks;
  o["port"] = r.port;
  o["command"] = toArray(r.command);
  o["started_at_ms"] = toUnixMillis(r.started_at);
  o["restarts"] = r.restarts;
  o["ready"] = r.ready;
  return json::serialize(o);
}

Result<InstanceRecord> parseInstanceRecord(std::string_view text) {
  auto object = parseObject(text);
  if (!object) return fail(object.error());
  const Reader in(*object);
  InstanceRecord r;
  RUNWAY_READ(r.environment, in.string("environment"));
  RUNWAY_READ(r.service, in.string("service"));
  RUNWAY_READ(r.version, in.string("version"));
  RUNWAY_READ(r.index, in.smallInt("index"));
  RUNWAY_READ(r.process.pid, in.smallInt("pid"));
  RUNWAY_READ(r.process.pgid, in.smallInt("pgid"));
  std::int64_t ticks = 0;
  RUNWAY_READ(ticks, in.integer("start_ticks"));
  r.process.start_ticks = static_cast<std::uint64_t>(ticks);
  RUNWAY_READ(r.port, in.smallInt("port"));
  RUNWAY_READ(r.command, in.strings("command"));
  std::int64_t started = 0;
  RUNWAY_READ(started, in.integer("started_at_ms"));
  r.started_at = fromUnixMillis(started);
  RUNWAY_READ(r.restarts, in.smallInt("restarts"));
  RUNWAY_READ(r.ready, in.boolean("ready"));
  if (r.process.pid <= 0 || r.process.pgid <= 0) {
    return fail(ErrorCode::InvalidArgument, "field 'pid' and 'pgid' must be positive");
  }
  return r;
}

std::string toJson(const VersionRecord& r) {
  json::object o;
  o["environment"] = r.environment;
  o["service"] = r.service;
  o["version"] = r.version;
  o["desired"] = r.desired;
  o["retiring"] = r.retiring;
  o["command"] = toArray(r.command);
  o["env"] = toObject(r.env);
  o["working_dir"] = r.working_dir;
  o["artifacts"] = toObject(r.artifacts);
  json::object health;
  health["path"] = r.health.path;
  health["initial_delay_ms"] = r.health.initial_delay.count();
  health["period_ms"] = r.health.period.count();
  health["timeout_ms"] = r.health.timeout.count();
  health["failure_threshold"] = r.health.failure_threshold;
  o["health"] = std::move(health);
  return json::serialize(o);
}

Result<VersionRecord> parseVersionRecord(std::string_view text) {
  auto object = parseObject(text);
  if (!object) return fail(object.error());
  const Reader in(*object);
  VersionRecord r;
  RUNWAY_READ(r.environment, in.string("environment"));
  RUNWAY_READ(r.service, in.string("service"));
  RUNWAY_READ(r.version, in.string("version"));
  RUNWAY_READ(r.desired, in.smallInt("desired"));
  RUNWAY_READ(r.retiring, in.boolean("retiring"));
  RUNWAY_READ(r.command, in.strings("command"));
  RUNWAY_READ(r.env, in.stringMap("env"));
  RUNWAY_READ(r.working_dir, in.string("working_dir"));
  // Records written before artifacts reached the runtime have none: the version is the artifact.
  if (object->contains("artifacts")) RUNWAY_READ(r.artifacts, in.stringMap("artifacts"));
  json::object health_object;
  RUNWAY_READ(health_object, in.object("health"));
  const Reader health(health_object);
  RUNWAY_READ(r.health.path, health.string("path"));
  std::int64_t ms = 0;
  RUNWAY_READ(ms, health.integer("initial_delay_ms"));
  r.health.initial_delay = Duration{ms};
  RUNWAY_READ(ms, health.integer("period_ms"));
  r.health.period = Duration{ms};
  RUNWAY_READ(ms, health.integer("timeout_ms"));
  r.health.timeout = Duration{ms};
  RUNWAY_READ(r.health.failure_threshold, health.smallInt("failure_threshold"));
  if (r.command.empty()) return fail(ErrorCode::InvalidArgument, "field 'command' is empty");
  return r;
}

std::string toJson(const TrafficRecord& r) {
  json::object o;
  o["environment"] = r.environment;
  o["service"] = r.service;
  o["listen_address"] = r.listen_address;
  o["listen_port"] = r.listen_port;
  o["limits"] = json::object{{"header_timeout_ms", r.limits.header_timeout.count()},
                             {"idle_timeout_ms", r.limits.idle_timeout.count()},
                             {"request_timeout_ms", r.limits.request_timeout.count()},
                             {"max_request_body", r.limits.max_request_body}};
  if (r.tls) {
    o["tls"] = json::object{{"certificate_file", r.tls->certificate_file},
                            {"key_file", r.tls->key_file}};
  }
  json::object weights;
  for (const auto& [version, weight] : r.split.weights) weights[version] = weight;
  o["weights"] = std::move(weights);
  json::array routes;
  for (const auto& route : r.split.routes) {
    json::object ro;
    ro["header"] = route.header;
    ro["cookie"] = route.cookie;
    ro["match"] = matchName(route.match);
    ro["value"] = route.value;
    ro["version"] = route.version;
    routes.emplace_back(std::move(ro));
  }
  o["routes"] = std::move(routes);
  o["sticky_cookie"] = r.split.sticky_cookie;
  o["sticky_max_age_ms"] = r.split.sticky_max_age.count();
  return json::serialize(o);
}

Result<TrafficRecord> parseTrafficRecord(std::string_view text) {
  auto object = parseObject(text);
  if (!object) return fail(object.error());
  const Reader in(*object);
  TrafficRecord r;
  RUNWAY_READ(r.environment, in.string("environment"));
  RUNWAY_READ(r.service, in.string("service"));
  RUNWAY_READ(r.listen_address, in.string("listen_address"));
  RUNWAY_READ(r.listen_port, in.smallInt("listen_port"));
  if (object->contains("limits")) {  // absent in records written before listeners had limits
    json::object limits;
    RUNWAY_READ(limits, in.object("limits"));
    const Reader limit_reader(limits);
    std::int64_t ms = 0;
    RUNWAY_READ(ms, limit_reader.integer("header_timeout_ms"));
    r.limits.header_timeout = Duration{ms};
    RUNWAY_READ(ms, limit_reader.integer("idle_timeout_ms"));
    r.limits.idle_timeout = Duration{ms};
    RUNWAY_READ(ms, limit_reader.integer("request_timeout_ms"));
    r.limits.request_timeout = Duration{ms};
    std::int64_t body = 0;
    RUNWAY_READ(body, limit_reader.integer("max_request_body"));
    if (body < 0) return fail(ErrorCode::InvalidArgument, "field 'max_request_body' is negative");
    r.limits.max_request_body = static_cast<std::uint64_t>(body);
  }
  if (object->contains("tls")) {  // absent for a plain listener
    json::object tls;
    RUNWAY_READ(tls, in.object("tls"));
    const Reader tls_reader(tls);
    ListenerTlsFiles files;
    RUNWAY_READ(files.certificate_file, tls_reader.string("certificate_file"));
    RUNWAY_READ(files.key_file, tls_reader.string("key_file"));
    r.tls = std::move(files);
  }
  json::object weights;
  RUNWAY_READ(weights, in.object("weights"));
  const Reader weight_reader(weights);
  for (const auto& [version, value] : weights) {
    int weight = 0;
    RUNWAY_READ(weight, weight_reader.smallInt(version));
    r.split.weights.emplace(std::string(version), weight);
  }
  json::array routes;
  RUNWAY_READ(routes, in.array("routes"));
  for (const auto& item : routes) {
    if (!item.is_object()) return fail(ErrorCode::InvalidArgument, "field 'routes' must hold objects");
    const Reader route_reader(item.as_object());
    TrafficRoute route;
    RUNWAY_READ(route.header, route_reader.string("header"));
    RUNWAY_READ(route.cookie, route_reader.string("cookie"));
    std::string match;
    RUNWAY_READ(match, route_reader.string("match"));
    if (match == "exact") {
      route.match = TrafficRoute::Match::Exact;
    } else if (match == "prefix") {
      route.match = TrafficRoute::Match::Prefix;
    } else if (match == "regex") {
      route.match = TrafficRoute::Match::Regex;
    } else {
      return fail(ErrorCode::InvalidArgument, "field 'match' must be exact, prefix or regex");
    }
    RUNWAY_READ(route.value, route_reader.string("value"));
    RUNWAY_READ(route.version, route_reader.string("version"));
    r.split.routes.push_back(std::move(route));
  }
  RUNWAY_READ(r.split.sticky_cookie, in.string("sticky_cookie"));
  if (object->contains("sticky_max_age_ms")) {  // absent in records written before it existed
    std::int64_t ms = 0;
    RUNWAY_READ(ms, in.integer("sticky_max_age_ms"));
    r.split.sticky_max_age = Duration{ms};
  }
  return r;
}

Result<void> writeFileAtomically(const std::filesystem::path& path, std::string_view content) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    return fail(ErrorCode::Internal,
                fmt::format("cannot create {}: {}", path.parent_path().string(), ec.message()));
  }
  const auto temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail(ErrorCode::Internal,
                fmt::format("cannot write {}: {}", temp, std::strerror(errno)));
  }
  std::size_t written = 0;
  while (written < content.size()) {
    const auto n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return fail(ErrorCode::Internal, fmt::format("cannot write {}: {}", temp, std::strerror(err)));
    }
    written += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return fail(ErrorCode::Internal,
                fmt::format("cannot rename {} to {}: {}", temp, path.string(), std::strerror(errno)));
  }
  return {};
}

Result<std::string> readWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::NotFound, fmt::format("cannot read {}", path.string()));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool describesLiveProcess(const InstanceRecord& record, ProcessLauncher& launcher) {
  const auto now = launcher.identify(record.process.pid);
  return now && now->start_ticks == record.process.start_ticks &&
         now->pgid == record.process.pgid;
}

}  // namespace runway::runtime
