#pragma once

// A tiny HTTP/1.1 upstream for router tests: thread per connection, keep-alive, a few behaviours
// chosen by path:
//   /echo     body lists the request headers it received ("name: value" lines)
//   /body     reads the body piece by piece (progress in bodyBytesSeen()), answers "len=N"
//   /slow     answers after 1.5 s
//   /chunked  answers with a chunked body
//   /close-after  answers as if keeping the connection, then closes it (an upstream whose
//             keep-alive timeout ran out just after)
//   anything  answers its name, with X-Backend: name

#include <sys/socket.h>

#include <atomic>
#include <list>
#include <set>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace runway::router::testing {

class Backend {
 public:
  explicit Backend(std::string name) : name_(std::move(name)), acceptor_(ioc_) {
    namespace asio = boost::asio;
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(1024);
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { acceptLoop(); });
  }

  ~Backend() { stop(); }

  void stop() {
    if (stopped_.exchange(true)) return;
    // shutdown() wakes the accept() blocked in the accept thread; the acceptor is closed only
    // after that thread has ended (an Asio object is not safe to use from two threads at once).
    boost::system::error_code ec;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    accept_thread_.join();
    acceptor_.close(ec);
    {
      std::lock_guard lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
  }

  int port() const { return port_; }
  const std::string& name() const { return name_; }
  int requests() const { return requests_.load(); }
  std::size_t bodyBytesSeen() const { return body_bytes_seen_.load(); }

 private:
  void acceptLoop() {
    for (;;) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec || stopped_) return;
      std::lock_guard lock(mu_);
      fds_.insert(socket.native_handle());
      threads_.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
    }
  }

  void serve(boost::asio::ip::tcp::socket socket) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    boost::system::error_code ec;
    for (;;) {
      http::request_parser<http::buffer_body> p;
      p.body_limit(boost::none);
      http::read_header(socket, buffer, p, ec);
      if (ec) break;
      requests_++;
      std::string body;
      char piece[4096];
      while (!p.is_done()) {
        p.get().body().data = piece;
        p.get().body().size = sizeof piece;
        http::read(socket, buffer, p, ec);
        if (ec == http::error::need_buffer) ec = {};
        if (ec) break;
        const auto n = sizeof piece - p.get().body().size;
        body.append(piece, n);
        body_bytes_seen_ += n;
      }
      if (ec) break;
      const auto& req = p.get();
      const std::string target(req.target());
      http::response<http::string_body> res{http::status::ok, 11};
      res.set("X-Backend", name_);
      if (target == "/echo") {
        for (const auto& f : req) {
          res.body() += std::string(f.name_string()) + ": " + std::string(f.value()) + "\n";
        }
      } else if (target == "/body") {
        res.body() = "len=" + std::to_string(body.size()) + "\n" + body;
      } else if (target == "/slow") {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a slow upstream
        res.body() = name_;
      } else {
        res.body() = name_;
      }
      res.keep_alive(req.keep_alive());
      if (target == "/chunked") {
        res.body() = std::string(10000, 'c');
        res.chunked(true);
      } else {
        res.prepare_payload();
      }
      http::write(socket, res, ec);
      if (ec || !req.keep_alive() || target == "/close-after") break;
    }
    socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    std::lock_guard lock(mu_);
    fds_.erase(socket.native_handle());
  }

  std::string name_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<int> requests_{0};
  std::atomic<std::size_t> body_bytes_seen_{0};
  std::mutex mu_;
  std::set<int> fds_;  // open connections; erased before they close
  std::list<std::thread> threads_;
  std::thread accept_thread_;
};

}  // namespace runway::router::testing
