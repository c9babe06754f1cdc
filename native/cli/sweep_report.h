// Turning a bit-width sweep into what people read: an aligned table (weight bits down,
// activation bits across), CSV, JSON and an SVG plot of accuracy against weight bits.
#pragma once

#include <string>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/experiment/experiment.h"
#include "core/engine/train/sweep.h"

namespace qplay::cli {

std::string sweep_text_table(const std::vector<SweepPoint>& points);
std::string sweep_csv(const std::vector<SweepPoint>& points);
std::string sweep_json(const std::vector<SweepPoint>& points, const Experiment& experiment);
std::string sweep_svg(const std::vector<SweepPoint>& points, const std::string& title);

struct SweepOutputPaths {
  std::string csv, json, svg;  // empty: not written
};
Status write_sweep_outputs(const std::vector<SweepPoint>& points, const Experiment& experiment,
                           const SweepOutputPaths& paths, const std::string& plot_title);

}  // namespace qplay::cli
