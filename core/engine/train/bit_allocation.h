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
#include <map>
#include <memory>
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
  // Prepares what the method needs (below) at once, then answers.
  Result<BitAllocation> allocate(AllocationMethod method, const BitBudget& budget);

  // What allocate(method, ·) computes once for every budget, in units of work so it can be spread over
  // time slices (BitAllocationJob): one calibration-loss evaluation of the measured greedy's path, one
  // Hessian-vector product over one chunk of the calibration subset for the traces (the Ω table with
  // the last); uniform needs none. The units run in allocate's order, so the result is the same bit for
  // bit however they are spread.
  bool prepared(AllocationMethod method) const;
  void prepare_unit(AllocationMethod method);  // one more unit; only while !prepared(method)
  // Units done, and the total: for measured 1 + 6L² (L weighted layers), an upper bound that the done
  // count jumps to when the path reaches 2 bits everywhere in fewer.
  int prepared_units(AllocationMethod method) const;
  int preparation_units(AllocationMethod method) const;
  // Call when the network ran anything else since the last unit (the traces then redo their chunk's
  // forward and backward pass before the next product).
  void resume();

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
  // From kAllocationMaxBits everywhere, lower one layer by one bit at a time by the smallest increase of
  // cost(bits) per weight-bit saved, down to kAllocationMinBits everywhere, one evaluation of the cost
  // at a time. Budget-independent: a budget stops it at its first step that fits (first_fitting_step).
  struct GreedyWalk {
    std::vector<GreedyStep> path;
    size_t next_layer = 0;  // the next layer the scan from path.back() tries lowering
    int best_layer = -1;    // the scan's best lowering so far
    double best_rate = 0, best_cost = 0;
    int evaluations = 0;
    double milliseconds = 0;
    bool finished = false;
  };
  using Cost = std::function<double(const std::vector<int>&)>;
  BitAllocator(Network<float>& network, const Dataset& dataset, const AllocationOptions& options);

  bool fits(const std::vector<int>& bits, const BitBudget& budget) const;
  BitAllocation make_allocation(AllocationMethod method, const BitBudget& budget,
                                const std::vector<int>& bits) const;
  void walk_one_evaluation(GreedyWalk& walk, const Cost& cost) const;
  size_t next_lowerable_layer(const std::vector<int>& bits, size_t from) const;
  const GreedyStep& first_fitting_step(const std::vector<GreedyStep>& path, const BitBudget& budget) const;
  // The allocation minimising Σ Ω within the budget: enumerated, or the greedy on Ω for many layers.
  std::vector<int> hessian_search(const BitBudget& budget);
  double omega(const std::vector<int>& bits) const;
  void compute_omega_table();

  Network<float>* network_;
  const Dataset* dataset_;
  AllocationOptions options_;
  std::vector<int> layers_;            // weighted layers (indices into Architecture::layers)
  std::vector<size_t> layer_weights_;  // [layers_] n_l
  FeatureRows calibration_x_;
  std::vector<int32_t> calibration_y_;
  std::vector<float> calibration_features_;  // calibration_x_ as one block, for the traces
  GreedyWalk measured_walk_;
  GreedyWalk omega_walk_;  // the greedy on Ω (more than 7 layers), walked when needed
  std::optional<HutchinsonTraceJob<float>> trace_job_;
  std::optional<LayerHessianTraces> traces_;                       // once trace_job_ finished
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

// [SECTION] Allocation in time slices

struct JobProgress {
  int done = 0, total = 0;  // units of work; done never decreases and equals total once finished
};

// An allocation, or every method's Pareto front, computed a unit of work at a time so a front end can
// keep drawing (the playground's sensitivity tab): units are the allocator's preparation units (above),
// then one per allocation, a Pareto point being its allocation and its test evaluation. The one-shot
// paths (allocate, allocation_pareto_fronts) run the same units, so the results agree bit for bit.
// Keeps a reference to the allocator (and for fronts to the network and data set); the weights must not
// change while it runs.
class BitAllocationJob {
 public:
  // Errors: a budget check_budget refuses (each budget checked before any work).
  static Result<BitAllocationJob> allocation(BitAllocator& allocator, AllocationMethod method,
                                             const BitBudget& budget);
  static Result<BitAllocationJob> pareto_fronts(BitAllocator& allocator, Network<float>& network,
                                                const Dataset& dataset, std::vector<AllocationMethod> methods,
                                                const std::vector<BitBudget>& budgets,
                                                int activation_calibration_samples);

  // Runs units until finished or keep_going() returns false; it is asked before every unit but the
  // first, so a step returns within the caller's budget plus one unit, and every step makes progress.
  // Returns the units run.
  int step(const std::function<bool()>& keep_going);
  int step_for(double budget_ms);  // keep_going: until budget_ms of wall time has passed

  bool finished() const { return next_task_ == tasks_.size(); }
  JobProgress progress() const;
  bool computes_fronts() const { return network_ != nullptr; }
  // The allocation job's result once finished.
  const std::optional<BitAllocation>& allocation() const { return allocation_; }
  // The fronts job's points so far (each method's, by budget), on_front marked among them.
  const std::vector<AllocationPoint>& points() const { return points_; }

 private:
  struct Task {
    AllocationMethod method;
    BitBudget budget;
  };
  explicit BitAllocationJob(BitAllocator& allocator) : allocator_(&allocator) {}
  void run_unit();

  BitAllocator* allocator_;
  Network<float>* network_ = nullptr;  // fronts only
  const Dataset* dataset_ = nullptr;
  int activation_calibration_samples_ = 0;
  std::vector<Task> tasks_;
  std::vector<AllocationMethod> methods_;  // of the tasks, each once
  size_t next_task_ = 0;
  std::optional<BitAllocation> allocation_;
  std::vector<AllocationPoint> points_;
  std::map<std::vector<int>, Evaluation> evaluated_;  // by weight_bits_per_layer: equal ones evaluated once
};

// Each method's allocation at each budget, evaluated on the test split (equal allocations evaluated once),
// with each method's non-dominated (size, accuracy) points marked. progress(done, total) after each point.
// The fronts BitAllocationJob computes, at once.
Result<std::vector<AllocationPoint>> allocation_pareto_fronts(
    BitAllocator& allocator, Network<float>& network, const Dataset& dataset,
    const std::vector<AllocationMethod>& methods, const std::vector<BitBudget>& budgets,
    int activation_calibration_samples, const std::function<void(int done, int total)>& progress = {});

// Marks on_front within each method (exposed for tests).
void mark_pareto_fronts(std::vector<AllocationPoint>& points);

}  // namespace qplay
