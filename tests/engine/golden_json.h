// Golden JSON from PyTorch (tools/golden/*.py): loading a case (architecture, inputs, labels) and
// moving named tensors in QPlay's layout into, or comparing them with, a network's buffers.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "core/engine/io/file_util.h"
#include "core/engine/io/json.h"
#include "core/engine/nn/network.h"

namespace qplay::golden {

struct Golden {
  Json json;
  Architecture architecture;
  std::vector<double> inputs;
  std::vector<int32_t> labels;
};

inline std::vector<double> numbers(const Json& array) {
  std::vector<double> values;
  for (const Json& v : array.as_array()) values.push_back(v.as_number());
  return values;
}

inline Golden load_golden(const std::string& file) {
  Golden g;
  Result<std::string> text =
      read_text_file(std::string(QPLAY_TEST_DATA_DIR) + "/" + file, size_t{64} << 20, "a golden file");
  EXPECT_TRUE(text.ok()) << text.message();
  Result<Json> json = parse_json(*text);
  EXPECT_TRUE(json.ok()) << json.message();
  g.json = *json;
  std::vector<double> shape = numbers(*g.json.find("input_shape"));
  Result<Architecture> a = parse_architecture(g.json.find("architecture")->as_string(),
                                              {int(shape[0]), int(shape[1]), int(shape[2])},
                                              int(g.json.find("classes")->as_number()));
  EXPECT_TRUE(a.ok()) << a.message();
  g.architecture = *a;
  g.inputs = numbers(*g.json.find("inputs"));
  for (double label : numbers(*g.json.find("labels"))) g.labels.push_back(int32_t(label));
  return g;
}

// Copies (or compares) a list of named tensors in QPlay's layout into/with a network's buffer.
template <typename T>
void load_tensors(const Network<T>& network, const Json& tensors, std::span<T> target) {
  for (const Json& tensor : tensors.as_array()) {
    const std::string& name = tensor.find("name")->as_string();
    auto it = std::find_if(network.parameter_tensors().begin(), network.parameter_tensors().end(),
                           [&](const ParameterTensor& t) { return t.name == name; });
    ASSERT_NE(it, network.parameter_tensors().end()) << name;
    std::vector<double> values = numbers(*tensor.find("values"));
    ASSERT_EQ(values.size(), it->size()) << name;
    std::copy(values.begin(), values.end(), target.begin() + it->offset);
  }
}

template <typename T>
void expect_tensors_near(const Network<T>& network, const Json& expected, std::span<const T> actual,
                         double tolerance, const std::string& what) {
  std::vector<T> golden(actual.size());
  load_tensors<T>(network, expected, golden);
  double worst = 0, scale = 1e-3;
  for (size_t i = 0; i < golden.size(); ++i) {
    worst = std::max(worst, std::fabs(double(actual[i]) - double(golden[i])));
    scale = std::max(scale, std::fabs(double(golden[i])));
  }
  EXPECT_LT(worst / scale, tolerance) << what << ": max abs error " << worst;
}

}  // namespace qplay::golden
