// RAQ-style 2-bit training (methods.md §5): the shift-add quantizers (four levels, exact least-squares
// α against a brute-force scan, clipped STE), finite-difference checks in double of every new gradient
// (structural loss, perturbation loss, spectral term, the whole objective on tiny networks), settings
// validation, the method's step against its parts, and behaviour on the five-arm spiral: RAQ at 2 bits
// against 2-bit post-training quantization of the baseline (clean and under FGSM), and what the
// perturbation and spectral terms change.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/data/batcher.h"
#include "core/engine/data/toy_datasets.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/methods/raq.h"
#include "core/engine/train/evaluation.h"
#include "core/engine/train/fgsm.h"
#include "core/engine/train/optimizer.h"
#include "tests/engine/finite_differences.h"
#include "tests/engine/kernel_tables_under_test.h"

namespace qplay {
namespace {

using finite_differences::kStep;
using finite_differences::numeric_gradient;
using finite_differences::random_vector;
using finite_differences::relative_error;

constexpr double kTolerance = 1e-6;

std::vector<float> random_floats(size_t n, uint64_t seed, double scale = 1.0) {
  std::vector<float> v(n);
  Rng rng(seed);
  for (float& x : v) x = static_cast<float>(rng.normal() * scale);
  return v;
}

// Σ (w − ŵ)² of one channel at scale α, every weight at its nearest level: brute force, no shortcut.
double channel_error(const std::vector<float>& w, double alpha, ShiftAddLevels levels) {
  const double low = 0.5, high = levels == ShiftAddLevels::residual_binary ? 1.5 : 1.0;
  double error = 0;
  for (float x : w) {
    const double a = std::fabs(double(x));
    error += std::min((a - low * alpha) * (a - low * alpha), (a - high * alpha) * (a - high * alpha));
  }
  return error;
}

// [SECTION] Shift-add quantizers

TEST(ShiftAddQuantize, EachLevelFamilyGivesFourSymmetricLevelsPerChannel) {
  const int channels = 3, n = 64;
  const std::vector<float> w = random_floats(size_t(channels) * n, 1, 0.3);
  for (ShiftAddLevels levels : {ShiftAddLevels::residual_binary, ShiftAddLevels::power_of_two}) {
    const float high = levels == ShiftAddLevels::residual_binary ? 1.5f : 1.0f;
    std::vector<float> q(w.size()), scales(channels);
    shift_add_quantize(w, channels, {levels, false}, q, scales);
    for (int c = 0; c < channels; ++c) {
      ASSERT_GT(scales[c], 0.0f);
      const std::set<float> expected = {-high * scales[c], -0.5f * scales[c], 0.5f * scales[c],
                                        high * scales[c]};
      const std::set<float> got(q.begin() + c * n, q.begin() + (c + 1) * n);
      EXPECT_EQ(got, expected) << "channel " << c;
      for (int i = c * n; i < (c + 1) * n; ++i) EXPECT_EQ(std::signbit(q[i]), std::signbit(w[i]));
    }
  }
}

TEST(ShiftAddQuantize, ResidualBinaryIsTheTwoSignFormula) {
  // ŵ = α(b1 + ½·b2), b1 = sign(w), b2 = sign(w − α·b1) (methods.md §5.1), evaluated literally.
  const std::vector<float> w = random_floats(200, 2);
  std::vector<float> q(w.size()), scales(1);
  shift_add_quantize(w, 1, {}, q, scales);
  const double alpha = scales[0];
  for (size_t i = 0; i < w.size(); ++i) {
    const double b1 = w[i] >= 0 ? 1 : -1;
    const double b2 = w[i] - alpha * b1 >= 0 ? 1 : -1;
    EXPECT_EQ(q[i], static_cast<float>(alpha * (b1 + 0.5 * b2))) << "w = " << w[i];
  }
}

TEST(ShiftAddLeastSquaresScale, NoScaleOfAFineScanHasASmallerError) {
  // Gaussian, uniform, and Gaussian with a few large outliers; odd and tiny sizes.
  std::vector<std::vector<float>> channels = {
      random_floats(101, 3), random_floats(7, 4, 0.01), {0.3f, -0.9f}};
  std::vector<float> uniform(60), outliers = random_floats(50, 5, 0.1);
  Rng rng(6);
  for (float& x : uniform) x = static_cast<float>(rng.uniform(-1, 1));
  outliers[3] = 2.0f, outliers[17] = -1.7f;
  channels.push_back(uniform);
  channels.push_back(outliers);
  for (ShiftAddLevels levels : {ShiftAddLevels::residual_binary, ShiftAddLevels::power_of_two}) {
    for (const std::vector<float>& w : channels) {
      const double alpha = shift_add_least_squares_scale(w, levels);
      const double best = channel_error(w, alpha, levels);
      double max_abs = 0;
      for (float x : w) max_abs = std::max(max_abs, std::fabs(double(x)));
      double scan_best = channel_error(w, 0, levels);
      for (int s = 1; s <= 40000; ++s) {
        scan_best = std::min(scan_best, channel_error(w, 2.5 * max_abs * s / 40000, levels));
      }
      EXPECT_LE(best, scan_best * (1 + 1e-12)) << "size " << w.size();
      // The scan gets close (and the solver does not return a fake zero error).
      EXPECT_GE(best, scan_best * (1 - 1e-3) - 1e-8) << "size " << w.size();
    }
  }
}

// The fast search scans only the buckets of |w| that can hold the minimum: it must find the reference's
// minimum (every piece tried on the full sort) on every shape of channel: sizes 1 to 1000 and odd, a few
// huge outliers (most weights in the bottom bucket), equal magnitudes (ties), zeros, tiny subnormal-scale
// weights, and the distributions training produces (uniform init, Gaussian).
TEST(ShiftAddLeastSquaresScale, BucketSearchFindsTheReferenceMinimumOnEveryShape) {
  std::vector<std::vector<float>> channels;
  Rng rng(8);
  for (int n : {1, 2, 3, 5, 17, 64, 101, 256, 784, 1000}) {
    std::vector<float> uniform(n), gaussian = random_floats(n, 9 + n, 0.05);
    for (float& x : uniform) x = static_cast<float>(rng.uniform(-0.087, 0.087));
    channels.push_back(uniform);
    channels.push_back(gaussian);
    std::vector<float> outliers = gaussian;
    outliers[0] = 1e4f;
    if (n > 3) outliers[n / 2] = -3e3f;
    channels.push_back(outliers);
    std::vector<float> tiny = gaussian;
    for (float& x : tiny) x *= 1e-38f;
    channels.push_back(tiny);
    std::vector<float> ties(n);
    for (int i = 0; i < n; ++i) ties[i] = (i % 3 == 0 ? -0.25f : 0.5f) * float(1 + i % 2);
    channels.push_back(ties);
    std::vector<float> zeros = uniform;
    for (int i = 0; i < n; i += 2) zeros[i] = i % 4 ? 0.0f : -0.0f;
    channels.push_back(zeros);
  }
  for (ShiftAddLevels levels : {ShiftAddLevels::residual_binary, ShiftAddLevels::power_of_two}) {
    for (size_t c = 0; c < channels.size(); ++c) {
      const std::vector<float>& w = channels[c];
      const double fast = shift_add_least_squares_scale(w, levels);
      const double reference = shift_add_least_squares_scale_reference(w, levels);
      // The same piece, so the same α up to the order of the double sums.
      EXPECT_NEAR(fast, reference, 1e-12 * reference) << "channel " << c << ", size " << w.size();
      EXPECT_LE(channel_error(w, fast, levels), channel_error(w, reference, levels) * (1 + 1e-12) + 1e-300)
          << "channel " << c;
    }
  }
}

TEST(ShiftAddQuantize, TheKernelTablesThreadsChangeNoBit) {
  // 37 channels: groups of 8 and a short last one. Every channel its own spread, some all zero.
  const int channels = 37, n = 301;
  std::vector<float> w = random_floats(size_t(channels) * n, 21, 0.05);
  for (int c = 0; c < channels; ++c)
    for (int i = 0; i < n; ++i) w[size_t(c) * n + i] *= c % 7 == 3 ? 0.0f : float(1 + c);
  for (const ShiftAddVariant& variant : {ShiftAddVariant{ShiftAddLevels::residual_binary, false},
                                         ShiftAddVariant{ShiftAddLevels::power_of_two, true}}) {
    std::vector<float> expected(w.size()), expected_scales(channels);
    shift_add_quantize(w, channels, variant, expected, expected_scales);
    for (const std::shared_ptr<const KernelTable>& table : tables_under_test()) {
      std::vector<float> q(w.size(), 7.0f), scales(channels, 7.0f);
      shift_add_quantize(w, channels, variant, q, scales, table.get());
      EXPECT_EQ(q, expected) << describe(*table);
      EXPECT_EQ(scales, expected_scales) << describe(*table);
    }
  }
}

TEST(ShiftAddQuantize, PowerOfTwoScaleIsAPowerOfTwoWithinHalfAnOctave) {
  const std::vector<float> w = random_floats(4 * 30, 7, 0.07);
  std::vector<float> q(w.size()), scales(4);
  shift_add_quantize(w, 4, {ShiftAddLevels::residual_binary, true}, q, scales);
  for (int c = 0; c < 4; ++c) {
    int exponent = 0;
    EXPECT_EQ(std::frexp(scales[c], &exponent), 0.5f) << scales[c];
    const double least_squares = shift_add_least_squares_scale(std::span<const float>(w).subspan(c * 30, 30),
                                                               ShiftAddLevels::residual_binary);
    EXPECT_LE(scales[c], least_squares * std::sqrt(2.0));
    EXPECT_GE(scales[c], least_squares / std::sqrt(2.0));
  }
}

TEST(ShiftAddQuantize, AllZeroChannelStaysZero) {
  const std::vector<float> w = {0, 0, 0, 0, 1, -2, 0.5f, 0};
  std::vector<float> q(w.size()), scales(2);
  shift_add_quantize(w, 2, {}, q, scales);
  EXPECT_EQ(scales[0], 0.0f);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(q[i], 0.0f);
  EXPECT_EQ(q[7], 0.5f * scales[1]);  // sign(0) = +1 in a live channel
}

TEST(ShiftAddStraightThrough, PassesInsideTheOuterLevelAndBlocksOutside) {
  const std::vector<float> w = {0.1f, -1.4f, 1.6f, -2.0f, 0.9f, 1.05f, -1.2f, 3.0f};
  const std::vector<float> scales = {1.0f, 1.0f};
  std::vector<float> g(w.size(), 1.0f);
  shift_add_straight_through_backward(w, 2, ShiftAddLevels::residual_binary, scales, g);
  EXPECT_EQ(g, (std::vector<float>{1, 1, 0, 0, 1, 1, 1, 0}));  // clip at 1.5α
  std::fill(g.begin(), g.end(), 1.0f);
  shift_add_straight_through_backward(w, 2, ShiftAddLevels::power_of_two, scales, g);
  EXPECT_EQ(g, (std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0}));  // clip at α
}

TEST(ShiftAddQuantizeWeights, QuantizesEveryWeightRowAndCopiesTheBiases) {
  Result<Architecture> architecture = parse_architecture("cnn:3", {6, 6, 2}, 4);
  ASSERT_TRUE(architecture.ok());
  Network<float> network(*architecture, reference_kernel_table());
  network.initialize(3);
  for (float& p : network.parameters()) p += 0.01f;  // non-zero biases
  std::vector<float> view(network.parameter_count());
  std::vector<std::vector<float>> scales;
  shift_add_quantize_weights(network, network.parameters(), {}, view, &scales);
  for (size_t t = 0; t < network.parameter_tensors().size(); ++t) {
    const ParameterTensor& tensor = network.parameter_tensors()[t];
    std::span<const float> master = network.tensor(std::span<const float>(network.parameters()), tensor);
    std::span<const float> quantized = network.tensor(std::span<const float>(view), tensor);
    if (!tensor.is_weight) {
      EXPECT_TRUE(std::equal(master.begin(), master.end(), quantized.begin())) << tensor.name;
      EXPECT_TRUE(scales[t].empty());
      continue;
    }
    ASSERT_EQ(scales[t].size(), size_t(tensor.rows));
    for (int r = 0; r < tensor.rows; ++r) {
      const float alpha = scales[t][r];
      for (int i = 0; i < tensor.columns; ++i) {
        const float a = std::fabs(quantized[r * tensor.columns + i]);
        EXPECT_TRUE(a == 0.5f * alpha || a == 1.5f * alpha) << tensor.name << " " << a;
      }
    }
  }
}

// [SECTION] Structural loss

TEST(StructuralRelationLoss, GradientMatchesFiniteDifferences) {
  const int batch = 5, width = 4;
  const auto student = random_vector(batch * width, 11), teacher = random_vector(batch * width, 12);
  const double scale = 0.7;
  std::vector<double> analytic(student.size(), 0.0);
  structural_relation_loss_backward<double>(student, teacher, batch, width, scale, analytic);
  auto f = [&](const std::vector<double>& s) {
    return scale * structural_relation_loss<double>(s, teacher, batch, width);
  };
  EXPECT_GT(structural_relation_loss<double>(student, teacher, batch, width), 0.01);
  EXPECT_LT(relative_error(analytic, numeric_gradient(student, f)), kTolerance);
}

// L_rel and scale·∂L_rel/∂student from the definitions, one dot product per entry, every sum in order:
// what the engine's blocked, vectorized loops must reproduce bit for bit.
float plain_structural_loss(const std::vector<float>& student, const std::vector<float>& teacher, int batch,
                            int width, float scale, std::vector<float>& gradient) {
  auto unit_rows = [&](const std::vector<float>& f, std::vector<double>& unit, std::vector<double>& norms) {
    unit.assign(size_t(batch) * width, 0.0);
    norms.assign(batch, 0.0);
    for (int i = 0; i < batch; ++i) {
      double squares = 0;
      for (int d = 0; d < width; ++d) squares += double(f[i * width + d]) * double(f[i * width + d]);
      norms[i] = std::sqrt(squares);
      if (norms[i] > 0)
        for (int d = 0; d < width; ++d) unit[i * width + d] = double(f[i * width + d]) / norms[i];
    }
  };
  auto dot = [&](const std::vector<double>& unit, int i, int j) {
    double sum = 0;
    for (int d = 0; d < width; ++d) sum += unit[i * width + d] * unit[j * width + d];
    return sum;
  };
  std::vector<double> su, sn, tu, tn;
  unit_rows(student, su, sn);
  unit_rows(teacher, tu, tn);
  double sum = 0;
  for (int i = 0; i < batch; ++i)
    for (int j = 0; j < batch; ++j) sum += (dot(su, i, j) - dot(tu, i, j)) * (dot(su, i, j) - dot(tu, i, j));
  const double factor = 2.0 * 2.0 / (double(batch) * batch);
  for (int i = 0; i < batch; ++i) {
    if (!(sn[i] > 0)) continue;
    std::vector<double> unit_gradient(width, 0.0);
    for (int j = 0; j < batch; ++j) {
      const double p = factor * (dot(su, i, j) - dot(tu, i, j));
      for (int d = 0; d < width; ++d) unit_gradient[d] += p * su[j * width + d];
    }
    double radial = 0;
    for (int d = 0; d < width; ++d) radial += su[i * width + d] * unit_gradient[d];
    for (int d = 0; d < width; ++d)
      gradient[i * width + d] +=
          static_cast<float>(double(scale) * ((unit_gradient[d] - su[i * width + d] * radial) / sn[i]));
  }
  return static_cast<float>(sum / (double(batch) * batch));
}

TEST(StructuralRelationLoss, FastLoopsGiveTheBitsOfThePlainDefinition) {
  StructuralRelationBuffers buffers;  // reused across shapes, as the training step reuses it
  for (int batch : {1, 2, 3, 4, 5, 7, 8, 13, 128})
    for (int width : {1, 3, 8, 17, 256}) {
      std::vector<float> student = random_floats(size_t(batch) * width, 40 + batch + width);
      const std::vector<float> teacher = random_floats(size_t(batch) * width, 80 + batch * width);
      if (batch > 2)
        std::fill(student.begin() + width, student.begin() + 2 * width, 0.0f);  // a zero row: no gradient
      std::vector<float> expected(student.size(), 0.25f), actual(student.size(), 0.25f);
      const float expected_loss = plain_structural_loss(student, teacher, batch, width, 0.7f, expected);
      const float loss =
          structural_relation_loss_and_backward<float>(student, teacher, batch, width, 0.7f, actual, buffers);
      EXPECT_EQ(loss, expected_loss) << batch << "x" << width;
      EXPECT_EQ(actual, expected) << batch << "x" << width;
    }
}

TEST(StructuralRelationLoss, IsZeroForRotatedRescaledFeaturesAndPositiveOtherwise) {
  const int batch = 6, width = 2;
  const auto student = random_vector(batch * width, 13);
  std::vector<double> rotated(student.size());
  const double c = std::cos(0.8), s = std::sin(0.8), gain = 3.5;
  for (int b = 0; b < batch; ++b) {
    rotated[b * 2] = gain * (c * student[b * 2] - s * student[b * 2 + 1]);
    rotated[b * 2 + 1] = gain * (s * student[b * 2] + c * student[b * 2 + 1]);
  }
  EXPECT_LT(structural_relation_loss<double>(student, rotated, batch, width), 1e-24);
  const auto other = random_vector(batch * width, 14);
  EXPECT_GT(structural_relation_loss<double>(student, other, batch, width), 0.05);
}

TEST(PenultimateFeatures, AreTheInputOfTheLastWeightedLayer) {
  Result<Architecture> mlp = parse_architecture("mlp:8,6", {1, 1, 2}, 3);
  Result<Architecture> cnn = parse_architecture("cnn:2", {4, 4, 1}, 3);
  Result<Architecture> linear = parse_architecture("linear", {1, 1, 2}, 3);
  ASSERT_TRUE(mlp.ok() && cnn.ok() && linear.ok());
  EXPECT_EQ(penultimate_feature_layer(*mlp), 3);  // the second ReLU
  EXPECT_EQ(penultimate_feature_width(*mlp), 6);
  EXPECT_EQ(cnn->layers[penultimate_feature_layer(*cnn)].kind, LayerKind::flatten);
  EXPECT_EQ(penultimate_feature_width(*cnn), 2 * 2 * 2);
  EXPECT_EQ(penultimate_feature_layer(*linear), -1);
}

// [SECTION] Perturbation loss and spectral norm

TEST(PerturbationLoss, GradientMatchesFiniteDifferencesForBothLogits) {
  const int batch = 3, classes = 4;
  const auto clean = random_vector(batch * classes, 21), perturbed = random_vector(batch * classes, 22);
  std::vector<double> clean_gradient(clean.size(), 0.0), perturbed_gradient(clean.size(), 0.0);
  perturbation_loss_backward<double>(clean, perturbed, batch, classes, 1.3, clean_gradient,
                                     perturbed_gradient);
  auto of_clean = [&](const std::vector<double>& z) {
    return 1.3 * perturbation_loss<double>(z, perturbed, batch, classes);
  };
  auto of_perturbed = [&](const std::vector<double>& z) {
    return 1.3 * perturbation_loss<double>(clean, z, batch, classes);
  };
  EXPECT_LT(relative_error(clean_gradient, numeric_gradient(clean, of_clean)), kTolerance);
  EXPECT_LT(relative_error(perturbed_gradient, numeric_gradient(perturbed, of_perturbed)), kTolerance);
}

// W = 3·a bᵀ + 1·c dᵀ with orthonormal pairs: σ_max = 3 with u = ±a, v = ±b.
TEST(PowerIteration, ConvergesToTheLargestSingularValue) {
  const int rows = 3, columns = 4;
  const double a[] = {0.6, 0.8, 0}, c[] = {0.8, -0.6, 0}, b[] = {0.5, 0.5, 0.5, 0.5},
               d[] = {0.5, -0.5, 0.5, -0.5};
  std::vector<double> w(rows * columns);
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < columns; ++k) w[r * columns + k] = 3 * a[r] * b[k] + c[r] * d[k];
  std::vector<double> u(rows, 0.0), v = random_vector(columns, 23);
  double sigma = 0;
  for (int i = 0; i < 40; ++i) sigma = power_iteration_step<double>(w, rows, columns, u, v);
  EXPECT_NEAR(sigma, 3.0, 1e-12);
  EXPECT_NEAR(std::fabs(u[0] * a[0] + u[1] * a[1]), 1.0, 1e-12);
  std::vector<double> zero(rows * columns, 0.0), u0 = u, v0 = v;
  EXPECT_EQ(power_iteration_step<double>(zero, rows, columns, u0, v0), 0.0);
  EXPECT_EQ(u0, u);  // a zero matrix leaves the vectors alone
}

