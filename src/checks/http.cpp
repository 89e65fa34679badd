#include "http.hpp"

#include <utility>

namespace runway::checks::detail {

http::Request checkRequest(std::string method, std::string url, Duration timeout) {
  http::Request request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.timeout = timeout;
  request.connect_timeout = timeout;
  request.max_body = 1024 * 1024;
  request.truncate_body = true;
  request.headers["Accept"] = "*/*";
  return request;
}

bool isSuccess(long status) { return status >= 200 && status < 300; }

}  // namespace runway::checks::detail
