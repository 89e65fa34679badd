#pragma once

// The HTTP server the loopback fakes of SaaS APIs run on (GitHub, PagerDuty, the notification
// receivers): runway's own server on 127.0.0.1 and a free port, no runway authentication (each
// fake checks the credentials its service documents itself).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "runway/api/http_server.hpp"

namespace runway::testing {

inline Result<std::unique_ptr<api::HttpServer>> startLoopbackServer(std::vector<api::Route> routes,
                                                                    std::uint16_t port = 0, int threads = 2,
                                                                    std::size_t body_limit = 1024 * 1024) {
  struct Nobody final : api::Authenticator {
    Result<api::Identity> authenticate(std::string_view) override {
      return fail(ErrorCode::Unauthenticated, "a loopback fake checks its service's credentials itself");
    }
  };
  api::ServerOptions o;
  o.port = port;
  o.handler_threads = threads;
  o.body_limit = body_limit;
  return api::startHttpServer(o, std::move(routes), std::make_shared<Nobody>());
}

}  // namespace runway::testing
