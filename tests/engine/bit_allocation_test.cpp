// Model size by hand on a tiny network; allocations under a budget: every method fits every budget, bad
// budgets are errors naming the smallest model, and on a network with one clearly more sensitive layer the
// measured and Hessian allocations beat uniform bits at no larger size; Pareto marking.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/engine/deploy/model_size.h"
#include "core/engine/experiment/run.h"
#include "core/engine/train/bit_allocation.h"
#include "core/engine/train/sweep.h"
#include "tests/engine/trained_fixtures.h"

namespace qplay {
namespace {

// mlp:4,3 on 2 inputs and 2 classes: dense 0 (4x2), relu, dense 2 (3x4), relu, dense 4 (2x3).
Architecture tiny_mlp() {
  Result<Architecture> architecture = parse_architecture("mlp:4,3", {1, 1, 2}, 2);
  EXPECT_TRUE(architecture.ok()) << architecture.message();
  return *architecture;
}

TEST(ModelSize, PerChannelSymmetricMatchesAHandCount) {
  QuantizationSetting setting;
  setting.weights.bits = 4;
  setting.weight_bits_per_layer = {8, -1, 0, -1, -1};  // layer 0 at 8 bits, layer 2 float, layer 4 global
  ModelSize size = model_size(tiny_mlp(), setting);
  ASSERT_EQ(size.layers.size(), 3u);
  // Layer 0: 8 weights x 8 bits = 8 bytes, 4 scales x 4, 4 biases x 4.
  EXPECT_EQ(size.layers[0].bytes, 8u + 16 + 16);
  // Layer 2: float, 12 weights x 4 bytes, 3 biases x 4, no scales.
  EXPECT_EQ(size.layers[1].bits, 32);
  EXPECT_EQ(size.layers[1].bytes, 48u + 12);
  // Layer 4: 6 weights x 4 bits = 3 bytes, 2 scales x 4, 2 biases x 4.
  EXPECT_EQ(size.layers[2].bytes, 3u + 8 + 8);
  EXPECT_EQ(size.bytes, 119u);
  EXPECT_EQ(size.weights, 26u);
  EXPECT_DOUBLE_EQ(size.average_weight_bits, (8 * 8 + 12 * 32 + 6 * 4) / 26.0);
}

TEST(ModelSize, PerTensorAsymmetricCountsOneScaleAndZeroPointPerTensor) {
  QuantizationSetting setting;
  setting.weights.bits = 3;
  setting.weights.granularity = Granularity::per_tensor;
  setting.weights.symmetry = Symmetry::asymmetric;
  ModelSize size = model_size(tiny_mlp(), setting);
  // Packed codes round up per layer: 24, 36 and 18 bits -> 3, 5 and 3 bytes; then scale 4 + zero point 1.
  EXPECT_EQ(size.layers[0].bytes, 3u + 5 + 16);
  EXPECT_EQ(size.layers[1].bytes, 5u + 5 + 12);
  EXPECT_EQ(size.layers[2].bytes, 3u + 5 + 8);
  EXPECT_DOUBLE_EQ(size.average_weight_bits, 3.0);
}

TEST(ModelSize, FloatWeightsCountThirtyTwoBits) {
  ModelSize size = model_size(tiny_mlp(), QuantizationSetting{});
  EXPECT_EQ(size.bytes, 26u * 4 + 9 * 4);
  EXPECT_DOUBLE_EQ(size.average_weight_bits, 32.0);
}

// A moons MLP with a bottleneck: its first layer (2 -> 4) has 8 of the 200 weights, and every one of them
// matters (the largest Hessian trace per weight); 3 bits everywhere cost it a point of accuracy.
qplay::Run bottleneck_model() {
  Experiment e;
  e.dataset = DatasetChoice::moons;
  e.samples = 800;
  e.architecture = "mlp:4,32";
  e.epochs = 20;
  e.batch_size = 32;
  e.learning_rate = 0.05;
  e.kernels = KernelChoice::reference;
  e.threads = 1;
  return trained_run(e);
}

AllocationOptions small_options() {
  AllocationOptions options;
  options.calibration_samples = 400;
  options.hutchinson_samples = 16;
  return options;
}

TEST(BitAllocation, EveryMethodFitsEveryBudget) {
  qplay::Run model = bottleneck_model();
  Result<BitAllocator> allocator = BitAllocator::create(*model.network, *model.dataset, small_options());
  ASSERT_TRUE(allocator.ok()) << allocator.message();
  const double smallest_kb = allocator->smallest().kilobytes();
  std::vector<BitBudget> budgets;
  for (double bits : {2.0, 2.3, 3.0, 4.5, 7.9, 8.0, 12.0})
    budgets.push_back({BudgetKind::average_bits, bits});
  for (double factor : {1.0, 1.4, 2.0, 5.0}) budgets.push_back({BudgetKind::kilobytes, smallest_kb * factor});
  for (AllocationMethod method :
       {AllocationMethod::uniform, AllocationMethod::measured, AllocationMethod::hessian}) {
    for (const BitBudget& budget : budgets) {
      Result<BitAllocation> allocation = allocator->allocate(method, budget);
      ASSERT_TRUE(allocation.ok()) << allocation.message();
      const double used = budget.kind == BudgetKind::average_bits ? allocation->size.average_weight_bits
                                                                  : allocation->size.kilobytes();
      EXPECT_LE(used, budget.value + 1e-9) << choice_name(method) << " at " << budget.value;
      for (int bits : allocation->setting.weight_bits_per_layer)
        EXPECT_TRUE(bits == -1 || (bits >= kAllocationMinBits && bits <= kAllocationMaxBits));
    }
  }
  // A budget of 8 bits or more is 8 bits everywhere for every method.
  EXPECT_DOUBLE_EQ(allocator->allocate(AllocationMethod::hessian, {BudgetKind::average_bits, 12})
                       ->size.average_weight_bits,
                   8);
}

TEST(BitAllocation, BadBudgetsAreErrorsNamingTheSmallestModel) {
  qplay::Run model = bottleneck_model();
  Result<BitAllocator> allocator = BitAllocator::create(*model.network, *model.dataset, small_options());
  ASSERT_TRUE(allocator.ok()) << allocator.message();
  for (BitBudget budget : {BitBudget{BudgetKind::average_bits, 1.9}, BitBudget{BudgetKind::average_bits, -1},
                           BitBudget{BudgetKind::average_bits, std::nan("")},
                           BitBudget{BudgetKind::kilobytes, allocator->smallest().kilobytes() * 0.9},
                           BitBudget{BudgetKind::kilobytes, INFINITY}}) {
    Result<BitAllocation> allocation = allocator->allocate(AllocationMethod::measured, budget);
    ASSERT_FALSE(allocation.ok()) << budget.value;
    EXPECT_NE(allocation.message().find("2 bits per weight"), std::string::npos) << allocation.message();
    EXPECT_NE(allocation.message().find(" KB"), std::string::npos) << allocation.message();
  }
}

TEST(BitAllocation, MeasuredAndHessianBeatUniformWhenOneLayerIsMoreSensitive) {
  qplay::Run model = bottleneck_model();
  Network<float>& network = *model.network;
  const Dataset& dataset = *model.dataset;
  Result<BitAllocator> allocator = BitAllocator::create(network, dataset, small_options());
  ASSERT_TRUE(allocator.ok()) << allocator.message();
  const BitBudget budget{BudgetKind::average_bits, 3};
  Result<BitAllocation> uniform = allocator->allocate(AllocationMethod::uniform, budget);
  ASSERT_TRUE(uniform.ok()) << uniform.message();
  EXPECT_DOUBLE_EQ(uniform->size.average_weight_bits, 3);
  const Evaluation uniform_test = evaluate_quantized(network, dataset, uniform->setting, 512);
  for (AllocationMethod method : {AllocationMethod::measured, AllocationMethod::hessian}) {
    Result<BitAllocation> allocation = allocator->allocate(method, budget);
    ASSERT_TRUE(allocation.ok()) << allocation.message();
    EXPECT_LE(allocation->size.bytes, uniform->size.bytes) << choice_name(method);
    EXPECT_GT(allocation->setting.weight_bits_per_layer[0], 3) << choice_name(method);  // the bottleneck
    const Evaluation test = evaluate_quantized(network, dataset, allocation->setting, 512);
    EXPECT_LT(test.loss, uniform_test.loss) << choice_name(method);
    EXPECT_GT(test.accuracy, uniform_test.accuracy) << choice_name(method);
  }
  const LayerHessianTraces* traces = allocator->hessian_traces();
  ASSERT_NE(traces, nullptr);
  for (size_t l = 1; l < traces->traces.size(); ++l)
    EXPECT_GT(traces->traces[0] / traces->weights[0], traces->traces[l] / traces->weights[l])
        << "layer " << l;
}

// Eight weighted layers: 7^8 allocations are too many to enumerate, so the hessian method runs the greedy on
// Ω.
TEST(BitAllocation, HessianSearchRunsTheGreedyOnOmegaBeyondSevenLayers) {
  Experiment e;
  e.dataset = DatasetChoice::moons;
  e.samples = 300;
  e.architecture = "mlp:6,6,6,6,6,6,6";
  e.kernels = KernelChoice::reference;
  e.threads = 1;
  Result<qplay::Run> run = start_run(e);  // initial weights: the search needs no trained model
  ASSERT_TRUE(run.ok()) << run.message();
  Result<BitAllocator> allocator = BitAllocator::create(*run->network, *run->dataset, small_options());
  ASSERT_TRUE(allocator.ok()) << allocator.message();
  ASSERT_EQ(allocator->weighted_layers().size(), 8u);
  size_t weights = 0, largest_layer = 0;
  for (const LayerSize& layer : allocator->smallest().layers) {
    weights += layer.weights;
    largest_layer = std::max(largest_layer, layer.weights);
  }
  for (double bits : {7.5, 6.0, 4.5, 3.0, 2.2}) {
    Result<BitAllocation> allocation =
        allocator->allocate(AllocationMethod::hessian, {BudgetKind::average_bits, bits});
    ASSERT_TRUE(allocation.ok()) << allocation.message();
    EXPECT_LE(allocation->size.average_weight_bits, bits + 1e-9);
    // The greedy stops at its first step that fits, and a step lowers one layer by one bit.
    EXPECT_GT(allocation->size.average_weight_bits, bits - double(largest_layer) / weights) << bits;
  }
}

TEST(BitAllocation, ReportsItsCost) {
  qplay::Run model = bottleneck_model();
  Result<BitAllocator> allocator = BitAllocator::create(*model.network, *model.dataset, small_options());
  ASSERT_TRUE(allocator.ok()) << allocator.message();
  Result<BitAllocation> measured =
      allocator->allocate(AllocationMethod::measured, {BudgetKind::average_bits, 2});
  ASSERT_TRUE(measured.ok()) << measured.message();
  // From 8 bits to 2 everywhere: 18 steps, each trying every layer not yet at 2 bits (1 to 3), plus the
  // start.
  EXPECT_GE(measured->evaluations, 1 + 18);
  EXPECT_LE(measured->evaluations, 1 + 18 * 3);
  Result<BitAllocation> hessian =
      allocator->allocate(AllocationMethod::hessian, {BudgetKind::average_bits, 4});
  ASSERT_TRUE(hessian.ok()) << hessian.message();
  EXPECT_EQ(hessian->hessian_vector_products, 16);
  EXPECT_GE(hessian->milliseconds, 0);
}

TEST(ParetoFront, MarksThePointsNoOtherPointOfTheMethodDominates) {
  auto point = [](AllocationMethod method, size_t bytes, double accuracy) {
    AllocationPoint p;
    p.allocation.method = method;
    p.allocation.size.bytes = bytes;
    p.test.accuracy = accuracy;
    return p;
  };
  std::vector<AllocationPoint> points = {
      point(AllocationMethod::uniform, 100, 0.5),  point(AllocationMethod::uniform, 200, 0.4),
      point(AllocationMethod::uniform, 300, 0.9),  point(AllocationMethod::uniform, 300, 0.9),
      point(AllocationMethod::measured, 200, 0.3),  // dominated by uniform only: another method
  };
  mark_pareto_fronts(points);
  EXPECT_TRUE(points[0].on_front);
  EXPECT_FALSE(points[1].on_front);
  EXPECT_TRUE(points[2].on_front);
  EXPECT_TRUE(points[3].on_front);
  EXPECT_TRUE(points[4].on_front);
}

}  // namespace
}  // namespace qplay