// σ_max(W)² by power iteration run to convergence, against 2σ·u vᵀ: exact when u, v are converged.
// The weight has the stored shape of a conv layer [O, k·k·C] = [3, 3·3·2].
TEST(SpectralPenalty, GradientMatchesFiniteDifferencesWithConvergedVectors) {
  const int rows = 3, columns = 18;
  const auto weight = random_vector(rows * columns, 24);
  std::vector<double> u(rows, 0.0), v = random_vector(columns, 25);
  double sigma = 0;
  for (int i = 0; i < 500; ++i) sigma = power_iteration_step<double>(weight, rows, columns, u, v);
  const double scale = 0.4;
  std::vector<double> analytic(weight.size(), 0.0);
  spectral_penalty_backward<double>(u, v, sigma, scale, analytic);
  auto f = [&](const std::vector<double>& w) {
    std::vector<double> uu = u, vv = v;  // warm start: a tiny step of W moves the top pair a tiny bit
    double s = 0;
    for (int i = 0; i < 200; ++i) s = power_iteration_step<double>(w, rows, columns, uu, vv);
    return scale * s * s;
  };
  EXPECT_LT(relative_error(analytic, numeric_gradient(weight, f)), kTolerance);
}

// [SECTION] The whole objective

// CE + λ_s·L_rel + λ_p·(L_pert + μ·Σσ_max²) in double on the network's own parameters: the
// quantizer is piecewise constant, so the view is the identity here and the STE is tested above.
void check_whole_objective(const std::string& spec, TensorShape input, int classes, int batch) {
  Result<Architecture> architecture = parse_architecture(spec, input, classes);
  ASSERT_TRUE(architecture.ok()) << architecture.message();
  Network<double> network(*architecture, reference_kernel_table());
  network.initialize(31);
  const auto nudge = random_vector(network.parameter_count(), 32, 0.05);
  for (size_t i = 0; i < nudge.size(); ++i) network.parameters()[i] += nudge[i];
  const auto x = random_vector(size_t(batch) * input.size(), 33);
  auto x_perturbed = x;
  Rng rng(34);
  for (double& value : x_perturbed) value += rng.uniform(-0.3, 0.3);
  const auto teacher = random_vector(size_t(batch) * penultimate_feature_width(*architecture), 35);
  std::vector<int32_t> labels(batch);
  for (int b = 0; b < batch; ++b) labels[b] = (b * 5) % classes;
  RaqSettings settings;
  settings.structural_lambda = 0.8;
  settings.perturbation_lambda = 0.6;
  settings.spectral_lambda = 0.05;
  const int feature_layer = penultimate_feature_layer(*architecture);
  const int width = penultimate_feature_width(*architecture);

  auto objective = [&](const std::vector<double>& p) {
    std::copy(p.begin(), p.end(), network.parameters().begin());
    std::span<const double> z = network.forward(x_perturbed, batch);
    const std::vector<double> perturbed(z.begin(), z.end());
    std::span<const double> clean = network.forward(x, batch);
    double value = settings.perturbation_lambda * perturbation_loss<double>(clean, perturbed, batch, classes);
    value += network.loss(labels);
    value += settings.structural_lambda *
             structural_relation_loss<double>(network.layer_output(feature_layer), teacher, batch, width);
    for (const ParameterTensor& tensor : network.parameter_tensors()) {
      if (!tensor.is_weight) continue;
      std::vector<double> u(tensor.rows, 0.0), v = random_vector(tensor.columns, 36);
      double sigma = 0;
      for (int i = 0; i < 2000; ++i) {
        sigma = power_iteration_step<double>(network.tensor(std::span<const double>(p), tensor), tensor.rows,
                                             tensor.columns, u, v);
      }
      value += settings.perturbation_lambda * settings.spectral_lambda * sigma * sigma;
    }
    return value;
  };

  const std::vector<double> start(network.parameters().begin(), network.parameters().end());
  std::vector<double> scratch(network.parameter_count());
  RaqBatchInputs<double> inputs{x, x_perturbed, labels, teacher, batch};
  const RaqLossTerms terms = raq_network_loss_backward<double>(network, start, inputs, settings, scratch);
  EXPECT_GT(terms.structural, 1e-3) << spec;
  EXPECT_GT(terms.perturbation, 1e-3) << spec;
  std::vector<double> analytic(network.gradients().begin(), network.gradients().end());
  for (const ParameterTensor& tensor : network.parameter_tensors()) {
    if (!tensor.is_weight) continue;
    std::vector<double> u(tensor.rows, 0.0), v = random_vector(tensor.columns, 36);
    double sigma = 0;
    for (int i = 0; i < 2000; ++i) {
      sigma = power_iteration_step<double>(network.tensor(std::span<const double>(start), tensor),
                                           tensor.rows, tensor.columns, u, v);
    }
    spectral_penalty_backward<double>(u, v, sigma, settings.perturbation_lambda * settings.spectral_lambda,
                                      network.tensor(std::span<double>(analytic), tensor));
  }
  EXPECT_LT(relative_error(analytic, numeric_gradient(start, objective)), kTolerance) << spec;
}

