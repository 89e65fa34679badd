#pragma once

// Loopback stand-ins for Slack's incoming webhooks, PagerDuty's Events API v2 and a signed
// webhook receiver, for integration tests. Each validates every payload it gets against the
// documented format (notification_formats.hpp; webhooks: signature and replay window), answers
// as its script says (status, Retry-After, or holding the answer past the client's timeout) and
// records what it accepted: a request counts as accepted when it was answered 2xx without being
// held, i.e. the sender saw the success.

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "loopback_server.hpp"
#include "notification_formats.hpp"
#include "runway/api/http_server.hpp"
#include "runway/notify/render.hpp"

namespace runway::testing {

class FakeReceiver {
 public:
  enum class Kind { Slack, PagerDuty, Webhook };

  struct Reply {
    int status = 0;  // 0 = the receiver's success status (Slack 200, PagerDuty 202, webhook 204)
    std::string body;
    std::string retry_after;
    std::chrono::milliseconds hold{0};  // answer only after this long (past the client's timeout)
  };

  struct Received {
    std::string path;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
    int status = 0;         // what it was answered
    bool accepted = false;  // answered 2xx without being held
    std::vector<std::string> violations;
  };

  explicit FakeReceiver(Kind kind, std::string webhook_secret = "")
      : kind_(kind), secret_(std::move(webhook_secret)) {}
  ~FakeReceiver() { stop(); }

  // Listens on 127.0.0.1:`port` (0 = any free port).
  Result<void> start(std::uint16_t port = 0) {
    std::vector<api::Route> routes;
    const auto handler = [this](api::HttpRequest& req) { return handle(req); };
    switch (kind_) {
      case Kind::Slack: routes.push_back({"POST", "/services/{t}/{b}/{secret}", std::nullopt, handler}); break;
      case Kind::PagerDuty:
        routes.push_back({"POST", "/v2/enqueue", std::nullopt, handler});
        routes.push_back({"POST", "/v2/change/enqueue", std::nullopt, handler});
        break;
      case Kind::Webhook: routes.push_back({"POST", "/hook/{name}", std::nullopt, handler}); break;
    }
    auto server = startLoopbackServer(std::move(routes), port, 4);
    if (!server) return fail(server.error());
    server_ = std::move(*server);
    return {};
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (server_) server_->stop(std::chrono::milliseconds(2000));
    server_.reset();
  }

  std::string url() const { return fmt::format("http://127.0.0.1:{}", server_ ? server_->port() : 0); }

  // The next requests are answered with these replies, in order; afterwards with success.
  void script(std::deque<Reply> replies) {
    std::lock_guard lock(mu_);
    script_ = std::move(replies);
  }

  std::vector<Received> received() const {
    std::lock_guard lock(mu_);
    return received_;
  }

  std::vector<std::string> violations() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& r : received_) {
      for (const auto& v : r.violations) out.push_back(r.path + ": " + v);
    }
    return out;
  }

  // How often each message was accepted, by `identity` (what tells messages apart).
  std::map<std::string, int> acceptedBy(const std::function<std::string(const Received&)>& identity) const {
    std::map<std::string, int> out;
    for (const auto& r : received()) {
      if (r.accepted) out[identity(r)]++;
    }
    return out;
  }

 private:
  api::HttpResponse handle(api::HttpRequest& req) {
    Received r;
    r.path = req.path;
    r.body = req.body;
    for (const auto& [k, v] : req.headers) r.headers[k] = v;
    if (req.header("content-type").rfind("application/json", 0) != 0) r.violations.push_back("Content-Type is not JSON");
    switch (kind_) {
      case Kind::Slack: {
        auto v = slackViolations(req.body);
        r.violations.insert(r.violations.end(), v.begin(), v.end());
        break;
      }
      case Kind::PagerDuty: {
        auto v = req.path == "/v2/enqueue" ? pagerDutyEventViolations(req.body) : pagerDutyChangeViolations(req.body);
        r.violations.insert(r.violations.end(), v.begin(), v.end());
        break;
      }
      case Kind::Webhook: {
        auto ok = notify::verifyWebhookSignature(secret_, req.header("x-runway-timestamp"),
                                                 req.header("x-runway-signature"), req.body,
                                                 static_cast<std::int64_t>(std::time(nullptr)), std::chrono::seconds(300));
        if (!ok) r.violations.push_back(ok.error().message);
        if (req.header("x-runway-delivery").empty()) r.violations.push_back("no X-Runway-Delivery");
        break;
      }
    }
    Reply reply;
    std::size_t index = 0;
    const bool valid = r.violations.empty();
    {
      // Recorded on arrival (status 0 until answered), so a held request is seen at once.
      std::lock_guard lock(mu_);
      if (!script_.empty()) {
        reply = script_.front();
        script_.pop_front();
      }
      index = received_.size();
      received_.push_back(std::move(r));
    }
    if (reply.hold.count() > 0) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, reply.hold, [this] { return stopping_; });
    }
    api::HttpResponse out;
    if (reply.status == 0) {
      if (!valid) {
        // What the real services answer to a malformed payload.
        out = kind_ == Kind::Slack ? api::HttpResponse::text(400, "invalid_payload")
                                   : api::HttpResponse::json(400, R"({"status":"invalid event","message":"Event object is invalid"})");
      } else if (kind_ == Kind::Slack) {
        out = api::HttpResponse::text(200, "ok");
      } else if (kind_ == Kind::PagerDuty) {
        std::string key;
        boost::system::error_code ec;
        auto v = boost::json::parse(req.body, ec);
        if (!ec && v.is_object() && v.as_object().contains("dedup_key")) key = std::string(v.at("dedup_key").as_string());
        out = api::HttpResponse::json(202, boost::json::serialize(boost::json::object{
                                               {"status", "success"}, {"message", "Event processed"}, {"dedup_key", key}}));
      } else {
        out = api::HttpResponse::text(204, "");
      }
    } else {
      out = api::HttpResponse::text(reply.status, reply.body);
      if (!reply.retry_after.empty()) out.headers.emplace_back("Retry-After", reply.retry_after);
    }
    {
      std::lock_guard lock(mu_);
      received_[index].status = out.status;
      received_[index].accepted = out.status >= 200 && out.status < 300 && reply.hold.count() == 0;
    }
    return out;
  }

  Kind kind_;
  std::string secret_;
  std::unique_ptr<api::HttpServer> server_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<Reply> script_;
  std::vector<Received> received_;
};

}  // namespace runway::testing
