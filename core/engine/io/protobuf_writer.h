// The protocol buffers wire format, write side only: enough to emit an ONNX model without a protobuf
// library (deploy/onnx_export.h). A message is built into a ProtobufWriter and nested by writing one
// writer's bytes as another's length-delimited field.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qplay {

class ProtobufWriter {
 public:
  // Wire type 0: an int64/int32/enum field; negative values take ten bytes, as protobuf writes them.
  void varint_field(int field, int64_t value);
  // Wire type 5: a float field, little-endian.
  void float_field(int field, float value);
  // Wire type 2: a string, bytes or embedded message field.
  void bytes_field(int field, std::string_view bytes);
  void message_field(int field, const ProtobufWriter& message) { bytes_field(field, message.bytes()); }
  // Wire type 2: a packed repeated float field (one length, then 4 little-endian bytes per value).
  void packed_floats_field(int field, std::span<const float> values);

  const std::string& bytes() const { return bytes_; }

 private:
  void tag(int field, int wire_type);
  void varint(uint64_t value);

  std::string bytes_;
};

}  // namespace qplay
