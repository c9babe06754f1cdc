// Finite-difference gradient checks in double precision for every layer's backward pass and for
// whole networks (dense, conv2d, max-pool, flatten, relu, tanh, softplus, softmax cross-entropy).
// Each check compares backward() against a central difference (f(x+h) - f(x-h)) / 2h of the
// scalar <r, layer(x)> for a random r, with h = 1e-6: truncation error O(h²) ≈ 1e-12, so a relative
// error above 1e-6 means a wrong formula, not noise.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/nn/layers.h"
#include "core/engine/nn/network.h"
#include "tests/engine/finite_differences.h"
#include "tests/engine/kernel_tables_under_test.h"

namespace qplay {
namespace {

using finite_differences::kStep;
using finite_differences::numeric_gradient;
using finite_differences::random_vector;
using finite_differences::relative_error;

constexpr double kTolerance = 1e-6;

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

const KernelTable& reference() { return *reference_kernel_table(); }

TEST(DenseBackward, MatchesFiniteDifferencesForInputWeightAndBias) {
  const int batch = 3, in = 5, out = 4;
  auto x = random_vector(batch * in, 1), w = random_vector(out * in, 2), b = random_vector(out, 3);
  auto r = random_vector(batch * out, 4);
  auto forward = [&](const std::vector<double>& xx, const std::vector<double>& ww,
                     const std::vector<double>& bb) {
    std::vector<double> y(batch * out);
    dense_forward(reference(), batch, in, out, xx.data(), ww.data(), bb.data(), y.data());
    return dot(r, y);
  };
  std::vector<double> dw(out * in), db(out), dx(batch * in);
  dense_backward(reference(), batch, in, out, x.data(), w.data(), r.data(), dw.data(), db.data(), dx.data());
  EXPECT_LT(relative_error(dx, numeric_gradient(x, [&](auto& v) { return forward(v, w, b); })), kTolerance);
  EXPECT_LT(relative_error(dw, numeric_gradient(w, [&](auto& v) { return forward(x, v, b); })), kTolerance);
  EXPECT_LT(relative_error(db, numeric_gradient(b, [&](auto& v) { return forward(x, w, v); })), kTolerance);
}

struct ConvCase {
  int batch, height, width, channels, outputs, kernel, stride, padding;
};

class Conv2dBackward : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv2dBackward, MatchesFiniteDifferencesForInputWeightAndBias) {
  const ConvCase c = GetParam();
  ConvGeometry g{c.batch, c.height, c.width, c.channels, c.kernel, c.stride, c.padding};
  const int out_size = g.patch_count() * c.outputs;
  auto x = random_vector(size_t(c.batch) * c.height * c.width * c.channels, 11);
  auto w = random_vector(size_t(c.outputs) * g.patch_size(), 12), b = random_vector(c.outputs, 13);
  auto r = random_vector(out_size, 14);
  const size_t columns_size = size_t(g.patch_count()) * g.patch_size();
  std::vector<double> input_columns(columns_size), columns(columns_size);
  auto forward = [&](const std::vector<double>& xx, const std::vector<double>& ww,
                     const std::vector<double>& bb) {
    std::vector<double> y(out_size);
    conv2d_forward<double>(reference(), g, c.outputs, xx.data(), ww.data(), bb.data(), y.data(),
                           input_columns.data(), /*relu_output=*/nullptr);
    return dot(r, y);
  };
  forward(x, w, b);  // leaves im2col(x) in input_columns for backward
  std::vector<double> dw(w.size()), db(b.size()), dx(x.size());
  conv2d_backward<double>(reference(), g, c.outputs, x.data(), input_columns.data(), w.data(), r.data(),
                          dw.data(), db.data(), dx.data(), columns.data());
  EXPECT_LT(relative_error(dx, numeric_gradient(x, [&](auto& v) { return forward(v, w, b); })), kTolerance);
  EXPECT_LT(relative_error(dw, numeric_gradient(w, [&](auto& v) { return forward(x, v, b); })), kTolerance);
  EXPECT_LT(relative_error(db, numeric_gradient(b, [&](auto& v) { return forward(x, w, v); })), kTolerance);
}

INSTANTIATE_TEST_SUITE_P(Geometries, Conv2dBackward,
                         ::testing::Values(ConvCase{2, 5, 5, 2, 3, 3, 1, 1}, ConvCase{1, 6, 4, 3, 2, 3, 2, 0},
                                           ConvCase{2, 4, 4, 1, 2, 1, 1, 0},
                                           ConvCase{1, 7, 7, 2, 2, 5, 2, 2}));

TEST(MaxPoolBackward, RoutesGradientToTheWindowMaximum) {
  ConvGeometry g{2, 6, 4, 3, 2, 2, 0};
  auto x = random_vector(size_t(2) * 6 * 4 * 3, 21);
  const int out_size = g.batch * g.out_height() * g.out_width() * g.in_channels;
  auto r = random_vector(out_size, 22);
  auto forward = [&](const std::vector<double>& xx) {
    std::vector<double> y(out_size);
    max_pool_forward(reference(), g, xx.data(), y.data());
    return dot(r, y);
  };
  std::vector<double> y(out_size), dx(x.size());
  max_pool_forward(reference(), g, x.data(), y.data());
  max_pool_backward(reference(), g, x.data(), y.data(), r.data(), dx.data(), /*relu_before=*/false);
  EXPECT_LT(relative_error(dx, numeric_gradient(x, forward)), kTolerance);
}

TEST(ActivationBackward, ReluTanhSoftplusMatchFiniteDifferences) {
  const int n = 40;
  auto x = random_vector(n, 31, 2.0), r = random_vector(n, 32);
  using Forward = std::function<void(const double*, double*)>;
  using Backward = std::function<void(const double*, const double*, double*)>;
  struct Activation {
    const char* name;
    Forward forward;
    Backward backward;
  };
  std::vector<Activation> activations = {
      {"relu", [](const double* a, double* y) { relu_forward(reference(), n, a, y); },
       [](const double* y, const double* dy, double* dx) { relu_backward(reference(), n, y, dy, dx); }},
      {"tanh", [](const double* a, double* y) { tanh_forward(n, a, y); },
       [](const double* y, const double* dy, double* dx) { tanh_backward(n, y, dy, dx); }},
      {"softplus", [](const double* a, double* y) { softplus_forward(n, a, y); },
       [](const double* y, const double* dy, double* dx) { softplus_backward(n, y, dy, dx); }},
  };
  for (const Activation& activation : activations) {
    std::vector<double> y(n), dx(n);
    activation.forward(x.data(), y.data());
    activation.backward(y.data(), r.data(), dx.data());
    auto f = [&](const std::vector<double>& xx) {
      std::vector<double> yy(n);
      activation.forward(xx.data(), yy.data());
      return dot(r, yy);
    };
    EXPECT_LT(relative_error(dx, numeric_gradient(x, f)), kTolerance) << activation.name;
  }
}

TEST(SoftmaxCrossEntropyBackward, IsTheGradientOfTheMeanLoss) {
  const int batch = 4, classes = 5;
  auto logits = random_vector(batch * classes, 41, 3.0);
  std::vector<int32_t> labels = {0, 3, 4, 1};
  std::vector<double> p(batch * classes), g(batch * classes);
  softmax_cross_entropy_forward(batch, classes, logits.data(), labels.data(), p.data());
  softmax_cross_entropy_backward(batch, classes, p.data(), labels.data(), g.data());
  auto f = [&](const std::vector<double>& z) {
    std::vector<double> pp(batch * classes);
    return softmax_cross_entropy_forward(batch, classes, z.data(), labels.data(), pp.data());
  };
  EXPECT_LT(relative_error(g, numeric_gradient(logits, f)), kTolerance);
}

TEST(SoftmaxCrossEntropy, StaysFiniteForHugeLogits) {
  std::vector<double> logits = {1000.0, -1000.0, 0.0}, p(3);
  std::vector<int32_t> labels = {1};
  double loss = softmax_cross_entropy_forward(1, 3, logits.data(), labels.data(), p.data());
  EXPECT_NEAR(loss, 2000.0, 1e-9);
  EXPECT_NEAR(p[0], 1.0, 1e-12);
}

// Whole networks: every parameter's gradient of the mean loss against finite differences.
void check_network_gradients(const std::string& spec, TensorShape input, int classes, int batch) {
  Result<Architecture> architecture = parse_architecture(spec, input, classes);
  ASSERT_TRUE(architecture.ok()) << architecture.message();
  Network<double> network(*architecture, reference_kernel_table());
  network.initialize(7);
  // Nudge biases off zero so ReLU kinks are not hit exactly.
  auto noise = random_vector(network.parameter_count(), 8, 0.05);
  for (size_t i = 0; i < noise.size(); ++i) network.parameters()[i] += noise[i];
  auto x = random_vector(size_t(batch) * input.size(), 9);
  std::vector<int32_t> labels(batch);
  for (int b = 0; b < batch; ++b) labels[b] = b % classes;

  network.forward(x, batch);
  network.loss(labels);
  network.backward(labels);
  std::vector<double> analytic(network.gradients().begin(), network.gradients().end());
  std::vector<double> start(network.parameters().begin(), network.parameters().end());
  auto loss_at = [&](const std::vector<double>& p) {
    std::copy(p.begin(), p.end(), network.parameters().begin());
    network.forward(x, batch);
    return network.loss(labels);
  };
  EXPECT_LT(relative_error(analytic, numeric_gradient(start, loss_at)), kTolerance) << spec;
}

TEST(NetworkBackward, ReluMlpMatchesFiniteDifferences) {
  check_network_gradients("mlp:6,5", {1, 1, 3}, 3, 4);
}
TEST(NetworkBackward, TanhMlpMatchesFiniteDifferences) {
  check_network_gradients("mlp:6,5:tanh", {1, 1, 3}, 4, 5);
}
TEST(NetworkBackward, SoftplusMlpMatchesFiniteDifferences) {
  check_network_gradients("mlp:7:softplus", {1, 1, 2}, 2, 3);
}
TEST(NetworkBackward, CnnWithPoolingMatchesFiniteDifferences) {
  check_network_gradients("cnn:3,4", {6, 6, 2}, 3, 2);
}
// Backward reads the im2col columns forward kept and must leave them (and every activation) alone:
// methods such as RAQ run backward twice on one forward. Float, on the build's fastest table.
TEST(NetworkBackward, SecondBackwardOfOneForwardGivesTheSameGradients) {
  Result<Architecture> architecture = parse_architecture("cnn:4,8", {10, 10, 1}, 3);
  ASSERT_TRUE(architecture.ok()) << architecture.message();
  Result<std::shared_ptr<const KernelTable>> kernels = make_kernel_table("auto", 2);
  ASSERT_TRUE(kernels.ok()) << kernels.message();
  Network<float> network(*architecture, *kernels);
  network.initialize(5);
  const int batch = 6;
  Rng rng(6);
  std::vector<float> x(size_t(batch) * 100);
  for (float& value : x) value = static_cast<float>(rng.uniform(0.0, 1.0));
  const std::vector<int32_t> labels = {0, 1, 2, 0, 1, 2};
  network.forward(x, batch);
  network.loss(labels);
  network.backward(labels);
  const std::vector<float> first(network.gradients().begin(), network.gradients().end());
  network.backward(labels);
  const std::vector<float> second(network.gradients().begin(), network.gradients().end());
  EXPECT_EQ(first, second);
  EXPECT_NE(first, std::vector<float>(first.size(), 0.0f));
}

// A CNN's ReLUs run inside the steps of their convolution (forward) and max-pool (backward) unless the
// caller watches every layer's output gradient; both ways give the same gradients, bit for bit, on
// every table (one image of W2's shape needs pooling with 16 and 32 channels, the SIMD paths).
TEST(NetworkBackward, ReluFoldedIntoMaxPoolGivesTheLayerByLayerGradientsBitForBit) {
  Result<Architecture> architecture = parse_architecture("cnn:16,32", {28, 28, 1}, 10);
  ASSERT_TRUE(architecture.ok()) << architecture.message();
  const int batch = 3;
  Rng rng(8);
  std::vector<float> x(size_t(batch) * 28 * 28);
  for (float& value : x) value = static_cast<float>(rng.uniform(0.0, 1.0));
  const std::vector<int32_t> labels = {0, 4, 9};
  for (const auto& table : tables_under_test()) {
    SCOPED_TRACE(describe(*table));
    Network<float> network(*architecture, table);
    network.initialize(5);
    network.forward(x, batch);
    network.loss(labels);
    network.backward(labels);
    const std::vector<float> folded(network.gradients().begin(), network.gradients().end());
    BackwardOptions<float> layer_by_layer;
    int watched = 0;
    layer_by_layer.at_layer_output = [&](int, std::span<float>) { ++watched; };
    network.backward(labels, layer_by_layer);
    const std::vector<float> unfolded(network.gradients().begin(), network.gradients().end());
    EXPECT_EQ(watched, static_cast<int>(architecture->layers.size()));
    EXPECT_EQ(folded, unfolded);
    EXPECT_NE(folded, std::vector<float>(folded.size(), 0.0f));
  }
}

TEST(NetworkBackward, FlattenedImageMlpMatchesFiniteDifferences) {
  check_network_gradients("mlp:5", {4, 4, 1}, 3, 2);
}

// BackwardOptions: the gradient w.r.t. the network input (FGSM), a backward that starts from a
// given logits gradient, and a penalty gradient added at a hidden layer's output, each against
// finite differences of the scalar it claims to differentiate.
struct OptionsCase {
  Network<double> network;
  std::vector<double> x;
  std::vector<int32_t> labels;
  int batch;
};

OptionsCase make_options_case(const std::string& spec, TensorShape input, int classes, int batch) {
  Result<Architecture> architecture = parse_architecture(spec, input, classes);
  EXPECT_TRUE(architecture.ok()) << architecture.message();
  OptionsCase c{Network<double>(*architecture, reference_kernel_table()),
                random_vector(batch * input.size(), 21), std::vector<int32_t>(batch), batch};
  c.network.initialize(5);
  auto noise = random_vector(c.network.parameter_count(), 22, 0.05);
  for (size_t i = 0; i < noise.size(); ++i) c.network.parameters()[i] += noise[i];
  for (int b = 0; b < batch; ++b) c.labels[b] = (b * 7) % classes;
  return c;
}

TEST(NetworkBackwardOptions, InputGradientMatchesFiniteDifferences) {
  for (const char* spec : {"mlp:6,5", "cnn:3,4"}) {
    const bool image = std::string(spec).rfind("cnn", 0) == 0;
    OptionsCase c = make_options_case(spec, image ? TensorShape{6, 6, 2} : TensorShape{1, 1, 4}, 3, 3);
    c.network.forward(c.x, c.batch);
    c.network.loss(c.labels);
    std::vector<double> input_gradient(c.x.size());
    BackwardOptions<double> options;
    options.input_gradient = input_gradient;
    c.network.backward(c.labels, options);
    auto loss_at = [&](const std::vector<double>& x) {
      c.network.forward(x, c.batch);
      return c.network.loss(c.labels);
    };
    EXPECT_LT(relative_error(input_gradient, numeric_gradient(c.x, loss_at)), kTolerance) << spec;
  }
}

TEST(NetworkBackwardOptions, LogitsGradientAndLayerOutputPenaltyMatchFiniteDifferences) {
  // f(θ) = <r, logits> + ½‖h‖² with h the output of layer 1 (the first ReLU).
  OptionsCase c = make_options_case("mlp:6,5", {1, 1, 4}, 3, 4);
  auto r = random_vector(size_t(c.batch) * 3, 23);
  auto objective = [&](const std::vector<double>& p) {
    std::copy(p.begin(), p.end(), c.network.parameters().begin());
    std::span<const double> logits = c.network.forward(c.x, c.batch);
    double value = 0;
    for (size_t i = 0; i < r.size(); ++i) value += r[i] * logits[i];
    for (double h : c.network.layer_output(1)) value += 0.5 * h * h;
    return value;
  };
  std::vector<double> start(c.network.parameters().begin(), c.network.parameters().end());
  objective(start);
  std::vector<int> visited;
  BackwardOptions<double> options;
  options.logits_gradient = r;
  options.at_layer_output = [&](int layer, std::span<double> gradient) {
    visited.push_back(layer);
    if (layer != 1) return;
    std::span<const double> h = c.network.layer_output(1);
    for (size_t i = 0; i < gradient.size(); ++i) gradient[i] += h[i];
  };
  c.network.backward({}, options);
  std::vector<double> analytic(c.network.gradients().begin(), c.network.gradients().end());
  EXPECT_LT(relative_error(analytic, numeric_gradient(start, objective)), kTolerance);
  EXPECT_EQ(visited, (std::vector<int>{4, 3, 2, 1, 0}));
}

}  // namespace
}  // namespace qplay
