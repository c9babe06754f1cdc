// The arms of a comparison (`qplay-cli compare --methods`): each is a method with some of its knobs, or
// training settings, set for that arm only, written
//   baseline,gradl1[gradl1_lambda_weights=1e-4|1e-3|1e-2,gradl1_warmup=0.5],symreg[satnl=off]
// A knob given several values ('|') is a grid declared before anything trains: compare chooses its value on
// the validation split and reports only the chosen one (comparison.h). An arm's label is its text as
// written, so two arms of one method (an ablation) stay apart in every table.
//
// Not for: which settings the CLI accepts (native/cli) or the lab's plain method lists (lab_state.h).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/experiment/experiment.h"

namespace qplay {

struct ComparisonKnob {
  std::string key;
  std::vector<std::string> values;  // one, or a grid
};

struct ComparisonArm {
  std::string label;   // the text as written: "symreg[satnl=off]"
  std::string method;  // "symreg"
  std::vector<ComparisonKnob> knobs;
  // Points of the grid: the product of the knobs' value counts (1 without a grid).
  size_t grid_size() const;
};

// The grids an arm may hold, so a comparison stays small and equal across methods.
inline constexpr size_t kMaxGridPoints = 16;
inline constexpr size_t kMaxArms = 12;

// Each arm's method must exist, labels must differ, and a knob must be the arm's method's own or a training
// setting other than epochs, seed and init_model (which the comparison holds equal across arms); each value
// is checked as set_setting would.
Result<std::vector<ComparisonArm>> parse_comparison_arms(std::string_view text);

// The knob values of one grid point (index in [0, grid_size()), the last knob varying fastest).
std::vector<std::pair<std::string, std::string>> arm_knob_values(const ComparisonArm& arm, size_t grid_point);
// `base` with the arm's method and the grid point's knob values set.
Result<Experiment> arm_experiment(const Experiment& base, const ComparisonArm& arm, size_t grid_point);

}  // namespace qplay
