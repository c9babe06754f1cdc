#include "core/engine/train/bit_allocation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <string>

#include "core/engine/base/number_format.h"
#include "core/engine/base/rng.h"
#include "core/engine/train/sweep.h"

namespace qplay {
namespace {

constexpr int kCandidateCount = kAllocationMaxBits - kAllocationMinBits + 1;
// Exact search by enumeration up to 7^7 = 823,543 allocations.
constexpr double kMaxEnumeratedAllocations = 1e6;
// Budgets are compared with this slack, so an average of exactly 3 bits fits a budget of 3.
constexpr double kBudgetSlack = 1e-9;

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::string describe_size(const ModelSize& size) {
  return format_double("%.4g", size.average_weight_bits) + " bits per weight, " +
         format_double("%.4g", size.kilobytes()) + " KB";
}

}  // namespace

BitAllocator::BitAllocator(Network<float>& network, const Dataset& dataset, const AllocationOptions& options)
    : network_(&network), dataset_(&dataset), options_(options) {}

Result<BitAllocator> BitAllocator::create(Network<float>& network, const Dataset& dataset,
                                          const AllocationOptions& options) {
  if (options.calibration_samples < 1 || options.hutchinson_samples < 1) {
    return Status::error(
        "bit allocation: calibration_samples and hutchinson_samples must be at least 1, got " +
        std::to_string(options.calibration_samples) + " and " + std::to_string(options.hutchinson_samples));
  }
  if (dataset.train_size() == 0) return Status::error("bit allocation: the training split is empty");
  BitAllocator allocator(network, dataset, options);
  const Architecture& architecture = network.architecture();
  for (int i = 0; i < static_cast<int>(architecture.layers.size()); ++i) {
    const LayerSpec& layer = architecture.layers[i];
    if (!layer.has_parameters()) continue;
    allocator.layers_.push_back(i);
    allocator.layer_weights_.push_back(size_t(layer.weight_rows()) * size_t(layer.weight_columns()));
  }
  if (allocator.layers_.empty()) return Status::error("bit allocation: the network has no weighted layer");

  // A seeded draw without replacement (the first rows of a Fisher-Yates shuffle).
  std::vector<size_t> rows(dataset.train_size());
  std::iota(rows.begin(), rows.end(), size_t{0});
  const size_t count = std::min<size_t>(options.calibration_samples, rows.size());
  Rng rng(options.seed);
  for (size_t i = 0; i < count; ++i) std::swap(rows[i], rows[i + rng.below(uint32_t(rows.size() - i))]);
  rows.resize(count);
  allocator.calibration_x_ = dataset.train_x.select_rows(rows);
  for (size_t row : rows) allocator.calibration_y_.push_back(dataset.train_y[row]);
  allocator.calibration_features_.resize(allocator.calibration_x_.size());
  allocator.calibration_x_.copy_rows(0, allocator.calibration_x_.rows(),
                                     allocator.calibration_features_.data());
  HutchinsonOptions hutchinson;
  hutchinson.rademacher_vectors = options.hutchinson_samples;
  hutchinson.seed = options.seed;
  // Its spans stay valid when the allocator moves (a vector's move keeps its buffer).
  allocator.trace_job_.emplace(network, std::span<const float>(allocator.calibration_features_),
                               std::span<const int32_t>(allocator.calibration_y_), hutchinson);
  return allocator;
}

ModelSize BitAllocator::smallest() const {
  QuantizationSetting setting = options_.base;
  setting.weights.bits = kAllocationMinBits;
  setting.weight_bits_per_layer.clear();
  return model_size(network_->architecture(), setting);
}

Status BitAllocator::check_budget(const BitBudget& budget) const {
  const ModelSize least = smallest();
  const bool in_bits = budget.kind == BudgetKind::average_bits;
  const double least_value = in_bits ? least.average_weight_bits : least.kilobytes();
  if (!std::isfinite(budget.value) || budget.value < least_value - kBudgetSlack) {
    return Status::error(
        "a budget of " + format_double("%.6g", budget.value) + (in_bits ? " bits per weight" : " KB") +
        " cannot be met: it must be a number at least the smallest allocation's (every layer "
        "at " +
        std::to_string(kAllocationMinBits) + " bits): " + describe_size(least));
  }
  return {};
}

bool BitAllocator::fits(const std::vector<int>& bits, const BitBudget& budget) const {
  const Architecture& architecture = network_->architecture();
  if (budget.kind == BudgetKind::average_bits) {
    double weight_bits = 0, weights = 0;
    for (size_t l = 0; l < bits.size(); ++l) {
      weight_bits += double(layer_weights_[l]) * bits[l];
      weights += double(layer_weights_[l]);
    }
    return weight_bits / weights <= budget.value + kBudgetSlack;
  }
  size_t bytes = 0;
  for (size_t l = 0; l < bits.size(); ++l)
    bytes += layer_bytes(architecture.layers[layers_[l]], bits[l], options_.base);
  return bytes / 1024.0 <= budget.value + kBudgetSlack;
}

BitAllocation BitAllocator::make_allocation(AllocationMethod method, const BitBudget& budget,
                                            const std::vector<int>& bits) const {
  BitAllocation allocation;
  allocation.method = method;
  allocation.budget = budget;
  allocation.setting = options_.base;
  allocation.setting.weight_bits_per_layer.assign(network_->architecture().layers.size(), -1);
  for (size_t l = 0; l < bits.size(); ++l) allocation.setting.weight_bits_per_layer[layers_[l]] = bits[l];
  allocation.size = model_size(network_->architecture(), allocation.setting);
  return allocation;
}

double BitAllocator::calibration_loss(const QuantizationSetting& setting) {
  Network<float>& network = *network_;
  std::vector<float> view(network.parameter_count());
  quantize_weights_into(network, network.parameters(), setting, view);
  ForwardOptions<float> options;
  options.parameters = view;
  ActivationQuantization activations;
  if (setting.activations.bits > 0) {
    activations = calibrate_activation_ranges(network, view, dataset_->train_x,
                                              options_.activation_calibration_samples, setting.activations);
    options.activation_quantization = &activations;
  }
  return evaluate(network, calibration_x_, calibration_y_, options).loss;
}

size_t BitAllocator::next_lowerable_layer(const std::vector<int>& bits, size_t from) const {
  while (from < bits.size() && bits[from] == kAllocationMinBits) ++from;
  return from;
}

void BitAllocator::walk_one_evaluation(GreedyWalk& walk, const Cost& cost) const {
  const Clock::time_point start = Clock::now();
  if (walk.path.empty()) {
    GreedyStep first;
    first.bits.assign(layers_.size(), kAllocationMaxBits);
    first.cost = cost(first.bits);
    first.evaluations = ++walk.evaluations;
    first.milliseconds = walk.milliseconds += milliseconds_since(start);
    walk.path.push_back(std::move(first));
    walk.next_layer = next_lowerable_layer(walk.path.back().bits, 0);
  } else {
    const size_t l = walk.next_layer;
    std::vector<int> trial = walk.path.back().bits;
    --trial[l];
    const double trial_cost = cost(trial);
    ++walk.evaluations;
    // One bit less saves n_l weight-bits (and n_l/8 bytes of the budget in KB).
    const double rate = (trial_cost - walk.path.back().cost) / double(layer_weights_[l]);
    // A NaN cost (a diverged quantized model) is never chosen while a finite one is left.
    if (walk.best_layer < 0 || rate < walk.best_rate) {
      walk.best_layer = static_cast<int>(l);
      walk.best_rate = std::isnan(rate) ? std::numeric_limits<double>::infinity() : rate;
      walk.best_cost = trial_cost;
    }
    walk.next_layer = next_lowerable_layer(walk.path.back().bits, l + 1);
    walk.milliseconds += milliseconds_since(start);
  }
  const GreedyStep& last = walk.path.back();
  if (walk.next_layer < layers_.size()) return;
  // The scan from the last step is complete: its best lowering is the next step.
  if (walk.best_layer >= 0) {
    GreedyStep next = last;
    --next.bits[walk.best_layer];
    next.cost = walk.best_cost;
    next.evaluations = walk.evaluations;
    next.milliseconds = walk.milliseconds;
    walk.path.push_back(std::move(next));
    walk.best_layer = -1;
    walk.next_layer = next_lowerable_layer(walk.path.back().bits, 0);
  }
  walk.finished = walk.next_layer == layers_.size();
}

void BitAllocator::compute_omega_table() {
  const Clock::time_point start = Clock::now();
  Network<float>& network = *network_;
  traces_ = trace_job_->result();
  // Ω_l(b) = (Tr(H_l)/n_l)·‖Q_b(W_l) − W_l‖², with the setting's weight quantizer at b bits.
  omega_.assign(layers_.size(), {});
  std::vector<float> quantized;
  size_t tensor_index = 0;
  for (size_t l = 0; l < layers_.size(); ++l) {
    while (!network.parameter_tensors()[tensor_index].is_weight) ++tensor_index;
    const ParameterTensor& tensor = network.parameter_tensors()[tensor_index++];
    std::span<const float> weights = network.tensor(network.parameters(), tensor);
    quantized.resize(weights.size());
    const double mean_trace = traces_->traces[l] / double(layer_weights_[l]);
    for (int bits = kAllocationMinBits; bits <= kAllocationMaxBits; ++bits) {
      WeightQuantSpec spec = options_.base.weights;
      spec.bits = bits;
      quantize_weights(weights, tensor.rows, spec, quantized);
      double squared_error = 0;
      for (size_t i = 0; i < weights.size(); ++i) {
        const double error = double(quantized[i]) - double(weights[i]);
        squared_error += error * error;
      }
      omega_[l][bits] = mean_trace * squared_error;
    }
  }
  hessian_milliseconds_ += milliseconds_since(start);
}

bool BitAllocator::prepared(AllocationMethod method) const {
  switch (method) {
    case AllocationMethod::uniform:
      return true;
    case AllocationMethod::measured:
      return measured_walk_.finished;
    case AllocationMethod::hessian:
      return traces_.has_value();
  }
  return true;
}

void BitAllocator::prepare_unit(AllocationMethod method) {
  if (method == AllocationMethod::measured) {
    walk_one_evaluation(measured_walk_, [this](const std::vector<int>& bits) {
      return calibration_loss(make_allocation(AllocationMethod::measured, {}, bits).setting);
    });
  } else if (method == AllocationMethod::hessian) {
    const Clock::time_point start = Clock::now();
    trace_job_->run_unit();
    hessian_milliseconds_ += milliseconds_since(start);
    if (trace_job_->finished()) compute_omega_table();
  }
}

int BitAllocator::preparation_units(AllocationMethod method) const {
  const int layers = static_cast<int>(layers_.size());
  constexpr int steps_per_layer = kAllocationMaxBits - kAllocationMinBits;
  switch (method) {
    case AllocationMethod::uniform:
      return 0;
    case AllocationMethod::measured:
      return 1 + steps_per_layer * layers * layers;
    case AllocationMethod::hessian:
      return trace_job_->total_units();
  }
  return 0;
}

int BitAllocator::prepared_units(AllocationMethod method) const {
  if (prepared(method)) return preparation_units(method);
  if (method == AllocationMethod::measured) return measured_walk_.evaluations;
  if (method == AllocationMethod::hessian) return trace_job_->done_units();
  return 0;
}

void BitAllocator::resume() { trace_job_->forget_recording(); }

double BitAllocator::omega(const std::vector<int>& bits) const {
  double total = 0;
  for (size_t l = 0; l < bits.size(); ++l) total += omega_[l][bits[l]];
  return total;
}

std::vector<int> BitAllocator::hessian_search(const BitBudget& budget) {
  const size_t layers = layers_.size();
  if (std::pow(double(kCandidateCount), double(layers)) <= kMaxEnumeratedAllocations) {
    // Every allocation as a mixed-radix counter over the candidates, the best fitting one kept.
    std::vector<int> bits(layers, kAllocationMinBits), best;
    double best_omega = std::numeric_limits<double>::infinity();
    for (;;) {
      if (fits(bits, budget)) {
        const double value = omega(bits);
        if (best.empty() || value < best_omega) {
          best = bits;
          best_omega = value;
        }
      }
      size_t digit = 0;
      while (digit < layers && bits[digit] == kAllocationMaxBits) bits[digit++] = kAllocationMinBits;
      if (digit == layers) break;
      ++bits[digit];
    }
    return best;
  }
  const Cost omega_cost = [this](const std::vector<int>& bits) { return omega(bits); };
  while (!omega_walk_.finished) walk_one_evaluation(omega_walk_, omega_cost);
  return first_fitting_step(omega_walk_.path, budget).bits;
}

const BitAllocator::GreedyStep& BitAllocator::first_fitting_step(const std::vector<GreedyStep>& path,
                                                                 const BitBudget& budget) const {
  // The path ends with every layer at the minimum, which check_budget guarantees to fit.
  for (const GreedyStep& step : path)
    if (fits(step.bits, budget)) return step;
  return path.back();
}

Result<BitAllocation> BitAllocator::allocate(AllocationMethod method, const BitBudget& budget) {
  if (Status status = check_budget(budget); !status) return status;
  resume();
  while (!prepared(method)) prepare_unit(method);
  const Clock::time_point start = Clock::now();
  switch (method) {
    case AllocationMethod::uniform: {
      int bits = kAllocationMaxBits;
      while (bits > kAllocationMinBits && !fits(std::vector<int>(layers_.size(), bits), budget)) --bits;
      BitAllocation allocation = make_allocation(method, budget, std::vector<int>(layers_.size(), bits));
      allocation.cost = calibration_loss(allocation.setting);
      allocation.evaluations = 1;
      allocation.milliseconds = milliseconds_since(start);
      return allocation;
    }
    case AllocationMethod::measured: {
      const GreedyStep& step = first_fitting_step(measured_walk_.path, budget);
      BitAllocation allocation = make_allocation(method, budget, step.bits);
      allocation.cost = step.cost;
      allocation.evaluations = step.evaluations;
      allocation.milliseconds = step.milliseconds;
      return allocation;
    }
    case AllocationMethod::hessian: {
      const Clock::time_point search_start = Clock::now();
      const std::vector<int> bits = hessian_search(budget);
      BitAllocation allocation = make_allocation(method, budget, bits);
      allocation.cost = omega(bits);
      allocation.hessian_vector_products = traces_->hessian_vector_products;
      allocation.milliseconds = hessian_milliseconds_ + milliseconds_since(search_start);
      return allocation;
    }
  }
  return Status::error("bit allocation: unknown method");
}

// [SECTION] Pareto fronts

std::vector<double> default_pareto_budgets() {
  std::vector<double> budgets;
  for (int half_bits = 2 * kAllocationMinBits; half_bits <= 2 * kAllocationMaxBits; ++half_bits)
    budgets.push_back(half_bits / 2.0);
  return budgets;
}

void mark_pareto_fronts(std::vector<AllocationPoint>& points) {
  for (AllocationPoint& point : points) {
    point.on_front = true;
    for (const AllocationPoint& other : points) {
      if (other.allocation.method != point.allocation.method) continue;
      const size_t size = point.allocation.size.bytes, other_size = other.allocation.size.bytes;
      const bool no_worse = other_size <= size && other.test.accuracy >= point.test.accuracy;
      const bool better = other_size < size || other.test.accuracy > point.test.accuracy;
      if (no_worse && better) {
        point.on_front = false;
        break;
      }
    }
  }
}

// [SECTION] Allocation in time slices

Result<BitAllocationJob> BitAllocationJob::allocation(BitAllocator& allocator, AllocationMethod method,
                                                      const BitBudget& budget) {
  if (Status status = allocator.check_budget(budget); !status) return status;
  BitAllocationJob job(allocator);
  job.tasks_.push_back({method, budget});
  job.methods_.push_back(method);
  return job;
}

Result<BitAllocationJob> BitAllocationJob::pareto_fronts(BitAllocator& allocator, Network<float>& network,
                                                         const Dataset& dataset,
                                                         std::vector<AllocationMethod> methods,
                                                         const std::vector<BitBudget>& budgets,
                                                         int activation_calibration_samples) {
  for (const BitBudget& budget : budgets)
    if (Status status = allocator.check_budget(budget); !status) return status;
  BitAllocationJob job(allocator);
  job.network_ = &network;
  job.dataset_ = &dataset;
  job.activation_calibration_samples_ = activation_calibration_samples;
  for (AllocationMethod method : methods) {
    for (const BitBudget& budget : budgets) job.tasks_.push_back({method, budget});
    if (std::find(job.methods_.begin(), job.methods_.end(), method) == job.methods_.end())
      job.methods_.push_back(method);
  }
  return job;
}

JobProgress BitAllocationJob::progress() const {
  JobProgress progress;
  for (AllocationMethod method : methods_) {
    progress.done += allocator_->prepared_units(method);
    progress.total += allocator_->preparation_units(method);
  }
  progress.done += static_cast<int>(next_task_);
  progress.total += static_cast<int>(tasks_.size());
  return progress;
}

void BitAllocationJob::run_unit() {
  const Task& task = tasks_[next_task_];
  if (!allocator_->prepared(task.method)) {
    allocator_->prepare_unit(task.method);
    return;
  }
  // check_budget passed when the job was made, and the allocator is prepared: allocate cannot fail.
  BitAllocation allocation = allocator_->allocate(task.method, task.budget).value();
  ++next_task_;
  if (!computes_fronts()) {
    allocation_ = std::move(allocation);
    return;
  }
  const std::vector<int>& bits = allocation.setting.weight_bits_per_layer;
  auto found = evaluated_.find(bits);
  if (found == evaluated_.end()) {
    found = evaluated_
                .emplace(bits, evaluate_quantized(*network_, *dataset_, allocation.setting,
                                                  activation_calibration_samples_))
                .first;
  }
  points_.push_back({std::move(allocation), found->second, false});
  mark_pareto_fronts(points_);
}

int BitAllocationJob::step(const std::function<bool()>& keep_going) {
  allocator_->resume();
  int units = 0;
  while (!finished() && (units == 0 || keep_going())) {
    run_unit();
    ++units;
  }
  return units;
}

int BitAllocationJob::step_for(double budget_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double, std::milli>(budget_ms);
  return step([deadline] { return std::chrono::steady_clock::now() < deadline; });
}

Result<std::vector<AllocationPoint>> allocation_pareto_fronts(
    BitAllocator& allocator, Network<float>& network, const Dataset& dataset,
    const std::vector<AllocationMethod>& methods, const std::vector<BitBudget>& budgets,
    int activation_calibration_samples, const std::function<void(int done, int total)>& progress) {
  Result<BitAllocationJob> job = BitAllocationJob::pareto_fronts(allocator, network, dataset, methods,
                                                                 budgets, activation_calibration_samples);
  if (!job) return job.status();
  const int total = static_cast<int>(methods.size() * budgets.size());
  while (!job->finished()) {
    const size_t before = job->points().size();
    job->step([] { return false; });  // one unit
    if (progress && job->points().size() > before) progress(static_cast<int>(job->points().size()), total);
  }
  return job->points();
}

}  // namespace qplay
