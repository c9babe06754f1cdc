#include "core/engine/methods/raq.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/engine/base/bit_cast.h"
#include "core/engine/base/rng.h"
#include "core/engine/nn/layers.h"

namespace qplay {

// [SECTION] Shift-add 2-bit weights

namespace {

// The two magnitudes of a channel in units of α, and the boundary between them.
struct LevelMagnitudes {
  double low, high;
  double boundary() const { return (low + high) / 2; }  // |w| > boundary·α takes high
};

LevelMagnitudes magnitudes_of(ShiftAddLevels levels) {
  return levels == ShiftAddLevels::residual_binary ? LevelMagnitudes{0.5, 1.5} : LevelMagnitudes{0.5, 1.0};
}

// 2^round(log2 α) from the exact binary exponent, so that it is bit-identical on every platform
// (no libm log2): α = m·2^e with m in [0.5, 1), and log2(2m) in [0, 1) rounds up iff 2m >= √2.
double nearest_power_of_two(double alpha) {
  if (!(alpha > 0)) return alpha;
  int exponent = 0;
  const double mantissa = std::frexp(alpha, &exponent);
  return 2 * mantissa >= std::sqrt(2.0) ? std::ldexp(1.0, exponent) : std::ldexp(1.0, exponent - 1);
}

// The least-squares α of a channel from its magnitudes |w| in descending order, a_1 >= ... >= a_n.
// Piece k of the α axis (the k largest take the high level) is α in [a_{k+1}, a_k] / boundary; there
//   E(α) = Σa² − 2α·linear_k + α²·quadratic_k,  linear_k = high·H_k + low·L_k,
//   quadratic_k = high²·k + low²·(n − k),
// with H_k, L_k the sums of the high and low parts. At a piece boundary one weight changes level, and
// its error, the lower of two parabolas, has a peak there, so E has no minimum on a boundary: the
// global minimum is the vertex linear_k / quadratic_k of a piece that contains it (or α = 0).
double least_squares_scale_of_sorted(std::span<const float> descending, ShiftAddLevels levels) {
  const LevelMagnitudes m = magnitudes_of(levels);
  const size_t n = descending.size();
  double sum = 0, sum_of_squares = 0;
  for (float a : descending) sum += a, sum_of_squares += double(a) * a;
  if (!(sum > 0)) return 0.0;
  double best_alpha = 0, best_error = sum_of_squares, high_sum = 0;
  for (size_t k = 0; k <= n; ++k) {
    if (k > 0) high_sum += descending[k - 1];
    const double linear = m.high * high_sum + m.low * (sum - high_sum);
    const double quadratic = m.high * m.high * double(k) + m.low * m.low * double(n - k);
    // The vertex lies in the piece: lower <= linear / quadratic <= upper, without a division.
    const bool below_upper = k == 0 || linear * m.boundary() <= double(descending[k - 1]) * quadratic;
    const bool above_lower = k == n || linear * m.boundary() >= double(descending[k]) * quadratic;
    if (!below_upper || !above_lower) continue;
    const double error = sum_of_squares - linear * linear / quadratic;
    if (error < best_error) best_error = error, best_alpha = linear / quadratic;
  }
  return best_alpha;
}

// magnitudes[n] = |weights| in descending order, by an LSD radix sort of the IEEE bits (a
// non-negative float's bits order like the float): one pass counts all four bytes, then one scatter
// pass per byte that is not the same for every key. std::sort of random weights is bound by branch
// mispredictions and took ~6 ms per 128x784 layer, every training step; this takes ~2 ms.
// keys, scratch: [n] buffers reused across channels.
void sorted_magnitudes(std::span<const float> weights, std::vector<uint32_t>& keys,
                       std::vector<uint32_t>& scratch, std::vector<float>& magnitudes) {
  const size_t n = weights.size();
  magnitudes.resize(n);
  if (n == 0) return;
  keys.resize(n);
  scratch.resize(n);
  uint32_t counts[4][256] = {};
  for (size_t i = 0; i < n; ++i) {
    const uint32_t key = qplay::bit_cast<uint32_t>(std::fabs(weights[i]));
    keys[i] = key;
    for (int byte = 0; byte < 4; ++byte) ++counts[byte][(key >> (8 * byte)) & 0xff];
  }
  for (int byte = 0; byte < 4; ++byte) {
    const int shift = 8 * byte;
    if (counts[byte][(keys[0] >> shift) & 0xff] == n) continue;  // one bucket: the order stays
    uint32_t offsets[256], offset = 0;
    for (int b = 0; b < 256; ++b) offsets[b] = offset, offset += counts[byte][b];
    for (uint32_t key : keys) scratch[offsets[(key >> shift) & 0xff]++] = key;
    keys.swap(scratch);
  }
  for (size_t i = 0; i < n; ++i) magnitudes[i] = qplay::bit_cast<float>(keys[n - 1 - i]);
}

}  // namespace

double shift_add_least_squares_scale(std::span<const float> weights, ShiftAddLevels levels) {
  std::vector<uint32_t> keys, scratch;
  std::vector<float> magnitudes;
  sorted_magnitudes(weights, keys, scratch, magnitudes);
  return least_squares_scale_of_sorted(magnitudes, levels);
}

void shift_add_quantize(std::span<const float> weights, int channels, const ShiftAddVariant& variant,
                        std::span<float> quantized, std::span<float> scales) {
  assert(channels > 0 && weights.size() % channels == 0 && quantized.size() >= weights.size());
  assert(scales.size() >= size_t(channels));
  const LevelMagnitudes m = magnitudes_of(variant.levels);
  const size_t n = weights.size() / channels;
  std::vector<uint32_t> keys, scratch;  // [n] each, reused by every channel
  std::vector<float> magnitudes;        // [n]
  for (int c = 0; c < channels; ++c) {
    std::span<const float> row = weights.subspan(c * n, n);
    sorted_magnitudes(row, keys, scratch, magnitudes);
    double alpha = least_squares_scale_of_sorted(magnitudes, variant.levels);
    if (variant.power_of_two_scale) alpha = nearest_power_of_two(alpha);
    const float scale = static_cast<float>(alpha);
    scales[c] = scale;
    // The float scale decides the level too, so the STE's clip and the forward agree exactly.
    const float low = static_cast<float>(m.low) * scale, high = static_cast<float>(m.high) * scale;
    const double boundary = m.boundary() * double(scale);
    for (size_t i = 0; i < n; ++i) {
      const float w = row[i];
      const float magnitude = std::fabs(double(w)) > boundary ? high : low;
      quantized[c * n + i] = w < 0 ? -magnitude : magnitude;
    }
  }
}

void shift_add_straight_through_backward(std::span<const float> weights, int channels, ShiftAddLevels levels,
                                         std::span<const float> scales, std::span<float> gradient) {
  assert(channels > 0 && weights.size() % channels == 0 && gradient.size() >= weights.size());
  const double outer = magnitudes_of(levels).high;
  const size_t n = weights.size() / channels;
  for (int c = 0; c < channels; ++c) {
    const double clip = outer * double(scales[c]);
    for (size_t i = c * n; i < (c + 1) * n; ++i) {
      if (std::fabs(double(weights[i])) > clip) gradient[i] = 0.0f;
    }
  }
}

void shift_add_quantize_weights(const Network<float>& network, std::span<const float> master,
                                const ShiftAddVariant& variant, std::span<float> view,
                                std::vector<std::vector<float>>* scales) {
  assert(master.size() == network.parameter_count() && view.size() >= master.size());
  std::copy(master.begin(), master.end(), view.begin());
  const auto& tensors = network.parameter_tensors();
  if (scales) scales->assign(tensors.size(), {});
  std::vector<float> tensor_scales;
  for (size_t t = 0; t < tensors.size(); ++t) {
    const ParameterTensor& tensor = tensors[t];
    if (!tensor.is_weight) continue;
    tensor_scales.resize(tensor.rows);
    shift_add_quantize(master.subspan(tensor.offset, tensor.size()), tensor.rows, variant,
                       view.subspan(tensor.offset, tensor.size()), tensor_scales);
    if (scales) (*scales)[t] = tensor_scales;
  }
}

// [SECTION] Structural loss

namespace {

int last_weighted_layer(const Architecture& architecture) {
  for (int i = static_cast<int>(architecture.layers.size()) - 1; i >= 0; --i) {
    if (architecture.layers[i].has_parameters()) return i;
  }
  return -1;
}

// unit[B, D] = each row of φ divided by its L2 norm (a zero row stays 0), norms[B] = ‖φ_i‖, and
// similarities[B, B] = unit·unitᵀ, the cosine similarities. Accumulates in double whatever T is.
template <typename T>
void cosine_similarities(std::span<const T> features, int batch, int width, std::vector<double>& unit,
                         std::vector<double>& norms, std::vector<double>& similarities) {
  unit.assign(size_t(batch) * width, 0.0);
  norms.assign(batch, 0.0);
  for (int i = 0; i < batch; ++i) {
    double squares = 0;
    for (int d = 0; d < width; ++d)
      squares += double(features[i * width + d]) * double(features[i * width + d]);
    norms[i] = std::sqrt(squares);
    if (!(norms[i] > 0)) continue;
    for (int d = 0; d < width; ++d) unit[i * width + d] = double(features[i * width + d]) / norms[i];
  }
  similarities.assign(size_t(batch) * batch, 0.0);
  for (int i = 0; i < batch; ++i) {
    for (int j = 0; j <= i; ++j) {
      double dot = 0;
      for (int d = 0; d < width; ++d) dot += unit[i * width + d] * unit[j * width + d];
      similarities[i * batch + j] = similarities[j * batch + i] = dot;
    }
  }
}

}  // namespace

int penultimate_feature_layer(const Architecture& architecture) {
  const int last = last_weighted_layer(architecture);
  return last - 1;  // -1 when the last weighted layer is layer 0 (or there is none)
}

int penultimate_feature_width(const Architecture& architecture) {
  const int last = last_weighted_layer(architecture);
  return last < 0 ? 0 : architecture.layers[last].input.size();
}

template <typename T>
T structural_relation_loss(std::span<const T> student, std::span<const T> teacher, int batch, int width) {
  assert(student.size() >= size_t(batch) * width && teacher.size() >= size_t(batch) * width);
  std::vector<double> unit, norms, student_similarities, teacher_similarities;
  cosine_similarities(student, batch, width, unit, norms, student_similarities);
  cosine_similarities(teacher, batch, width, unit, norms, teacher_similarities);
  double sum = 0;
  for (size_t k = 0; k < student_similarities.size(); ++k) {
    const double difference = student_similarities[k] - teacher_similarities[k];
    sum += difference * difference;
  }
  return static_cast<T>(sum / (double(batch) * batch));
}

template <typename T>
void structural_relation_loss_backward(std::span<const T> student, std::span<const T> teacher, int batch,
                                       int width, T scale, std::span<T> student_gradient) {
  assert(student_gradient.size() >= size_t(batch) * width);
  std::vector<double> unit, norms, student_similarities, teacher_unit, teacher_norms, teacher_similarities;
  cosine_similarities(teacher, batch, width, teacher_unit, teacher_norms, teacher_similarities);
  cosine_similarities(student, batch, width, unit, norms, student_similarities);
  // P = ∂L/∂Ĝ = 2(Ĝ_S − Ĝ_T)/B², symmetric. Through Ĝ = nnᵀ: ∂L/∂n = (P + Pᵀ)n = 2Pn. Through
  // n_i = φ_i/‖φ_i‖: ∂L/∂φ_i = (∂L/∂n_i − n_i·(n_i·∂L/∂n_i)) / ‖φ_i‖.
  const double factor = 2.0 * 2.0 / (double(batch) * batch);
  std::vector<double> unit_gradient(width);
  for (int i = 0; i < batch; ++i) {
    if (!(norms[i] > 0)) continue;  // a zero row is 0 whatever φ_i's direction: no gradient
    std::fill(unit_gradient.begin(), unit_gradient.end(), 0.0);
    for (int j = 0; j < batch; ++j) {
      const double p = factor * (student_similarities[i * batch + j] - teacher_similarities[i * batch + j]);
      for (int d = 0; d < width; ++d) unit_gradient[d] += p * unit[j * width + d];
    }
    double radial = 0;
    for (int d = 0; d < width; ++d) radial += unit[i * width + d] * unit_gradient[d];
    for (int d = 0; d < width; ++d) {
      const double gradient = (unit_gradient[d] - unit[i * width + d] * radial) / norms[i];
      student_gradient[i * width + d] += static_cast<T>(double(scale) * gradient);
    }
  }
}

// [SECTION] Perturbation loss and spectral norm

template <typename T>
T perturbation_loss(std::span<const T> clean, std::span<const T> perturbed, int batch, int classes) {
  double sum = 0;
  for (size_t k = 0; k < size_t(batch) * classes; ++k) {
    const double difference = double(perturbed[k]) - double(clean[k]);
    sum += difference * difference;
  }
  return static_cast<T>(sum / batch);
}

template <typename T>
void perturbation_loss_backward(std::span<const T> clean, std::span<const T> perturbed, int batch,
                                int classes, T scale, std::span<T> clean_gradient,
                                std::span<T> perturbed_gradient) {
  const T factor = scale * T(2) / T(batch);
  for (size_t k = 0; k < size_t(batch) * classes; ++k) {
    const T gradient = factor * (perturbed[k] - clean[k]);
    perturbed_gradient[k] += gradient;
    clean_gradient[k] -= gradient;
  }
}

template <typename T>
T power_iteration_step(std::span<const T> weight, int rows, int columns, std::span<T> u, std::span<T> v) {
  assert(weight.size() >= size_t(rows) * columns && u.size() >= size_t(rows) && v.size() >= size_t(columns));
  std::vector<double> wv(rows, 0.0), wtu(columns, 0.0);
  double norm = 0;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) wv[r] += double(weight[r * columns + c]) * double(v[c]);
    norm += wv[r] * wv[r];
  }
  norm = std::sqrt(norm);
  if (!(norm > 0)) return T(0);
  for (int r = 0; r < rows; ++r) u[r] = static_cast<T>(wv[r] / norm);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) wtu[c] += double(weight[r * columns + c]) * double(u[r]);
  }
  double sigma = 0;
  for (double x : wtu) sigma += x * x;
  sigma = std::sqrt(sigma);
  if (!(sigma > 0)) return T(0);
  for (int c = 0; c < columns; ++c) v[c] = static_cast<T>(wtu[c] / sigma);
  return static_cast<T>(sigma);
}

