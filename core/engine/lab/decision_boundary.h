// The decision boundary of a network on a 2-D data set: the predicted class and its probability on a
// regular grid over the data's extent, for the playground's boundary panel (float beside quantized).
// Not for image data (no 2-D input space to draw).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/engine/data/dataset.h"
#include "core/engine/nn/network.h"

namespace qplay {

// The square region drawn: every point of the data set plus a margin, centred on the data.
struct PlaneRegion {
  float x_min = -1, x_max = 1, y_min = -1, y_max = 1;
};
// Null region (the default) for data sets that are not 2-D.
PlaneRegion plane_region_of(const Dataset& dataset);

struct DecisionBoundary {
  PlaneRegion region;
  int resolution = 0;                    // cells per side
  std::vector<int32_t> predicted_class;  // [resolution * resolution], row 0 at y_max (image order)
  std::vector<float> confidence;         // [resolution * resolution], the predicted class's probability
};

// Evaluates the network (with the given forward: a quantized view, activation grids) at the centre of
// every cell. The network must take 2 inputs.
DecisionBoundary compute_decision_boundary(Network<float>& network, const ForwardOptions<float>& options,
                                           const PlaneRegion& region, int resolution);

// Share of cells where two boundaries predict different classes (how much quantization moved it).
double boundary_disagreement(const DecisionBoundary& a, const DecisionBoundary& b);

// What each hidden neuron computes over the plane (the playground's neuron maps, as in TensorFlow
// Playground), so the float and the quantized network can be compared neuron by neuron.
struct NeuronMaps {
  PlaneRegion region;
  int resolution = 0;  // cells per side
  int layer = -1;      // index into Architecture::layers whose output is shown
  int neurons = 0;
  std::vector<float> values;  // [neurons][resolution * resolution], each map in image order (row 0 at y_max)
  std::span<const float> map(int neuron) const {
    const size_t cells = static_cast<size_t>(resolution) * resolution;
    return std::span<const float>(values).subspan(neuron * cells, cells);
  }
};

// The layers whose outputs are hidden neurons: for every weighted layer but the last, its activation's
// output (or its own when no activation follows).
std::vector<int> hidden_neuron_layers(const Architecture& architecture);

// Evaluates the network (a 2-input one) at the centre of every cell and keeps `layer`'s outputs.
NeuronMaps compute_neuron_maps(Network<float>& network, const ForwardOptions<float>& options,
                               const PlaneRegion& region, int resolution, int layer);

}  // namespace qplay
