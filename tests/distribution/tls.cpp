// TLS between nodes on loopback, with certificates the test makes with the
// `openssl` command: children placed and restarted over TLS, peers without
// a trusted certificate or without TLS refused, and neither a refused peer
// nor a killed node disturbing the connections to the others (the stall of
// CAF 0.17.6's own OpenSSL transport, docs/distribution.md "Security").

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "dist_fixture.hpp"
#include "test_certificates.hpp"

using namespace std::chrono_literals;
using namespace trellis;
using namespace trellis::test;
using Catch::Contains;

namespace {

node_config tls_node_config(const tls_config& tls) {
  auto x = test_node_config();
  x.tls = tls;
  return x;
}

std::vector<std::string> tls_node_args(const tls_config& tls) {
  auto result = test_node_args();
  for (auto& x : test_certificates::node_args(tls))
    result.push_back(x);
  return result;
}

/// A fixture whose system and nodes are members of the test CA's cluster.
struct tls_fixture : dist_fixture {
  tls_fixture()
    : dist_fixture(tls_node_config(test_certificates::get().member()),
                   tls_node_args(test_certificates::get().member())) {
    REQUIRE(!cfg.configure_error);
  }
};

supervisor_spec one_remote_child(const std::string& id,
                                 std::vector<std::string> nodes) {
  return supervisor("root").intensity(100).period(30s).child(
    remote_worker(id, "pinger").nodes(std::move(nodes)));
}

/// Asks `who` `n` times, expecting "pong <first>" to "pong <first + n - 1>";
/// returns the first unexpected answer, or "" when all were right.
std::string pings(dist_fixture& f, const caf::actor& who, int first, int n) {
  for (int i = first; i < first + n; ++i) {
    auto answer = f.ping(who);
    if (answer != "pong " + std::to_string(i))
      return "ping " + std::to_string(i) + ": " + answer;
  }
  return "";
}

} // namespace

TEST_CASE("TLS settings are checked before a node depends on them",
          "[distribution][tls]") {
  auto& certs = test_certificates::get();
  dist_fixture f;
  auto why = [&](const tls_config& x) {
    auto err = validate(x);
    if (!is(err, errc::invalid_tls_config))
      return "not invalid_tls_config: " + f.sys.render(err);
    return f.sys.render(err);
  };
  SECTION("usable settings pass, TLS off passes") {
    CHECK(!validate(tls_config{}));
    CHECK(!validate(certs.member()));
    auto x = certs.member();
    x.key = certs.path("node-encrypted.key");
    x.passphrase = test_certificates::passphrase;
    CHECK(!validate(x));
  }
  SECTION("a missing setting or file") {
    auto x = certs.member();
    CHECK_THAT(why({x.certificate, "", "", ""}), Contains("key is not set"));
    CHECK_THAT(why({x.certificate, x.key, "", ""}),
               Contains("ca_file is not set"));
    x.ca_file = certs.path("no-such-ca.pem");
    CHECK_THAT(why(x), Contains("cannot read ca_file"));
    CHECK_THAT(why(x), Contains("no-such-ca.pem"));
  }
  SECTION("files that do not fit") {
    auto x = certs.member();
    x.key = certs.path("rogue.key");
    CHECK_THAT(why(x), Contains("does not belong"));
    x = certs.member();
    x.ca_file = certs.path("node.key");
    CHECK_THAT(why(x), Contains("no CA certificate"));
    x = certs.member();
    x.certificate = certs.path("node.key");
    CHECK_THAT(why(x), Contains("no certificate"));
  }
  SECTION("an encrypted key without its passphrase") {
    auto x = certs.member();
    x.key = certs.path("node-encrypted.key");
    CHECK_THAT(why(x), Contains("cannot load the key"));
    x.passphrase = "wrong";
    CHECK_THAT(why(x), Contains("cannot load the key"));
  }
}

TEST_CASE("a node with unusable TLS settings does not fall back to plain "
          "BASP",
          "[distribution][tls]") {
  auto& certs = test_certificates::get();
  auto bad = certs.member();
  bad.key = certs.path("rogue.key");
  dist_fixture f{tls_node_config(bad)};
  CHECK(is(f.cfg.configure_error, errc::invalid_tls_config));
  auto port = start_node(f.sys, tls_node_config(bad));
  REQUIRE(!port);
  CHECK(is(port.error(), errc::invalid_tls_config));
  // Not even to a node that speaks plain BASP.
  auto plain = f.start_node_process();
  auto root =
    start_supervisor(f.sys, one_remote_child("w", {plain->address()}));
  REQUIRE(!root);
  CHECK_THAT(f.sys.render(root.error()), Contains("invalid_tls_config"));
  // trellis_node stops before printing its port.
  CHECK_THROWS(node_process(TRELLIS_NODE_EXE, tls_node_args(bad)));
}

