#include "core/engine/lab/lab_allocation.h"

#include <memory>

namespace qplay {
namespace {

// An allocator of the run's current weights at the lab's setting.
Result<std::unique_ptr<BitAllocator>> lab_allocator(Lab& lab, int run) {
  if (run < 0 || run >= lab.run_count())
    return Status::error("no run " + std::to_string(run) + " (the lab has " +
                         std::to_string(lab.run_count()) + ")");
  const Experiment& experiment = lab.state().experiment;
  AllocationOptions options;
  options.base = lab.current_setting();
  options.base.weight_bits_per_layer.clear();  // the allocation chooses them
  options.seed = static_cast<uint64_t>(experiment.seed);
  options.activation_calibration_samples = experiment.calibration_samples;
  Result<BitAllocator> allocator = BitAllocator::create(lab.network(run), lab.dataset(), options);
  if (!allocator) return allocator.status();
  return std::make_unique<BitAllocator>(std::move(allocator).value());
}

void start_job(Lab& lab, int run, std::unique_ptr<BitAllocator> allocator, BitAllocationJob job) {
  LabAllocationWork work;
  work.run = run;
  work.weights_version = lab.weights_version(run);
  work.epoch = lab.trainer(run).completed_epochs();
  work.steps = lab.trainer(run).steps_taken();
  work.allocator = std::move(allocator);
  work.job = std::make_unique<BitAllocationJob>(std::move(job));
  lab.start_allocation(std::move(work));
}

}  // namespace

std::vector<int> lab_layer_weight_bits(const Lab& lab, const BitAllocation& allocation) {
  std::vector<int> bits;
  for (int layer : lab.weighted_layers()) bits.push_back(allocation.setting.weight_bits_per_layer[layer]);
  return bits;
}

Result<LabAllocation> allocate_lab_weight_bits(Lab& lab, int run, AllocationMethod method,
                                               const BitBudget& budget) {
  Result<std::unique_ptr<BitAllocator>> allocator = lab_allocator(lab, run);
  if (!allocator) return allocator.status();
  Result<BitAllocation> allocation = (*allocator)->allocate(method, budget);
  if (!allocation) return allocation.status();
  std::vector<int> bits = lab_layer_weight_bits(lab, *allocation);
  return LabAllocation{std::move(allocation).value(), std::move(bits)};
}

Status start_lab_allocation(Lab& lab, int run, AllocationMethod method, const BitBudget& budget) {
  Result<std::unique_ptr<BitAllocator>> allocator = lab_allocator(lab, run);
  if (!allocator) return allocator.status();
  Result<BitAllocationJob> job = BitAllocationJob::allocation(**allocator, method, budget);
  if (!job) return job.status();
  start_job(lab, run, std::move(allocator).value(), std::move(job).value());
  return {};
}

Status start_lab_pareto_fronts(Lab& lab, int run) {
  Result<std::unique_ptr<BitAllocator>> allocator = lab_allocator(lab, run);
  if (!allocator) return allocator.status();
  std::vector<BitBudget> budgets;
  for (double bits : default_pareto_budgets()) budgets.push_back({BudgetKind::average_bits, bits});
  Result<BitAllocationJob> job = BitAllocationJob::pareto_fronts(
      **allocator, lab.network(run), lab.dataset(),
      {AllocationMethod::uniform, AllocationMethod::measured, AllocationMethod::hessian}, budgets,
      lab.state().experiment.calibration_samples);
  if (!job) return job.status();
  start_job(lab, run, std::move(allocator).value(), std::move(job).value());
  return {};
}

Json lab_allocation_json(const LabAllocation& result) {
  const BitAllocation& a = result.allocation;
  Json bits = Json::array();
  for (int b : result.layer_weight_bits) bits.push_back(b);
  return Json::object({{"method", Json(std::string(choice_name(a.method)))},
                       {"weight_bits", std::move(bits)},
                       {"kilobytes", Json(a.size.kilobytes())},
                       {"average_weight_bits", Json(a.size.average_weight_bits)},
                       {"cost", Json(a.cost)},
                       {"evaluations", Json(a.evaluations)},
                       {"hessian_vector_products", Json(a.hessian_vector_products)},
                       {"milliseconds", Json(a.milliseconds)}});
}

}  // namespace qplay
