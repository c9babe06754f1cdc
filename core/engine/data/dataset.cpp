// Invariant checks for Dataset and the validation split (see dataset.h).
#include "core/engine/data/dataset.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <span>
#include <string>

#include "core/engine/base/rng.h"

namespace qplay {

namespace {

// Float32 storage: every value is finite. uint8 codes: every entry of the decode table is (so
// any code decodes to a finite value), which is 256 checks instead of one per pixel.
Status check_finite(const std::string& x_name, const FeatureRows& x) {
  if (x.storage() == FeatureStorage::uint8_codes) {
    const std::array<float, 256>& table = x.code_values();
    for (size_t code = 0; code < table.size(); ++code) {
      if (!std::isfinite(table[code])) {
        return Status::error(x_name + ": uint8 code " + std::to_string(code) + " decodes to " +
                             (std::isnan(table[code]) ? "NaN" : "infinity") + " (divisor " +
                             std::to_string(x.divisor()) + ")");
      }
    }
    return Status();
  }
  std::span<const float> values = x.floats();
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return Status::error(x_name + "[" + std::to_string(i) + "] (sample " +
                           std::to_string(i / x.row_size()) + ") is " +
                           (std::isnan(values[i]) ? "NaN" : "infinite"));
    }
  }
  return Status();
}

Status validate_split(const char* split, const FeatureRows& x, const std::vector<int32_t>& y, int sample_size,
                      int num_classes) {
  const std::string x_name = std::string(split) + "_x", y_name = std::string(split) + "_y";
  if (x.rows() != y.size()) {
    return Status::error(x_name + " has " + std::to_string(x.rows()) + " rows for " +
                         std::to_string(y.size()) + " labels in " + y_name);
  }
  // An empty split may come from anywhere (FeatureRows{} has rows of 0 values).
  if (x.rows() > 0 && x.row_size() != static_cast<size_t>(sample_size)) {
    return Status::error(x_name + " has rows of " + std::to_string(x.row_size()) +
                         " features, expected the sample size " + std::to_string(sample_size));
  }
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] < 0 || y[i] >= num_classes) {
      return Status::error(y_name + "[" + std::to_string(i) + "] = " + std::to_string(y[i]) +
                           " is outside the classes [0, " + std::to_string(num_classes) + ")");
    }
  }
  return check_finite(x_name, x);
}

Status validate_dataset_fields(const Dataset& dataset) {
  if (dataset.sample_shape.empty()) return Status::error("sample_shape is empty");
  for (int dim : dataset.sample_shape) {
    if (dim <= 0) return Status::error("sample_shape has a dimension of " + std::to_string(dim));
  }
  if (dataset.num_classes < 1) {
    return Status::error("num_classes must be at least 1, got " + std::to_string(dataset.num_classes));
  }
  if (dataset.class_names.size() != static_cast<size_t>(dataset.num_classes)) {
    return Status::error("class_names has " + std::to_string(dataset.class_names.size()) + " entries for " +
                         std::to_string(dataset.num_classes) + " classes");
  }
  if (dataset.train_size() == 0) return Status::error("the training set is empty");
  const int sample_size = dataset.sample_size();
  Status train = validate_split("train", dataset.train_x, dataset.train_y, sample_size, dataset.num_classes);
  if (!train.ok()) return train;
  return validate_split("test", dataset.test_x, dataset.test_y, sample_size, dataset.num_classes);
}

}  // namespace

int Dataset::sample_size() const {
  int size = 1;
  for (int dim : sample_shape) size *= dim;
  return size;
}

Status validate_dataset(const Dataset& dataset) {
  Status status = validate_dataset_fields(dataset);
  return dataset.name.empty() ? status : status.with_context(dataset.name);
}

Result<ValidationSplit> split_validation(const Dataset& dataset, double fraction, uint64_t seed) {
  const size_t n = dataset.train_size();
  const size_t held_out = static_cast<size_t>(fraction * static_cast<double>(n) + 0.5);
  if (!(fraction > 0 && fraction < 1) || held_out < 1 || held_out >= n) {
    return Status::error("a validation fraction of " + std::to_string(fraction) + " of " + std::to_string(n) +
                         " training samples leaves no validation or no training sample");
  }
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  // Its own stream, so the split does not move when the batch order's or the initial weights' draws change.
  Rng rng(seed, 0x76616c69646174ULL);
  rng.shuffle(order);
  // Each side in the original order: a permutation decides membership, not the batch order.
  std::vector<size_t> validation(order.begin(), order.begin() + held_out),
      training(order.begin() + held_out, order.end());
  std::sort(validation.begin(), validation.end());
  std::sort(training.begin(), training.end());
  ValidationSplit split;
  split.training = dataset;
  split.training.train_x = dataset.train_x.select_rows(training);
  split.training.train_y.resize(training.size());
  for (size_t i = 0; i < training.size(); ++i) split.training.train_y[i] = dataset.train_y[training[i]];
  split.validation_x = dataset.train_x.select_rows(validation);
  split.validation_y.resize(validation.size());
  for (size_t i = 0; i < validation.size(); ++i) split.validation_y[i] = dataset.train_y[validation[i]];
  return split;
}

}  // namespace qplay
