// Per-layer weight bits chosen under a budget (issue 17): given a trained float network and a budget in
// average bits per weight or in KB (deploy/model_size.h's convention), pick each weighted layer's bits from
// 2..8 so the model fits, three ways (docs/methods.md, "Bit allocation under a budget"):
//  - uniform:  the largest equal bit-width that fits;
//  - measured: greedy on measured sensitivity: from 8 bits everywhere, repeatedly lower by one bit the
//              layer whose lowering raises the cross-entropy of the jointly quantized model on a calibration
//              subset of the TRAINING split least per weight-bit saved, until the budget fits;
//  - hessian:  HAWQ-v2 (Dong et al. 2020): minimise Σ_l Ω_l(b_l), Ω_l(b) = (Tr(H_l)/n_l)·‖Q_b(W_l) − W_l‖²,
//              traces by Hutchinson (train/hessian_trace.h) on the same subset; exact by enumeration when
//              7^L <= 1e6, else the greedy above on Ω.
// Activations keep the setting's bits; the setting's granularity, symmetry and range method quantize the
// weights. Not for: choosing activation bits, or retraining at the chosen bits.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/data/dataset.h"
#include "core/engine/deploy/model_size.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/train/evaluation.h"
#include "core/engine/train/hessian_trace.h"

namespace qplay {

enum class AllocationMethod { uniform, measured, hessian };
constexpr std::array<std::string_view, 3> choice_names(AllocationMethod) {
  return {"uniform", "measured", "hessian"};
}

inline constexpr int kAllocationMinBits = 2;
inline constexpr int kAllocationMaxBits = 8;

enum class BudgetKind { average_bits, kilobytes };  // KB = 1024 bytes
struct BitBudget {
  BudgetKind kind = BudgetKind::average_bits;
  double value = 4;
};

struct AllocationOptions {
  QuantizationSetting base;        // granularity, symmetry, ranges, activation bits (weight bits are chosen)
  int calibration_samples = 1000;  // training rows drawn (seeded) for the measured loss and the traces
  uint64_t seed = 1;               // draws the calibration rows and the Rademacher vectors
  int hutchinson_samples = 32;     // m Rademacher vectors for the traces
  int activation_calibration_samples = 512;  // rows that calibrate activation grids, when quantized
};

struct BitAllocation {
  AllocationMethod method = AllocationMethod::uniform;
  BitBudget budget;
  QuantizationSetting setting;  // options.base with weight_bits_per_layer (-1 on layers without weights)
  // The method's objective at this allocation: uniform and measured the calibration loss, hessian Σ_l Ω_l.
  double cost = 0;
  ModelSize size;
  int evaluations = 0;              // calibration-subset evaluations this allocation needed
  int hessian_vector_products = 0;  // HVPs over the calibration subset (hessian only)
  double milliseconds = 0;          // the work this allocation needed, shared parts included
};

// Holds the calibration subset and what the methods compute once for every budget: the measured greedy's
// path (budget-independent: a budget only says where it stops) and the Hessian traces. Keeps a reference
// to the network and to the data set: the master weights are read, never changed, but the network's
// gradients and activation buffers are overwritten (the traces run backward passes).
class BitAllocator {
 public:
  // Errors: no weighted layer, a bad option (calibration_samples or hutchinson_samples < 1).
  static Result<BitAllocator> create(Network<float>& network, const Dataset& dataset,
                                     const AllocationOptions& options);

  // The smallest model any allocation makes (every layer at 2 bits).
  ModelSize smallest() const;
  // NaN, infinite, negative, or below smallest(): an error naming the smallest size possible.
  Status check_budget(const BitBudget& budget) const;
  Result<BitAllocation> allocate(AllocationMethod method, const BitBudget& budget);

  // The calibration loss of a per-layer allocation (one evaluation of the jointly quantized model).
  double calibration_loss(const QuantizationSetting& setting);
  const std::vector<int>& weighted_layers() const { return layers_; }
  const std::vector<size_t>& layer_weights() const { return layer_weights_; }  // [weighted layers] n_l
  const LayerHessianTraces* hessian_traces() const { return traces_ ? &*traces_ : nullptr; }

 private:
  using Clock = std::chrono::steady_clock;
  struct GreedyStep {
    std::vector<int> bits;  // [weighted layers]
    double cost = 0;
    int evaluations = 0;      // cumulative calls of the cost
    double milliseconds = 0;  // cumulative
  };
  BitAllocator(Network<float>& network, const Dataset& dataset, const AllocationOptions& options);

  bool fits(const std::vector<int>& bits, const BitBudget& budget) const;
  BitAllocation make_allocation(AllocationMethod method, const BitBudget& budget,
                                const std::vector<int>& bits) const;
  // From kAllocationMaxBits everywhere, lower one layer by one bit at a time by the smallest increase of
  // cost(bits) per weight-bit saved, down to kAllocationMinBits everywhere. Budget-independent: a budget
  // stops it at its first step that fits (first_fitting_step).
  std::vector<GreedyStep> greedy_path(const std::function<double(const std::vector<int>&)>& cost);
  const GreedyStep& first_fitting_step(const std::vector<GreedyStep>& path, const BitBudget& budget) const;
  // The allocation minimising Σ Ω within the budget: enumerated, or the greedy on Ω for many layers.
  std::vector<int> hessian_search(const BitBudget& budget);
  double omega(const std::vector<int>& bits) const;
  void compute_hessian_terms();

  Network<float>* network_;
  const Dataset* dataset_;
  AllocationOptions options_;
  std::vector<int> layers_;            // weighted layers (indices into Architecture::layers)
  std::vector<size_t> layer_weights_;  // [layers_] n_l
  FeatureRows calibration_x_;
  std::vector<int32_t> calibration_y_;
  std::vector<GreedyStep> measured_path_;  // empty until the first measured allocation
  std::vector<GreedyStep> omega_path_;     // the greedy on Ω (more than 7 layers), empty until needed
  std::optional<LayerHessianTraces> traces_;
  std::vector<std::array<double, kAllocationMaxBits + 1>> omega_;  // [layers_][bits] Ω_l(bits)
  double hessian_milliseconds_ = 0;
};

// [SECTION] Pareto fronts

struct AllocationPoint {
  BitAllocation allocation;
  Evaluation test;  // the allocation evaluated on the TEST split (evaluate_quantized)
  bool on_front =
      false;  // no point of the same method is at most as large and at least as accurate, one strictly
};

// Average-bit budgets 2, 2.5, ..., 8.
std::vector<double> default_pareto_budgets();

// Each method's allocation at each budget, evaluated on the test split (equal allocations evaluated once),
// with each method's non-dominated (size, accuracy) points marked. progress(done, total) after each point.
Result<std::vector<AllocationPoint>> allocation_pareto_fronts(
    BitAllocator& allocator, Network<float>& network, const Dataset& dataset,
    const std::vector<AllocationMethod>& methods, const std::vector<BitBudget>& budgets,
    int activation_calibration_samples, const std::function<void(int done, int total)>& progress = {});

// Marks on_front within each method (exposed for tests).
void mark_pareto_fronts(std::vector<AllocationPoint>& points);

}  // namespace qplay
