#include "core/engine/train/fgsm.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace qplay {

namespace {

// gradient_sign[B, n] = sign(∂CE/∂features) ∈ {−1, 0, +1} on the forward `options` describes. The mean
// loss's 1/B does not change a sign.
void input_gradient_sign(Network<float>& network, std::span<const float> features,
                         std::span<const int32_t> labels, int batch, const ForwardOptions<float>& options,
                         std::span<float> gradient_sign) {
  network.forward(features, batch, options);
  network.loss(labels);
  BackwardOptions<float> backward;
  backward.input_gradient = gradient_sign;
  network.backward(labels, backward);
  for (float& g : gradient_sign) g = g > 0 ? 1.0f : (g < 0 ? -1.0f : 0.0f);
}

// adversarial = clip(features + ε·sign). All [B, n].
void signed_step(std::span<const float> features, std::span<const float> gradient_sign, double epsilon,
                 std::optional<ValueRange> clip, std::span<float> adversarial) {
  const float step = static_cast<float>(epsilon);
  for (size_t i = 0; i < gradient_sign.size(); ++i) {
    float x = features[i] + step * gradient_sign[i];
    if (clip) x = std::clamp(x, clip->min, clip->max);
    adversarial[i] = x;
  }
}

}  // namespace

std::optional<ValueRange> fgsm_clip_range(const Dataset& dataset) {
  if (dataset.sample_shape.size() == 3) return ValueRange{0.0f, 1.0f};
  return std::nullopt;
}

void fgsm_perturb(Network<float>& network, std::span<const float> features, std::span<const int32_t> labels,
                  int batch, double epsilon, const ForwardOptions<float>& options,
                  std::optional<ValueRange> clip, std::span<float> adversarial) {
  assert(epsilon >= 0 && "FGSM steps along the gradient: ε >= 0");
  const size_t size = size_t(batch) * network.architecture().input.size();
  assert(features.size() >= size && adversarial.size() >= size);
  std::vector<float> gradient_sign(size);
  input_gradient_sign(network, features, labels, batch, options, gradient_sign);
  signed_step(features, gradient_sign, epsilon, clip, adversarial);
}

std::vector<FgsmPoint> fgsm_accuracy_over_epsilons(Network<float>& network, const FeatureRows& features,
                                                   std::span<const int32_t> labels,
                                                   std::span<const double> epsilons,
                                                   const ForwardOptions<float>& options,
                                                   const FgsmOptions& fgsm) {
  const size_t n = std::min({labels.size(), features.rows(), fgsm.max_samples});
  const size_t sample_size = network.architecture().input.size();
  const int classes = network.architecture().num_classes;
  assert(n == 0 || features.row_size() == sample_size);
  assert(fgsm.chunk_size > 0);
  std::vector<FgsmPoint> points(epsilons.size());
  std::vector<double> loss_sums(epsilons.size(), 0.0);
  std::vector<size_t> correct(epsilons.size(), 0);
  std::vector<float> chunk, gradient_sign, adversarial;  // [chunk_size, sample_size] each
  const int chunk_size = std::min(fgsm.chunk_size, network.largest_batch());
  for (size_t start = 0; start < n; start += chunk_size) {
    const int batch = static_cast<int>(std::min<size_t>(chunk_size, n - start));
    std::span<const float> x = features.float_rows(start, batch, &chunk);
    std::span<const int32_t> y = labels.subspan(start, batch);
    gradient_sign.resize(size_t(batch) * sample_size);
    adversarial.resize(gradient_sign.size());
    input_gradient_sign(network, x, y, batch, options, gradient_sign);
    for (size_t e = 0; e < epsilons.size(); ++e) {
      assert(epsilons[e] >= 0 && "FGSM steps along the gradient: ε >= 0");
      signed_step(x, gradient_sign, epsilons[e], fgsm.clip, adversarial);
      network.forward(adversarial, batch, options);
      // The same accumulation as evaluate(), so ε = 0 reproduces its figures bit for bit.
      loss_sums[e] += double(network.loss(y)) * batch;
      std::span<const float> p = network.probabilities();
      for (int b = 0; b < batch; ++b) {
        const float* row = p.data() + size_t(b) * classes;
        correct[e] += static_cast<int32_t>(std::max_element(row, row + classes) - row) == y[b];
      }
    }
  }
  for (size_t e = 0; e < epsilons.size(); ++e) {
    points[e].epsilon = epsilons[e];
    points[e].adversarial.samples = n;
    if (n > 0) {
      points[e].adversarial.loss = loss_sums[e] / n;
      points[e].adversarial.accuracy = double(correct[e]) / n;
    }
  }
  return points;
}

Evaluation fgsm_accuracy(Network<float>& network, const FeatureRows& features,
                         std::span<const int32_t> labels, double epsilon,
                         const ForwardOptions<float>& options, const FgsmOptions& fgsm) {
  const double epsilons[] = {epsilon};
  return fgsm_accuracy_over_epsilons(network, features, labels, epsilons, options, fgsm).front().adversarial;
}

}  // namespace qplay