template <typename T>
void spectral_penalty_backward(std::span<const T> u, std::span<const T> v, T sigma, T scale,
                               std::span<T> weight_gradient) {
  const size_t rows = u.size(), columns = v.size();
  assert(weight_gradient.size() >= rows * columns);
  const T factor = scale * T(2) * sigma;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < columns; ++c) weight_gradient[r * columns + c] += factor * u[r] * v[c];
  }
}

// [SECTION] The RAQ objective

Status validate(const RaqSettings& settings) {
  auto non_negative = [](const char* name, double value) -> Status {
    if (std::isfinite(value) && value >= 0) return {};
    return Status::error(std::string("raq ") + name + ": " + std::to_string(value) +
                         " is not allowed, use a finite value >= 0");
  };
  if (settings.levels != ShiftAddLevels::residual_binary && settings.levels != ShiftAddLevels::power_of_two) {
    return Status::error("raq levels: use residual-binary or power-of-two");
  }
  for (Status status : {non_negative("structural lambda", settings.structural_lambda),
                        non_negative("perturbation lambda", settings.perturbation_lambda),
                        non_negative("spectral lambda", settings.spectral_lambda)}) {
    if (!status.ok()) return status;
  }
  // ε₀ is a noise amplitude on inputs in [0, 1]: above 1 it drowns the data.
  if (!(std::isfinite(settings.perturbation_epsilon) && settings.perturbation_epsilon >= 0 &&
        settings.perturbation_epsilon <= 1)) {
    return Status::error("raq perturbation epsilon: " + std::to_string(settings.perturbation_epsilon) +
                         " is not allowed, use a value in [0, 1]");
  }
  return {};
}

