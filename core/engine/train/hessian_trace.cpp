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
struct HutchinsonTraceJob<T>::Pass {
  std::vector<const ParameterTensor*> weight_tensors;
  std::vector<T> v;  // the current Rademacher vector
  TangentPass<T> tangents;
};

template <typename T>
HutchinsonTraceJob<T>::HutchinsonTraceJob(Network<T>& network, std::span<const T> features,
                                          std::span<const int32_t> labels, const HutchinsonOptions& options)
    : network_(&network),
      features_(features),
      labels_(labels),
      options_(options),
      samples_(static_cast<int>(labels.size())),
      vectors_(options.rademacher_vectors),
      pass_(std::make_unique<Pass>()) {
  assert(options.rademacher_vectors >= 1 && samples_ >= 1 &&
         features.size() == size_t(samples_) * network.architecture().input.size());
  for (const ParameterTensor& tensor : network.parameter_tensors()) {
    if (!tensor.is_weight) continue;
    pass_->weight_tensors.push_back(&tensor);
    result_.layers.push_back(tensor.layer);
    result_.weights.push_back(tensor.size());
  }
  result_.traces.assign(pass_->weight_tensors.size(), 0.0);
  chunk_ = std::min({samples_, network.largest_batch(), kChunkSamples});
  chunks_ = (samples_ + chunk_ - 1) / chunk_;
  pass_->v.resize(network.parameter_count());
}

template <typename T>
HutchinsonTraceJob<T>::HutchinsonTraceJob(HutchinsonTraceJob&&) noexcept = default;
template <typename T>
HutchinsonTraceJob<T>& HutchinsonTraceJob<T>::operator=(HutchinsonTraceJob&&) noexcept = default;
template <typename T>
HutchinsonTraceJob<T>::~HutchinsonTraceJob() = default;

template <typename T>
void HutchinsonTraceJob<T>::run_unit() {
  assert(!finished());
  Network<T>& network = *network_;
  const size_t input_size = network.architecture().input.size();
  const int chunk_index = done_ / vectors_, k = done_ % vectors_;
  const int first = chunk_index * chunk_, batch = std::min(chunk_, samples_ - first);
  const std::span<const int32_t> labels = labels_.subspan(first, batch);
  if (recorded_chunk_ != chunk_index) {
    network.forward(features_.subspan(size_t(first) * input_size, size_t(batch) * input_size), batch);
    network.loss(labels);
    pass_->tangents.backward_recording(network, labels);
    recorded_chunk_ = chunk_index;
  }
  // This chunk's share of the mean loss's Hessian.
  const double weight = double(batch) / samples_ / vectors_;
  std::vector<T>& v = pass_->v;
  draw_rademacher<T>(options_.seed, k, v);
  std::span<const T> product = pass_->tangents.gradient_tangent(network, v, batch);
  for (size_t l = 0; l < pass_->weight_tensors.size(); ++l) {
    const size_t offset = pass_->weight_tensors[l]->offset, size = pass_->weight_tensors[l]->size();
    double quadratic_form = 0;
    for (size_t i = offset; i < offset + size; ++i) quadratic_form += double(v[i]) * double(product[i]);
    result_.traces[l] += weight * quadratic_form;
  }
  if (++done_ == total_units()) result_.hessian_vector_products = vectors_;
}

template class HutchinsonTraceJob<float>;
template class HutchinsonTraceJob<double>;

template <typename T>
LayerHessianTraces hutchinson_layer_traces(Network<T>& network, std::span<const T> features,
                                           std::span<const int32_t> labels,
                                           const HutchinsonOptions& options) {
  HutchinsonTraceJob<T> job(network, features, labels, options);
  while (!job.finished()) job.run_unit();
  return job.result();
}

template LayerHessianTraces hutchinson_layer_traces<float>(Network<float>&, std::span<const float>,
                                                           std::span<const int32_t>,
                                                           const HutchinsonOptions&);
template LayerHessianTraces hutchinson_layer_traces<double>(Network<double>&, std::span<const double>,
                                                            std::span<const int32_t>,
                                                            const HutchinsonOptions&);

}  // namespace qplay
