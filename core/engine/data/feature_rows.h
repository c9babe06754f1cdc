// A feature matrix [rows, row_size] as a data set keeps it in memory: either float32 values (the
// toy data sets, anything that is float already) or one uint8 code per value with a divisor
// (images: a Fashion-MNIST pixel byte p stays a byte and decodes to static_cast<float>(p) / 255.0f,
// a quarter of the memory of the floats). Consumers do not branch on the storage: they decode the
// rows they need into a float buffer, a batch (gather_batch in batcher.h) or a chunk (copy_rows,
// float_rows) at a time, so no whole-set float copy of an image data set ever exists.
// Not for labels or data-set metadata (dataset.h), loading (fashion_mnist.h) or batch order (batcher.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace qplay {

enum class FeatureStorage {
  float32,      // the values themselves
  uint8_codes,  // value = code_values()[code], where code_values()[c] = static_cast<float>(c) / divisor
};

class FeatureRows {
 public:
  FeatureRows() = default;  // 0 rows of 0 values, float32

  // values[rows, row_size] row-major. row_size >= 1 and values.size() a multiple of it.
  static FeatureRows from_floats(std::vector<float> values, size_t row_size);
  // codes[rows, row_size] row-major; code c decodes to static_cast<float>(c) / divisor, the same
  // expression the loaders used when they stored floats, so decoding is bit-identical to it (a
  // multiply by a rounded 1/255 is not). row_size >= 1, codes.size() a multiple of it, divisor != 0.
  static FeatureRows from_uint8_codes(std::vector<uint8_t> codes, size_t row_size, float divisor);

  size_t rows() const { return row_size_ ? size() / row_size_ : 0; }
  size_t row_size() const { return row_size_; }
  // rows() * row_size(): the number of values, whatever the storage (as a std::vector<float>'s size()).
  size_t size() const { return storage_ == FeatureStorage::float32 ? values_.size() : codes_.size(); }
  bool empty() const { return size() == 0; }
  FeatureStorage storage() const { return storage_; }
  size_t storage_bytes() const { return values_.size() * sizeof(float) + codes_.size(); }

  // The value at [row, column], decoded.
  float value(size_t row, size_t column) const;
  // out[count, row_size] = rows [first, first + count), decoded. first + count <= rows().
  void copy_rows(size_t first, size_t count, float* out) const;
  // The rows at `rows` (each < rows()), in that order, in the same storage.
  FeatureRows select_rows(std::span<const size_t> rows) const;
  // Rows [first, first + count) as floats: a view of float32 storage, or decoded into *scratch
  // (resized as needed) and a view of that. Valid until this object or *scratch changes.
  std::span<const float> float_rows(size_t first, size_t count, std::vector<float>* scratch) const;

  std::span<const float> floats() const { return values_; }  // [rows, row_size] (float32 storage; else empty)
  std::span<const uint8_t> codes() const { return codes_; }  // [rows, row_size] (uint8_codes; else empty)
  float divisor() const { return divisor_; }                 // uint8_codes: a code's value is code / divisor
  // uint8_codes: [256], the decoded value of each code.
  const std::array<float, 256>& code_values() const { return code_values_; }

 private:
  FeatureStorage storage_ = FeatureStorage::float32;
  size_t row_size_ = 0;
  std::vector<float> values_;             // float32: [rows, row_size]
  std::vector<uint8_t> codes_;            // uint8_codes: [rows, row_size]
  float divisor_ = 1.0f;                  // uint8_codes
  std::array<float, 256> code_values_{};  // uint8_codes: [256]
};

}  // namespace qplay
