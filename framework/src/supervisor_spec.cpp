#include "trellis/supervisor_spec.hpp"

#include <memory>
#include <string>
#include <vector>

#include "spec_rules.hpp"
#include "spec_depth.hpp"
#include "supervisor_actor.hpp"
#include "trellis/errc.hpp"

namespace trellis {

namespace {

/// Puts `id` in front of the path that an `invalid_spec` of a child carries,
/// or gives it `id` as its path: each supervisor spec adds its own id on the
/// way out, so a problem deep in a tree names where it is, `root/db`.
caf::error at(const std::string& id, caf::error err) {
  if (!err)
    return err;
  auto& ctx = err.context();
  using string = std::string;
  if (ctx.match_elements<string, string>())
    return make_error(errc::invalid_spec, ctx.get_as<string>(0),
                      ctx.get_as<string>(1), id);
  if (ctx.match_elements<string, string, string>())
    return make_error(errc::invalid_spec, ctx.get_as<string>(0),
                      ctx.get_as<string>(1), id + '/' + ctx.get_as<string>(2));
  return err;
}

} // namespace

supervisor_spec::~supervisor_spec() {
  // Takes the nested specs this spec alone owns out of `xs`; the factory
  // of a nested supervisor holds its spec too.
  std::vector<std::shared_ptr<const supervisor_spec>> doomed;
  auto take = [&doomed](std::vector<child_spec>& xs) {
    for (auto& x : xs) {
      if (x.d_.use_count() != 1 || !x.d_->nested)
        continue;
      auto nested = std::move(x.d_->nested);
      x.d_->start = nullptr;
      if (nested.use_count() == 1)
        doomed.push_back(std::move(nested));
    }
  };
  take(children_);
  while (!doomed.empty()) {
    auto next = std::move(doomed.back());
    doomed.pop_back();
    // Made non-const by as_child, and owned here alone.
    take(const_cast<supervisor_spec&>(*next).children_);
  }
}

child_spec supervisor_spec::as_child() const {
  // Not const itself, so that its destructor's caller may empty it first.
  std::shared_ptr<const supervisor_spec> nested
    = std::make_shared<supervisor_spec>(*this);
  child_spec result{id_, [nested](child_context& ctx) -> start_result {
                      return detail::supervisor_actor::spawn(
                        ctx.system(), *nested, ctx.path(), ctx.feed(),
                        ctx.supervisor().address());
                    }};
  result.type(child_type::supervisor);
  result.mut().nested = std::move(nested);
  return result;
}

caf::error supervisor_spec::validate() const {
  if (id_.empty())
    return make_error(errc::invalid_spec, "id",
                      "a supervisor's id must not be empty");
  detail::spec_depth level;
  if (auto n = detail::spec_depth::current(); n > max_tree_depth)
    return make_error(errc::invalid_spec, "depth",
                      "supervisor '" + id_ + "' is nested " + std::to_string(n)
                        + " levels deep; at most "
                        + std::to_string(max_tree_depth)
                        + " are supported",
                      id_);
  if (id_.find('/') != std::string::npos)
    return make_error(errc::invalid_spec, "id",
                      "supervisor '" + id_
                        + "' must not contain '/' (paths use it)");
  if (detail::has_control_char(id_))
    return make_error(errc::invalid_spec, "id", detail::control_char_text());
  if (detail::beyond(strategy_, trellis::strategy::simple_one_for_one))
    return make_error(errc::invalid_spec, "strategy",
                      "supervisor '" + id_
                        + "' has no strategy of trellis::strategy",
                      id_);
  if (detail::beyond(auto_shutdown_, trellis::auto_shutdown::all_significant))
    return make_error(errc::invalid_spec, "auto_shutdown",
                      "supervisor '" + id_
                        + "' has no mode of trellis::auto_shutdown",
                      id_);
  if (intensity_ < 0)
    return make_error(errc::invalid_spec, "intensity",
                      "supervisor '" + id_ + "' has a negative intensity",
                      id_);
  if (period_ <= caf::timespan{0})
    return make_error(errc::invalid_spec, "period",
                      "supervisor '" + id_ + "' needs a positive period", id_);
  if (restart_limit_) {
    if (auto what = problem_of(*restart_limit_))
      return make_error(errc::invalid_spec, "restart_limit",
                        "supervisor '" + id_ + "' " + what, id_);
  }
  if (kill_timeout_ < caf::timespan{0} || kill_timeout_ > detail::longest_span)
    return make_error(errc::invalid_spec, "kill_timeout",
                      "supervisor '" + id_
                        + "' needs a kill_timeout of 0 to 1 year",
                      id_);
  if (dynamic()) {
    if (children_.size() != 1)
      return make_error(errc::invalid_spec, "children",
                        "dynamic supervisor '" + id_
                          + "' needs exactly one child spec, its template",
                        id_);
    if (auto_shutdown_ != trellis::auto_shutdown::never)
      return make_error(errc::invalid_spec, "auto_shutdown",
                        "dynamic supervisor '" + id_
                          + "' cannot shut down automatically",
                        id_);
    if (max_children_ && *max_children_ < 0)
      return make_error(errc::invalid_spec, "max_children",
                        "dynamic supervisor '" + id_
                          + "' has a negative max_children",
                        id_);
  } else if (max_children_) {
    return make_error(errc::invalid_spec, "max_children",
                      "supervisor '" + id_
                        + "' is not dynamic; only dynamic supervisors have "
                          "max_children",
                      id_);
  }
  if (auto err = check_childspecs(children_))
    return at(id_, std::move(err));
  for (auto& child : children_)
    if (auto err = check_significance(child))
      return at(id_, std::move(err));
  return caf::none;
}

caf::error supervisor_spec::check_significance(const child_spec& x) const {
  if (x.significant() && auto_shutdown_ == trellis::auto_shutdown::never)
    return make_error(errc::invalid_spec, "significant",
                      "child '" + x.id() + "' of supervisor '" + id_
                        + "' is significant, but the supervisor's "
                          "auto_shutdown is never");
  return caf::none;
}

} // namespace trellis
