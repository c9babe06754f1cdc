#include "core/engine/deploy/onnx_export.h"

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "core/engine/io/protobuf_writer.h"

namespace qplay {
namespace {

// Field numbers and enum values of onnx/onnx.proto (checked against ONNX's own onnx.proto).
namespace model_field {
constexpr int ir_version = 1, producer_name = 2, graph = 7, opset_import = 8;
}
namespace opset_field {
constexpr int version = 2;
}
namespace graph_field {
constexpr int node = 1, name = 2, initializer = 5, input = 11, output = 12;
}
namespace node_field {
constexpr int input = 1, output = 2, name = 3, op_type = 4, attribute = 5;
}
namespace attribute_field {
constexpr int name = 1, i = 3, ints = 8, type = 20;
}
namespace tensor_field {
constexpr int dims = 1, data_type = 2, float_data = 4, name = 8, raw_data = 9;
}
namespace value_info_field {
constexpr int name = 1, type = 2;
}
namespace type_field {
constexpr int tensor_type = 1, elem_type = 1, shape = 2, dim = 1, dim_value = 1, dim_param = 2;
}
constexpr int kAttributeInt = 2, kAttributeInts = 7;
enum DataType { kFloat = 1, kUint8 = 2, kInt8 = 3, kInt64 = 7 };
constexpr int64_t kIrVersion = 7, kOpset = 13;

struct Attribute {
  std::string name;
  std::vector<int64_t> values;
  bool is_list = true;
};

struct Node {
  std::string op_type;
  std::vector<std::string> inputs;
  std::string output;
  std::vector<Attribute> attributes;
};

ProtobufWriter tensor_value_info(const std::string& name, int64_t features) {
  ProtobufWriter batch, width, shape, tensor, type, info;
  batch.bytes_field(type_field::dim_param, "N");
  width.varint_field(type_field::dim_value, features);
  shape.message_field(type_field::dim, batch);
  shape.message_field(type_field::dim, width);
  tensor.varint_field(type_field::elem_type, kFloat);
  tensor.message_field(type_field::shape, shape);
  type.message_field(type_field::tensor_type, tensor);
  info.bytes_field(value_info_field::name, name);
  info.message_field(value_info_field::type, type);
  return info;
}

// Nodes and initializers as the layers add them; the last node's output becomes "logits".
class GraphBuilder {
 public:
  std::string node(std::string op_type, std::vector<std::string> inputs,
                   std::vector<Attribute> attributes = {}) {
    std::string output = "t" + std::to_string(nodes_.size()) + "_" + op_type;
    nodes_.push_back({std::move(op_type), std::move(inputs), output, std::move(attributes)});
    return output;
  }

  std::string floats(const std::string& name, const std::vector<int64_t>& dims,
                     std::span<const float> values) {
    ProtobufWriter tensor = tensor_header(name, dims, kFloat);
    tensor.packed_floats_field(tensor_field::float_data, values);
    initializers_.push_back(std::move(tensor));
    return name;
  }

  // 8-bit codes (int8 or uint8 by is_signed), as raw little-endian bytes.
  std::string codes(const std::string& name, const std::vector<int64_t>& dims,
                    std::span<const int32_t> values, bool is_signed) {
    ProtobufWriter tensor = tensor_header(name, dims, is_signed ? kInt8 : kUint8);
    std::string raw(values.size(), '\0');
    for (size_t i = 0; i < values.size(); ++i) raw[i] = static_cast<char>(static_cast<uint8_t>(values[i]));
    tensor.bytes_field(tensor_field::raw_data, raw);
    initializers_.push_back(std::move(tensor));
    return name;
  }

  std::string int64s(const std::string& name, std::span<const int64_t> values) {
    ProtobufWriter tensor = tensor_header(name, {static_cast<int64_t>(values.size())}, kInt64);
    std::string raw;
    for (int64_t value : values) {
      for (int shift = 0; shift < 64; shift += 8)
        raw.push_back(static_cast<char>((uint64_t(value) >> shift) & 0xff));
    }
    tensor.bytes_field(tensor_field::raw_data, raw);
    initializers_.push_back(std::move(tensor));
    return name;
  }

