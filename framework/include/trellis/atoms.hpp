#pragma once

#include <caf/atom.hpp>

namespace trellis {

/// `(caf::get_atom, started_atom)` asks a supervisor to answer `caf::ok_atom`
/// once all its children started, or the error that made its start fail.
using started_atom = caf::atom_constant<caf::atom("tr_started")>;

/// `(which_children_atom)` asks a supervisor for `std::vector<child_info>`.
using which_children_atom = caf::atom_constant<caf::atom("tr_which")>;

/// `(count_children_atom)` asks a supervisor for `child_counts`.
using count_children_atom = caf::atom_constant<caf::atom("tr_count")>;

} // namespace trellis
