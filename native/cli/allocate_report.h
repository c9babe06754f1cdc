// Turning bit allocations into what people read: an aligned table (per-layer bits per method, size, test
// accuracy, cost), CSV, JSON (docs/formats.md, "qplay-allocation") and an SVG plot of test accuracy
// against model size, one curve per method through its Pareto front.
#pragma once

#include <string>
#include <vector>

#include "core/engine/experiment/experiment.h"
#include "core/engine/train/bit_allocation.h"

namespace qplay::cli {

struct AllocationReport {
  std::vector<AllocationPoint> points;  // every method at every budget, test split evaluated
  std::vector<int> layers;              // the weighted layers (Architecture indices)
  std::vector<size_t> layer_weights;    // [layers] n_l
  std::vector<double> hessian_traces;   // [layers] when the hessian method ran; else empty
  Evaluation float_test;                // the float model on the test split
  int allocation_samples = 0, hutchinson_samples = 0;
  bool pareto = false;  // a sweep of budgets (marks the fronts) rather than one budget
};

std::string allocation_text(const AllocationReport& report);
std::string allocation_csv(const AllocationReport& report);
std::string allocation_json(const AllocationReport& report, const Experiment& experiment);
std::string allocation_svg(const AllocationReport& report, const std::string& title);

}  // namespace qplay::cli
