#pragma once

// Certificates for TLS tests, made once per test process with the `openssl`
// command in a fresh directory, removed at exit: a CA, a node certificate it
// signs (its key also encrypted, with a passphrase file), and a self-signed
// "rogue" certificate that no trusted CA vouches for. EC keys, which are
// quick to make and to use.

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "trellis/io/tls_config.hpp"

namespace trellis::test {

class test_certificates {
public:
  /// The certificates of this test process.
  static const test_certificates& get() {
    static const test_certificates instance;
    return instance;
  }

  test_certificates(const test_certificates&) = delete;
  test_certificates& operator=(const test_certificates&) = delete;

  ~test_certificates() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  /// A file in the directory, e.g. `path("ca.pem")`.
  std::string path(const std::string& name) const {
    return dir_ + "/" + name;
  }

  /// The passphrase of `node-encrypted.key`, also in the file `passphrase`.
  static constexpr const char* passphrase = "trellis-secret";

  /// A node of the cluster: a certificate signed by the test CA.
  tls_config member() const {
    return {path("node.pem"), path("node.key"), "", path("ca.pem")};
  }

  /// A stranger: a self-signed certificate, though it trusts the test CA.
  tls_config rogue() const {
    return {path("rogue.pem"), path("rogue.key"), "", path("ca.pem")};
  }

  /// `trellis_node`'s command line options for `x`.
  static std::vector<std::string> node_args(const tls_config& x) {
    return {"--tls-cert=" + x.certificate, "--tls-key=" + x.key,
            "--tls-ca=" + x.ca_file};
  }

private:
  test_certificates() {
    auto tmpl = (std::filesystem::temp_directory_path() / "trellis-tls-XXXXXX")
                  .string();
    if (mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("cannot create a directory for certificates");
    dir_ = tmpl;
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1";
    run("req -x509 " + ec + " -nodes -keyout ca.key -out ca.pem -days 2"
        " -subj /CN=trellis-test-ca");
    run("req " + ec + " -nodes -keyout node.key -out node.csr"
        " -subj /CN=trellis-test-node");
    run("x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
        " -out node.pem -days 2");
    run("pkey -in node.key -aes256 -passout pass:" + std::string{passphrase}
        + " -out node-encrypted.key");
    run("req -x509 " + ec + " -nodes -keyout rogue.key -out rogue.pem"
        " -days 2 -subj /CN=trellis-test-rogue");
    if (std::system(("echo " + std::string{passphrase} + " > '"
                     + path("passphrase") + "'")
                      .c_str())
        != 0)
      throw std::runtime_error("cannot write the passphrase file");
  }

  void run(const std::string& args) const {
    auto cmd = "cd '" + dir_ + "' && openssl " + args + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0)
      throw std::runtime_error("failed: openssl " + args);
  }

  std::string dir_;
};

} // namespace trellis::test
