#include "logs_api.hpp"

#include <algorithm>
#include <charconv>
#include <deque>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/runtime/runtime.hpp"

namespace runway::api {
namespace {

namespace json = boost::json;
using Ctx = std::shared_ptr<ApiContext>;

constexpr int kDefaultTail = 100;
constexpr int kMaxTail = 100000;
// Events a follower keeps for a client that reads slower than the pods write; the oldest go
// first, and the client is told how many it missed.
constexpr std::size_t kMaxQueued = 10000;
constexpr std::size_t kMaxPerPoll = 500;

struct Target {
  std::string instance;  // the pod
  std::string version;
};

std::string queryOf(const HttpRequest& req, const std::string& key) {
  const auto it = req.query.find(key);
  return it == req.query.end() ? std::string() : it->second;
}

// Calls `line` for each complete line of `pending` + `data`, keeping an unfinished last one.
template <typename F>
void splitLines(std::string& pending, std::string_view data, const F& line) {
  pending.append(data);
  std::size_t start = 0;
  for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
    line(std::string_view(pending).substr(start, nl - start));
    start = nl + 1;
  }
  pending.erase(0, start);
}

json::object errorJson(const Error& e) {
  return json::object{{"code", codeName(e.code)}, {"message", e.message}};
}

// Follows several instances' logs, one thread each, and hands what they read to the stream.
// The threads are detached: when the client goes, the destructor stops them and they end by
// themselves (a stopped read returns within about a second), holding what they use.
class LogFollower final : public SseSource {
 public:
  LogFollower(std::shared_ptr<runtime::Runtime> runtime, const std::string& environment,
              const std::string& service, const std::vector<Target>& targets, int tail)
      : shared_(std::make_shared<Shared>()) {
    shared_->running = static_cast<int>(targets.size());
    for (const auto& target : targets) {
      std::thread([shared = shared_, runtime, environment, service, target, tail,
                   stop = stop_.get_token()] {
        std::string pending;
        const auto push = [&](std::string_view line) {
          shared->push(SseEvent{"", "log",
                                json::serialize(json::object{{"instance", target.instance},
                                                             {"version", target.version},
                                                             {"line", line}})});
        };
        auto read = runtime->readInstanceLog(
            environment, service, target.instance, runtime::LogOptions{tail, true},
            [&](std::string_view data) {
              splitLines(pending, data, push);
              return true;
            },
            stop);
        if (!pending.empty()) push(pending);
        if (!read && !stop.stop_requested()) {
          auto data = errorJson(read.error());
          data["instance"] = target.instance;
          data["version"] = target.version;
          shared->push(SseEvent{"", "error", json::serialize(data)});
        }
        shared->finished();
      }).detach();
    }
  }

  ~LogFollower() override { stop_.request_stop(); }

  // SseSource
  std::optional<std::vector<SseEvent>> poll() override { return shared_->take(); }

 private:
  struct Shared {
    std::mutex mutex;
    std::deque<SseEvent> queue;
    std::size_t dropped = 0;
    int running = 0;
    bool ended = false;

    void push(SseEvent event) {
      std::lock_guard lock(mutex);
      if (queue.size() == kMaxQueued) {
        queue.pop_front();
        ++dropped;
      }
      queue.push_back(std::move(event));
    }
    void finished() {
      std::lock_guard lock(mutex);
      --running;
    }
    std::optional<std::vector<SseEvent>> take() {
      std::lock_guard lock(mutex);
      std::vector<SseEvent> out;
      if (dropped > 0) {
        out.push_back(SseEvent{"", "dropped", json::serialize(json::object{{"lines", dropped}})});
        dropped = 0;
      }
      while (!queue.empty() && out.size() < kMaxPerPoll) {
        out.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      if (out.empty() && running == 0) {
        if (ended) return std::nullopt;
        ended = true;  // every instance's log has ended: say so, then close
        out.push_back(SseEvent{"", "end", "{}"});
      }
      return out;
    }
  };

