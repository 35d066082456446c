#include "trellis/io/tls_config.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ssl_errors.hpp"
#include "trellis/errc.hpp"

namespace trellis {

namespace {

using detail::take_ssl_errors;

// An error naming the problem, and OpenSSL's reasons if it queued any.
caf::error invalid(std::string what, const std::string& reasons = {}) {
  if (!reasons.empty())
    what += ": " + reasons;
  return make_error(errc::invalid_tls_config, std::move(what));
}

caf::error readable(const char* field, const std::string& path) {
  if (path.empty())
    return invalid(std::string{field} + " is not set");
  std::ifstream in{path};
  if (!in)
    return invalid(std::string{"cannot read "} + field + " '" + path
                   + "': " + std::strerror(errno));
  return caf::none;
}

// Hands OpenSSL the passphrase, or nothing: without a callback it would ask
// on the terminal for the passphrase of an encrypted key.
int passphrase_callback(char* buf, int size, int, void* user) {
  auto& passphrase = *static_cast<const std::string*>(user);
  if (size <= 0 || passphrase.size() >= static_cast<size_t>(size))
    return 0;
  std::memcpy(buf, passphrase.data(), passphrase.size());
  return static_cast<int>(passphrase.size());
}

caf::error check(const tls_config& x) {
  for (auto [field, path] : {std::pair{"certificate", &x.certificate},
                             std::pair{"key", &x.key},
                             std::pair{"ca_file", &x.ca_file}})
    if (auto err = readable(field, *path))
      return err;
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{
    SSL_CTX_new(TLS_method()), SSL_CTX_free};
  if (!ctx)
    return invalid("cannot create an OpenSSL context", take_ssl_errors());
  SSL_CTX_set_default_passwd_cb(ctx.get(), passphrase_callback);
  SSL_CTX_set_default_passwd_cb_userdata(
    ctx.get(), const_cast<std::string*>(&x.passphrase));
  // The key first: OpenSSL would refuse a key that does not match a loaded
  // certificate with the same error as one it cannot read.
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), x.key.c_str(), SSL_FILETYPE_PEM)
      != 1)
    return invalid("cannot load the key '" + x.key
                     + "' (no key, or a wrong or missing passphrase)",
                   take_ssl_errors());
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), x.certificate.c_str())
      != 1)
    return invalid("no certificate in '" + x.certificate + "'",
                   take_ssl_errors());
  // Loading the certificate dropped a key that does not match it, and queued
  // a reason less clear than the check's.
  ERR_clear_error();
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return invalid("the key '" + x.key + "' does not belong to '"
                   + x.certificate + "'");
  if (SSL_CTX_load_verify_locations(ctx.get(), x.ca_file.c_str(), nullptr)
      != 1)
    return invalid("no CA certificate in '" + x.ca_file + "'",
                   take_ssl_errors());
  return caf::none;
}

} // namespace

caf::error validate(const tls_config& x) {
  if (!x.enabled())
    return caf::none;
  auto result = check(x);
  // No stale error for the next OpenSSL call on this thread.
  ERR_clear_error();
  return result;
}

} // namespace trellis
