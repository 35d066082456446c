#include "trellis/stack_trace.hpp"

#include <elfutils/libdwfl.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <unordered_map>

#include "demangle.hpp"

namespace trellis {

namespace {

// libdw's view of this process: modules from /proc/self/maps, their symbol
// tables (.symtab, so no -rdynamic needed) and debug info read once and
// cached. Dwfl is not thread-safe: one per process, under a mutex.
class symbolizer {
public:
  static symbolizer& instance() {
    // Never destroyed: a report may render while the process exits.
    static auto* self = new symbolizer;
    return *self;
  }

  void resolve(stack_frame& f) {
    if (f.address == 0)
      return;
    std::lock_guard<std::mutex> guard{mtx_};
    if (dwfl_ == nullptr)
      return;
    // A crash that repeats repeats its frames: libdw's lookups (millions of
    // instructions a trace) once per address. As stale as libdw's own view
    // after a library is unloaded, no more.
    if (auto i = resolved_.find(f.address); i != resolved_.end()) {
      f = i->second;
      return;
    }
    // An address in no module is not kept: a later report may find it.
    if (!lookup(f))
      return;
    if (resolved_.size() >= max_resolved)
      resolved_.clear();
    resolved_.emplace(f.address, f);
  }

private:
  static constexpr size_t max_resolved = 4096;

  /// Returns whether a module holds the address.
  bool lookup(stack_frame& f) {
    // A return address points past its call: look up the call itself.
    auto addr = static_cast<Dwarf_Addr>(f.address - 1);
    auto* mod = dwfl_addrmodule(dwfl_, addr);
    if (mod == nullptr && report()) // A library loaded since?
      mod = dwfl_addrmodule(dwfl_, addr);
    if (mod == nullptr)
      return false;
    // The module's name is the path that /proc/self/maps shows.
    auto path = dwfl_module_info(mod, nullptr, nullptr, nullptr, nullptr,
                                 nullptr, nullptr, nullptr);
    if (path != nullptr) {
      auto slash = std::strrchr(path, '/');
      f.module = slash != nullptr ? slash + 1 : path;
    }
    if (auto name = dwfl_module_addrname(mod, addr))
      f.function = detail::demangle_now(name);
    if (auto line = dwfl_module_getsrc(mod, addr)) {
      int lineno = 0;
      if (auto file = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr,
                                    nullptr)) {
        f.file = file;
        f.line = lineno > 0 ? static_cast<unsigned>(lineno) : 0;
      }
    }
    return true;
  }

  symbolizer() {
    callbacks_.find_elf = dwfl_linux_proc_find_elf;
    callbacks_.find_debuginfo = dwfl_standard_find_debuginfo;
    callbacks_.section_address = nullptr;
    callbacks_.debuginfo_path = nullptr;
    dwfl_ = dwfl_begin(&callbacks_);
    if (dwfl_ != nullptr)
      report();
  }

  bool report() {
    resolved_.clear();
    dwfl_report_begin(dwfl_);
    auto rc = dwfl_linux_proc_report(dwfl_, getpid());
    return dwfl_report_end(dwfl_, nullptr, nullptr) == 0 && rc == 0;
  }

  std::mutex mtx_;
  Dwfl_Callbacks callbacks_{};
  Dwfl* dwfl_ = nullptr;
  std::unordered_map<uintptr_t, stack_frame> resolved_;
};

} // namespace

std::vector<stack_frame> symbolize(const stack_trace& x) {
  std::vector<stack_frame> result;
  result.reserve(x.size());
  auto& sym = symbolizer::instance();
  for (auto addr : x.frames()) {
    stack_frame f;
    f.address = addr;
    sym.resolve(f);
    result.push_back(std::move(f));
  }
  return result;
}

std::string to_string(const stack_trace& x) {
  std::string result;
  char buf[32];
  size_t i = 0;
  for (auto& f : symbolize(x)) {
    result += '#';
    result += std::to_string(i++);
    std::snprintf(buf, sizeof(buf), " 0x%zx ", static_cast<size_t>(f.address));
    result += buf;
    result += f.function.empty() ? std::string{"??"} : f.function;
    if (!f.file.empty()) {
      result += " at ";
      result += f.file;
      result += ':';
      result += std::to_string(f.line);
    }
    if (!f.module.empty()) {
      result += " (";
      result += f.module;
      result += ')';
    }
    result += '\n';
  }
  if (!x.walked())
    result += "(only the throw site: this thread threw more than "
              + std::to_string(stack_trace::max_walks_per_second)
              + " times in the second)\n";
  return result;
}

} // namespace trellis
