// Line plots as standalone SVG 1.1 files, for the plots qplay-cli writes next to its CSV and JSON:
// accuracy against bit-width (one curve per activation bit-width or per method) and training curves.
// For: a few series of up to some thousands of points, drawn the way a paper would print them: nice ticks
// (axis_ticks.h: steps of 1, 2 or 5 times a power of ten), light grid, point markers, a colour-blind-safe
// palette (Okabe-Ito), and a legend placed where it hides no data, or outside on the right when every spot
// inside would. Not for: interactive plots (core/ui draws those with ImGui), log axes, bar or scatter charts.
//
// The output is deterministic (same LinePlot, same bytes, whatever the locale) and every label is
// XML-escaped, so a method called "<a & b>" is safe. Points with a NaN or infinite coordinate are skipped and
// leave a gap in their line; a plot without a single finite point still renders, saying "no data".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qplay {

struct PlotSeries {
  std::string label;         // legend entry; an empty label has none
  std::vector<double> x, y;  // point i is (x[i], y[i]); extra values in the longer vector are ignored
  bool dashed = false;       // e.g. a baseline or a training curve on the test split
};

struct LinePlot {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;          // coloured in order from the palette
  std::optional<double> y_min, y_max;      // unset: from the data (and reference_y), padded by 5%
  std::optional<double> x_min, x_max;      // unset: from the data and x_ticks, padded by 5%
  std::vector<double> x_ticks;             // explicit ticks, e.g. bit-widths 2..8; empty = nice ticks
  std::vector<std::string> x_tick_labels;  // labels for x_ticks by index, e.g. "float"; missing = number
  std::optional<double> reference_y;       // a horizontal dashed line, e.g. the float accuracy
  std::string reference_label;             // its legend entry; empty = none
  int width = 720, height = 440;           // pixels; raised to at least 240 x 160
};

// The whole SVG document, starting with the XML declaration.
std::string render_svg(const LinePlot& plot);
// The same plot as an <svg> element at (x, y) of an enclosing SVG document (accuracy_card.h), without
// the declaration.
std::string render_svg_element(const LinePlot& plot, double x, double y);

// Text made safe for XML element content and attribute values.
std::string escape_xml(std::string_view text);

}  // namespace qplay
