// The exact Hessian-vector product (nn/hessian_vector_product.h) against central differences of gradients
// in double on smooth networks, and Hutchinson's per-layer trace (train/hessian_trace.h) against the exact
// trace Σ_i e_iᵀ H e_i: equal to the estimator's value computed from the exact Hessian at the same vectors,
// and converging to the exact trace within four standard deviations of the mean of m = 8000 vectors (about
// 10% here: the vector's entries on the other layers add variance, as in HAWQ-v2's one-vector-for-all form).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/nn/hessian_vector_product.h"
#include "core/engine/train/hessian_trace.h"

namespace qplay {
namespace {

struct SmallProblem {
  Network<double> network;
  std::vector<double> x;
  std::vector<int32_t> labels;
  int batch;
};

SmallProblem small_problem(const std::string& spec, TensorShape input, int classes, int batch) {
  Result<Architecture> architecture = parse_architecture(spec, input, classes);
  EXPECT_TRUE(architecture.ok()) << architecture.message();
  SmallProblem problem{Network<double>(*architecture, reference_kernel_table()), {}, {}, batch};
  problem.network.initialize(5);
  Rng rng(6);
  for (double& p : problem.network.parameters()) p += 0.1 * rng.normal();
  problem.x.resize(size_t(batch) * input.size());
  for (double& v : problem.x) v = rng.normal();
  for (int b = 0; b < batch; ++b) problem.labels.push_back((b * 3 + 1) % classes);
  return problem;
}

std::vector<double> gradient_at(SmallProblem& problem) {
  problem.network.forward(problem.x, problem.batch);
  problem.network.loss(problem.labels);
  problem.network.backward(problem.labels);
  return {problem.network.gradients().begin(), problem.network.gradients().end()};
}

// The weights' Hessian, column by column: H e_i for every weight i ([weights][parameters]).
std::vector<std::vector<double>> hessian_columns(SmallProblem& problem) {
  Network<double>& network = problem.network;
  TangentPass<double> pass;
  std::vector<double> e(network.parameter_count(), 0.0), column(network.parameter_count());
  std::vector<std::vector<double>> columns(network.parameter_count());
  for (const ParameterTensor& tensor : network.parameter_tensors()) {
    if (!tensor.is_weight) continue;
    for (size_t i = tensor.offset; i < tensor.offset + tensor.size(); ++i) {
      e[i] = 1;
      hessian_vector_product<double>(network, problem.x, problem.labels, problem.batch, e, column, pass);
      e[i] = 0;
      columns[i] = column;
    }
  }
  return columns;
}

void check_hvp_against_gradient_differences(const std::string& spec, TensorShape input, int classes,
                                            int batch) {
  SmallProblem problem = small_problem(spec, input, classes, batch);
  Network<double>& network = problem.network;
  Rng rng(7);
  std::vector<double> v(network.parameter_count(), 0.0);
  for (const ParameterTensor& tensor : network.parameter_tensors())
    if (tensor.is_weight)
      for (size_t i = tensor.offset; i < tensor.offset + tensor.size(); ++i) v[i] = rng.normal();
  std::vector<double> product(network.parameter_count());
  TangentPass<double> pass;
  hessian_vector_product<double>(network, problem.x, problem.labels, batch, v, product, pass);

  const double h = 1e-5;
  std::vector<double> saved(network.parameters().begin(), network.parameters().end());
  for (size_t k = 0; k < v.size(); ++k) network.parameters()[k] = saved[k] + h * v[k];
  std::vector<double> plus = gradient_at(problem);
  for (size_t k = 0; k < v.size(); ++k) network.parameters()[k] = saved[k] - h * v[k];
  std::vector<double> minus = gradient_at(problem);
  double worst = 0, scale = 1e-12;
  for (size_t k = 0; k < v.size(); ++k) {
    const double numeric = (plus[k] - minus[k]) / (2 * h);
    worst = std::max(worst, std::fabs(product[k] - numeric));
    scale = std::max(scale, std::fabs(numeric));
  }
  EXPECT_LT(worst / scale, 1e-6) << spec;
}

TEST(HessianVectorProduct, MatchesCentralDifferencesOfGradientsOnATanhMlp) {
  check_hvp_against_gradient_differences("mlp:6,5:tanh", {1, 1, 4}, 3, 7);
}
TEST(HessianVectorProduct, MatchesCentralDifferencesOfGradientsOnASoftplusCnn) {
  check_hvp_against_gradient_differences("cnn:2,3:softplus", {6, 6, 2}, 3, 3);
}

struct ExactTraces {
  std::vector<double> traces;      // per weight tensor: Σ_i H_ii
  std::vector<double> deviations;  // per weight tensor: the estimator's standard deviation for one vector
};

ExactTraces exact_traces(SmallProblem& problem, const std::vector<std::vector<double>>& columns) {
  ExactTraces exact;
  for (const ParameterTensor& tensor : problem.network.parameter_tensors()) {
    if (!tensor.is_weight) continue;
    // v_lᵀ(Hv)_l = Tr(H_l) + Σ_{i∈l, j≠i} v_i v_j H_ij: each pair within the layer appears twice, a pair
    // with a weight of another layer once, so Var = 2 Σ_{i≠j∈l} H_ij² + Σ_{i∈l, j∉l} H_ij² (Rademacher).
    double trace = 0, variance = 0;
    for (size_t i = tensor.offset; i < tensor.offset + tensor.size(); ++i) {
      trace += columns[i][i];
      for (size_t j = 0; j < columns.size(); ++j) {
        if (columns[j].empty() || j == i) continue;
        const bool same_layer = j >= tensor.offset && j < tensor.offset + tensor.size();
        variance += (same_layer ? 2 : 1) * columns[j][i] * columns[j][i];
      }
    }
    exact.traces.push_back(trace);
    exact.deviations.push_back(std::sqrt(variance));
  }
  return exact;
}

// Hutchinson's estimate computed from the exact Hessian at the vectors hutchinson_layer_traces draws
// (Rng(seed, stream k), one ±1 per parameter).
std::vector<double> estimator_at_same_vectors(SmallProblem& problem,
                                              const std::vector<std::vector<double>>& columns,
                                              const HutchinsonOptions& options) {
  std::vector<double> expected;
  for (const ParameterTensor& tensor : problem.network.parameter_tensors())
    if (tensor.is_weight) expected.push_back(0.0);
  for (int k = 0; k < options.rademacher_vectors; ++k) {
    Rng rng(options.seed, k);
    std::vector<double> v(problem.network.parameter_count());
    for (double& value : v) value = (rng.next_u32() & 1u) ? 1.0 : -1.0;
    int l = 0;
    for (const ParameterTensor& tensor : problem.network.parameter_tensors()) {
      if (!tensor.is_weight) continue;
      // v_lᵀ(Hv)_l: the layer's rows of H against the whole vector (biases carry no tangent).
      for (size_t i = tensor.offset; i < tensor.offset + tensor.size(); ++i)
        for (size_t j = 0; j < v.size(); ++j)
          if (!columns[j].empty()) expected[l] += v[i] * columns[j][i] * v[j] / options.rademacher_vectors;
      ++l;
    }
  }
  return expected;
}

TEST(HutchinsonTrace, EqualsTheEstimatorOfTheExactHessianAtTheSameVectors) {
  SmallProblem problem = small_problem("mlp:5,4:softplus", {1, 1, 3}, 3, 6);
  std::vector<std::vector<double>> columns = hessian_columns(problem);
  HutchinsonOptions options;
  options.rademacher_vectors = 5;
  options.seed = 11;
  LayerHessianTraces estimate =
      hutchinson_layer_traces<double>(problem.network, problem.x, problem.labels, options);
  ASSERT_EQ(estimate.traces.size(), 3u);
  EXPECT_EQ(estimate.hessian_vector_products, 5);
  std::vector<double> expected = estimator_at_same_vectors(problem, columns, options);
  for (size_t l = 0; l < expected.size(); ++l)
    EXPECT_NEAR(estimate.traces[l], expected[l], 1e-10 * (1 + std::fabs(expected[l]))) << "layer " << l;
}

TEST(HutchinsonTrace, ConvergesToTheExactTraceOnATanhMlp) {
  SmallProblem problem = small_problem("mlp:5,4:tanh", {1, 1, 3}, 3, 6);
  ExactTraces exact = exact_traces(problem, hessian_columns(problem));
  HutchinsonOptions options;
  options.rademacher_vectors = 8000;
  LayerHessianTraces estimate =
      hutchinson_layer_traces<double>(problem.network, problem.x, problem.labels, options);
  for (size_t l = 0; l < exact.traces.size(); ++l) {
    const double deviation_of_mean = exact.deviations[l] / std::sqrt(double(options.rademacher_vectors));
    EXPECT_NEAR(estimate.traces[l], exact.traces[l], 4 * deviation_of_mean) << "layer " << l;
    EXPECT_LT(4 * deviation_of_mean, 0.3 * std::fabs(exact.traces[l])) << "the bound above says little";
  }
}

// The mean over samples is taken in chunks; chunking must not change the trace of the mean loss.
TEST(HutchinsonTrace, ChunksOfTheMeanAddUpToTheWholeBatch) {
  SmallProblem problem = small_problem("mlp:5:tanh", {1, 1, 3}, 3, 600);
  HutchinsonOptions options;
  options.rademacher_vectors = 3;
  LayerHessianTraces chunked =
      hutchinson_layer_traces<double>(problem.network, problem.x, problem.labels, options);
  std::vector<std::vector<double>> columns = hessian_columns(problem);  // the whole batch at once
  std::vector<double> expected = estimator_at_same_vectors(problem, columns, options);
  for (size_t l = 0; l < expected.size(); ++l)
    EXPECT_NEAR(chunked.traces[l], expected[l], 1e-10 * (1 + std::fabs(expected[l]))) << "layer " << l;
}

}  // namespace
}  // namespace qplay
