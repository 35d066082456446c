#pragma once

/// @file
/// `tls_config`: TLS between nodes. Part of `trellis::distribution`.

#include <string>

#include <caf/error.hpp>

namespace trellis {

/// The certificate a node presents to its peers and the authority it trusts
/// theirs by: TLS between nodes, through CAF's OpenSSL module
/// (`libcaf_openssl`). Off unless a field is set; then `certificate`, `key`
/// and `ca_file` are all required.
///
/// With TLS on, a node listens and connects over TLS only and both sides
/// must present a certificate signed by an authority in the other's
/// `ca_file`: a peer without TLS, or with a certificate from anyone else, is
/// refused during the handshake. The system's own trust store is not used.
/// Names in certificates are not checked, only the signature: the CA file
/// decides who belongs to the cluster. Trellis speaks TLS through its own
/// connections built on CAF's `caf::openssl::session`, not through
/// `caf::openssl::remote_actor`, because of a flaw of CAF 0.17.6 with
/// OpenSSL 3 (docs/distribution.md, "Security").
struct tls_config {
  /// PEM file with the node's certificate, or its chain with the node's
  /// certificate first (CAF's `openssl.certificate`).
  std::string certificate;

  /// PEM file with the private key of `certificate` (`openssl.key`).
  std::string key;

  /// Passphrase of `key`, when it is encrypted (`openssl.passphrase`).
  std::string passphrase;

  /// PEM file with the certificates of the authorities whose certificates
  /// peers must present (`openssl.cafile`).
  std::string ca_file;

  /// Returns whether any field is set, i.e. whether TLS is asked for.
  bool enabled() const noexcept {
    return !certificate.empty() || !key.empty() || !passphrase.empty()
           || !ca_file.empty();
  }
};

/// Checks that `x` can be used before a node depends on it: every required
/// file is set and readable, the certificate and CA files hold certificates,
/// the key opens with the passphrase and matches the certificate. Returns
/// `errc::invalid_tls_config` naming the problem, or no error (also when TLS
/// is off). CAF itself would only find out when the first connection opens,
/// and then throw on its I/O thread.
caf::error validate(const tls_config& x);

} // namespace trellis