template <typename T>
RaqLossTerms raq_network_loss_backward(Network<T>& network, std::span<const T> parameters,
                                       const RaqBatchInputs<T>& inputs, const RaqSettings& settings,
                                       std::span<T> scratch) {
  const Architecture& architecture = network.architecture();
  const int batch = inputs.size, classes = architecture.num_classes;
  const size_t logits_size = size_t(batch) * classes;
  const int feature_layer = penultimate_feature_layer(architecture);
  const int feature_width = penultimate_feature_width(architecture);
  const bool structural = settings.structural_lambda > 0 && feature_layer >= 0;
  const bool perturbation = settings.perturbation_lambda > 0;
  const T lambda_s = static_cast<T>(settings.structural_lambda);
  const T lambda_p = static_cast<T>(settings.perturbation_lambda);
  ForwardOptions<T> options;
  options.parameters = parameters;
  RaqLossTerms terms;

  std::vector<T> logits_gradient(logits_size, T(0));  // [B, K] of the clean pass
  if (perturbation) {
    assert(inputs.perturbed_features.size() >= inputs.features.size() &&
           scratch.size() >= network.parameter_count());
    std::span<const T> clean_view = network.forward(inputs.features, batch, options);
    const std::vector<T> clean(clean_view.begin(), clean_view.begin() + logits_size);
    std::span<const T> perturbed = network.forward(inputs.perturbed_features, batch, options);
    terms.perturbation = double(perturbation_loss<T>(clean, perturbed, batch, classes));
    std::vector<T> perturbed_gradient(logits_size, T(0));
    perturbation_loss_backward<T>(clean, perturbed, batch, classes, lambda_p, logits_gradient,
                                  perturbed_gradient);
    BackwardOptions<T> perturbed_options;
    perturbed_options.logits_gradient = perturbed_gradient;
    network.backward(inputs.labels, perturbed_options);
    std::copy(network.gradients().begin(), network.gradients().end(), scratch.begin());
  }

  network.forward(inputs.features, batch, options);
  const T cross_entropy = network.loss(inputs.labels);
  terms.cross_entropy = double(cross_entropy);
  if (!std::isfinite(cross_entropy)) return terms;
  std::vector<T> cross_entropy_gradient(logits_size);
  softmax_cross_entropy_backward(batch, classes, network.probabilities().data(), inputs.labels.data(),
                                 cross_entropy_gradient.data());
  for (size_t k = 0; k < logits_size; ++k) logits_gradient[k] += cross_entropy_gradient[k];

  BackwardOptions<T> clean_options;
  clean_options.logits_gradient = logits_gradient;
  if (structural) {
    assert(inputs.teacher_features.size() >= size_t(batch) * feature_width);
    // φ_Q of the clean forward: backward leaves the activations alone, so the view stays valid.
    const std::span<const T> student = network.layer_output(feature_layer);
    terms.structural =
        double(structural_relation_loss<T>(student, inputs.teacher_features, batch, feature_width));
    clean_options.at_layer_output = [=, &inputs](int layer, std::span<T> output_gradient) {
      if (layer != feature_layer) return;
      structural_relation_loss_backward<T>(student, inputs.teacher_features, batch, feature_width, lambda_s,
                                           output_gradient);
    };
  }
  network.backward(inputs.labels, clean_options);
  if (perturbation) {
    std::span<T> gradients = network.gradients();
    for (size_t i = 0; i < gradients.size(); ++i) gradients[i] += scratch[i];
  }
  return terms;
}

