#include "trellis/io/node.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <stdexcept>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/config_option_adder.hpp>
#include <caf/config_option_set.hpp>
#include <caf/config_value.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/function_view.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include "config_options.hpp"
#include "distribution.hpp"
#include "node_transport.hpp"
#include "system_guard.hpp"
#include "trellis/configure.hpp"
#include "trellis/tree_snapshot.hpp"

namespace trellis {

caf::error configure_node(caf::actor_system_config& cfg,
                          const node_config& x) {
  auto& opts = detail::options_of(cfg);
  if (opts.qualified_name_lookup("trellis.spawn-timeout") == nullptr)
    caf::config_option_adder{opts, "trellis"}
      .add<caf::timespan>("spawn-timeout",
                          "time to connect to a node and spawn a child there")
      .add<caf::timespan>("takeover-interval",
                          "time between probes of preferred nodes")
      .add<int64_t>("max-message-size",
                    "largest payload a peer may announce, in bytes")
      .add<caf::timespan>("handshake-timeout",
                          "time a peer has to complete its handshake")
      .add<int64_t>("max-message-nesting",
                    "deepest nesting of the values in a peer's message");
  configure(cfg);
  // The core reaches other nodes through this library from now on.
  detail::install_distribution(detail::io_distribution_instance());
  cfg.load<caf::io::middleman>();
  cfg.set("middleman.heartbeat-interval", x.heartbeat_interval);
  cfg.set("middleman.connection-timeout", x.connection_timeout);
  caf::config_value::list ids;
  ids.emplace_back(x.app_identifier);
  cfg.set("middleman.app-identifiers", std::move(ids));
  cfg.set("trellis.spawn-timeout", x.spawn_timeout);
  cfg.set("trellis.takeover-interval", x.takeover_interval);
  cfg.set("trellis.max-message-size", static_cast<int64_t>(x.max_message_size));
  cfg.set("trellis.handshake-timeout", x.handshake_timeout);
  cfg.set("trellis.max-message-nesting",
          static_cast<int64_t>(x.max_message_nesting));
  // Snapshots of remote subtrees come back over the wire.
  cfg.add_message_type<tree_snapshot>("trellis::tree_snapshot");
  if (!x.tls.enabled())
    return caf::none;
  // Set even when unusable: they mark the system as one that speaks TLS only.
  cfg.openssl_certificate = x.tls.certificate;
  cfg.openssl_key = x.tls.key;
  cfg.openssl_passphrase = x.tls.passphrase;
  cfg.openssl_cafile = x.tls.ca_file;
  if (auto err = validate(x.tls))
    return err;
  cfg.load<caf::openssl::manager>();
  return caf::none;
}

namespace {

// Published on the node's port, so that CAF's middleman actor caches the
// connection to it and reuses it: a connect request to a port without a
// published actor opens a new connection each time, which BASP then closes
// as redundant.
caf::behavior node_anchor() {
  return {[](caf::ok_atom) {}};
}

} // namespace

caf::expected<uint16_t> start_node(caf::actor_system& sys,
                                   const node_config& x) {
  auto transport = detail::node_transport(sys);
  if (!transport)
    return std::move(transport.error());
  auto anchor = sys.spawn<caf::hidden>(node_anchor);
  // Publishing files the anchor in CAF's registry, which releases it last,
  // from ~actor_system, when cleaning up an actor crashes CAF 0.17.6: the
  // guard stops it with the system's trees, while CAF still runs.
  if (auto guard = detail::system_guard::of(sys))
    if (auto err = guard->hold(anchor))
      return err;
  auto open = caf::make_function_view(*transport);
  return open(caf::publish_atom::value, x.port,
              caf::actor_cast<caf::strong_actor_ptr>(anchor),
              std::set<std::string>{}, x.host, true);
}

caf::timespan spawn_timeout(const caf::actor_system& sys) {
  return caf::get_or(sys.config(), "trellis.spawn-timeout",
                     node_config{}.spawn_timeout);
}

caf::timespan takeover_interval(const caf::actor_system& sys) {
  return caf::get_or(sys.config(), "trellis.takeover-interval",
                     node_config{}.takeover_interval);
}

namespace {

// Reads `--name=value` into `out`; false if `arg` is another option.
template <class T, class F>
bool option(const std::string& arg, const char* name, T& out, F convert) {
  auto prefix = std::string{"--"} + name + "=";
  if (arg.compare(0, prefix.size(), prefix) != 0)
    return false;
  out = convert(arg.substr(prefix.size()));
  return true;
}

uint32_t u32(const std::string& x) {
  return static_cast<uint32_t>(std::stoul(x));
}

caf::timespan millis(const std::string& x) {
  return std::chrono::milliseconds(std::stoll(x));
}

std::string first_line(const std::string& path) {
  std::ifstream in{path};
  std::string result;
  if (!in || !std::getline(in, result))
    throw std::runtime_error("cannot read the passphrase file '" + path + "'");
  return result;
}

} // namespace

int run_node(int argc, char** argv,
             const std::function<void(caf::actor_system_config&)>&
               register_types) {
  node_config x;
  auto same = [](const std::string& s) { return s; };
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (!option(arg, "host", x.host, same)
          && !option(arg, "port", x.port,
                     [](const std::string& s) {
                       return static_cast<uint16_t>(std::stoul(s));
                     })
          && !option(arg, "app-id", x.app_identifier, same)
          && !option(arg, "heartbeat-ms", x.heartbeat_interval, millis)
          && !option(arg, "timeout-ms", x.connection_timeout, millis)
          && !option(arg, "spawn-timeout-ms", x.spawn_timeout, millis)
          && !option(arg, "handshake-timeout-ms", x.handshake_timeout, millis)
          && !option(arg, "max-message-bytes", x.max_message_size, u32)
          && !option(arg, "max-message-nesting", x.max_message_nesting, u32)
          && !option(arg, "tls-cert", x.tls.certificate, same)
          && !option(arg, "tls-key", x.tls.key, same)
          && !option(arg, "tls-ca", x.tls.ca_file, same)
          && !option(arg, "tls-passphrase-file", x.tls.passphrase,
                     first_line)) {
        std::cerr << "trellis-node: unknown option " << arg << '\n';
        return EXIT_FAILURE;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "trellis-node: bad option value: " << e.what() << '\n';
    return EXIT_FAILURE;
  }
  // Blocked before CAF starts its threads, so that they inherit the mask and
  // only sigwait below sees the signals.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  caf::actor_system_config cfg;
  auto tls_error = configure_node(cfg, x);
  register_types(cfg);
  caf::actor_system sys{cfg};
  if (tls_error) {
    std::cerr << "trellis-node: " << sys.render(tls_error) << '\n';
    return EXIT_FAILURE;
  }
  auto port = start_node(sys, x);
  if (!port) {
    std::cerr << "trellis-node: cannot listen on " << x.host << ":" << x.port
              << ": " << sys.render(port.error()) << '\n';
    return EXIT_FAILURE;
  }
  std::cout << "trellis-node port=" << *port << std::endl;
  int sig = 0;
  sigwait(&stop, &sig);
  return EXIT_SUCCESS;
}

} // namespace trellis
