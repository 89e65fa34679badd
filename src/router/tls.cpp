#include "tls.hpp"

#include <openssl/ssl.h>

#include <cstring>

#include <fmt/format.h>

namespace runway::router {
namespace ssl = boost::asio::ssl;

namespace {

// ALPN: the router speaks HTTP/1.1 only; a client that offers it gets it, one that does not
// goes on without ALPN (and will speak HTTP/1.1 or fail).
int selectAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
               const unsigned char* in, unsigned int inlen, void* /*arg*/) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  unsigned char selected_len = 0;
  if (SSL_select_next_proto(&selected, &selected_len, kHttp11, sizeof kHttp11, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  *outlen = selected_len;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> loadTlsContext(const ListenerTls& tls) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(tls.certificate_file, ec);
  if (ec) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("TLS certificate {}: {}", tls.certificate_file, ec.message()));
  }
  ctx->use_private_key_file(tls.key_file, ssl::context::pem, ec);
  if (ec) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("TLS private key {}: {}", tls.key_file, ec.message()));
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("TLS private key {} does not match the certificate {}", tls.key_file,
                            tls.certificate_file));
  }
  SSL_CTX_set_alpn_select_cb(ctx->native_handle(), selectAlpn, nullptr);
  return ctx;
}

Result<void> checkListenerTls(const ListenerTls& tls) {
  auto ctx = loadTlsContext(tls);
  if (!ctx) return fail(ctx.error());
  return {};
}

Result<std::shared_ptr<TlsSlot>> TlsSlot::load(ListenerTls files) {
  TlsSlot probe(files, nullptr, Stamp{});
  const Stamp before = probe.stamp();
  auto ctx = loadTlsContext(files);
  if (!ctx) return fail(ctx.error());
  return std::shared_ptr<TlsSlot>(new TlsSlot(std::move(files), std::move(*ctx), before));
}

TlsSlot::TlsSlot(ListenerTls files, std::shared_ptr<ssl::context> context, Stamp loaded)
    : files_(std::move(files)), context_(std::move(context)), loaded_(loaded) {}

std::shared_ptr<ssl::context> TlsSlot::context() const {
  std::lock_guard lock(mu_);
  return context_;
}

TlsSlot::Stamp TlsSlot::stamp() const {
  Stamp s;
  std::error_code ec;
  s.cert_mtime = std::filesystem::last_write_time(files_.certificate_file, ec);
  s.cert_size = std::filesystem::file_size(files_.certificate_file, ec);
  s.key_mtime = std::filesystem::last_write_time(files_.key_file, ec);
  s.key_size = std::filesystem::file_size(files_.key_file, ec);
  return s;
}

Result<bool> TlsSlot::reloadIfChanged(bool force) {
  const Stamp now = stamp();  // before reading, like load()
  {
    std::lock_guard lock(mu_);
    if (!force && now == loaded_) return false;
  }
  auto ctx = loadTlsContext(files_);
  std::lock_guard lock(mu_);
  // Whatever the outcome, this version of the files has been tried: a broken pair is not
  // retried (and logged) every second, only when the files change again.
  loaded_ = now;
  if (!ctx) return fail(ctx.error());
  context_ = std::move(*ctx);
  return true;
}

}  // namespace runway::router