// [SECTION] The "raq" TrainingMethod

namespace {

// Power-iteration steps at attach, so the first penalties and readouts are not the underestimate of a
// random start; afterwards one step per training step (methods.md §5.3).
constexpr int kPowerIterationWarmUp = 10;

class RaqMethod final : public TrainingMethod {
 public:
  explicit RaqMethod(const RaqSettings& settings)
      : settings_(settings), variant_{settings.levels, settings.power_of_two_scale} {}

  std::string_view name() const override { return "raq"; }

  void attach(Network<float>& network) override {
    const auto& tensors = network.parameter_tensors();
    if (settings_.frozen_teacher)
      teacher_parameters_.assign(network.parameters().begin(), network.parameters().end());
    left_.assign(tensors.size(), {});
    right_.assign(tensors.size(), {});
    sigma_.assign(tensors.size(), 0.0f);
    Rng rng(0x5ec7a1, /*stream=*/0x7a9);  // the start vectors only; the run's streams stay untouched
    for (size_t t = 0; t < tensors.size(); ++t) {
      const ParameterTensor& tensor = tensors[t];
      if (!tensor.is_weight) continue;
      left_[t].assign(tensor.rows, 0.0f);
      right_[t].resize(tensor.columns);
      for (float& x : right_[t]) x = static_cast<float>(rng.normal());
      std::span<const float> weight = network.tensor(std::span<const float>(network.parameters()), tensor);
      for (int i = 0; i < kPowerIterationWarmUp; ++i) {
        sigma_[t] = power_iteration_step<float>(weight, tensor.rows, tensor.columns, left_[t], right_[t]);
      }
    }
  }

