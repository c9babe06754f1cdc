// Per-layer Hessian traces of the mean cross-entropy by Hutchinson's estimator, as HAWQ-v2 uses them
// (Dong et al., NeurIPS 2020): Tr(H_l) = E[v_lᵀ (H v)_l] for v with independent Rademacher (±1) entries,
// so the mean of v_lᵀ(Hv)_l over m vectors estimates every layer's trace at once from m exact
// Hessian-vector products (nn/hessian_vector_product.h). Its variance is 2·Σ_{i≠j} H_ij² per vector
// (the diagonal adds none), so it converges as 1/√m.
// Not for: the Hessian's eigenvalues (HAWQ-v1) or curvature of anything but the mean cross-entropy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/engine/nn/network.h"

namespace qplay {

struct HutchinsonOptions {
  int rademacher_vectors = 32;  // m; HAWQ-v2 stops at a relative change below 1e-3 instead of a count
  uint64_t seed = 1;            // vector k is drawn from Rng(seed, stream k), independent of the chunking
};

struct LayerHessianTraces {
  std::vector<int> layers;          // the weighted layers (indices into Architecture::layers), in order
  std::vector<size_t> weights;      // [layers] n_l: elements of the layer's weight tensor
  std::vector<double> traces;       // [layers] the Tr(H_l) estimates, H w.r.t. that layer's weights
  int hessian_vector_products = 0;  // m, each over all the samples given (in chunks)
};

// Tr(H_l) of the mean cross-entropy of features[n, input size] against labels[n] at the network's own
// parameters, for every weighted layer. The mean over n samples is taken in chunks that fit one forward;
// overwrites network.gradients(). options.rademacher_vectors >= 1 and n >= 1 (asserted).
template <typename T>
LayerHessianTraces hutchinson_layer_traces(Network<T>& network, std::span<const T> features,
                                           std::span<const int32_t> labels, const HutchinsonOptions& options);

// The same estimate one unit at a time, a unit being one Hessian-vector product over one chunk of the
// samples, in hutchinson_layer_traces' order (chunks, then vectors), so a caller can spread it over time
// slices (the playground's bit allocation) and still get its sums bit for bit. Between units the caller
// may run the network on anything that leaves its parameters alone, if it calls forget_recording():
// the next unit then repeats its chunk's forward and recorded backward pass (deterministic).
// features and labels must outlive the job.
template <typename T>
class HutchinsonTraceJob {
 public:
  HutchinsonTraceJob(Network<T>& network, std::span<const T> features, std::span<const int32_t> labels,
                     const HutchinsonOptions& options);
  HutchinsonTraceJob(HutchinsonTraceJob&&) noexcept;
  HutchinsonTraceJob& operator=(HutchinsonTraceJob&&) noexcept;
  ~HutchinsonTraceJob();

  int total_units() const { return chunks_ * vectors_; }
  int done_units() const { return done_; }
  bool finished() const { return done_ == total_units(); }
  void run_unit();  // one more; only while !finished()
  void forget_recording() { recorded_chunk_ = -1; }
  const LayerHessianTraces& result() const { return result_; }  // the estimate once finished()

 private:
  struct Pass;
  Network<T>* network_;
  std::span<const T> features_;
  std::span<const int32_t> labels_;
  HutchinsonOptions options_;
  int samples_ = 0, chunk_ = 0, chunks_ = 0, vectors_ = 0, done_ = 0;
  int recorded_chunk_ = -1;  // the chunk whose backward pass `pass_` holds, -1 none
  std::unique_ptr<Pass> pass_;
  LayerHessianTraces result_;
};

extern template class HutchinsonTraceJob<float>;
extern template class HutchinsonTraceJob<double>;

extern template LayerHessianTraces hutchinson_layer_traces<float>(Network<float>&, std::span<const float>,
                                                                  std::span<const int32_t>,
                                                                  const HutchinsonOptions&);
extern template LayerHessianTraces hutchinson_layer_traces<double>(Network<double>&, std::span<const double>,
                                                                   std::span<const int32_t>,
                                                                   const HutchinsonOptions&);

}  // namespace qplay
