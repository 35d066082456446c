#pragma once

// Everything of Trellis' framework in one include, like caf/all.hpp.

#include "trellis/atoms.hpp"
#include "trellis/auto_shutdown.hpp"
#include "trellis/child_context.hpp"
#include "trellis/child_info.hpp"
#include "trellis/child_spec.hpp"
#include "trellis/child_type.hpp"
#include "trellis/configure.hpp"
#include "trellis/crash_handler.hpp"
#include "trellis/errc.hpp"
#include "trellis/fwd.hpp"
#include "trellis/log.hpp"
#include "trellis/restart.hpp"
#include "trellis/shutdown.hpp"
#include "trellis/start_result.hpp"
#include "trellis/strategy.hpp"
#include "trellis/supervisor.hpp"
#include "trellis/supervisor_spec.hpp"
#include "trellis/tree_snapshot.hpp"