  StepResult compute_gradients(Network<float>& network, const TrainingBatch& batch,
                               const StepContext& context) override {
    assert(left_.size() == network.parameter_tensors().size() && "attach() first");
    const Architecture& architecture = network.architecture();
    const size_t input_size = size_t(batch.size) * architecture.input.size();
    RaqBatchInputs<float> inputs{batch.features.first(input_size), {}, batch.labels, {}, batch.size};

    // 1. The float teacher (the frozen start, or the masters themselves), its φ a constant of this step.
    const int feature_layer = penultimate_feature_layer(architecture);
    if (settings_.structural_lambda > 0 && feature_layer >= 0) {
      ForwardOptions<float> teacher;
      if (settings_.frozen_teacher) teacher.parameters = teacher_parameters_;
      network.forward(inputs.features, batch.size, teacher);
      std::span<const float> features = network.layer_output(feature_layer);
      teacher_features_.assign(features.begin(), features.end());
      inputs.teacher_features = teacher_features_;
    }
    // 2. The 2-bit view of the masters.
    view_.resize(network.parameter_count());
    shift_add_quantize_weights(network, network.parameters(), variant_, view_, &scales_);
    // 3. x + ξ, ξ ~ U(−ε₀, ε₀).
    if (settings_.perturbation_lambda > 0) {
      assert(context.rng && "raq draws its input noise from the run's method stream");
      perturbed_.resize(input_size);
      for (size_t i = 0; i < input_size; ++i) {
        perturbed_[i] =
            inputs.features[i] + static_cast<float>(context.rng->uniform(-settings_.perturbation_epsilon,
                                                                         settings_.perturbation_epsilon));
      }
      inputs.perturbed_features = perturbed_;
      scratch_.resize(network.parameter_count());
    }
    const RaqLossTerms terms = raq_network_loss_backward<float>(network, view_, inputs, settings_, scratch_);
    StepResult result{static_cast<float>(terms.cross_entropy), 0.0f};
    if (!std::isfinite(result.loss)) return result;

    // 4. STE to the masters; 5. the spectral term on the masters.
    std::span<const float> master = network.parameters();
    std::span<float> gradients = network.gradients();
    const auto& tensors = network.parameter_tensors();
    const float spectral_scale =
        static_cast<float>(settings_.perturbation_lambda * settings_.spectral_lambda);
    double spectral = 0;
    for (size_t t = 0; t < tensors.size(); ++t) {
      const ParameterTensor& tensor = tensors[t];
      if (!tensor.is_weight) continue;
      std::span<const float> weight = network.tensor(master, tensor);
      std::span<float> weight_gradient = network.tensor(gradients, tensor);
      shift_add_straight_through_backward(weight, tensor.rows, settings_.levels, scales_[t], weight_gradient);
      // The power iteration runs even when μ = 0, so that the σ readout tracks the masters.
      sigma_[t] = power_iteration_step<float>(weight, tensor.rows, tensor.columns, left_[t], right_[t]);
      if (spectral_scale > 0) {
        spectral_penalty_backward<float>(left_[t], right_[t], sigma_[t], spectral_scale, weight_gradient);
      }
      spectral += double(sigma_[t]) * sigma_[t];
    }
    result.penalty = static_cast<float>(settings_.structural_lambda * terms.structural +
                                        settings_.perturbation_lambda *
                                            (terms.perturbation + settings_.spectral_lambda * spectral));
    return result;
  }

