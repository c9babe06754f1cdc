#include "core/engine/lab/weight_statistics.h"

#include <algorithm>
#include <cmath>

namespace qplay {

Histogram histogram_of(std::span<const float> values, int bins, float low, float high) {
  Histogram histogram;
  if (!(high > low)) {
    const float centre = std::isfinite(low) ? low : 0.0f;
    low = centre - 0.5f, high = centre + 0.5f;
  }
  histogram.low = low, histogram.high = high;
  histogram.counts.assign(std::max(bins, 1), 0);
  const float per_bin = histogram.counts.size() / (high - low);
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    const long bin = static_cast<long>(std::floor((v - low) * per_bin));
    ++histogram.counts[std::clamp<long>(bin, 0, static_cast<long>(histogram.counts.size()) - 1)];
  }
  return histogram;
}

std::vector<LayerWeightStatistics> weight_statistics(const Network<float>& network,
                                                     const QuantizationSetting& setting, int bins,
                                                     const TrainingMethod* own_grid) {
  std::vector<float> quantized(network.parameters().size());
  std::vector<std::vector<QuantGrid>> grids;
  if (!own_grid || !own_grid->quantize_on_own_grid(network, setting, quantized, &grids))
    quantize_weights_into(network, network.parameters(), setting, quantized, &grids);
  std::vector<LayerWeightStatistics> layers;
  const auto& tensors = network.parameter_tensors();
  for (size_t t = 0; t < tensors.size(); ++t) {
    const ParameterTensor& tensor = tensors[t];
    if (!tensor.is_weight) continue;
    LayerWeightStatistics stats;
    stats.layer = tensor.layer;
    stats.name = tensor.name;
    std::span<const float> master = network.parameters().subspan(tensor.offset, tensor.size());
    std::span<const float> view(quantized.data() + tensor.offset, tensor.size());
    const auto [lo, hi] = std::minmax_element(master.begin(), master.end());
    // Symmetric about 0 so a symmetric grid sits symmetrically in the plot, with room for the outer levels.
    const float reach = 1.05f * std::max(std::fabs(*lo), std::fabs(*hi));
    stats.float_weights = histogram_of(master, bins, -reach, reach);
    stats.quantized_weights = histogram_of(view, bins, -reach, reach);
    if (t < grids.size() && !grids[t].empty()) {
      const std::vector<QuantGrid>& tensor_grids = grids[t];
      stats.per_channel = tensor_grids.size() > 1;
      auto widest = std::max_element(tensor_grids.begin(), tensor_grids.end(),
                                     [](const QuantGrid& a, const QuantGrid& b) {
                                       return a.scale * (a.q_max - a.q_min) < b.scale * (b.q_max - b.q_min);
                                     });
      stats.shown_channel = static_cast<int>(widest - tensor_grids.begin());
      const QuantGrid& grid = *widest;
      for (int32_t q = grid.q_min; q <= grid.q_max; q += grid.q_step)
        stats.grid_levels.push_back(dequantize(grid, q));
      std::sort(stats.grid_levels.begin(), stats.grid_levels.end());
      constexpr int kStaircasePoints = 400;
      for (int i = 0; i <= kStaircasePoints; ++i) {
        const float x = -reach + 2 * reach * i / kStaircasePoints;
        stats.staircase_x.push_back(x);
        stats.staircase_y.push_back(fake_quantize(grid, x));
      }
    }
    layers.push_back(std::move(stats));
  }
  return layers;
}

}  // namespace qplay
