// A library built on Trellis (as the ready-made actors are) adds kinds of
// events and an error category of its own; the framework names none of
// them, and tells of their events as of its own: one value, reported and
// published.

#include "test_support.hpp"

#include "tell.hpp"
#include "trellis/error_category.hpp"

using namespace trellis;
using namespace trellis::test;

namespace {

constexpr lifecycle_kind gauge_high{first_user_kind + 10};
constexpr lifecycle_kind gauge_low{first_user_kind + 11};
constexpr lifecycle_kind never_described{first_user_kind + 12};

constexpr lifecycle_kind_info gauge_high_info{"gauge_high", "probe", "gauge",
                                              alarm_effect::raises};
constexpr lifecycle_kind_info gauge_low_info{"gauge_low", "probe", "gauge",
                                             alarm_effect::clears};
constexpr lifecycle_kind_info impostor_info{"impostor", "x", "y"};

enum class gauge_errc : uint8_t { too_high = 1 };

const char* gauge_errc_name(uint8_t code) noexcept {
  return code == 1 ? "too_high" : "unknown";
}

constexpr caf::atom_value gauge_category = caf::atom("tr_gauge");

// Before `main`, as a library registers: the fixtures' `configure` sees it.
const bool described
  = register_kind(gauge_high, gauge_high_info)
    && register_kind(gauge_low, gauge_low_info)
    && register_error_category(
      {gauge_category, "test::gauge_errc::", gauge_errc_name});

} // namespace

TEST_CASE("a library's event kinds are named as it described them",
          "[events][library]") {
  REQUIRE(described);
  CHECK(to_string(gauge_high) == "gauge_high");
  CHECK(info_of(gauge_low)->alarm == alarm_effect::clears);
  // The first description stays, and a second one is told so.
  CHECK(register_kind(gauge_high, gauge_high_info));
  CHECK_FALSE(register_kind(gauge_high, impostor_info));
  CHECK(to_string(gauge_high) == "gauge_high");
  // A kind nobody described still has a name; the framework's own kinds
  // cannot be described again.
  CHECK(to_string(never_described) == "kind_" + std::to_string(144 + 12));
  CHECK(info_of(never_described) == nullptr);
  CHECK_FALSE(register_kind(lifecycle_kind::child_started, impostor_info));
  CHECK(info_of(lifecycle_kind::child_started) == nullptr);
  CHECK(to_string(lifecycle_kind::child_started) == "child_started");
}

TEST_CASE("an event is told once: its report is derived from the value "
          "that is published",
          "[events][library]") {
  fixture f;
  log_capture logs;
  auto group = f.sys.groups().anonymous();
  f.probe->join(group);
  detail::tell(
    f.sys, group, log_level::warn,
    [] {
      return lifecycle_event::about(gauge_high, "root/pump", "pressure")
        .with_detail("value=9 raise_at=8");
    },
    "root/probe");
  auto ev = await_event(f.probe, gauge_high, "root/pump");
  CHECK(ev.id == "pressure");
  CHECK(ev.detail == "value=9 raise_at=8");
  CHECK(logs.reports("gauge_high probe=root/probe gauge=pressure "
                     "value=9 raise_at=8")
          .size()
        == 1);
  // With the report's level off and nobody listening, nothing is built.
  bool built = false;
  detail::tell(f.sys, caf::group{}, log_level::debug, [&] {
    built = true;
    return lifecycle_event::about(gauge_low, "root/pump", "pressure");
  });
  CHECK_FALSE(built);
  f.probe->leave(group);
}

TEST_CASE("a library's error category renders as Trellis' own, as a cause "
          "too",
          "[errors][library]") {
  fixture f;
  // An atom already taken stays with its first category.
  CHECK_FALSE(register_error_category(
    {errc_category, "test::impostor::", gauge_errc_name}));
  auto err = caf::error{static_cast<uint8_t>(gauge_errc::too_high),
                        gauge_category, caf::make_message("root/pump", "9")};
  CHECK(f.render(err) == "test::gauge_errc::too_high: root/pump, 9");
  CHECK(f.render(make_error(errc::escalated, "root", "pump", err))
        == "trellis::errc::escalated: root, pump, test::gauge_errc::too_high: "
           "root/pump, 9");
  CHECK(cause_of(make_error(errc::escalated, "root", "pump", err)) == err);
}
