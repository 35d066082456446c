#include "trellis/crash_handler.hpp"

#include <cstdlib>
#include <cxxabi.h>
#include <memory>
#include <string>
#include <typeinfo>
#include <map>
#include <string_view>

#include <caf/scheduled_actor.hpp>

#include "trellis/errc.hpp"

#include "demangle.hpp"

namespace trellis {

namespace {

// Trellis' children have a handler of their own that also records the
// crash for its report (see `crash_handled`).
caf::error handle_exception(caf::scheduled_actor*, std::exception_ptr& x) {
  return crash_reason(x);
}

} // namespace

namespace detail {

std::string demangle_now(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> res{
    abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free};
  return status == 0 && res ? std::string{res.get()} : std::string{name};
}

// Keyed by the mangled name's text, which outlives an unloaded library's
// address.
const std::string& demangled(const char* name) {
  thread_local std::map<std::string, std::string, std::less<>> cache;
  auto i = cache.find(std::string_view{name});
  if (i == cache.end())
    i = cache.emplace(name, demangle_now(name)).first;
  return i->second;
}

} // namespace detail


caf::error detail::current_crash_reason(const std::exception* e) {
  if (e != nullptr)
    return make_error(errc::unhandled_exception,
                      detail::demangled(typeid(*e).name()),
                      std::string{e->what()});
  auto type = abi::__cxa_current_exception_type();
  return make_error(errc::unhandled_exception,
                    type ? detail::demangled(type->name())
                         : std::string{"unknown"},
                    std::string{"(not a std::exception)"});
}

caf::error crash_reason(const std::exception_ptr& x) {
  try {
    std::rethrow_exception(x);
  } catch (const std::exception& e) {
    return detail::current_crash_reason(&e);
  } catch (...) {
    return detail::current_crash_reason(nullptr);
  }
}

std::optional<crash_details> crash_details_of(const caf::error& reason) {
  if (!is(reason, errc::unhandled_exception))
    return std::nullopt;
  auto& ctx = reason.context();
  if (!ctx.match_elements<std::string, std::string>())
    return std::nullopt;
  return crash_details{ctx.get_as<std::string>(0), ctx.get_as<std::string>(1)};
}

void install_crash_handler(caf::scheduled_actor* self) {
  // A plain function pointer: no allocation per actor.
  self->set_exception_handler(handle_exception);
}

} // namespace trellis
