// What `qplay-cli compare` prints and writes from a comparison (core/engine/experiment/comparison.h): the
// text report, and the CSV (one row per model and number), JSON (settings, runs, selections, verdicts) and
// SVG (accuracy against weight bits) files.
#pragma once

#include <string>

#include "core/engine/experiment/comparison.h"

namespace qplay::cli {

std::string comparison_text(const ComparisonResult& result);
std::string comparison_csv(const ComparisonResult& result);
std::string comparison_json(const ComparisonResult& result);
std::string comparison_svg(const ComparisonResult& result);

}  // namespace qplay::cli
