// Per-layer weight bits chosen under a budget for a lab (issue 17): the playground's budget control and
// the JS API's allocateBits() run train/bit_allocation.h on one run's current weights at the lab's
// setting, and the result becomes the lab's layer_weight_bits (the caller applies it, so the URL hash
// and every evaluation follow as after any per-layer change).
//
// allocate_lab_weight_bits blocks: the measured greedy evaluates the jointly quantized model 1 + 6·L² times
// on the calibration subset, the hessian method runs 32 Hessian-vector products over it (docs/methods.md,
// "Bit allocation under a budget"); about 10-300 ms for the playground's networks. The run's gradients and
// activation buffers are overwritten, which is harmless between training steps (each step recomputes them).
// start_lab_allocation and start_lab_pareto_fronts run the same work in the lab's time slices
// (Lab::allocation_work, a unit of work past the slice at most: one calibration evaluation, one
// Hessian-vector product over 256 samples, or one Pareto point's test evaluation) and give the same result.
#pragma once

#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/io/json.h"
#include "core/engine/lab/lab.h"
#include "core/engine/train/bit_allocation.h"

namespace qplay {

struct LabAllocation {
  BitAllocation allocation;
  std::vector<int> layer_weight_bits;  // one per weighted layer: the LabState::layer_weight_bits value
};

// Calibration rows: the allocator's default (1000 training samples), fewer when the split is smaller.
Result<LabAllocation> allocate_lab_weight_bits(Lab& lab, int run, AllocationMethod method,
                                               const BitBudget& budget);

// The same as a job of the lab (Lab::start_allocation): its result once finished is what the call above
// returns. Errors: no such run, a budget that cannot be met.
Status start_lab_allocation(Lab& lab, int run, AllocationMethod method, const BitBudget& budget);
// Every method's allocation at default_pareto_budgets(), evaluated on the test split, as a lab job.
Status start_lab_pareto_fronts(Lab& lab, int run);
// An allocation's bits per weighted layer (the LabState::layer_weight_bits form).
std::vector<int> lab_layer_weight_bits(const Lab& lab, const BitAllocation& allocation);

// {method, weight_bits: [per weighted layer], kilobytes, average_weight_bits, cost, evaluations,
//  hessian_vector_products, milliseconds}: the reply of the lab command "allocate".
Json lab_allocation_json(const LabAllocation& result);

}  // namespace qplay
