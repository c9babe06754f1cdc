// What the weights panel shows for one layer: a histogram of the float weights, the quantization grid
// the current setting puts over them, the histogram of the quantized values, and the quantizer's
// transfer function (the staircase). Per-channel settings have one grid per output channel; the panel
// shows the channel with the widest range (the one whose grid is coarsest), and says so.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/engine/deploy/post_training.h"
#include "core/engine/methods/training_method.h"

namespace qplay {

struct Histogram {
  float low = 0, high = 0;       // the bins cover [low, high]
  std::vector<uint32_t> counts;  // [bins]
};

// Counts values into `bins` equal bins over [low, high]; values outside are clamped into the end bins,
// non-finite values are skipped. low == high is widened so the histogram is never degenerate.
Histogram histogram_of(std::span<const float> values, int bins, float low, float high);

struct LayerWeightStatistics {
  int layer = -1;                  // index into Architecture::layers
  std::string name;                // "1.weight"
  Histogram float_weights;         // the master weights
  Histogram quantized_weights;     // the same bins, after quantization
  int shown_channel = 0;           // whose grid `grid_levels` and the staircase show
  bool per_channel = false;        // the setting has a grid per channel
  std::vector<float> grid_levels;  // every value the shown grid can produce, ascending (empty in float)
  std::vector<float> staircase_x, staircase_y;  // the transfer function over the histogram's range
};

// One entry per weight tensor (dense and conv weights; biases stay float). weight_bits == 0 gives
// empty grids and identical histograms. own_grid: the run's method, whose own quantizer (CPQ's) rounds
// the weights if it has one, as the lab evaluates them (own_grid_method in lab.h).
std::vector<LayerWeightStatistics> weight_statistics(const Network<float>& network,
                                                     const QuantizationSetting& setting, int bins = 60,
                                                     const TrainingMethod* own_grid = nullptr);

}  // namespace qplay
