#pragma once

/// @file
/// Forward declarations of Trellis' types, like caf/fwd.hpp.

#include <cstdint>

/// Everything of Trellis: supervision trees in the style of Erlang/OTP for
/// CAF actors, and the ready-made actors and the parts for distribution and
/// the observer that build on them. Internals live in `trellis::detail`.
namespace trellis {

class child_context;
class child_spec;
class health_check;
class shutdown;
class start_result;
class supervisor_spec;

struct child_counts;
struct child_info;
struct ignore_t;
struct lifecycle_event;
struct resume_limit;
struct retry_policy;
struct stable_handle_options;
struct tree_snapshot;

enum class auto_shutdown : uint8_t;
enum class child_state : uint8_t;
enum class child_type : uint8_t;
enum class decision : uint8_t;
enum class down_policy : uint8_t;
enum class errc : uint8_t;
enum class lifecycle_kind : uint8_t;
enum class log_level : uint8_t;
enum class restart : uint8_t;
enum class strategy : uint8_t;

} // namespace trellis