  std::string model_bytes(int64_t input_features, int64_t classes) {
    nodes_.back().output = "logits";
    ProtobufWriter graph;
    for (size_t i = 0; i < nodes_.size(); ++i)
      graph.message_field(graph_field::node, node_proto(nodes_[i], i));
    graph.bytes_field(graph_field::name, "qplay");
    for (const ProtobufWriter& tensor : initializers_) graph.message_field(graph_field::initializer, tensor);
    graph.message_field(graph_field::input, tensor_value_info("input", input_features));
    graph.message_field(graph_field::output, tensor_value_info("logits", classes));
    ProtobufWriter opset, model;
    opset.varint_field(opset_field::version, kOpset);
    model.varint_field(model_field::ir_version, kIrVersion);
    model.bytes_field(model_field::producer_name, "qplay");
    model.message_field(model_field::graph, graph);
    model.message_field(model_field::opset_import, opset);
    return model.bytes();
  }

 private:
  static ProtobufWriter tensor_header(const std::string& name, const std::vector<int64_t>& dims,
                                      DataType type) {
    ProtobufWriter tensor;
    for (int64_t d : dims) tensor.varint_field(tensor_field::dims, d);
    tensor.varint_field(tensor_field::data_type, type);
    tensor.bytes_field(tensor_field::name, name);
    return tensor;
  }

  static ProtobufWriter node_proto(const Node& node, size_t index) {
    ProtobufWriter proto;
    for (const std::string& input : node.inputs) proto.bytes_field(node_field::input, input);
    proto.bytes_field(node_field::output, node.output);
    proto.bytes_field(node_field::name, node.op_type + "_" + std::to_string(index));
    proto.bytes_field(node_field::op_type, node.op_type);
    for (const Attribute& attribute : node.attributes) {
      ProtobufWriter a;
      a.bytes_field(attribute_field::name, attribute.name);
      a.varint_field(attribute_field::type, attribute.is_list ? kAttributeInts : kAttributeInt);
      for (int64_t v : attribute.values)
        a.varint_field(attribute.is_list ? attribute_field::ints : attribute_field::i, v);
      proto.message_field(node_field::attribute, a);
    }
    return proto;
  }

  std::vector<Node> nodes_;
  std::vector<ProtobufWriter> initializers_;
};

// Walks the layers, keeping the current tensor's name and whether it is flat NHWC or an NCHW image.
class LayerEmitter {
 public:
  explicit LayerEmitter(GraphBuilder& graph) : graph_(graph) {}

  Status add(const IntegerLayer& layer, int index) {
    const LayerSpec& spec = layer.spec;
    prefix_ = "layer" + std::to_string(index) + ".";
    switch (spec.kind) {
      case LayerKind::dense:
        to_flat();
        quantize_input(layer);
        x_ = graph_.node("Gemm", {x_, weight(layer, {spec.outputs, spec.input.size()})},
                         {{"transB", {1}, false}});
        x_ = graph_.node("Add", {x_, bias(layer, {spec.outputs})});
        return Status();
      case LayerKind::conv2d:
        to_nchw(spec.input);
        quantize_input(layer);
        x_ = graph_.node("Conv",
                         {x_, weight(layer, {spec.outputs, spec.input.channels, spec.kernel, spec.kernel})},
                         {{"kernel_shape", {spec.kernel, spec.kernel}},
                          {"pads", {spec.padding, spec.padding, spec.padding, spec.padding}},
                          {"strides", {spec.stride, spec.stride}}});
        x_ = graph_.node("Add", {x_, bias(layer, {1, spec.outputs, 1, 1})});
        return Status();
      case LayerKind::max_pool:
        if (spec.padding != 0) {
          return Status::error("layer " + std::to_string(index) + ": a max-pool with padding has no export");
        }
        to_nchw(spec.input);
        x_ = graph_.node(
            "MaxPool", {x_},
            {{"kernel_shape", {spec.kernel, spec.kernel}}, {"strides", {spec.stride, spec.stride}}});
        return Status();
      case LayerKind::flatten:
        to_flat();
        return Status();
      case LayerKind::relu:
        x_ = graph_.node("Relu", {x_});
        return Status();
      case LayerKind::tanh:
        x_ = graph_.node("Tanh", {x_});
        return Status();
      case LayerKind::softplus:
        x_ = graph_.node("Softplus", {x_});
        return Status();
    }
    return Status::error("layer " + std::to_string(index) + ": " + layer_kind_name(spec.kind) +
                         " has no ONNX export");
  }

  // The logits must come out in QPlay's flat order.
  void finish() { to_flat(); }

