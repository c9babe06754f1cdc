#include "core/engine/lab/decision_boundary.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "core/engine/base/deterministic_math.h"

namespace qplay {
namespace {

constexpr size_t kCellChunk = 1024;  // cells per forward

// points[count, 2] = the centres of cells first.. (at most kCellChunk) in image order; returns count.
size_t cell_centres(const PlaneRegion& region, int resolution, size_t first, std::vector<float>& points) {
  const size_t cells = static_cast<size_t>(resolution) * resolution;
  const size_t count = std::min(kCellChunk, cells - first);
  const float cell_w = (region.x_max - region.x_min) / resolution,
              cell_h = (region.y_max - region.y_min) / resolution;
  points.resize(2 * count);
  for (size_t c = 0; c < count; ++c) {
    const size_t row = (first + c) / resolution, column = (first + c) % resolution;
    points[2 * c] = region.x_min + (column + 0.5f) * cell_w;
    points[2 * c + 1] = region.y_max - (row + 0.5f) * cell_h;
  }
  return count;
}

bool is_activation(LayerKind kind) {
  return kind == LayerKind::relu || kind == LayerKind::tanh || kind == LayerKind::softplus;
}

}  // namespace

PlaneRegion plane_region_of(const Dataset& dataset) {
  PlaneRegion region;
  if (dataset.sample_size() != 2) return region;
  float x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const FeatureRows* rows : {&dataset.train_x, &dataset.test_x}) {
    std::vector<float> point(2);
    for (size_t i = 0; i < rows->rows(); ++i) {
      rows->copy_rows(i, 1, point.data());
      x_lo = std::min(x_lo, point[0]), x_hi = std::max(x_hi, point[0]);
      y_lo = std::min(y_lo, point[1]), y_hi = std::max(y_hi, point[1]);
    }
  }
  if (!(x_lo <= x_hi) || !(y_lo <= y_hi)) return region;
  // Square, so circles look round, with a 10% margin so no point sits on the frame.
  const float half = 0.55f * std::max({x_hi - x_lo, y_hi - y_lo, 1e-3f});
  const float cx = 0.5f * (x_lo + x_hi), cy = 0.5f * (y_lo + y_hi);
  return {cx - half, cx + half, cy - half, cy + half};
}

DecisionBoundary compute_decision_boundary(Network<float>& network, const ForwardOptions<float>& options,
                                           const PlaneRegion& region, int resolution) {
  assert(network.architecture().input.size() == 2 && resolution > 0);
  DecisionBoundary boundary;
  boundary.region = region;
  boundary.resolution = resolution;
  const size_t cells = static_cast<size_t>(resolution) * resolution;
  boundary.predicted_class.resize(cells);
  boundary.confidence.resize(cells);
  const int classes = network.architecture().num_classes;
  std::vector<float> points;
  for (size_t first = 0; first < cells; first += kCellChunk) {
    const size_t count = cell_centres(region, resolution, first, points);
    // The logits' softmax, computed here: the network keeps probabilities only after loss().
    std::span<const float> logits = network.forward(points, static_cast<int>(count), options);
    for (size_t c = 0; c < count; ++c) {
      const float* row = logits.data() + c * classes;
      const int best = static_cast<int>(std::max_element(row, row + classes) - row);
      double sum = 0;
      for (int k = 0; k < classes; ++k) sum += deterministic_exp(double(row[k]) - row[best]);
      boundary.predicted_class[first + c] = best;
      boundary.confidence[first + c] = static_cast<float>(1.0 / sum);
    }
  }
  return boundary;
}

double boundary_disagreement(const DecisionBoundary& a, const DecisionBoundary& b) {
  if (a.predicted_class.size() != b.predicted_class.size() || a.predicted_class.empty()) return 1.0;
  size_t differ = 0;
  for (size_t i = 0; i < a.predicted_class.size(); ++i)
    differ += a.predicted_class[i] != b.predicted_class[i];
  return double(differ) / a.predicted_class.size();
}

std::vector<int> hidden_neuron_layers(const Architecture& architecture) {
  std::vector<int> weighted;
  for (int i = 0; i < static_cast<int>(architecture.layers.size()); ++i)
    if (architecture.layers[i].has_parameters()) weighted.push_back(i);
  std::vector<int> hidden;
  for (size_t w = 0; w + 1 < weighted.size(); ++w) {
    const int next = weighted[w] + 1;
    const bool activated =
        next < static_cast<int>(architecture.layers.size()) && is_activation(architecture.layers[next].kind);
    hidden.push_back(activated ? next : weighted[w]);
  }
  return hidden;
}

NeuronMaps compute_neuron_maps(Network<float>& network, const ForwardOptions<float>& options,
                               const PlaneRegion& region, int resolution, int layer) {
  assert(network.architecture().input.size() == 2 && resolution > 0);
  NeuronMaps maps;
  maps.region = region;
  maps.resolution = resolution;
  maps.layer = layer;
  const size_t cells = static_cast<size_t>(resolution) * resolution;
  std::vector<float> points;
  for (size_t first = 0; first < cells; first += kCellChunk) {
    const size_t count = cell_centres(region, resolution, first, points);
    network.forward(points, static_cast<int>(count), options);
    std::span<const float> outputs = network.layer_output(layer);  // [count, neurons]
    if (first == 0) {
      maps.neurons = static_cast<int>(outputs.size() / count);
      maps.values.resize(maps.neurons * cells);
    }
    for (size_t c = 0; c < count; ++c)
      for (int n = 0; n < maps.neurons; ++n)
        maps.values[n * cells + first + c] = outputs[c * maps.neurons + n];
  }
  return maps;
}

}  // namespace qplay
