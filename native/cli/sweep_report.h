// Turning a bit-width sweep into what people read: an aligned table (weight bits down,
// activation bits across), CSV, JSON, an SVG plot of accuracy against weight bits and the accuracy card.
#pragma once

#include <string>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/experiment/experiment.h"
#include "core/engine/report/svg_plot.h"
#include "core/engine/train/sweep.h"
#include "native/cli/cli_common.h"

namespace qplay::cli {

std::string sweep_text_table(const std::vector<SweepPoint>& points);
std::string sweep_csv(const std::vector<SweepPoint>& points);
std::string sweep_json(const std::vector<SweepPoint>& points, const Experiment& experiment);
LinePlot sweep_plot(const std::vector<SweepPoint>& points, const std::string& title);
std::string sweep_svg(const std::vector<SweepPoint>& points, const std::string& title);
// The accuracy-vs-bits card (report/accuracy_card.h): the sweep's plot, the model's settings, and its
// float accuracy, accuracy and flip rate at the bits it was saved with (its experiment's weight_bits and
// activation_bits), and its size there.
Status write_sweep_card(LoadedModel& model, const std::vector<SweepPoint>& points, const std::string& path);

struct SweepOutputPaths {
  std::string csv, json, svg;  // empty: not written
};
Status write_sweep_outputs(const std::vector<SweepPoint>& points, const Experiment& experiment,
                           const SweepOutputPaths& paths, const std::string& plot_title);

}  // namespace qplay::cli
