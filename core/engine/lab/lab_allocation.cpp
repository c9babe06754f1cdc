#include "core/engine/lab/lab_allocation.h"

namespace qplay {

Result<LabAllocation> allocate_lab_weight_bits(Lab& lab, int run, AllocationMethod method,
                                               const BitBudget& budget) {
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
  Result<BitAllocation> allocation = allocator->allocate(method, budget);
  if (!allocation) return allocation.status();
  LabAllocation result{std::move(allocation).value(), {}};
  for (int layer : lab.weighted_layers())
    result.layer_weight_bits.push_back(result.allocation.setting.weight_bits_per_layer[layer]);
  return result;
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