TEST(RaqObjective, GradientMatchesFiniteDifferencesOnATinyMlp) {
  check_whole_objective("mlp:6,5", {1, 1, 3}, 3, 4);
}
TEST(RaqObjective, GradientMatchesFiniteDifferencesOnATinyCnn) {
  check_whole_objective("cnn:2", {4, 4, 1}, 3, 3);
}

TEST(RaqObjective, WithBothLambdasZeroIsPlainCrossEntropy) {
  Result<Architecture> architecture = parse_architecture("mlp:6,5", {1, 1, 3}, 3);
  ASSERT_TRUE(architecture.ok());
  Network<double> network(*architecture, reference_kernel_table());
  network.initialize(41);
  const auto x = random_vector(4 * 3, 42);
  const std::vector<int32_t> labels = {0, 1, 2, 1};
  RaqSettings settings;
  settings.structural_lambda = 0;
  settings.perturbation_lambda = 0;
  // A copy: the first forward grows the arena, which would move network.parameters() under the view.
  const std::vector<double> parameters(network.parameters().begin(), network.parameters().end());
  std::vector<double> scratch;
  const RaqLossTerms terms =
      raq_network_loss_backward<double>(network, parameters, {x, {}, labels, {}, 4}, settings, scratch);
  const std::vector<double> gradient(network.gradients().begin(), network.gradients().end());
  network.forward(x, 4);
  EXPECT_EQ(terms.cross_entropy, network.loss(labels));
  network.backward(labels);
  EXPECT_EQ(gradient, std::vector<double>(network.gradients().begin(), network.gradients().end()));
  EXPECT_EQ(terms.structural, 0.0);
  EXPECT_EQ(terms.perturbation, 0.0);
}