TEST_CASE("an encrypted key opens with its passphrase, from a file for a "
          "node process",
          "[distribution][tls]") {
  auto& certs = test_certificates::get();
  auto x = certs.member();
  x.key = certs.path("node-encrypted.key");
  auto args = tls_node_args(x);
  // Without the passphrase, trellis_node stops before printing its port.
  CHECK_THROWS(node_process(TRELLIS_NODE_EXE, args));
  args.push_back("--tls-passphrase-file=" + certs.path("passphrase"));
  node_process a{TRELLIS_NODE_EXE, args};
  x.passphrase = test_certificates::passphrase;
  dist_fixture f{tls_node_config(x)};
  REQUIRE(!f.cfg.configure_error);
  auto root = start_supervisor(f.sys, one_remote_child("w", {a.address()}));
  REQUIRE(root);
  CHECK(pings(f, f.info(*root, "w").actor, 1, 3) == "");
  CHECK(stop_and_await(f.sys, *root) == caf::exit_reason::user_shutdown);
}

TEST_CASE("children run and restart on a node over TLS",
          "[distribution][tls]") {
  tls_fixture f;
  auto a = f.start_node_process();
  auto root = start_supervisor(f.sys, one_remote_child("w", {a->address()}));
  REQUIRE(root);
  REQUIRE(f.info(*root, "w").node == a->address());
  SECTION("hundreds of requests over the connection") {
    CHECK(pings(f, f.info(*root, "w").actor, 1, 500) == "");
  }
  SECTION("restarts through the runtime API, each a new remote spawn") {
    for (int i = 0; i < 100; ++i) {
      REQUIRE(!terminate_child(f.sys, *root, "w"));
      auto w = restart_child(f.sys, *root, "w");
      REQUIRE(w);
      REQUIRE(pings(f, *w, 1, 3) == "");
    }
  }
  SECTION("restarts after crashes") {
    for (uint64_t i = 1; i <= 20; ++i) {
      caf::anon_send(f.info(*root, "w").actor, std::string{"crash"});
      REQUIRE(f.eventually(*root, "w", [&](const child_info& x) {
        return x.restart_count == i && running_on(x, a->address());
      }));
      REQUIRE(pings(f, f.info(*root, "w").actor, 1, 3) == "");
    }
  }
  CHECK(stop_and_await(f.sys, *root) == caf::exit_reason::user_shutdown);
}

TEST_CASE("peers without a trusted certificate or without TLS are refused, "
          "and established connections do not notice",
          "[distribution][tls]") {
  auto& certs = test_certificates::get();
  tls_fixture f;
  auto a = f.start_node_process();
  auto root = start_supervisor(f.sys, one_remote_child("w", {a->address()}));
  REQUIRE(root);
  auto w = f.info(*root, "w").actor;
  REQUIRE(f.ping(w) == "pong 1");
  int pinged = 1;
  auto refused = [](dist_fixture& from, const std::string& node) {
    auto sup = start_supervisor(from.sys, one_remote_child("x", {node}));
    if (sup) {
      stop_supervisor(from.sys, *sup);
      return std::string{"started"};
    }
    return from.sys.render(sup.error());
  };
  SECTION("nodes with a self-signed certificate or without TLS") {
    node_process rogue{TRELLIS_NODE_EXE, tls_node_args(certs.rogue())};
    node_process plain{TRELLIS_NODE_EXE, test_node_args()};
    for (int i = 0; i < 10; ++i) {
      for (auto* node : {&rogue, &plain}) {
        auto why = refused(f, node->address());
        CHECK_THAT(why, Contains(node->address()));
        CHECK_THAT(why, Contains("handshake"));
        REQUIRE(pings(f, w, ++pinged, 1) == "");
      }
    }
  }
  SECTION("systems with a self-signed certificate or without TLS") {
    dist_fixture rogue{tls_node_config(certs.rogue())};
    REQUIRE(!rogue.cfg.configure_error);
    dist_fixture plain;
    for (int i = 0; i < 10; ++i) {
      for (auto* from : {&rogue, &plain}) {
        CHECK_THAT(refused(*from, a->address()), Contains("handshake"));
        REQUIRE(pings(f, w, ++pinged, 1) == "");
      }
    }
  }
  CHECK(f.info(*root, "w").restart_count == 0);
  CHECK(stop_and_await(f.sys, *root) == caf::exit_reason::user_shutdown);
}

TEST_CASE("a killed TLS node does not take the other connections down",
          "[distribution][tls]") {
  tls_fixture f;
  auto a = f.start_node_process();
  auto b = f.start_node_process();
  auto tree = supervisor("root")
                .intensity(10)
                .period(30s)
                .child(remote_worker("wa", "pinger").nodes({a->address()}))
                .child(remote_worker("wb", "pinger")
                         .nodes({b->address(), a->address()}));
  auto root = start_supervisor(f.sys, tree);
  REQUIRE(root);
  auto wa = f.info(*root, "wa").actor;
  REQUIRE(f.ping(wa) == "pong 1");
  REQUIRE(f.ping(f.info(*root, "wb").actor) == "pong 1");
  SECTION("killed") {
    b->kill();
  }
  SECTION("stopped, then found by the heartbeat") {
    b->signal(SIGSTOP);
  }
  CHECK(f.eventually(*root, "wb", [&](const child_info& x) {
    return running_on(x, a->address());
  }));
  CHECK(pings(f, wa, 2, 20) == "");
  CHECK(f.info(*root, "wa").restart_count == 0);
  b->signal(SIGCONT);
  CHECK(stop_and_await(f.sys, *root) == caf::exit_reason::user_shutdown);
}