  ForwardOptions<float> trained_forward(const Network<float>& network,
                                        std::vector<float>& view) const override {
    view.resize(network.parameter_count());
    shift_add_quantize_weights(network, network.parameters(), variant_, view);
    ForwardOptions<float> options;
    options.parameters = view;
    return options;
  }

  std::vector<MethodReadout> readouts(const Network<float>& network) const override {
    std::vector<MethodReadout> out;
    const auto& tensors = network.parameter_tensors();
    std::vector<float> quantized, scales;
    for (size_t t = 0; t < tensors.size(); ++t) {
      const ParameterTensor& tensor = tensors[t];
      if (!tensor.is_weight) continue;
      if (t < sigma_.size()) out.push_back({"spectral norm", tensor.layer, sigma_[t]});
      quantized.resize(tensor.size());
      scales.resize(tensor.rows);
      shift_add_quantize(network.tensor(network.parameters(), tensor), tensor.rows, variant_, quantized,
                         scales);
      double sum = 0;
      for (float scale : scales) sum += scale;
      out.push_back({"shift-add scale mean", tensor.layer, sum / tensor.rows});
    }
    return out;
  }

 private:
  RaqSettings settings_;
  ShiftAddVariant variant_;
  std::vector<std::vector<float>> left_, right_;  // per parameter tensor: u[rows], v[columns] (weights only)
  std::vector<float> sigma_;                      // per parameter tensor: the last σ estimate
  std::vector<std::vector<float>> scales_;        // per parameter tensor: this step's α per channel
  std::vector<float> view_, perturbed_, teacher_features_, scratch_;
  std::vector<float> teacher_parameters_;  // the weights at attach(), with frozen_teacher
};

}  // namespace