 private:
  void to_nchw(const TensorShape& shape) {
    if (!flat_) return;
    const int64_t dims[] = {-1, shape.height, shape.width, shape.channels};
    x_ = graph_.node("Reshape", {x_, graph_.int64s(prefix_ + "nhwc_shape", dims)});
    x_ = graph_.node("Transpose", {x_}, {{"perm", {0, 3, 1, 2}}});
    flat_ = false;
  }

  void to_flat() {
    if (flat_) return;
    x_ = graph_.node("Transpose", {x_}, {{"perm", {0, 2, 3, 1}}});
    x_ = graph_.node("Flatten", {x_}, {{"axis", {1}, false}});
    flat_ = true;
  }

  void quantize_input(const IntegerLayer& layer) {
    if (!layer.input_grid) return;
    const IntegerGrid& grid = *layer.input_grid;
    // The grid's end values as dequantize() forms them, so that Clip and QuantizeLinear agree on the codes.
    const float low = grid.scale * static_cast<float>(grid.q_min - grid.zero_point);
    const float high = grid.scale * static_cast<float>(grid.q_max - grid.zero_point);
    const std::string scale = graph_.floats(prefix_ + "input_scale", {}, std::span(&grid.scale, 1));
    const std::string zero_point =
        graph_.codes(prefix_ + "input_zero_point", {}, std::span(&grid.zero_point, 1), grid.is_signed);
    x_ = graph_.node("Clip", {x_, graph_.floats(prefix_ + "input_low", {}, std::span(&low, 1)),
                              graph_.floats(prefix_ + "input_high", {}, std::span(&high, 1))});
    x_ = graph_.node("QuantizeLinear", {x_, scale, zero_point});
    x_ = graph_.node("DequantizeLinear", {x_, scale, zero_point});
  }

  // The weight tensor in ONNX's layout (dims): dense [out, in] as QPlay keeps it, conv OIHW from QPlay's
  // [out, ky, kx, in]; float, or codes behind a DequantizeLinear.
  std::string weight(const IntegerLayer& layer, const std::vector<int64_t>& dims) {
    const IntegerWeights& w = layer.weights;
    auto onnx_order = [&](const auto& values) {
      if (layer.spec.kind != LayerKind::conv2d) return values;
      auto permuted = values;
      const int k = layer.spec.kernel, in = layer.spec.input.channels;
      for (int o = 0; o < w.rows; ++o)
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx)
            for (int c = 0; c < in; ++c)
              permuted[((size_t(o) * in + c) * k + ky) * k + kx] =
                  values[size_t(o) * w.columns + (ky * k + kx) * in + c];
      return permuted;
    };
    if (w.bits == 0) return graph_.floats(prefix_ + "weight", dims, onnx_order(w.float_values));
    const std::string codes = graph_.codes(prefix_ + "weight_codes", dims, onnx_order(w.codes), w.is_signed);
    const std::vector<int64_t> grid_dims =
        w.per_channel ? std::vector<int64_t>{static_cast<int64_t>(w.scales.size())} : std::vector<int64_t>{};
    const std::string scales = graph_.floats(prefix_ + "weight_scale", grid_dims, w.scales);
    const std::string zero_points =
        graph_.codes(prefix_ + "weight_zero_point", grid_dims, w.zero_points, w.is_signed);
    std::vector<Attribute> attributes;
    if (w.per_channel) attributes.push_back({"axis", {0}, false});
    return graph_.node("DequantizeLinear", {codes, scales, zero_points}, std::move(attributes));
  }

  // A separate Add, not Gemm's or Conv's bias input: ONNX Runtime rounds a bias input between two
  // DequantizeLinear inputs to int32 at scale s_x·s_w, coarse at low bits, and QPlay's biases are float.
  std::string bias(const IntegerLayer& layer, const std::vector<int64_t>& dims) {
    return graph_.floats(prefix_ + "bias", dims, layer.bias);
  }

  GraphBuilder& graph_;
  std::string x_ = "input";
  bool flat_ = true;
  std::string prefix_;
};

}  // namespace

Result<std::string> onnx_model_bytes(const IntegerModel& model) {
  GraphBuilder graph;
  LayerEmitter emitter(graph);
  for (size_t i = 0; i < model.layers.size(); ++i) {
    if (Status status = emitter.add(model.layers[i], static_cast<int>(i)); !status) return status;
  }
  emitter.finish();
  return graph.model_bytes(model.architecture.input.size(), model.architecture.num_classes);
}

}  // namespace qplay
