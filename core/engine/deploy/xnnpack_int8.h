// The XNNPACK backend of real int8 inference (deploy/int8_inference.h): one operator of Debian's
// XNNPACK snapshot (2022) per op of an Int8Model, created once from the constant int8 weights and
// set up per chunk:
//   dense, per-channel   1x1 convolution2d_nhwc_qc8 over a 1x1 image per sample (this snapshot has
//                        no per-channel fully-connected operator)
//   dense, per-tensor    fully_connected_nc_qs8
//   conv2d               convolution2d_nhwc_qc8 (per-channel) or _qs8 (per-tensor)
//   max_pool             max_pooling2d_nhwc_s8
// The last op (float logits) is not an XNNPACK operator: int8_inference.cpp runs it on the reference
// path. Compiled only when QPLAY_WITH_XNNPACK (which defines QPLAY_HAVE_XNNPACK); int8_inference.cpp
// is its only caller, and the reference loops (nn/layer_*.h) are what it is tested against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/deploy/int8_inference.h"

struct xnn_operator;  // xnnpack.h
struct pthreadpool;   // pthreadpool.h

namespace qplay {

// XNNPACK may read up to this many bytes past the end of an op's input (XNN_EXTRA_BYTES; checked
// against xnnpack.h in the .cpp). Input buffers passed to run() must have them.
inline constexpr size_t kXnnpackInt8InputPadding = 16;

class XnnpackInt8Operators {
 public:
  // Operators for ops[0, ops.size() - 1); the last op is left to the caller. Fails with a message
  // naming the layer and XNNPACK's status when XNNPACK cannot initialise or refuses an operator
  // (e.g. a requantization scale s_x·s_w/s_y of 256 or more).
  // Per-tensor weights use the qs8 operators (one kernel scale), per-channel ones qc8.
  static Result<std::unique_ptr<XnnpackInt8Operators>> create(std::span<const Int8Op> ops,
                                                              Granularity weight_granularity);
  ~XnnpackInt8Operators();
  XnnpackInt8Operators(const XnnpackInt8Operators&) = delete;
  XnnpackInt8Operators& operator=(const XnnpackInt8Operators&) = delete;

  // output[batch, ops[op].output.size()] from input[batch, ops[op].input.size()] (+ padding), on a
  // pool of `threads` threads (re-created when the count changes; 1, and ops too small to share,
  // run on the caller's thread).
  // Not thread-safe: one call at a time per object.
  Status run(int op, int batch, const int8_t* input, int8_t* output, int threads);

 private:
  XnnpackInt8Operators() = default;
  Status use_threads(int threads);

  // What setup needs besides the batch, copied: the operators must not depend on the model that
  // built them staying alive (copies of a model share them).
  struct OperatorShape {
    Int8OpKind kind = Int8OpKind::dense;
    bool per_channel = true;
    TensorShape input;
    int layer = 0;                         // for messages
    int64_t multiply_adds_per_sample = 0;  // decides whether the pool is worth waking
  };
  std::vector<OperatorShape> shapes_;     // [ops - 1]
  std::vector<xnn_operator*> operators_;  // [ops - 1]
  pthreadpool* threadpool_ = nullptr;     // null for one thread
  int threads_ = 1;
};

}  // namespace qplay
