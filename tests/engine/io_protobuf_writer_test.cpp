// The protobuf wire format writer against bytes worked out by hand from the encoding rules
// (protobuf.dev/programming-guides/encoding): varints, tags, fixed32, length-delimited and packed fields.
#include "core/engine/io/protobuf_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace qplay {
namespace {

std::vector<int> bytes_of(const ProtobufWriter& writer) {
  std::vector<int> bytes;
  for (char c : writer.bytes()) bytes.push_back(static_cast<unsigned char>(c));
  return bytes;
}

TEST(ProtobufWriter, VarintFieldsAreTagThenSevenBitGroupsLowFirst) {
  ProtobufWriter writer;
  writer.varint_field(1, 150);  // the encoding guide's example: 08 96 01
  writer.varint_field(20, 7);   // tag (20 << 3) = 160 needs two bytes
  EXPECT_EQ(bytes_of(writer), (std::vector<int>{0x08, 0x96, 0x01, 0xa0, 0x01, 0x07}));
}

TEST(ProtobufWriter, NegativeVarintsTakeTenBytes) {
  ProtobufWriter writer;
  writer.varint_field(1, -1);
  EXPECT_EQ(bytes_of(writer),
            (std::vector<int>{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
}

TEST(ProtobufWriter, FloatsAreFixed32LittleEndian) {
  ProtobufWriter writer;
  writer.float_field(2, 1.0f);  // 0x3f800000
  EXPECT_EQ(bytes_of(writer), (std::vector<int>{0x15, 0x00, 0x00, 0x80, 0x3f}));
}

TEST(ProtobufWriter, BytesMessagesAndPackedFloatsAreLengthDelimited) {
  ProtobufWriter inner;
  inner.varint_field(1, 3);
  ProtobufWriter writer;
  writer.bytes_field(2, "ab");
  writer.message_field(3, inner);
  const float values[] = {-2.0f, 0.5f};  // 0xc0000000, 0x3f000000
  writer.packed_floats_field(4, values);
  EXPECT_EQ(bytes_of(writer), (std::vector<int>{0x12, 0x02, 'a', 'b', 0x1a, 0x02, 0x08, 0x03, 0x22, 0x08,
                                                0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x3f}));
}

TEST(ProtobufWriter, LongFieldsGetAMultiByteLength) {
  ProtobufWriter writer;
  writer.bytes_field(1, std::string(300, 'x'));  // 300 = 0b10'0101100 -> ac 02
  const std::vector<int> bytes = bytes_of(writer);
  ASSERT_EQ(bytes.size(), 303u);
  EXPECT_EQ(bytes[0], 0x0a);
  EXPECT_EQ(bytes[1], 0xac);
  EXPECT_EQ(bytes[2], 0x02);
}

}  // namespace
}  // namespace qplay