// The training method runs the perturbed pass in a second network so the clean forward runs once: the same
// terms and gradient bits as the one-network order (clean, perturbed + backward, clean again + backward).
TEST(RaqObjective, ASecondNetworkForThePerturbedPassGivesTheSameBits) {
  Result<Architecture> architecture = parse_architecture("mlp:7,5", {1, 1, 6}, 3);
  ASSERT_TRUE(architecture.ok());
  const int batch = 9;
  Network<float> network(*architecture, reference_kernel_table());
  network.initialize(71);
  const std::vector<float> parameters(network.parameters().begin(), network.parameters().end());
  const std::vector<float> x = random_floats(size_t(batch) * 6, 72);
  std::vector<float> x_perturbed = x;
  for (size_t i = 0; i < x.size(); ++i) x_perturbed[i] += 0.05f * float(i % 5) - 0.1f;
  const std::vector<float> teacher =
      random_floats(size_t(batch) * penultimate_feature_width(*architecture), 73);
  std::vector<int32_t> labels(batch);
  for (int b = 0; b < batch; ++b) labels[b] = b % 3;
  RaqSettings settings;
  settings.structural_lambda = 0.7;
  settings.perturbation_lambda = 0.4;
  const RaqBatchInputs<float> inputs{x, x_perturbed, labels, teacher, batch};

  std::vector<float> scratch(network.parameter_count());
  const RaqLossTerms one =
      raq_network_loss_backward<float>(network, parameters, inputs, settings, std::span<float>(scratch));
  const std::vector<float> one_gradient(network.gradients().begin(), network.gradients().end());
  const std::vector<float> one_probabilities(network.probabilities().begin(), network.probabilities().end());

  RaqWorkspace<float> workspace;
  workspace.perturbed_network = std::make_unique<Network<float>>(*architecture, reference_kernel_table());
  for (int repeat = 0; repeat < 2; ++repeat) {  // the second step reuses every buffer
    const RaqLossTerms two =
        raq_network_loss_backward<float>(network, parameters, inputs, settings, workspace);
    EXPECT_EQ(two.cross_entropy, one.cross_entropy);
    EXPECT_EQ(two.structural, one.structural);
    EXPECT_EQ(two.perturbation, one.perturbation);
    EXPECT_GT(two.structural, 0.0);
    EXPECT_GT(two.perturbation, 0.0);
    EXPECT_EQ(std::vector<float>(network.gradients().begin(), network.gradients().end()), one_gradient);
    EXPECT_EQ(std::vector<float>(network.probabilities().begin(), network.probabilities().end()),
              one_probabilities);
  }
}

