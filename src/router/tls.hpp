#pragma once

// TLS termination on a listener: the server context built from a certificate chain file and a
// private key file (PEM), TLS 1.2 and later only, ALPN "http/1.1"; and the slot a listener's
// acceptors read it from, which a reload replaces while connections already established keep
// the context they were accepted with.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "runway/core/error.hpp"
#include "runway/router/routing_table.hpp"

namespace runway::router {

// Loads `tls`'s files into a new server context. Errors: InvalidArgument naming the file and
// OpenSSL's reason (unreadable, not PEM, key not matching the certificate). Never includes the
// key's content.
Result<std::shared_ptr<boost::asio::ssl::context>> loadTlsContext(const ListenerTls& tls);

// The current context of one TLS listener. Thread-safe.
class TlsSlot {
 public:
  // Loads the files (loadTlsContext's errors). Their modification times and sizes are taken
  // before they are read, so that a change while they are read is seen by the next check.
  static Result<std::shared_ptr<TlsSlot>> load(ListenerTls files);

  const ListenerTls& files() const { return files_; }
  std::shared_ptr<boost::asio::ssl::context> context() const;
  // Loads the files again when their modification time or size changed since the last load
  // (or when `force`); on success the new context serves new connections; on failure the old
  // one stays and the error says why. Returns whether a new context was installed.
  Result<bool> reloadIfChanged(bool force = false);

 private:
  struct Stamp {
    std::filesystem::file_time_type cert_mtime{};
    std::uintmax_t cert_size = 0;
    std::filesystem::file_time_type key_mtime{};
    std::uintmax_t key_size = 0;
    bool operator==(const Stamp&) const = default;
  };
  Stamp stamp() const;
  TlsSlot(ListenerTls files, std::shared_ptr<boost::asio::ssl::context> context, Stamp loaded);

  const ListenerTls files_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  Stamp loaded_;
};

// Whether a listener terminates TLS, and with which slot: read by its accept loops for each
// connection, switched by a new table without new acceptors. Thread-safe.
class ListenerTlsState {
 public:
  std::shared_ptr<TlsSlot> slot() const {
    std::lock_guard lock(mu_);
    return slot_;
  }
  void set(std::shared_ptr<TlsSlot> slot) {
    std::lock_guard lock(mu_);
    slot_ = std::move(slot);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<TlsSlot> slot_;  // null: plain HTTP
};

}  // namespace runway::router
