#include "output.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <memory>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace runway::cli {

namespace json = boost::json;

namespace {

void emit(YAML::Emitter& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: out << YAML::Null; break;
    case json::kind::bool_: out << v.get_bool(); break;
    case json::kind::int64: out << v.get_int64(); break;
    case json::kind::uint64: out << v.get_uint64(); break;
    case json::kind::double_: out << v.get_double(); break;
    case json::kind::string: {
      // Quote strings YAML would read back as something else (numbers, booleans, null, empty).
      const std::string s(v.get_string());
      out << YAML::DoubleQuoted << s;
      break;
    }
    case json::kind::array:
      out << YAML::BeginSeq;
      for (const auto& x : v.get_array()) emit(out, x);
      out << YAML::EndSeq;
      break;
    case json::kind::object:
      out << YAML::BeginMap;
      for (const auto& kv : v.get_object()) {
        out << YAML::Key << std::string(kv.key()) << YAML::Value;
        emit(out, kv.value());
      }
      out << YAML::EndMap;
      break;
  }
}

const json::value& nullValue() {
  static const json::value n = nullptr;
  return n;
}

}  // namespace

std::shared_ptr<std::string> addOutputFlag(CLI::App* command) {
  auto output = std::make_shared<std::string>("table");
  command->add_option("-o,--output", *output, "Output format: table (default), json or yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}));
  return output;
}

void printJson(const json::value& v) { fmt::print("{}\n", json::serialize(v)); }

void printYaml(const json::value& v) {
  YAML::Emitter out;
  emit(out, v);
  fmt::print("{}\n", out.c_str());
}

bool printStructured(const std::string& format, const json::value& v) {
  if (format == "json") {
    printJson(v);
    return true;
  }
  if (format == "yaml") {
    printYaml(v);
    return true;
  }
  return false;
}

const json::value& member(const json::value& v, const char* key) {
  if (!v.is_object()) return nullValue();
  const auto* m = v.get_object().if_contains(key);
  return m == nullptr ? nullValue() : *m;
}

std::string metricLabel(const json::value& metric) {
  const std::string service = text(metric, "service");
  return text(metric, "metric") + (service.empty() ? "" : "@" + service);
}

std::string text(const json::value& v, const char* key) {
  const auto& f = member(v, key);
  if (f.is_string()) return std::string(f.get_string());
  if (f.is_null()) return "";
  return json::serialize(f);
}

long long integer(const json::value& v, const char* key) {
  const auto& f = member(v, key);
  if (f.is_int64()) return f.get_int64();
  if (f.is_uint64()) return static_cast<long long>(f.get_uint64());
  if (f.is_double()) return static_cast<long long>(f.get_double());
  return 0;
}

std::string joinStrings(const json::value& array, const char* separator) {
  std::string out;
  if (!array.is_array()) return out;
  for (const auto& x : array.get_array()) {
    if (!x.is_string()) continue;
    if (!out.empty()) out += separator;
    out += std::string(x.get_string());
  }
  return out;
}

bool validName(const std::string& s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}

std::string orDash(const std::string& s) { return s.empty() ? "-" : s; }

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void onInterrupt(int /*signal*/) { g_interrupted = 1; }
}  // namespace

InterruptGuard::InterruptGuard() {
  g_interrupted = 0;
  struct sigaction sa {};
  sa.sa_handler = onInterrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  ::sigaction(SIGINT, &sa, &previous_);
}

bool isEnded(const std::string& phase) {
  return phase == "Succeeded" || phase == "RolledBack" || phase == "Failed" || phase == "Rejected" ||
         phase == "Superseded" || phase == "Degraded";
}

std::string weightsText(const boost::json::value& deployment) {
  std::string out;
  const auto& services = member(deployment, "services");
  if (!services.is_array()) return out;
  for (const auto& s : services.get_array()) {
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}%", text(s, "name"), integer(s, "weight"));
  }
  return out;
}

InterruptGuard::~InterruptGuard() { ::sigaction(SIGINT, &previous_, nullptr); }

bool InterruptGuard::interrupted() { return g_interrupted != 0; }

bool sleepUnlessInterrupted(Duration d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (g_interrupted != 0) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return g_interrupted == 0;
}

std::string clockTime() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  std::array<char, 16> buf{};
  std::strftime(buf.data(), buf.size(), "%H:%M:%S", &tm);
  return buf.data();
}

std::size_t terminalWidth() {
  if (::isatty(STDOUT_FILENO) == 0) return 0;
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) return 80;
  return ws.ws_col;
}

void ScreenRedraw::draw(const std::string& view) {
  std::string screen;
  if (lines_ > 0) screen += fmt::format("\x1b[{}A\x1b[J", lines_);
  lines_ = 0;
  for (std::size_t pos = 0; pos < view.size();) {
    auto end = view.find('\n', pos);
    if (end == std::string::npos) end = view.size();
    std::string line = view.substr(pos, end - pos);
    if (width_ > 0 && line.size() >= width_) line.resize(width_ - 1);
    screen += line + "\n";
    ++lines_;
    pos = end + 1;
  }
  fmt::print("{}", screen);
  std::fflush(stdout);
}

}  // namespace runway::cli