// [SECTION] Settings

TEST(RaqSettings, DefaultsValidateAndAbsurdValuesAreRejected) {
  EXPECT_TRUE(validate(RaqSettings{}).ok());
  EXPECT_TRUE(make_raq_method(RaqSettings{}).ok());
  auto rejected = [](auto change, const char* word) {
    RaqSettings settings;
    change(settings);
    const Status status = validate(settings);
    EXPECT_FALSE(status.ok()) << word;
    EXPECT_NE(status.message().find(word), std::string::npos) << status.message();
    EXPECT_FALSE(make_raq_method(settings).ok()) << word;
  };
  rejected([](RaqSettings& s) { s.structural_lambda = -1; }, "structural lambda");
  rejected([](RaqSettings& s) { s.structural_lambda = std::nan(""); }, "structural lambda");
  rejected([](RaqSettings& s) { s.perturbation_lambda = INFINITY; }, "perturbation lambda");
  rejected([](RaqSettings& s) { s.spectral_lambda = -1e-3; }, "spectral lambda");
  rejected([](RaqSettings& s) { s.perturbation_epsilon = -0.1; }, "perturbation epsilon");
  rejected([](RaqSettings& s) { s.perturbation_epsilon = 2; }, "perturbation epsilon");
  rejected([](RaqSettings& s) { s.levels = static_cast<ShiftAddLevels>(7); }, "levels");
}