  std::shared_ptr<Shared> shared_;
  std::stop_source stop_;
};

// GET /api/v1/environments/{env}/services/{service}/logs?version=&instance=&tail=&follow=
HttpResponse serviceLogs(const Ctx& c, const HttpRequest& req) {
  const std::string env = req.params.at("env");
  const std::string service = req.params.at("service");
  const auto refuse = [&](ErrorCode code, std::string message) {
    return errorResponse(Error{code, std::move(message)}, req.request_id);
  };
  // The query first: a malformed request is 400 whatever the environment. A parameter given
  // empty (`tail=`) is malformed, not absent.
  int tail = kDefaultTail;
  if (const auto t = queryOf(req, "tail"); t == "all") {
    tail = -1;
  } else if (req.query.contains("tail")) {
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), tail);
    if (ec != std::errc() || end != t.data() + t.size() || tail < 0 || tail > kMaxTail) {
      return refuse(ErrorCode::InvalidArgument,
                  fmt::format("tail must be a number of lines in 0..{} or \"all\"", kMaxTail));
    }
  }
  const auto follow_text = queryOf(req, "follow");
  if (req.query.contains("follow") && follow_text != "true" && follow_text != "false") {
    return refuse(ErrorCode::InvalidArgument, "follow must be true or false");
  }
  const bool follow = follow_text == "true";
  auto cfg = c->controller->config();
  const auto* environment = cfg->findEnvironment(env);
  if (environment == nullptr) return refuse(ErrorCode::NotFound, "no environment named \"" + env + "\"");
  const auto* app = cfg->applicationFor(*environment);
  if (app == nullptr || std::none_of(app->services.begin(), app->services.end(),
                                     [&](const config::Service& s) { return s.name == service; })) {
    return refuse(ErrorCode::NotFound, fmt::format("environment {} has no service \"{}\"", env, service));
  }
  if (environment->runtime.kind != config::RuntimeSpec::Kind::Kubernetes) {
    return refuse(ErrorCode::FailedPrecondition,
                fmt::format("environment {} runs on the local runtime: its instances' output is in "
                            "files on the server's machine, which `runway logs` reads there",
                            env));
  }
  const auto version = queryOf(req, "version");
  const auto instance = queryOf(req, "instance");

  auto instances = c->runtime->instances(env, service);
  if (!instances) return errorResponse(instances.error(), req.request_id);
  std::vector<Target> targets;
  for (const auto& i : *instances) {
    if (i.pod.empty() || i.state == runtime::InstanceState::Stopped) continue;
    if (!version.empty() && i.version != version) continue;
    if (!instance.empty() && i.pod != instance) continue;
    targets.push_back(Target{i.pod, i.version});
  }
  if (targets.empty()) {
    return refuse(ErrorCode::NotFound,
                fmt::format("no instance of {}{}{} runs in {}", service,
                            version.empty() ? "" : " " + version,
                            instance.empty() ? "" : " named " + instance, env));
  }

  if (follow) {
    HttpResponse r;
    r.sse = std::make_shared<LogFollower>(c->runtime, env, service, targets, tail);
    return r;
  }
  json::array out;
  for (const auto& target : targets) {
    json::array lines;
    std::string pending;
    auto read = c->runtime->readInstanceLog(
        env, service, target.instance, runtime::LogOptions{tail, false},
        [&](std::string_view data) {
          splitLines(pending, data, [&](std::string_view line) { lines.emplace_back(line); });
          return true;
        },
        {});
    if (!pending.empty()) lines.emplace_back(pending);
    out.push_back(json::object{{"instance", target.instance},
                               {"version", target.version},
                               {"lines", std::move(lines)},
                               {"error", read ? json::value(nullptr) : json::value(errorJson(read.error()))}});
  }
  return HttpResponse::json(
      200, json::serialize(json::object{
               {"environment", env}, {"service", service}, {"instances", std::move(out)}}));
}

}  // namespace

std::vector<Route> logRoutes(std::shared_ptr<ApiContext> context) {
  return {Route{"GET", "/api/v1/environments/{env}/services/{service}/logs",
                std::string(kViewer),
                [c = std::move(context)](HttpRequest& req) { return serviceLogs(c, req); }}};
}

}  // namespace runway::api
