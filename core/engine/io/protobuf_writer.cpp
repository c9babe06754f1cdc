#include "core/engine/io/protobuf_writer.h"

#include "core/engine/base/bit_cast.h"

namespace qplay {
namespace {

constexpr int kWireVarint = 0;
constexpr int kWireLengthDelimited = 2;
constexpr int kWireFixed32 = 5;

void append_little_endian(std::string& out, float value) {
  const uint32_t bits = bit_cast<uint32_t>(value);
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>((bits >> shift) & 0xff));
}

}  // namespace

void ProtobufWriter::varint(uint64_t value) {
  while (value >= 0x80) {
    bytes_.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  bytes_.push_back(static_cast<char>(value));
}

void ProtobufWriter::tag(int field, int wire_type) {
  varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

void ProtobufWriter::varint_field(int field, int64_t value) {
  tag(field, kWireVarint);
  varint(static_cast<uint64_t>(value));
}

void ProtobufWriter::float_field(int field, float value) {
  tag(field, kWireFixed32);
  append_little_endian(bytes_, value);
}

void ProtobufWriter::bytes_field(int field, std::string_view bytes) {
  tag(field, kWireLengthDelimited);
  varint(bytes.size());
  bytes_.append(bytes);
}

void ProtobufWriter::packed_floats_field(int field, std::span<const float> values) {
  tag(field, kWireLengthDelimited);
  varint(values.size() * sizeof(float));
  for (float value : values) append_little_endian(bytes_, value);
}

}  // namespace qplay