Result<std::unique_ptr<TrainingMethod>> make_raq_method(const RaqSettings& settings) {
  if (Status status = validate(settings); !status.ok()) return status;
  return std::unique_ptr<TrainingMethod>(std::make_unique<RaqMethod>(settings));
}

#define QPLAY_INSTANTIATE_RAQ(T)                                                                          \
  template T structural_relation_loss<T>(std::span<const T>, std::span<const T>, int, int);               \
  template void structural_relation_loss_backward<T>(std::span<const T>, std::span<const T>, int, int, T, \
                                                     std::span<T>);                                       \
  template T perturbation_loss<T>(std::span<const T>, std::span<const T>, int, int);                      \
  template void perturbation_loss_backward<T>(std::span<const T>, std::span<const T>, int, int, T,        \
                                              std::span<T>, std::span<T>);                                \
  template T power_iteration_step<T>(std::span<const T>, int, int, std::span<T>, std::span<T>);           \
  template void spectral_penalty_backward<T>(std::span<const T>, std::span<const T>, T, T, std::span<T>); \
  template RaqLossTerms raq_network_loss_backward<T>(                                                     \
      Network<T>&, std::span<const T>, const RaqBatchInputs<T>&, const RaqSettings&, std::span<T>);
QPLAY_INSTANTIATE_RAQ(float)
QPLAY_INSTANTIATE_RAQ(double)
#undef QPLAY_INSTANTIATE_RAQ

}  // namespace qplay
