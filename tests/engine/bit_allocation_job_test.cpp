// Bit allocation in time slices (BitAllocationJob, and the lab's job of lab/lab_allocation.h): the sliced
// result equals the one-shot one bit for bit for every method and for the Pareto fronts, even when the
// network runs other forwards between slices (as the lab's evaluations do); progress never goes back and
// ends at its total; a step stops at the first unit after its caller says stop (counted, not timed); and
// the lab cancels a job once its run's weights change, never applying it, and a new request replaces it.
#include <gtest/gtest.h>

#include <vector>

#include "core/engine/experiment/run.h"
#include "core/engine/lab/lab_allocation.h"
#include "core/engine/train/bit_allocation.h"
#include "tests/engine/trained_fixtures.h"

namespace qplay {
namespace {

qplay::Run trained_moons_mlp() {
  Experiment e;
  e.dataset = DatasetChoice::moons;
  e.samples = 600;
  e.architecture = "mlp:6,8";
  e.epochs = 4;
  e.batch_size = 32;
  e.kernels = KernelChoice::reference;
  e.threads = 1;
  return trained_run(e);
}

AllocationOptions job_options() {
  AllocationOptions options;
  options.calibration_samples = 300;  // two chunks of the traces' 256 samples: units resume mid-chunk
  options.hutchinson_samples = 4;
  return options;
}

// What the lab does between slices: the network runs forwards of other samples, overwriting the
// activations a recorded backward pass would otherwise still hold.
void run_other_forward(Network<float>& network, const Dataset& dataset) {
  std::vector<float> features(size_t(7) * dataset.sample_size());
  dataset.test_x.copy_rows(0, 7, features.data());
  network.forward(features, 7);
}

void expect_same_allocation(const BitAllocation& sliced, const BitAllocation& one_shot) {
  EXPECT_EQ(sliced.setting.weight_bits_per_layer, one_shot.setting.weight_bits_per_layer);
  EXPECT_EQ(sliced.cost, one_shot.cost);  // bit for bit
  EXPECT_EQ(sliced.size.bytes, one_shot.size.bytes);
  EXPECT_EQ(sliced.evaluations, one_shot.evaluations);
  EXPECT_EQ(sliced.hessian_vector_products, one_shot.hessian_vector_products);
}

TEST(BitAllocationJob, SlicedEqualsOneShotForEveryMethod) {
  qplay::Run model = trained_moons_mlp();
  for (AllocationMethod method :
       {AllocationMethod::uniform, AllocationMethod::measured, AllocationMethod::hessian}) {
    SCOPED_TRACE(std::string(choice_name(method)));
    for (double budget : {2.5, 3.25, 5.0}) {
      Result<BitAllocator> one_shot = BitAllocator::create(*model.network, *model.dataset, job_options());
      ASSERT_TRUE(one_shot.ok()) << one_shot.message();
      Result<BitAllocation> expected = one_shot->allocate(method, {BudgetKind::average_bits, budget});
      ASSERT_TRUE(expected.ok()) << expected.message();

      Result<BitAllocator> sliced = BitAllocator::create(*model.network, *model.dataset, job_options());
      ASSERT_TRUE(sliced.ok());
      Result<BitAllocationJob> job =
          BitAllocationJob::allocation(*sliced, method, {BudgetKind::average_bits, budget});
      ASSERT_TRUE(job.ok()) << job.message();
      int steps = 0;
      while (!job->finished()) {
        job->step([] { return false; });  // one unit per slice, other work between
        run_other_forward(*model.network, *model.dataset);
        ++steps;
      }
      ASSERT_TRUE(job->allocation().has_value());
      expect_same_allocation(*job->allocation(), *expected);
      if (method == AllocationMethod::hessian)
        EXPECT_EQ(steps, 2 * 4 + 1);  // chunks x vectors, then the search
    }
  }
}

TEST(BitAllocationJob, SlicedParetoFrontsEqualTheOneShotOnes) {
  qplay::Run model = trained_moons_mlp();
  const std::vector<AllocationMethod> methods = {AllocationMethod::uniform, AllocationMethod::measured,
                                                 AllocationMethod::hessian};
  const std::vector<BitBudget> budgets = {
      {BudgetKind::average_bits, 2.5}, {BudgetKind::average_bits, 4}, {BudgetKind::average_bits, 6}};
  Result<BitAllocator> one_shot = BitAllocator::create(*model.network, *model.dataset, job_options());
  ASSERT_TRUE(one_shot.ok());
  Result<std::vector<AllocationPoint>> expected =
      allocation_pareto_fronts(*one_shot, *model.network, *model.dataset, methods, budgets, 200);
  ASSERT_TRUE(expected.ok()) << expected.message();

  Result<BitAllocator> sliced = BitAllocator::create(*model.network, *model.dataset, job_options());
  ASSERT_TRUE(sliced.ok());
  Result<BitAllocationJob> job =
      BitAllocationJob::pareto_fronts(*sliced, *model.network, *model.dataset, methods, budgets, 200);
  ASSERT_TRUE(job.ok());
  size_t points_seen = 0;
  while (!job->finished()) {
    int allowed = 2;  // three units per slice
    job->step([&allowed] { return allowed-- > 0; });
    run_other_forward(*model.network, *model.dataset);
    EXPECT_GE(job->points().size(), points_seen);  // they fill in as they arrive
    points_seen = job->points().size();
  }
  ASSERT_EQ(job->points().size(), expected->size());
  for (size_t i = 0; i < expected->size(); ++i) {
    SCOPED_TRACE(i);
    expect_same_allocation(job->points()[i].allocation, (*expected)[i].allocation);
    EXPECT_EQ(job->points()[i].test.accuracy, (*expected)[i].test.accuracy);
    EXPECT_EQ(job->points()[i].test.loss, (*expected)[i].test.loss);
    EXPECT_EQ(job->points()[i].on_front, (*expected)[i].on_front);
  }
}

TEST(BitAllocationJob, ProgressIsMonotoneAndAStepStopsAtTheFirstUnitAfterItsCallerSaysStop) {
  qplay::Run model = trained_moons_mlp();
  Result<BitAllocator> allocator = BitAllocator::create(*model.network, *model.dataset, job_options());
  ASSERT_TRUE(allocator.ok());
  Result<BitAllocationJob> job = BitAllocationJob::pareto_fronts(
      *allocator, *model.network, *model.dataset, {AllocationMethod::measured, AllocationMethod::hessian},
      {{BudgetKind::average_bits, 3}, {BudgetKind::average_bits, 5}}, 200);
  ASSERT_TRUE(job.ok());
  JobProgress last = job->progress();
  EXPECT_EQ(last.done, 0);
  // Measured: at most 1 + 6·3² evaluations; hessian: 2 chunks x 4 vectors; 4 points.
  EXPECT_EQ(last.total, 1 + 6 * 9 + 2 * 4 + 4);
  for (int budget_units = 1; !job->finished(); budget_units = budget_units % 5 + 1) {
    int asked = 0;
    const int ran = job->step([&] { return ++asked < budget_units; });
    // Asked before every unit but the first: stops right after the first "no", or when finished.
    if (job->finished()) {
      EXPECT_LE(ran, budget_units);
    } else {
      EXPECT_EQ(ran, budget_units);
      EXPECT_EQ(asked, budget_units);
    }
    const JobProgress now = job->progress();
    EXPECT_GT(now.done, last.done);
    EXPECT_EQ(now.total, last.total);
    last = now;
  }
  EXPECT_EQ(last.done, last.total);
  EXPECT_EQ(job->points().size(), 4u);
}

TEST(LabAllocationJob, TheLabsSlicesGiveTheOneShotAllocation) {
  std::unique_ptr<Lab> lab = small_moons_lab(3);
  for (int i = 0; i < 10; ++i) lab->step();
  for (AllocationMethod method : {AllocationMethod::measured, AllocationMethod::hessian}) {
    SCOPED_TRACE(std::string(choice_name(method)));
    const BitBudget budget{BudgetKind::average_bits, 3.5};
    Result<LabAllocation> one_shot = allocate_lab_weight_bits(*lab, 1, method, budget);
    ASSERT_TRUE(one_shot.ok()) << one_shot.message();
    ASSERT_TRUE(start_lab_allocation(*lab, 1, method, budget).ok());
    for (int slice = 0; slice < 1000 && !lab->allocation_work()->job->finished(); ++slice) lab->advance(0.01);
    const LabAllocationWork& work = *lab->allocation_work();
    ASSERT_TRUE(work.job->finished());
    EXPECT_FALSE(work.cancelled);
    EXPECT_EQ(work.weights_version, lab->weights_version(1));
    expect_same_allocation(*work.job->allocation(), one_shot->allocation);
    EXPECT_EQ(lab_layer_weight_bits(*lab, *work.job->allocation()), one_shot->layer_weight_bits);
  }
}

TEST(LabAllocationJob, AChangeOfTheRunsWeightsCancelsIt) {
  std::unique_ptr<Lab> lab = small_moons_lab(3);
  ASSERT_TRUE(start_lab_allocation(*lab, 0, AllocationMethod::measured, {BudgetKind::average_bits, 3}).ok());
  lab->advance(0.01);
  ASSERT_FALSE(lab->allocation_work()->job->finished());
  const JobProgress before = lab->allocation_work()->job->progress();
  lab->step();  // training moves the weights on
  lab->advance(0.01);
  EXPECT_TRUE(lab->allocation_work()->cancelled);
  EXPECT_EQ(lab->allocation_work()->job->progress().done, before.done);  // no work on other weights
  for (int i = 0; i < 50; ++i) lab->advance(0.01);
  EXPECT_FALSE(lab->allocation_work()->job->allocation().has_value());
  // A new request replaces it.
  ASSERT_TRUE(start_lab_pareto_fronts(*lab, 1).ok());
  ASSERT_TRUE(start_lab_allocation(*lab, 0, AllocationMethod::uniform, {BudgetKind::average_bits, 3}).ok());
  EXPECT_FALSE(lab->allocation_work()->job->computes_fronts());
  EXPECT_EQ(lab->allocation_work()->run, 0);
  // A rebuild drops it (its networks are gone); a bad request starts nothing.
  ASSERT_TRUE(lab->reset().ok());
  EXPECT_EQ(lab->allocation_work(), nullptr);
  EXPECT_FALSE(start_lab_allocation(*lab, 0, AllocationMethod::measured, {BudgetKind::average_bits, 1}).ok());
  EXPECT_FALSE(start_lab_pareto_fronts(*lab, 7).ok());
  EXPECT_EQ(lab->allocation_work(), nullptr);
}

}  // namespace
}  // namespace qplay
