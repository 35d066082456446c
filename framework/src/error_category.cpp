#include "trellis/error_category.hpp"

#include <algorithm>
#include <mutex>
#include <string_view>

#include "trellis/errc.hpp"

namespace trellis {

namespace {

const char* errc_name(uint8_t code) noexcept {
  return name_of(static_cast<errc>(code));
}

struct registry {
  std::mutex mtx;
  std::vector<error_category> categories{
    {errc_category, "trellis::errc::", errc_name}};
};

// A function-local static: libraries register while the program
// initializes, in an order nobody controls.
registry& the_registry() {
  static registry instance;
  return instance;
}

} // namespace

bool register_error_category(const error_category& x) {
  auto& r = the_registry();
  std::lock_guard<std::mutex> guard{r.mtx};
  auto& xs = r.categories;
  auto i = std::find_if(xs.begin(), xs.end(), [&](const error_category& c) {
    return c.atom == x.atom;
  });
  if (i == xs.end()) {
    xs.push_back(x);
    return true;
  }
  return std::string_view{i->prefix} == x.prefix && i->name == x.name;
}

std::vector<error_category> error_categories() {
  auto& r = the_registry();
  std::lock_guard<std::mutex> guard{r.mtx};
  return r.categories;
}

} // namespace trellis
