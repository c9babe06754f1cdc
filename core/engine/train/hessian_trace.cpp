#include "core/engine/train/hessian_trace.h"

#include <algorithm>
#include <cassert>

#include "core/engine/base/rng.h"
#include "core/engine/nn/hessian_vector_product.h"

namespace qplay {
namespace {

// Samples per chunk of the mean: small enough that the tangent buffers stay modest.
constexpr int kChunkSamples = 256;

template <typename T>
void draw_rademacher(uint64_t seed, int vector, std::span<T> out) {
  Rng rng(seed, static_cast<uint64_t>(vector));
  for (T& value : out) value = (rng.next_u32() & 1u) ? T(1) : T(-1);
}

}  // namespace

template <typename T>
LayerHessianTraces hutchinson_layer_traces(Network<T>& network, std::span<const T> features,
                                           std::span<const int32_t> labels,
                                           const HutchinsonOptions& options) {
  const Architecture& architecture = network.architecture();
  const int samples = static_cast<int>(labels.size());
  const size_t input_size = architecture.input.size();
  assert(options.rademacher_vectors >= 1 && samples >= 1 && features.size() == size_t(samples) * input_size);

  LayerHessianTraces result;
  std::vector<const ParameterTensor*> weight_tensors;
  for (const ParameterTensor& tensor : network.parameter_tensors()) {
    if (!tensor.is_weight) continue;
    weight_tensors.push_back(&tensor);
    result.layers.push_back(tensor.layer);
    result.weights.push_back(tensor.size());
  }
  result.traces.assign(weight_tensors.size(), 0.0);

  const int vectors = options.rademacher_vectors;
  const int chunk = std::min({samples, network.largest_batch(), kChunkSamples});
  std::vector<T> v(network.parameter_count());
  TangentPass<T> pass;
  for (int first = 0; first < samples; first += chunk) {
    const int batch = std::min(chunk, samples - first);
    network.forward(features.subspan(size_t(first) * input_size, size_t(batch) * input_size), batch);
    network.loss(labels.subspan(first, batch));
    pass.backward_recording(network, labels.subspan(first, batch));
    // This chunk's share of the mean loss's Hessian.
    const double weight = double(batch) / samples / vectors;
    for (int k = 0; k < vectors; ++k) {
      draw_rademacher<T>(options.seed, k, v);
      std::span<const T> product = pass.gradient_tangent(network, v, batch);
      for (size_t l = 0; l < weight_tensors.size(); ++l) {
        const size_t offset = weight_tensors[l]->offset, size = weight_tensors[l]->size();
        double quadratic_form = 0;
        for (size_t i = offset; i < offset + size; ++i) quadratic_form += double(v[i]) * double(product[i]);
        result.traces[l] += weight * quadratic_form;
      }
    }
  }
  result.hessian_vector_products = vectors;
  return result;
}

template LayerHessianTraces hutchinson_layer_traces<float>(Network<float>&, std::span<const float>,
                                                           std::span<const int32_t>,
                                                           const HutchinsonOptions&);
template LayerHessianTraces hutchinson_layer_traces<double>(Network<double>&, std::span<const double>,
                                                            std::span<const int32_t>,
                                                            const HutchinsonOptions&);

}  // namespace qplay