// [SECTION] The training method

// The structural loss compares the student with a teacher. The masters teaching themselves (from scratch)
// differ from the student only by its 2-bit rounding; a frozen pretrained start stays put while the student
// moves, so once they part the teacher is a different network and L_rel says so.
TEST(RaqMethod, AFrozenTeacherIsTheStartNotTheStudent) {
  Result<Architecture> architecture = parse_architecture("mlp:8,8", {1, 1, 3}, 3);
  ASSERT_TRUE(architecture.ok());
  const std::vector<float> x = random_floats(16 * 3, 62);
  const std::vector<int32_t> labels = {0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0, 1, 2, 1};
  auto structural_penalty_after_moving = [&](bool frozen) {
    Network<float> network(*architecture, reference_kernel_table());
    network.initialize(61);
    RaqSettings settings;
    settings.perturbation_lambda = 0;
    settings.frozen_teacher = frozen;
    auto method = std::move(make_raq_method(settings).value());
    method->attach(network);  // the start: the frozen teacher, if any
    Network<float> moved(*architecture, reference_kernel_table());
    moved.initialize(99);  // the student has moved far from the start
    std::copy(moved.parameters().begin(), moved.parameters().end(), network.parameters().begin());
    Rng rng(63);
    return method->compute_gradients(network, {x, labels, 16}, {1, 0.0, 0.05, &rng}).penalty;
  };
  const float self_taught = structural_penalty_after_moving(false);
  const float frozen = structural_penalty_after_moving(true);
  EXPECT_GT(frozen, 5 * self_taught) << "frozen " << frozen << ", self-taught " << self_taught;
}

TEST(RaqMethod, WithoutPenaltiesTheMasterGradientIsTheStraightThroughGradientOfTheView) {
  Result<Architecture> architecture = parse_architecture("mlp:8,8", {1, 1, 3}, 3);
  ASSERT_TRUE(architecture.ok());
  Network<float> network(*architecture, reference_kernel_table());
  network.initialize(51);
  RaqSettings settings;
  settings.structural_lambda = 0;
  settings.perturbation_lambda = 0;
  auto method = std::move(make_raq_method(settings).value());
  EXPECT_EQ(method->name(), "raq");
  method->attach(network);
  const std::vector<float> x = random_floats(6 * 3, 52);
  const std::vector<int32_t> labels = {0, 1, 2, 2, 1, 0};
  Rng rng(53);
  const StepResult result = method->compute_gradients(network, {x, labels, 6}, {1, 0.0, 0.05, &rng});
  const std::vector<float> gradient(network.gradients().begin(), network.gradients().end());
  const std::vector<float> probabilities(network.probabilities().begin(), network.probabilities().end());

  std::vector<float> view;
  const ForwardOptions<float> trained = method->trained_forward(network, view);
  std::vector<float> expected_view(network.parameter_count());
  std::vector<std::vector<float>> scales;
  shift_add_quantize_weights(network, network.parameters(), {}, expected_view, &scales);
  EXPECT_EQ(view, expected_view);
  network.forward(x, 6, trained);
  EXPECT_EQ(result.loss, network.loss(labels));
  EXPECT_EQ(probabilities,
            std::vector<float>(network.probabilities().begin(), network.probabilities().end()));
  network.backward(labels);
  std::vector<float> expected(network.gradients().begin(), network.gradients().end());
  for (size_t t = 0; t < network.parameter_tensors().size(); ++t) {
    const ParameterTensor& tensor = network.parameter_tensors()[t];
    if (!tensor.is_weight) continue;
    shift_add_straight_through_backward(network.tensor(std::span<const float>(network.parameters()), tensor),
                                        tensor.rows, ShiftAddLevels::residual_binary, scales[t],
                                        network.tensor(std::span<float>(expected), tensor));
  }
  EXPECT_EQ(gradient, expected);
  EXPECT_EQ(result.penalty, 0.0f);
  EXPECT_EQ(method->readouts(network).size(), 6u);  // σ and mean α of each of the three weighted layers
}

