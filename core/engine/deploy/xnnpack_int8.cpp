// XNNPACK operators for int8 inference; see xnnpack_int8.h. Requantization in this snapshot is
// fp32 with round-half-to-even for both qc8 and qs8 (requantization scale = input_scale ·
// kernel_scale / output_scale in float, below 256), which is what the reference loops compute, so
// the two backends agree bit for bit (tests/engine/int8_inference_test.cpp).
#include "core/engine/deploy/xnnpack_int8.h"

#include <pthreadpool.h>
#include <xnnpack.h>

#include <cstdint>
#include <string>

namespace qplay {
namespace {

static_assert(XNN_EXTRA_BYTES <= kXnnpackInt8InputPadding,
              "update kXnnpackInt8InputPadding to XNN_EXTRA_BYTES");

// Below this many multiply-adds per call the pool saves microseconds at best, while a worker that
// the OS has descheduled stalls the call for milliseconds (the float table's rule, xnnpack_kernels.cpp).
constexpr int64_t kMinMultiplyAddsForThreads = int64_t{1} << 18;

Status xnnpack_error(int layer, const char* call, xnn_status status) {
  return Status::error("int8 xnnpack backend: layer " + std::to_string(layer) + ": " + call +
                       " failed (status " + std::to_string(status) + ")");
}

int8_t code(int32_t value) { return static_cast<int8_t>(value); }

xnn_status create_operator(const Int8Op& op, bool per_channel, xnn_operator_t* created) {
  const uint32_t kernel = static_cast<uint32_t>(op.kernel), stride = static_cast<uint32_t>(op.stride);
  const uint32_t padding = static_cast<uint32_t>(op.padding);
  constexpr uint32_t kDilation = 1, kGroups = 1, kFlags = 0;
  const size_t in_channels = op.input.channels, out_channels = op.output.channels;
  const int8_t input_zero_point = code(op.input_grid.zero_point);
  const int8_t output_zero_point = code(op.output_grid.zero_point);
  const int8_t output_min = code(op.output_grid.q_min), output_max = code(op.output_grid.q_max);
  const float input_scale = op.input_grid.scale, output_scale = op.output_grid.scale;
  switch (op.kind) {
    case Int8OpKind::max_pool:
      return xnn_create_max_pooling2d_nhwc_s8(padding, padding, padding, padding, kernel, kernel, stride,
                                              stride, kDilation, kDilation, in_channels, in_channels,
                                              in_channels, INT8_MIN, INT8_MAX, kFlags, created);
    case Int8OpKind::dense: {
      const size_t inputs = op.input.size();
      if (!per_channel) {
        return xnn_create_fully_connected_nc_qs8(inputs, out_channels, inputs, out_channels, input_zero_point,
                                                 input_scale, op.weight_scales[0], op.weights.data(),
                                                 op.bias.data(), output_zero_point, output_scale, output_min,
                                                 output_max, kFlags, created);
      }
      // A dense layer is a 1x1 convolution (no padding, stride 1) of a 1x1 image whose channels are
      // the features.
      return xnn_create_convolution2d_nhwc_qc8(
          0, 0, 0, 0, 1, 1, 1, 1, kDilation, kDilation, kGroups, inputs, out_channels, inputs, out_channels,
          input_zero_point, input_scale, op.weight_scales.data(), op.weights.data(), op.bias.data(),
          output_zero_point, output_scale, output_min, output_max, kFlags, created);
    }
    case Int8OpKind::conv2d:
      if (!per_channel) {
        return xnn_create_convolution2d_nhwc_qs8(
            padding, padding, padding, padding, kernel, kernel, stride, stride, kDilation, kDilation, kGroups,
            in_channels, out_channels, in_channels, out_channels, input_zero_point, input_scale,
            op.weight_scales[0], op.weights.data(), op.bias.data(), output_zero_point, output_scale,
            output_min, output_max, kFlags, created);
      }
      return xnn_create_convolution2d_nhwc_qc8(
          padding, padding, padding, padding, kernel, kernel, stride, stride, kDilation, kDilation, kGroups,
          in_channels, out_channels, in_channels, out_channels, input_zero_point, input_scale,
          op.weight_scales.data(), op.weights.data(), op.bias.data(), output_zero_point, output_scale,
          output_min, output_max, kFlags, created);
  }
  return xnn_status_invalid_parameter;
}

}  // namespace

Result<std::unique_ptr<XnnpackInt8Operators>> XnnpackInt8Operators::create(std::span<const Int8Op> ops,
                                                                           Granularity weight_granularity) {
  // xnn_initialize is idempotent (pthread_once inside), so sharing it with the float kernel table
  // needs no coordination; the static only saves the repeated call.
  static const xnn_status initialized = xnn_initialize(/*allocator=*/nullptr);
  if (initialized != xnn_status_success) {
    return Status::error("int8 xnnpack backend: initialisation failed (status " +
                         std::to_string(initialized) +
                         "); this CPU may be unsupported, use the reference backend");
  }
  const bool per_channel = weight_granularity == Granularity::per_channel;
  std::unique_ptr<XnnpackInt8Operators> result(new XnnpackInt8Operators());
  for (size_t i = 0; i + 1 < ops.size(); ++i) {
    const Int8Op& op = ops[i];
    xnn_operator_t created = nullptr;
    if (xnn_status status = create_operator(op, per_channel, &created); status != xnn_status_success) {
      return xnnpack_error(op.layer, "creating the operator", status);
    }
    result->operators_.push_back(created);
    const int64_t window = op.kind == Int8OpKind::max_pool ? int64_t{op.kernel} * op.kernel : op.patch_size();
    result->shapes_.push_back({op.kind, per_channel, op.input, op.layer, window * op.output.size()});
  }
  return result;
}

XnnpackInt8Operators::~XnnpackInt8Operators() {
  for (xnn_operator_t op : operators_) xnn_delete_operator(op);
  if (threadpool_ != nullptr) pthreadpool_destroy(threadpool_);
}

Status XnnpackInt8Operators::use_threads(int threads) {
  if (threads == threads_) return {};
  if (threadpool_ != nullptr) pthreadpool_destroy(threadpool_);
  threadpool_ = nullptr;
  threads_ = 1;
  if (threads > 1) {
    threadpool_ = pthreadpool_create(static_cast<size_t>(threads));
    if (threadpool_ == nullptr) {
      return Status::error("int8 xnnpack backend: could not create a pool of " + std::to_string(threads) +
                           " threads");
    }
    threads_ = threads;
  }
  return {};
}

Status XnnpackInt8Operators::run(int op, int batch, const int8_t* input, int8_t* output, int threads) {
  if (Status status = use_threads(threads); !status) return status;
  const OperatorShape& shape = shapes_[op];
  xnn_operator_t xnn_op = operators_[op];
  const size_t samples = static_cast<size_t>(batch);
  const size_t height = shape.input.height, width = shape.input.width;
  pthreadpool_t threadpool =
      batch * shape.multiply_adds_per_sample >= kMinMultiplyAddsForThreads ? threadpool_ : nullptr;
  xnn_status status = xnn_status_success;
  switch (shape.kind) {
    case Int8OpKind::max_pool:
      status = xnn_setup_max_pooling2d_nhwc_s8(xnn_op, samples, height, width, input, output, threadpool);
      break;
    case Int8OpKind::dense:
      status = shape.per_channel
                   ? xnn_setup_convolution2d_nhwc_qc8(xnn_op, samples, 1, 1, input, output, threadpool)
                   : xnn_setup_fully_connected_nc_qs8(xnn_op, samples, input, output, threadpool);
      break;
    case Int8OpKind::conv2d:
      status =
          shape.per_channel
              ? xnn_setup_convolution2d_nhwc_qc8(xnn_op, samples, height, width, input, output, threadpool)
              : xnn_setup_convolution2d_nhwc_qs8(xnn_op, samples, height, width, input, output, threadpool);
      break;
  }
  if (status != xnn_status_success) return xnnpack_error(shape.layer, "setting up the operator", status);
  status = xnn_run_operator(xnn_op, threadpool);
  if (status != xnn_status_success) return xnnpack_error(shape.layer, "running the operator", status);
  return {};
}

}  // namespace qplay
