// Specification of FeatureRows (feature_rows.h): both storages decode to the same floats through
// the same accessors, and uint8 codes decode bit for bit to the floats the loaders used to store.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/engine/data/dataset.h"
#include "core/engine/data/feature_rows.h"

namespace qplay {
namespace {

uint32_t bits_of(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

// [3, 4]: the same values stored both ways (code c is the value c / 8, exact in float).
const std::vector<uint8_t> kCodes = {0, 8, 16, 24, 1, 2, 3, 4, 255, 254, 128, 7};
std::vector<float> expected_values() {
  std::vector<float> values;
  for (uint8_t code : kCodes) values.push_back(static_cast<float>(code) / 8.0f);
  return values;
}
FeatureRows as_floats() { return FeatureRows::from_floats(expected_values(), 4); }
FeatureRows as_codes() { return FeatureRows::from_uint8_codes(kCodes, 4, 8.0f); }

TEST(FeatureRows, Uint8CodesDecodeBitIdenticallyToPixelOver255) {
  std::vector<uint8_t> every_code(256);
  for (int code = 0; code < 256; ++code) every_code[code] = static_cast<uint8_t>(code);
  const FeatureRows rows = FeatureRows::from_uint8_codes(every_code, 16, 255.0f);
  std::vector<float> decoded(256);
  rows.copy_rows(0, 16, decoded.data());
  for (int code = 0; code < 256; ++code) {
    const float loader_float = static_cast<float>(code) / 255.0f;  // what fashion_mnist.cpp stored
    EXPECT_EQ(bits_of(decoded[code]), bits_of(loader_float)) << "code " << code;
    EXPECT_EQ(bits_of(rows.value(code / 16, code % 16)), bits_of(loader_float)) << "code " << code;
    EXPECT_EQ(bits_of(rows.code_values()[code]), bits_of(loader_float)) << "code " << code;
  }
  // Why a table of divisions: multiplying by the rounded reciprocal misses some of them.
  int off_by_an_ulp = 0;
  for (int code = 0; code < 256; ++code) {
    off_by_an_ulp += static_cast<float>(code) * (1.0f / 255.0f) != static_cast<float>(code) / 255.0f;
  }
  EXPECT_GT(off_by_an_ulp, 0);
}

TEST(FeatureRows, ShapeAndStorageOfBothKinds) {
  const FeatureRows floats = as_floats(), codes = as_codes();
  for (const FeatureRows* rows : {&floats, &codes}) {
    EXPECT_EQ(rows->rows(), 3u);
    EXPECT_EQ(rows->row_size(), 4u);
    EXPECT_EQ(rows->size(), 12u);
    EXPECT_FALSE(rows->empty());
  }
  EXPECT_EQ(floats.storage(), FeatureStorage::float32);
  EXPECT_EQ(floats.storage_bytes(), 12u * sizeof(float));
  EXPECT_EQ(floats.floats().size(), 12u);
  EXPECT_TRUE(floats.codes().empty());
  EXPECT_EQ(codes.storage(), FeatureStorage::uint8_codes);
  EXPECT_EQ(codes.storage_bytes(), 12u);  // a quarter of the floats
  EXPECT_EQ(codes.divisor(), 8.0f);
  EXPECT_TRUE(std::equal(codes.codes().begin(), codes.codes().end(), kCodes.begin()));
  EXPECT_TRUE(codes.floats().empty());

  const FeatureRows none;
  EXPECT_EQ(none.rows(), 0u);
  EXPECT_EQ(none.row_size(), 0u);
  EXPECT_TRUE(none.empty());
  const FeatureRows no_rows = FeatureRows::from_uint8_codes({}, 784, 255.0f);
  EXPECT_EQ(no_rows.rows(), 0u);
  EXPECT_EQ(no_rows.row_size(), 784u);
}

TEST(FeatureRows, CopyRowsDecodesAnyRangeOfEitherStorage) {
  const std::vector<float> expected = expected_values();
  for (const FeatureRows& rows : {as_floats(), as_codes()}) {
    SCOPED_TRACE(rows.storage() == FeatureStorage::float32 ? "float32" : "uint8 codes");
    for (size_t first = 0; first <= 3; ++first) {
      for (size_t count = 0; first + count <= 3; ++count) {
        std::vector<float> out(count * 4 + 1, -1.0f);  // one guard value past the end
        rows.copy_rows(first, count, out.data());
        EXPECT_EQ(std::vector<float>(out.begin(), out.end() - 1),
                  std::vector<float>(expected.begin() + first * 4, expected.begin() + (first + count) * 4))
            << "rows " << first << " + " << count;
        EXPECT_EQ(out.back(), -1.0f) << "wrote past row " << first + count;
      }
    }
    for (size_t row = 0; row < 3; ++row) {
      for (size_t column = 0; column < 4; ++column)
        EXPECT_EQ(rows.value(row, column), expected[row * 4 + column]);
    }
  }
}

TEST(FeatureRows, FloatRowsViewsFloatStorageAndDecodesCodesIntoTheScratch) {
  const FeatureRows floats = as_floats(), codes = as_codes();
  std::vector<float> scratch;
  std::span<const float> viewed = floats.float_rows(1, 2, &scratch);
  EXPECT_EQ(viewed.data(), floats.floats().data() + 4);  // no copy
  EXPECT_EQ(viewed.size(), 8u);
  EXPECT_TRUE(scratch.empty());

  std::span<const float> decoded = codes.float_rows(1, 2, &scratch);
  EXPECT_EQ(decoded.data(), scratch.data());
  ASSERT_EQ(decoded.size(), 8u);
  EXPECT_TRUE(std::equal(decoded.begin(), decoded.end(), viewed.begin()));
}

// [SECTION] validate_dataset on uint8 features

Dataset two_image_dataset(FeatureRows train_x) {
  Dataset dataset;
  dataset.name = "pixels";
  dataset.sample_shape = {2, 2, 1};
  dataset.num_classes = 2;
  dataset.class_names = {"dark", "light"};
  dataset.train_x = std::move(train_x);
  dataset.train_y = {0, 1};
  return dataset;
}

TEST(ValidateDataset, AcceptsUint8FeaturesAndNamesWhatIsWrongWithThem) {
  EXPECT_TRUE(validate_dataset(two_image_dataset(FeatureRows::from_uint8_codes(
                                   {0, 0, 0, 0, 255, 255, 255, 255}, 4, 255.0f)))
                  .ok());

  const Status one_row =
      validate_dataset(two_image_dataset(FeatureRows::from_uint8_codes({0, 0, 0, 0}, 4, 255.0f)));
  EXPECT_NE(one_row.message().find("pixels: train_x has 1 rows for 2 labels in train_y"), std::string::npos)
      << one_row.message();

  const Status wrong_size =
      validate_dataset(two_image_dataset(FeatureRows::from_uint8_codes({0, 0, 0, 255, 255, 255}, 3, 255.0f)));
  EXPECT_NE(wrong_size.message().find("train_x has rows of 3 features, expected the sample size 4"),
            std::string::npos)
      << wrong_size.message();

  const Status not_a_number = validate_dataset(two_image_dataset(
      FeatureRows::from_uint8_codes({0, 0, 0, 0, 1, 1, 1, 1}, 4, std::numeric_limits<float>::quiet_NaN())));
  EXPECT_NE(not_a_number.message().find("train_x: uint8 code 0 decodes to NaN"), std::string::npos)
      << not_a_number.message();
}

}  // namespace
}  // namespace qplay
