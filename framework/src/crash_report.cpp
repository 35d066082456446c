#include "trellis/crash_report.hpp"

#include <string_view>

#include <caf/atom.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/type_erased_tuple.hpp>
#include <caf/type_nr.hpp>

#include "trellis/crash_handler.hpp"

#include "demangle.hpp"

namespace trellis {

namespace {

// CAF numbers its built-in types and gives them no `type_info`; these are
// their names as a C++ reader writes them.
std::string builtin_name(uint16_t nr) {
  using caf::type_nr;
  switch (nr) {
    case type_nr<std::string>::value:
      return "std::string";
    case type_nr<int8_t>::value:
      return "int8_t";
    case type_nr<int16_t>::value:
      return "int16_t";
    case type_nr<int32_t>::value:
      return "int32_t";
    case type_nr<int64_t>::value:
      return "int64_t";
    case type_nr<uint8_t>::value:
      return "uint8_t";
    case type_nr<uint16_t>::value:
      return "uint16_t";
    case type_nr<uint32_t>::value:
      return "uint32_t";
    case type_nr<uint64_t>::value:
      return "uint64_t";
    case type_nr<bool>::value:
      return "bool";
    case type_nr<float>::value:
      return "float";
    case type_nr<double>::value:
      return "double";
    case type_nr<caf::atom_value>::value:
      return "caf::atom_value";
    case type_nr<std::vector<char>>::value:
      return "std::vector<char>";
    case type_nr<std::vector<std::string>>::value:
      return "std::vector<std::string>";
    default:
      // CAF's own name, such as `@down`.
      return nr < caf::type_nrs ? caf::numbered_type_names[nr - 1]
                                : "unknown";
  }
}

std::string type_name_at(const caf::type_erased_tuple& x, size_t pos) {
  auto rtti = x.type(pos);
  if (rtti.second != nullptr)
    return detail::demangled(rtti.second->name());
  return builtin_name(rtti.first);
}

void cut(std::string& x, size_t limit) {
  if (x.size() > limit) {
    x.resize(limit);
    x += "...";
  }
}

// A string or a byte buffer is cut before it is rendered, so that a large
// one costs no large rendering; anything else renders whole, then is cut.
std::string render_element(const caf::type_erased_tuple& x, size_t pos) {
  auto nr = x.type(pos).first;
  if (nr == caf::type_nr<std::string>::value) {
    auto& str = *static_cast<const std::string*>(x.get(pos));
    auto head = str.substr(0, max_rendered_element);
    auto result = caf::deep_to_string(head);
    if (str.size() > max_rendered_element)
      result += "...";
    return result;
  }
  if (nr == caf::type_nr<std::vector<char>>::value) {
    auto& buf = *static_cast<const std::vector<char>*>(x.get(pos));
    return "<" + std::to_string(buf.size()) + " bytes>";
  }
  auto result = x.stringify(pos);
  cut(result, max_rendered_element);
  return result;
}

} // namespace

std::string type_names(const caf::message& x) {
  std::string result;
  for (size_t i = 0; i < x.size(); ++i) {
    if (i > 0)
      result += ", ";
    result += type_name_at(x.content(), i);
  }
  return result;
}

std::string render_bounded(const caf::message& x) {
  std::string result = "(";
  for (size_t i = 0; i < x.size(); ++i) {
    if (i > 0)
      result += ", ";
    result += render_element(x.content(), i);
    if (result.size() > max_rendered_message)
      break;
  }
  if (result.size() > max_rendered_message) {
    cut(result, max_rendered_message);
    return result;
  }
  return result + ")";
}

std::string to_string(const logged_message& x) {
  std::string result = x.request ? "request" : "message";
  if (!x.sender.empty())
    result += " from " + x.sender;
  result += ": (" + type_names(x.content) + ") " + render_bounded(x.content);
  return result;
}

std::string to_string(const crash_report& x) {
  std::string result = "crash_report child=" + x.path + " restart_count="
                       + std::to_string(x.restart_count);
  if (auto details = crash_details_of(x.reason))
    result += "\n  exception: " + details->type + ": " + details->what;
  else
    result += "\n  reason: " + to_string(x.reason);
  if (x.message)
    result += "\n  on " + to_string(*x.message);
  else
    result += "\n  on no message (in its initialization)";
  if (x.trace) {
    result += "\n  thrown at:";
    auto frames = to_string(*x.trace);
    size_t pos = 0;
    while (pos < frames.size()) {
      auto end = frames.find('\n', pos);
      if (end == std::string::npos)
        end = frames.size();
      if (end > pos)
        result += "\n    " + frames.substr(pos, end - pos);
      pos = end + 1;
    }
  } else {
    result += "\n  thrown at: (not captured)";
  }
  if (!x.last_messages.empty()) {
    result += "\n  last messages, oldest first:";
    for (auto& m : x.last_messages)
      result += "\n    " + to_string(m);
  }
  if (!x.state.empty())
    result += "\n  state: " + x.state;
  if (!x.state_error.empty())
    result += "\n  state: (none: " + x.state_error + ")";
  return result;
}

} // namespace trellis
