// Float32 and uint8-code feature storage; see feature_rows.h.
#include "core/engine/data/feature_rows.h"

#include <algorithm>
#include <cassert>

namespace qplay {

FeatureRows FeatureRows::from_floats(std::vector<float> values, size_t row_size) {
  assert(row_size >= 1 && values.size() % row_size == 0);
  FeatureRows rows;
  rows.storage_ = FeatureStorage::float32;
  rows.row_size_ = row_size;
  rows.values_ = std::move(values);
  return rows;
}

FeatureRows FeatureRows::select_rows(std::span<const size_t> rows) const {
  FeatureRows selected = *this;
  auto gather = [&](const auto& from, auto& to) {
    to.resize(rows.size() * row_size_);
    for (size_t i = 0; i < rows.size(); ++i) {
      assert(rows[i] < this->rows());
      std::copy_n(from.begin() + rows[i] * row_size_, row_size_, to.begin() + i * row_size_);
    }
  };
  if (storage_ == FeatureStorage::float32)
    gather(values_, selected.values_);
  else
    gather(codes_, selected.codes_);
  return selected;
}

FeatureRows FeatureRows::from_uint8_codes(std::vector<uint8_t> codes, size_t row_size, float divisor) {
  assert(row_size >= 1 && codes.size() % row_size == 0);
  assert(divisor != 0.0f);
  FeatureRows rows;
  rows.storage_ = FeatureStorage::uint8_codes;
  rows.row_size_ = row_size;
  rows.codes_ = std::move(codes);
  rows.divisor_ = divisor;
  // Division is correctly rounded, so the table is the same on every platform.
  for (int code = 0; code < 256; ++code) rows.code_values_[code] = static_cast<float>(code) / divisor;
  return rows;
}

float FeatureRows::value(size_t row, size_t column) const {
  assert(row < rows() && column < row_size_);
  const size_t index = row * row_size_ + column;
  return storage_ == FeatureStorage::float32 ? values_[index] : code_values_[codes_[index]];
}

void FeatureRows::copy_rows(size_t first, size_t count, float* out) const {
  assert(first + count <= rows());
  const size_t begin = first * row_size_, size = count * row_size_;
  if (storage_ == FeatureStorage::float32) {
    std::copy_n(values_.data() + begin, size, out);
    return;
  }
  const uint8_t* codes = codes_.data() + begin;
  for (size_t i = 0; i < size; ++i) out[i] = code_values_[codes[i]];
}

std::span<const float> FeatureRows::float_rows(size_t first, size_t count,
                                               std::vector<float>* scratch) const {
  assert(first + count <= rows());
  if (storage_ == FeatureStorage::float32) {
    return std::span<const float>(values_).subspan(first * row_size_, count * row_size_);
  }
  scratch->resize(count * row_size_);
  copy_rows(first, count, scratch->data());
  return *scratch;
}

}  // namespace qplay
