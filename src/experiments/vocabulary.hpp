// The lower layers' names that the experiments use unqualified: the sweep's chains, items,
// protocols and statuses, and the sweep file's layout.
#pragma once

#include "io/sweep_file.hpp"
#include "sweep/driver.hpp"
#include "sweep/grid.hpp"
#include "sweep/horizon.hpp"
#include "sweep/status.hpp"
#include "sweep/work.hpp"

namespace cdl::experiments {

using sweep::Chain;
using sweep::PointStatus;
using sweep::Protocol;
using sweep::SampleWindow;
using sweep::SweepOutcome;
using sweep::WorkItem;

using io::Provenance;
using io::Shape;
using io::SweepAxes;
using io::SweepFile;

}  // namespace cdl::experiments