// [SECTION] Behaviour on the five-arm spiral

// Five spiral arms are hard enough for a 32-32-32 MLP that its 2-bit post-training quantization
// loses a lot (0.74 against 0.95 in float); three arms lose only ~2 points at these levels.
Dataset five_arm_spiral() {
  ToyDatasetOptions options;
  options.kind = ToyDatasetKind::spiral;
  options.num_samples = 900;
  options.noise = 0.05;
  options.num_classes = 5;
  Result<Dataset> data = make_toy_dataset(options);
  EXPECT_TRUE(data.ok()) << data.message();
  return std::move(data).value();
}

// The Trainer's loop, driving the method directly: SGD with momentum, cosine schedule, batches of 32.
void train(Network<float>& network, TrainingMethod& method, const Dataset& data, int epochs, uint64_t seed) {
  network.initialize(seed);
  const OptimizerSettings optimizer;  // SGD, learning rate 0.05, momentum 0.9
  ScheduleSettings schedule;
  schedule.kind = ScheduleKind::cosine;
  network.set_optimizer_slot_count(optimizer_slot_count(optimizer.kind));
  method.attach(network);
  const int batch_size = 32;
  EpochBatcher batcher(data.train_size(), batch_size, seed);
  Rng method_stream(seed, /*stream=*/0x3e7);
  std::vector<float> features(size_t(batch_size) * data.sample_size());
  std::vector<int32_t> labels(batch_size);
  const double steps_per_epoch = double(batcher.batches_per_epoch());
  long step = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    batcher.start_epoch(epoch);
    std::span<const uint32_t> indices;
    for (int in_epoch = 0; batcher.next(indices); ++in_epoch) {
      gather_batch(data.train_x, indices, features.data());
      gather_labels(data.train_y, indices, labels.data());
      const double position = epoch + in_epoch / steps_per_epoch;
      StepContext context{++step, position / epochs,
                          scheduled_learning_rate(optimizer, schedule, position, epochs), &method_stream};
      const StepResult result =
          method.compute_gradients(network, {features, labels, static_cast<int>(indices.size())}, context);
      ASSERT_TRUE(std::isfinite(result.loss));
      optimizer_step(network, optimizer, context.learning_rate, step);
      method.after_optimizer_step(network, context);
    }
  }
}

struct TrainedModel {
  std::unique_ptr<Network<float>> network;
  std::unique_ptr<TrainingMethod> method;
  std::vector<float> view;  // the parameters of the forward the model is scored with
  ForwardOptions<float> options;
};

TrainedModel train_spiral_model(const Dataset& data, std::unique_ptr<TrainingMethod> method) {
  Result<Architecture> architecture = parse_architecture("mlp:32,32,32", {1, 1, 2}, data.num_classes);
  EXPECT_TRUE(architecture.ok());
  TrainedModel model{std::make_unique<Network<float>>(*architecture, reference_kernel_table()),
                     std::move(method)};
  train(*model.network, *model.method, data, /*epochs=*/40, /*seed=*/1);
  model.options = model.method->trained_forward(*model.network, model.view);
  return model;
}

TrainedModel train_raq(const Dataset& data, double structural, double perturbation, double epsilon,
                       double spectral) {
  RaqSettings settings;
  settings.structural_lambda = structural;
  settings.perturbation_lambda = perturbation;
  settings.perturbation_epsilon = epsilon;
  settings.spectral_lambda = spectral;
  Result<std::unique_ptr<TrainingMethod>> method = make_raq_method(settings);
  EXPECT_TRUE(method.ok()) << method.message();
  return train_spiral_model(data, std::move(method).value());
}

double accuracy_with(Network<float>& network, const Dataset& data, std::span<const float> parameters) {
  ForwardOptions<float> options;
  options.parameters = parameters;
  return evaluate(network, data.test_x, data.test_y, options).accuracy;
}

double fgsm_accuracy_with(Network<float>& network, const Dataset& data, std::span<const float> parameters,
                          double epsilon) {
  ForwardOptions<float> options;
  options.parameters = parameters;
  FgsmOptions fgsm;
  fgsm.clip = fgsm_clip_range(data);  // none: a 2-D toy set
  return fgsm_accuracy(network, data.test_x, data.test_y, epsilon, options, fgsm).accuracy;
}

// E_x ‖f(x+ξ) − f(x)‖² over the test set on the model's forward, ξ ~ U(−0.03, 0.03) from a fixed stream.
double test_perturbation_loss(TrainedModel& model, const Dataset& data) {
  const int n = static_cast<int>(data.test_size());
  std::vector<float> noisy(data.test_x.floats().begin(), data.test_x.floats().end());
  Rng rng(99);
  for (float& v : noisy) v += static_cast<float>(rng.uniform(-0.03, 0.03));
  std::span<const float> z = model.network->forward(data.test_x.floats(), n, model.options);
  const std::vector<float> clean(z.begin(), z.end());
  return perturbation_loss<float>(clean, model.network->forward(noisy, n, model.options), n,
                                  data.num_classes);
}

