#include "harness.hpp"

#include <chrono>
#include <iostream>
#include <thread>

#include "trellis/all.hpp"

using namespace std::chrono_literals;

namespace tutorial {

harness::harness(caf::actor_system& system, caf::actor tree)
  : sys(system), root(std::move(tree)), self(system) {
  if (auto events = trellis::lifecycle_events(sys, root))
    self->join(*events);
}

std::string harness::send(const std::string& line) {
  std::string result;
  std::cout << "  > \"" << line << "\"\n";
  auto ingest = at("root/ingest");
  if (!ingest) {
    result = "error: no root/ingest";
  } else {
    self->request(ingest, 5s, line)
      .receive([&](std::string& answer) { result = std::move(answer); },
               [&](caf::error& err) { result = "error: " + sys.render(err); });
  }
  std::cout << "  < " << result << '\n';
  return result;
}

std::string harness::value_of(const std::string& key) {
  std::string result;
  auto writer = at("root/writer");
  if (writer)
    self->request(writer, 5s, caf::get_atom::value, key)
      .receive([&](std::string& value) { result = std::move(value); },
               [&](caf::error&) {});
  return result;
}

caf::actor harness::at(const std::string& path) {
  auto hdl = trellis::lookup(sys, root, path);
  return hdl ? *hdl : caf::actor{};
}

size_t harness::running_children(const std::string& path) {
  size_t n = 0;
  if (auto sup = at(path))
    if (auto children = trellis::which_children(sys, sup))
      for (auto& child : *children)
        n += child.state == trellis::child_state::running ? 1 : 0;
  return n;
}

bool harness::await(const std::string& what,
                    const std::function<bool()>& done) {
  for (int i = 0; i < 2000; ++i) {
    if (done())
      return true;
    std::this_thread::sleep_for(10ms);
  }
  std::cout << "  (gave up waiting for " << what << ")\n";
  ok_ = false;
  return false;
}

void harness::expect(bool cond, const std::string& what) {
  if (!cond) {
    std::cout << "  (expected " << what << ")\n";
    ok_ = false;
  }
}

void harness::print_tree() {
  if (auto snap = trellis::snapshot(sys, root))
    std::cout << trellis::to_text(*snap);
  else
    std::cout << "  (no snapshot: " << sys.render(snap.error()) << ")\n";
}

void harness::print_events() {
  for (bool more = true; more;)
    self->receive(
      [&](const trellis::lifecycle_event& ev) {
        if (ev.kind == trellis::lifecycle_kind::child_started)
          return;
        std::cout << "  event: " << trellis::to_string(ev.kind) << ' '
                  << ev.path;
        if (!ev.detail.empty())
          std::cout << ' ' << ev.detail;
        std::cout << '\n';
      },
      caf::after(0ms) >> [&] { more = false; });
}

std::vector<std::string> harness::exits(const std::string& last) {
  std::vector<std::string> result;
  for (bool more = true; more && (result.empty() || result.back() != last);)
    self->receive(
      [&](const trellis::lifecycle_event& ev) {
        if (ev.kind != trellis::lifecycle_kind::child_exited)
          return;
        std::cout << "  event: child_exited " << ev.path << '\n';
        result.push_back(ev.path);
      },
      caf::after(5s) >> [&] { more = false; });
  return result;
}

} // namespace tutorial
