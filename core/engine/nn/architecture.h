// Network architectures from a short text spec, and the shapes they imply.
//   "mlp:256,256"        dense(256)-relu-dense(256)-relu-dense(classes)
//   "mlp:16,16:tanh"     the same with tanh (also: relu, softplus)
//   "cnn:16,32"          conv3x3(16, same)-relu-maxpool2 - conv3x3(32, same)-relu-maxpool2 - flatten -
//   dense(classes) "linear"             a single dense layer (logistic regression)
// An Architecture is pure description: no weights, no buffers (those live in Network).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/base/status.h"

namespace qplay {

enum class LayerKind { dense, conv2d, max_pool, flatten, relu, tanh, softplus };
const char* layer_kind_name(LayerKind kind);

// Activation tensors are NHWC; a flat feature vector is height = width = 1.
struct TensorShape {
  int height = 1, width = 1, channels = 1;
  int size() const { return height * width * channels; }
  bool operator==(const TensorShape&) const = default;
};

struct LayerSpec {
  LayerKind kind = LayerKind::dense;
  int outputs = 0;                          // dense: features; conv2d: channels
  int kernel = 3, stride = 1, padding = 1;  // conv2d and max_pool
  TensorShape input, output;                // filled by resolve_architecture
  bool has_parameters() const { return kind == LayerKind::dense || kind == LayerKind::conv2d; }
  // Weight rows are output channels: dense W[outputs, inputs]; conv W[outputs, kernel*kernel*in_channels].
  int weight_rows() const { return outputs; }
  int weight_columns() const {
    return kind == LayerKind::dense ? input.size() : kernel * kernel * input.channels;
  }
};

struct Architecture {
  std::string spec;  // the text it was parsed from, kept for files and display
  TensorShape input;
  int num_classes = 0;
  std::vector<LayerSpec> layers;
  int64_t parameter_count() const;  // at most kMaxArchitectureParameters once parse_architecture accepted it
  // Values a network keeps per sample of a batch: the input copy, every layer's output, the quantized inputs,
  // the gradient ping-pong buffers, the probabilities, each convolution's im2col columns and the im2col
  // scratch (Network::layout_activations).
  int64_t batch_values_per_sample() const;
};

// The largest network QPlay builds: 8 MB of weights. A lab keeps several copies per run (gradients,
// optimizer state, quantized snapshots for the slider), and a browser tab's WebAssembly memory ends
// at 2 GB; a larger spec is refused with a message instead of aborting the page.
inline constexpr int64_t kMaxArchitectureParameters = 2'000'000;
// Sizes that come from outside (a model file, a data set) are checked before anything multiplies them:
// a sample of at most 2^22 values (a 2048x2048 image), at most 2^16 classes, and no layer whose
// output holds more than 2^24 values per sample. Within these every size fits an int.
inline constexpr int64_t kMaxInputValues = int64_t{1} << 22;
inline constexpr int kMaxClasses = 1 << 16;
inline constexpr int64_t kMaxLayerValues = int64_t{1} << 24;

// A batch's buffers may hold at most 2^27 floats (512 MiB): with the parameters, a method's own buffers and
// the data this keeps a browser tab under its 2 GB, and every batch-sized product inside an int.
inline constexpr int64_t kMaxBatchValues = int64_t{1} << 27;
// Refuses a batch whose buffers would pass kMaxBatchValues, before anything is allocated: "cnn:400,400 keeps
// 1234567 values per sample; a batch of 4096 would need 19 GB, QPlay allows 512 MiB: use batch_size at most
// 108, or narrower layers".
Status check_batch_fits(const Architecture& architecture, int batch);

// Parses a spec and resolves every layer's input and output shape for the given data.
Result<Architecture> parse_architecture(std::string_view spec, TensorShape input, int num_classes);

}  // namespace qplay
