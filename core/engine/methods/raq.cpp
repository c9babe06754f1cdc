#include "core/engine/methods/raq.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/engine/base/bit_cast.h"
#include "core/engine/base/rng.h"
#include "core/engine/nn/layers.h"

namespace qplay {

// [SECTION] Structural loss

namespace {

int last_weighted_layer(const Architecture& architecture) {
  for (int i = static_cast<int>(architecture.layers.size()) - 1; i >= 0; --i) {
    if (architecture.layers[i].has_parameters()) return i;
  }
  return -1;
}

// The two loops of the structural loss that cost B²·D, compiled again for AVX2 and AVX-512 and picked at run
// time. Both keep the order of every sum of the plain loops (the engine has no FMA contraction), so every
// build, and the loops below, give the same bits as a dot product per entry
// (StructuralRelationLoss.FastLoopsGiveTheBitsOfThePlainDefinition). Both work on kBlockRows rows at once:
// each column (Gram) or row (weighted sum) of the unit matrix, read from L2, then serves all of them from L1.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QPLAY_RAQ_X86 1
#endif
constexpr int kBlockRows = 4;

// Rows first .. first + count − 1 (count <= kBlockRows) of similarities[B, B] = unit·unitᵀ from unit[B, D]
// and unit_transposed[D, stride] (stride: B rounded up to kTileColumns, zero-padded), each up to column
// first + count − 1: entry (i, j) summed over d in order, in a tile of kBlockRows × kTileColumns sums that
// stays in registers over all d. A short block repeats its last row, so that the tile's shape is constant.
// Then mirrored into the columns of those rows: (j, i) = (i, j) bit for bit, since a product does not
// depend on the order of its factors.
constexpr int kTileColumns = 8;
// Eight doubles as one value (GCC/Clang vector extension): one zmm register with AVX-512, two ymm with AVX2;
// each lane's + and · are the scalar operations, so the bits do not depend on the width.
using TileRow = double __attribute__((vector_size(kTileColumns * sizeof(double))));
[[gnu::always_inline]] inline void gram_rows_loop(const double* unit, const double* unit_transposed,
                                                  int stride, int batch, int width, int first, int count,
                                                  double* similarities) {
  const int columns = first + count;
  const double* row_of[kBlockRows];
  for (int r = 0; r < kBlockRows; ++r) row_of[r] = unit + size_t(first + std::min(r, count - 1)) * width;
  for (int j0 = 0; j0 < columns; j0 += kTileColumns) {
    TileRow tile[kBlockRows] = {};
    for (int d = 0; d < width; ++d) {
      TileRow column;
      std::memcpy(&column, unit_transposed + size_t(d) * stride + j0, sizeof(column));
#pragma GCC unroll 4
      for (int r = 0; r < kBlockRows; ++r) tile[r] += row_of[r][d] * column;
    }
    const int valid = std::min(kTileColumns, columns - j0);
    for (int r = 0; r < count; ++r)
      for (int k = 0; k < valid; ++k) similarities[size_t(first + r) * batch + j0 + k] = tile[r][k];
  }
  for (int r = 0; r < count; ++r)
    for (int j = 0; j < first; ++j)
      similarities[size_t(j) * batch + first + r] = similarities[size_t(first + r) * batch + j];
}

// unit_gradient[r][D] = Σ_j p[r][j]·unit[j, :] for count <= kBlockRows rows of p[·][B], each in order of j:
// whole tiles of kTileColumns columns in registers over all j, as in gram_rows_loop, then the last columns.
[[gnu::always_inline]] inline void weighted_row_sums_loop(const double* p, const double* unit, int batch,
                                                          int width, int count, double* unit_gradient) {
  const double* p_of[kBlockRows];
  for (int r = 0; r < kBlockRows; ++r) p_of[r] = p + size_t(std::min(r, count - 1)) * batch;
  const int whole = width / kTileColumns * kTileColumns;
  for (int d0 = 0; d0 < whole; d0 += kTileColumns) {
    TileRow tile[kBlockRows] = {};
    for (int j = 0; j < batch; ++j) {
      TileRow row;
      std::memcpy(&row, unit + size_t(j) * width + d0, sizeof(row));
#pragma GCC unroll 4
      for (int r = 0; r < kBlockRows; ++r) tile[r] += p_of[r][j] * row;
    }
    for (int r = 0; r < count; ++r)
      for (int k = 0; k < kTileColumns; ++k) unit_gradient[size_t(r) * width + d0 + k] = tile[r][k];
  }
  for (int r = 0; r < count; ++r)
    for (int d = whole; d < width; ++d) {
      double sum = 0;
      for (int j = 0; j < batch; ++j) sum += p_of[r][j] * unit[size_t(j) * width + d];
      unit_gradient[size_t(r) * width + d] = sum;
    }
}

[[gnu::always_inline]] inline void gram_loop(const double* unit, const double* unit_transposed, int stride,
                                             int batch, int width, double* similarities) {
  for (int first = 0; first < batch; first += kBlockRows)
    gram_rows_loop(unit, unit_transposed, stride, batch, width, first, std::min(kBlockRows, batch - first),
                   similarities);
}

#ifdef QPLAY_RAQ_X86
[[gnu::target("avx2")]] void gram_avx2(const double* unit, const double* unit_transposed, int stride,
                                       int batch, int width, double* similarities) {
  gram_loop(unit, unit_transposed, stride, batch, width, similarities);
}
[[gnu::target("avx512f")]] void gram_avx512(const double* unit, const double* unit_transposed, int stride,
                                            int batch, int width, double* similarities) {
  gram_loop(unit, unit_transposed, stride, batch, width, similarities);
}
[[gnu::target("avx2")]] void weighted_row_sums_avx2(const double* p, const double* unit, int batch, int width,
                                                    int count, double* unit_gradient) {
  weighted_row_sums_loop(p, unit, batch, width, count, unit_gradient);
}
[[gnu::target("avx512f")]] void weighted_row_sums_avx512(const double* p, const double* unit, int batch,
                                                         int width, int count, double* unit_gradient) {
  weighted_row_sums_loop(p, unit, batch, width, count, unit_gradient);
}
enum class VectorWidth { plain, avx2, avx512 };
VectorWidth cpu_vector_width() {
  static const VectorWidth width = __builtin_cpu_supports("avx512f") ? VectorWidth::avx512
                                   : __builtin_cpu_supports("avx2")  ? VectorWidth::avx2
                                                                     : VectorWidth::plain;
  return width;
}
#endif

void gram(const double* unit, const double* unit_transposed, int stride, int batch, int width,
          double* similarities) {
#ifdef QPLAY_RAQ_X86
  if (cpu_vector_width() == VectorWidth::avx512)
    return gram_avx512(unit, unit_transposed, stride, batch, width, similarities);
  if (cpu_vector_width() == VectorWidth::avx2)
    return gram_avx2(unit, unit_transposed, stride, batch, width, similarities);
#endif
  gram_loop(unit, unit_transposed, stride, batch, width, similarities);
}

void weighted_row_sums(const double* p, const double* unit, int batch, int width, int count,
                       double* unit_gradient) {
#ifdef QPLAY_RAQ_X86
  if (cpu_vector_width() == VectorWidth::avx512)
    return weighted_row_sums_avx512(p, unit, batch, width, count, unit_gradient);
  if (cpu_vector_width() == VectorWidth::avx2)
    return weighted_row_sums_avx2(p, unit, batch, width, count, unit_gradient);
#endif
  weighted_row_sums_loop(p, unit, batch, width, count, unit_gradient);
}

// rows.unit[B, D] = each row of φ divided by its L2 norm (a zero row stays 0), rows.norms[B] = ‖φ_i‖, and
// rows.similarities[B, B] = unit·unitᵀ, the cosine similarities. Accumulates in double whatever T is.
template <typename T>
void cosine_similarities(std::span<const T> features, int batch, int width, CosineRows& rows) {
  rows.unit.assign(size_t(batch) * width, 0.0);
  const int stride = (batch + kTileColumns - 1) / kTileColumns * kTileColumns;  // whole tiles, zero-padded
  rows.unit_transposed.assign(size_t(stride) * width, 0.0);
  rows.norms.assign(batch, 0.0);
  for (int i = 0; i < batch; ++i) {
    double squares = 0;
    for (int d = 0; d < width; ++d)
      squares += double(features[i * width + d]) * double(features[i * width + d]);
    rows.norms[i] = std::sqrt(squares);
    if (!(rows.norms[i] > 0)) continue;
    for (int d = 0; d < width; ++d)
      rows.unit[i * width + d] = double(features[i * width + d]) / rows.norms[i];
  }
  for (int i = 0; i < batch; ++i)
    for (int d = 0; d < width; ++d)
      rows.unit_transposed[size_t(d) * stride + i] = rows.unit[size_t(i) * width + d];
  rows.similarities.resize(size_t(batch) * batch);
  gram(rows.unit.data(), rows.unit_transposed.data(), stride, batch, width, rows.similarities.data());
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
T structural_relation_loss_and_backward(std::span<const T> student, std::span<const T> teacher, int batch,
                                        int width, T scale, std::span<T> student_gradient,
                                        StructuralRelationBuffers& buffers) {
  assert(student.size() >= size_t(batch) * width && teacher.size() >= size_t(batch) * width);
  assert(student_gradient.empty() || student_gradient.size() >= size_t(batch) * width);
  cosine_similarities(teacher, batch, width, buffers.teacher);
  cosine_similarities(student, batch, width, buffers.student);
  const std::vector<double>& student_similarities = buffers.student.similarities;
  const std::vector<double>& teacher_similarities = buffers.teacher.similarities;
  double sum = 0;
  for (size_t k = 0; k < student_similarities.size(); ++k) {
    const double difference = student_similarities[k] - teacher_similarities[k];
    sum += difference * difference;
  }
  if (student_gradient.empty()) return static_cast<T>(sum / (double(batch) * batch));
  // P = ∂L/∂Ĝ = 2(Ĝ_S − Ĝ_T)/B², symmetric. Through Ĝ = nnᵀ: ∂L/∂n = (P + Pᵀ)n = 2Pn. Through
  // n_i = φ_i/‖φ_i‖: ∂L/∂φ_i = (∂L/∂n_i − n_i·(n_i·∂L/∂n_i)) / ‖φ_i‖.
  const std::vector<double>& unit = buffers.student.unit;
  const std::vector<double>& norms = buffers.student.norms;
  const double factor = 2.0 * 2.0 / (double(batch) * batch);
  buffers.unit_gradient.resize(size_t(kBlockRows) * width);
  buffers.p.resize(size_t(kBlockRows) * batch);
  for (int first = 0; first < batch; first += kBlockRows) {
    const int count = std::min(kBlockRows, batch - first);
    for (int r = 0; r < count; ++r) {
      const size_t i = size_t(first + r) * batch;
      for (int j = 0; j < batch; ++j)
        buffers.p[size_t(r) * batch + j] =
            factor * (student_similarities[i + j] - teacher_similarities[i + j]);
    }
    weighted_row_sums(buffers.p.data(), unit.data(), batch, width, count, buffers.unit_gradient.data());
    for (int r = 0; r < count; ++r) {
      const int i = first + r;
      if (!(norms[i] > 0)) continue;  // a zero row is 0 whatever φ_i's direction: no gradient
      const double* unit_gradient = buffers.unit_gradient.data() + size_t(r) * width;
      double radial = 0;
      for (int d = 0; d < width; ++d) radial += unit[i * width + d] * unit_gradient[d];
      for (int d = 0; d < width; ++d) {
        const double gradient = (unit_gradient[d] - unit[i * width + d] * radial) / norms[i];
        student_gradient[i * width + d] += static_cast<T>(double(scale) * gradient);
      }
    }
  }
  return static_cast<T>(sum / (double(batch) * batch));
}

template <typename T>
T structural_relation_loss(std::span<const T> student, std::span<const T> teacher, int batch, int width) {
  StructuralRelationBuffers buffers;
  return structural_relation_loss_and_backward<T>(student, teacher, batch, width, T(0), {}, buffers);
}

template <typename T>
void structural_relation_loss_backward(std::span<const T> student, std::span<const T> teacher, int batch,
                                       int width, T scale, std::span<T> student_gradient) {
  assert(!student_gradient.empty());
  StructuralRelationBuffers buffers;
  structural_relation_loss_and_backward<T>(student, teacher, batch, width, scale, student_gradient, buffers);
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
  // Wv four rows at a time: four independent sums, each in the order of c as one row alone would take.
  int r = 0;
  for (; r + 4 <= rows; r += 4) {
    const T* row = weight.data() + size_t(r) * columns;
    double sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0;
    for (int c = 0; c < columns; ++c) {
      const double x = double(v[c]);
      sum0 += double(row[c]) * x;
      sum1 += double(row[columns + c]) * x;
      sum2 += double(row[2 * columns + c]) * x;
      sum3 += double(row[3 * columns + c]) * x;
    }
    wv[r] = sum0, wv[r + 1] = sum1, wv[r + 2] = sum2, wv[r + 3] = sum3;
  }
  for (; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) wv[r] += double(weight[r * columns + c]) * double(v[c]);
  }
  for (r = 0; r < rows; ++r) norm += wv[r] * wv[r];
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

namespace {

// raq_network_loss_backward with the perturbed pass in perturbed_network (the clean forward runs once) or,
// when it is null, in `network` with its gradient kept in perturbed_gradients[parameter_count].
template <typename T>
RaqLossTerms network_loss_backward(Network<T>& network, std::span<const T> parameters,
                                   const RaqBatchInputs<T>& inputs, const RaqSettings& settings,
                                   Network<T>* perturbed_network, std::span<T> perturbed_gradients,
                                   RaqWorkspace<T>& workspace) {
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

  std::vector<T>& logits_gradient = workspace.logits_gradient;  // [B, K] of the clean pass
  logits_gradient.assign(logits_size, T(0));
  if (perturbation) {
    assert(inputs.perturbed_features.size() >= inputs.features.size());
    Network<T>& perturbed_pass = perturbed_network ? *perturbed_network : network;
    assert(perturbed_network || perturbed_gradients.size() >= network.parameter_count());
    std::span<const T> clean = network.forward(inputs.features, batch, options);
    if (!perturbed_network) {  // the perturbed forward below overwrites the clean logits
      workspace.clean_logits.assign(clean.begin(), clean.begin() + logits_size);
      clean = workspace.clean_logits;
    }
    std::span<const T> perturbed = perturbed_pass.forward(inputs.perturbed_features, batch, options);
    terms.perturbation = double(perturbation_loss<T>(clean, perturbed, batch, classes));
    workspace.perturbed_logits_gradient.assign(logits_size, T(0));
    perturbation_loss_backward<T>(clean, perturbed, batch, classes, lambda_p, logits_gradient,
                                  workspace.perturbed_logits_gradient);
    BackwardOptions<T> perturbed_options;
    perturbed_options.logits_gradient = workspace.perturbed_logits_gradient;
    perturbed_pass.backward(inputs.labels, perturbed_options);
    if (!perturbed_network)
      std::copy(network.gradients().begin(), network.gradients().end(), perturbed_gradients.begin());
  }

  if (!perturbation || !perturbed_network) network.forward(inputs.features, batch, options);
  const T cross_entropy = network.loss(inputs.labels);
  terms.cross_entropy = double(cross_entropy);
  if (!std::isfinite(cross_entropy)) return terms;
  std::vector<T>& cross_entropy_gradient = workspace.cross_entropy_gradient;
  cross_entropy_gradient.resize(logits_size);
  softmax_cross_entropy_backward(batch, classes, network.probabilities().data(), inputs.labels.data(),
                                 cross_entropy_gradient.data());
  for (size_t k = 0; k < logits_size; ++k) logits_gradient[k] += cross_entropy_gradient[k];

  BackwardOptions<T> clean_options;
  clean_options.logits_gradient = logits_gradient;
  if (structural) {
    assert(inputs.teacher_features.size() >= size_t(batch) * feature_width);
    // φ_Q of the clean forward: backward leaves the activations alone, so the view stays valid. The loss
    // and its gradient come together, where the gradient joins the backward.
    const std::span<const T> student = network.layer_output(feature_layer);
    clean_options.at_layer_output = [=, &inputs, &terms, &workspace](int layer,
                                                                     std::span<T> output_gradient) {
      if (layer != feature_layer) return;
      terms.structural = double(
          structural_relation_loss_and_backward<T>(student, inputs.teacher_features, batch, feature_width,
                                                   lambda_s, output_gradient, workspace.structural));
    };
  }
  network.backward(inputs.labels, clean_options);
  if (perturbation) {
    std::span<T> gradients = network.gradients();
    std::span<const T> waiting = perturbed_network ? std::as_const(*perturbed_network).gradients()
                                                   : std::span<const T>(perturbed_gradients);
    for (size_t i = 0; i < gradients.size(); ++i) gradients[i] += waiting[i];
  }
  return terms;
}

}  // namespace

template <typename T>
RaqLossTerms raq_network_loss_backward(Network<T>& network, std::span<const T> parameters,
                                       const RaqBatchInputs<T>& inputs, const RaqSettings& settings,
                                       RaqWorkspace<T>& workspace) {
  Network<T>* perturbed_network = workspace.perturbed_network.get();
  if (!perturbed_network && settings.perturbation_lambda > 0)
    workspace.perturbed_gradients.resize(network.parameter_count());
  return network_loss_backward<T>(network, parameters, inputs, settings, perturbed_network,
                                  workspace.perturbed_gradients, workspace);
}

template <typename T>
RaqLossTerms raq_network_loss_backward(Network<T>& network, std::span<const T> parameters,
                                       const RaqBatchInputs<T>& inputs, const RaqSettings& settings,
                                       std::span<T> scratch) {
  RaqWorkspace<T> workspace;
  return network_loss_backward<T>(network, parameters, inputs, settings, nullptr, scratch, workspace);
}

// [SECTION] The "raq" TrainingMethod

namespace {

// The kernel table of `network`, not owned: the perturbed pass's network borrows it for one step at a
// time (set again before every step), while `network` holds it.
std::shared_ptr<const KernelTable> borrowed_kernels(const Network<float>& network) {
  return std::shared_ptr<const KernelTable>(std::shared_ptr<const KernelTable>(), &network.kernels());
}

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
    if (settings_.perturbation_lambda > 0) {
      workspace_.perturbed_network =
          std::make_unique<Network<float>>(network.architecture(), borrowed_kernels(network));
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
      // The network's table may have changed since the last step (the lab's thread count).
      if (workspace_.perturbed_network) workspace_.perturbed_network->set_kernels(borrowed_kernels(network));
    }
    const RaqLossTerms terms =
        raq_network_loss_backward<float>(network, view_, inputs, settings_, workspace_);
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
  std::vector<float> view_, perturbed_, teacher_features_;
  RaqWorkspace<float> workspace_;          // with the perturbed pass's network when λ_p > 0
  std::vector<float> teacher_parameters_;  // the weights at attach(), with frozen_teacher
};

}  // namespace

Result<std::unique_ptr<TrainingMethod>> make_raq_method(const RaqSettings& settings) {
  if (Status status = validate(settings); !status.ok()) return status;
  return std::unique_ptr<TrainingMethod>(std::make_unique<RaqMethod>(settings));
}

#define QPLAY_INSTANTIATE_RAQ(T)                                                                           \
  template T structural_relation_loss<T>(std::span<const T>, std::span<const T>, int, int);                \
  template void structural_relation_loss_backward<T>(std::span<const T>, std::span<const T>, int, int, T,  \
                                                     std::span<T>);                                        \
  template T perturbation_loss<T>(std::span<const T>, std::span<const T>, int, int);                       \
  template void perturbation_loss_backward<T>(std::span<const T>, std::span<const T>, int, int, T,         \
                                              std::span<T>, std::span<T>);                                 \
  template T power_iteration_step<T>(std::span<const T>, int, int, std::span<T>, std::span<T>);            \
  template void spectral_penalty_backward<T>(std::span<const T>, std::span<const T>, T, T, std::span<T>);  \
  template T structural_relation_loss_and_backward<T>(std::span<const T>, std::span<const T>, int, int, T, \
                                                      std::span<T>, StructuralRelationBuffers&);           \
  template RaqLossTerms raq_network_loss_backward<T>(                                                      \
      Network<T>&, std::span<const T>, const RaqBatchInputs<T>&, const RaqSettings&, std::span<T>);        \
  template RaqLossTerms raq_network_loss_backward<T>(                                                      \
      Network<T>&, std::span<const T>, const RaqBatchInputs<T>&, const RaqSettings&, RaqWorkspace<T>&);
QPLAY_INSTANTIATE_RAQ(float)
QPLAY_INSTANTIATE_RAQ(double)
#undef QPLAY_INSTANTIATE_RAQ

}  // namespace qplay
