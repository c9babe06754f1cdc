#include "core/engine/nn/architecture.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace qplay {
namespace {

constexpr int kMaxHiddenWidth = 4096;
constexpr int kMaxHiddenLayers = 16;

Result<std::vector<int>> parse_widths(std::string_view text, std::string_view spec) {
  std::vector<int> widths;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    int value = 0;
    auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (error != std::errc() || end != item.data() + item.size() || value < 1 || value > kMaxHiddenWidth) {
      return Status::error("architecture '" + std::string(spec) + "': '" + std::string(item) +
                           "' is not a layer width (an integer from 1 to " + std::to_string(kMaxHiddenWidth) +
                           ")");
    }
    widths.push_back(value);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return Status::error("architecture '" + std::string(spec) + "': trailing comma");
  }
  if (widths.size() > kMaxHiddenLayers) {
    return Status::error("architecture '" + std::string(spec) + "': at most " +
                         std::to_string(kMaxHiddenLayers) + " hidden layers");
  }
  return widths;
}

Result<LayerKind> parse_activation(std::string_view name, std::string_view spec) {
  if (name == "relu") return LayerKind::relu;
  if (name == "tanh") return LayerKind::tanh;
  if (name == "softplus") return LayerKind::softplus;
  return Status::error("architecture '" + std::string(spec) + "': unknown activation '" + std::string(name) +
                       "' (choose relu, tanh or softplus)");
}

Status resolve_shapes(Architecture& architecture) {
  TensorShape shape = architecture.input;
  for (LayerSpec& layer : architecture.layers) {
    layer.input = shape;
    switch (layer.kind) {
      case LayerKind::dense:
        layer.output = {1, 1, layer.outputs};
        break;
      case LayerKind::conv2d:
      case LayerKind::max_pool: {
        int height = (shape.height + 2 * layer.padding - layer.kernel) / layer.stride + 1;
        int width = (shape.width + 2 * layer.padding - layer.kernel) / layer.stride + 1;
        if (shape.height + 2 * layer.padding < layer.kernel ||
            shape.width + 2 * layer.padding < layer.kernel) {
          return Status::error("architecture '" + architecture.spec + "': a " + layer_kind_name(layer.kind) +
                               " layer gets a " + std::to_string(shape.height) + "x" +
                               std::to_string(shape.width) + " input, smaller than its " +
                               std::to_string(layer.kernel) + "x" + std::to_string(layer.kernel) + " window");
        }
        layer.output = {height, width, layer.kind == LayerKind::conv2d ? layer.outputs : shape.channels};
        if (int64_t{height} * width * layer.output.channels > kMaxLayerValues) {
          return Status::error("architecture '" + architecture.spec + "': a " + layer_kind_name(layer.kind) +
                               " layer would output " + std::to_string(height) + "x" + std::to_string(width) +
                               "x" + std::to_string(layer.output.channels) +
                               " values per sample; QPlay allows at most " + std::to_string(kMaxLayerValues) +
                               " (use fewer channels)");
        }
        break;
      }
      case LayerKind::flatten:
        layer.output = {1, 1, shape.size()};
        break;
      case LayerKind::relu:
      case LayerKind::tanh:
      case LayerKind::softplus:
        layer.output = shape;
        break;
    }
    shape = layer.output;
  }
  return {};
}

}  // namespace

const char* layer_kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::dense:
      return "dense";
    case LayerKind::conv2d:
      return "conv2d";
    case LayerKind::max_pool:
      return "max_pool";
    case LayerKind::flatten:
      return "flatten";
    case LayerKind::relu:
      return "relu";
    case LayerKind::tanh:
      return "tanh";
    case LayerKind::softplus:
      return "softplus";
  }
  return "?";
}

int64_t Architecture::parameter_count() const {
  int64_t count = 0;
  for (const LayerSpec& layer : layers) {
    if (layer.has_parameters())
      count += int64_t{layer.weight_rows()} * int64_t{layer.weight_columns()} + layer.outputs;
  }
  return count;
}

int64_t Architecture::batch_values_per_sample() const {
  int64_t values = input.size(), largest = input.size(), columns = 0;
  bool first_weighted = true;
  for (const LayerSpec& layer : layers) {
    values += layer.output.size();
    largest = std::max<int64_t>(largest, layer.output.size());
    if (layer.has_parameters()) {
      if (!first_weighted) values += layer.input.size();
      first_weighted = false;
    }
    if (layer.kind == LayerKind::conv2d) {
      const int64_t layer_columns =
          int64_t{layer.output.height} * layer.output.width * layer.weight_columns();
      values += layer_columns;  // kept from forward for backward
      columns = std::max(columns, layer_columns);
    }
  }
  return values + 2 * largest + num_classes + columns;
}