std::vector<double> spectral_norm_readouts(const TrainedModel& model) {
  std::vector<double> sigmas;
  for (const MethodReadout& r : model.method->readouts(*model.network)) {
    if (r.name == "spectral norm") sigmas.push_back(r.value);
  }
  return sigmas;
}

double sum_of_squares(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v * v;
  return sum;
}

// The paper's claim at 2 bits (methods.md §5): accuracy within a few points of float where plain
// post-training quantization to the same levels loses a lot, and under FGSM the gap to float closed.
// Measured: float 0.952; PTQ shift-add 0.741, PTQ uniform 2-bit 0.567; RAQ 0.941. FGSM ε = 0.05:
// float 0.815, PTQ shift-add 0.507, RAQ 0.793 (RAQ does not beat float here).
TEST(RaqTraining, TwoBitRaqBeatsTwoBitPostTrainingQuantizationOfTheBaseline) {
  const Dataset data = five_arm_spiral();
  TrainedModel baseline = train_spiral_model(data, make_baseline_method());
  TrainedModel raq = train_raq(data, 1, 0.1, 0.03, 1e-3);  // the defaults
  Network<float>& network = *baseline.network;
  std::vector<float> shift_add(network.parameter_count());
  shift_add_quantize_weights(network, network.parameters(), {}, shift_add);
  QuantizationSetting uniform;  // per-channel symmetric min-max: levels {−s, 0, s}
  uniform.weights.bits = 2;
  const std::vector<float> uniform_view = quantized_weights_view(network, uniform);

  const double float_accuracy = accuracy_with(network, data, baseline.view);
  const double ptq_shift_add = accuracy_with(network, data, shift_add);
  const double ptq_uniform = accuracy_with(network, data, uniform_view);
  const double raq_accuracy = accuracy_with(*raq.network, data, raq.view);
  SCOPED_TRACE(testing::Message() << "float " << float_accuracy << ", PTQ shift-add " << ptq_shift_add
                                  << ", PTQ uniform " << ptq_uniform << ", RAQ " << raq_accuracy);
  EXPECT_GT(raq_accuracy, ptq_shift_add + 0.1);
  EXPECT_GT(raq_accuracy, ptq_uniform + 0.1);
  EXPECT_GT(raq_accuracy, float_accuracy - 0.04);

  const double float_fgsm = fgsm_accuracy_with(network, data, baseline.view, 0.05);
  const double ptq_fgsm = fgsm_accuracy_with(network, data, shift_add, 0.05);
  const double raq_fgsm = fgsm_accuracy_with(*raq.network, data, raq.view, 0.05);
  SCOPED_TRACE(testing::Message() << "FGSM 0.05: float " << float_fgsm << ", PTQ shift-add " << ptq_fgsm
                                  << ", RAQ " << raq_fgsm);
  EXPECT_GT(raq_fgsm, ptq_fgsm + 0.1);
  EXPECT_GT(raq_fgsm, float_fgsm - 0.06);
}

// λ_p with μ = 0: the logits move less under U(−0.03, 0.03) input noise. Measured: test L_pert 0.696
// without, 0.110 with λ_p = 1; 2-bit accuracy 0.937 and 0.926.
TEST(RaqTraining, PerturbationTermMakesTheLogitsInsensitiveToInputNoise) {
  const Dataset data = five_arm_spiral();
  TrainedModel plain = train_raq(data, 0, 0, 0.03, 0);
  TrainedModel perturbation = train_raq(data, 0, 1, 0.03, 0);
  const double plain_loss = test_perturbation_loss(plain, data);
  const double perturbation_loss_value = test_perturbation_loss(perturbation, data);
  EXPECT_LT(perturbation_loss_value, plain_loss / 3) << plain_loss << " " << perturbation_loss_value;
  EXPECT_GT(accuracy_with(*perturbation.network, data, perturbation.view), 0.85);
}

// ε₀ = 0 switches L_pert off and leaves λ_p·μ·Σσ²: the largest singular values shrink. Measured:
// Σσ² 104.3 without, 34.7 with λ_p·μ = 1e-2 (2-bit accuracy 0.937 and 0.885). The σ readout is the
// power-iteration estimate, which one step per training step keeps at the converged value.
TEST(RaqTraining, SpectralTermShrinksTheLargestSingularValues) {
  const Dataset data = five_arm_spiral();
  TrainedModel plain = train_raq(data, 0, 0, 0.03, 0);
  TrainedModel spectral = train_raq(data, 0, 1, 0, 1e-2);
  const std::vector<double> plain_sigmas = spectral_norm_readouts(plain);
  const std::vector<double> sigmas = spectral_norm_readouts(spectral);
  ASSERT_EQ(sigmas.size(), 4u);
  EXPECT_LT(sum_of_squares(sigmas), sum_of_squares(plain_sigmas) / 2)
      << sum_of_squares(plain_sigmas) << " " << sum_of_squares(sigmas);
  size_t index = 0;
  for (const ParameterTensor& tensor : spectral.network->parameter_tensors()) {
    if (!tensor.is_weight) continue;
    std::vector<float> u(tensor.rows), v = random_floats(tensor.columns, 61);
    float converged = 0;
    for (int i = 0; i < 1000; ++i) {
      converged = power_iteration_step<float>(
          spectral.network->tensor(std::span<const float>(spectral.network->parameters()), tensor),
          tensor.rows, tensor.columns, u, v);
    }
    EXPECT_NEAR(sigmas[index++], converged, 0.01 * converged) << tensor.name;
  }
}

}  // namespace
}  // namespace qplay
