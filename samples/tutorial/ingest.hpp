#pragma once

// Step 1: the ingest worker, the service's front door. It takes raw lines
// and runs each through the stages behind it, which later steps add.

#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "trellis/child_spec.hpp"

namespace tutorial {

/// A stage of the pipeline behind the ingest worker: the path of the actor
/// that handles a line and answers the line for the next stage. An optional
/// stage that fails leaves the line as it was (step 5's enrichment).
struct stage {
  std::string path;
  bool optional = false;
};

/// The ingest worker, `root/ingest`: answers each line with its number in
/// this incarnation and what the last stage answered.
trellis::child_spec ingest(std::vector<stage> stages);

/// Returns the path of the node above `path`: `root` for `root/ingest`.
std::string parent_of(const std::string& path);

} // namespace tutorial