Status check_batch_fits(const Architecture& architecture, int batch) {
  const int64_t per_sample = architecture.batch_values_per_sample();
  if (per_sample * int64_t{batch} <= kMaxBatchValues) return {};
  const int64_t largest_batch = kMaxBatchValues / per_sample;
  const double gigabytes = double(per_sample) * batch * sizeof(float) / 1e9;
  char needed[32];
  std::snprintf(needed, sizeof needed, "%.1f GB", gigabytes);
  return Status::error(
      "'" + architecture.spec + "' keeps " + std::to_string(per_sample) + " values per sample; a batch of " +
      std::to_string(batch) + " would need " + needed + ", QPlay allows " +
      std::to_string(kMaxBatchValues * sizeof(float) >> 20) + " MiB: " +
      (largest_batch >= 1 ? "use batch_size at most " + std::to_string(largest_batch) + ", or " : "use ") +
      "narrower layers");
}

Result<Architecture> parse_architecture(std::string_view spec, TensorShape input, int num_classes) {
  Architecture architecture;
  architecture.spec = std::string(spec);
  architecture.input = input;
  architecture.num_classes = num_classes;
  if (input.height < 1 || input.width < 1 || input.channels < 1 || num_classes < 2) {
    return Status::error("architecture '" + std::string(spec) +
                         "': the data must have inputs and >= 2 classes");
  }
  const int64_t input_values = int64_t{input.height} * input.width * input.channels;
  if (input_values > kMaxInputValues) {
    return Status::error("this input is " + std::to_string(input.height) + "x" + std::to_string(input.width) +
                         "x" + std::to_string(input.channels) + " = " + std::to_string(input_values) +
                         " values per sample; QPlay accepts at most " + std::to_string(kMaxInputValues));
  }
  if (num_classes > kMaxClasses) {
    return Status::error("this data has " + std::to_string(num_classes) + " classes; QPlay accepts at most " +
                         std::to_string(kMaxClasses));
  }

  // family[:widths][:activation]
  std::string_view rest = spec;
  size_t colon = rest.find(':');
  std::string_view family = rest.substr(0, colon);
  std::string_view widths_text, activation_text = "relu";
  if (colon != std::string_view::npos) {
    rest.remove_prefix(colon + 1);
    size_t second = rest.find(':');
    widths_text = rest.substr(0, second);
    if (second != std::string_view::npos) activation_text = rest.substr(second + 1);
  }
  Result<LayerKind> activation = parse_activation(activation_text, spec);
  if (!activation) return activation.status();

  if (family == "linear") {
    if (colon != std::string_view::npos) {
      return Status::error("architecture '" + std::string(spec) + "': 'linear' takes no widths");
    }
    if (input.height > 1 || input.width > 1) architecture.layers.push_back({LayerKind::flatten});
    architecture.layers.push_back({LayerKind::dense, num_classes});
  } else if (family == "mlp" || family == "cnn") {
    Result<std::vector<int>> widths = parse_widths(widths_text, spec);
    if (!widths) return widths.status();
    if (widths->empty()) {
      return Status::error("architecture '" + std::string(spec) + "': give layer widths, e.g. " +
                           std::string(family) + (family == "mlp" ? ":64,64" : ":16,32"));
    }
    if (family == "mlp") {
      if (input.height > 1 || input.width > 1) architecture.layers.push_back({LayerKind::flatten});
      for (int width : *widths) {
        architecture.layers.push_back({LayerKind::dense, width});
        architecture.layers.push_back({*activation});
      }
    } else {
      if (input.height < 2 || input.width < 2) {
        return Status::error("architecture '" + std::string(spec) +
                             "': a CNN needs image data (this data set has flat features; use mlp)");
      }
      for (int channels : *widths) {
        architecture.layers.push_back({LayerKind::conv2d, channels, 3, 1, 1});
        architecture.layers.push_back({*activation});
        architecture.layers.push_back({LayerKind::max_pool, 0, 2, 2, 0});
      }
      architecture.layers.push_back({LayerKind::flatten});
    }
    architecture.layers.push_back({LayerKind::dense, num_classes});
  } else {
    return Status::error("architecture '" + std::string(spec) + "': unknown family '" + std::string(family) +
                         "' (use mlp:W1,W2,...[:relu|tanh|softplus], cnn:C1,C2,...[:activation] or linear)");
  }
  if (Status status = resolve_shapes(architecture); !status) return status;
  const int64_t parameters = architecture.parameter_count();
  if (parameters > kMaxArchitectureParameters) {
    return Status::error("architecture '" + std::string(spec) + "' has " + std::to_string(parameters) +
                         " parameters on this data; QPlay trains networks of up to " +
                         std::to_string(kMaxArchitectureParameters) + " (use fewer or narrower layers)");
  }
  return architecture;
}

}  // namespace qplay
