// The playground's plots, drawn with ImGui draw lists (Debian's ImGui 1.86 has no ImPlot): line plots
// (also staircases and dashed reference curves), grouped bar charts, histograms with the quantization
// grid over them, heat maps and images with scatter points, and confusion matrices. Each plot is one
// free function that takes spans and a small options struct, claims a rectangle in the current window
// like any ImGui item, draws a title, axes with nice ticks (core/engine/report/axis_ticks.h, shared with
// the SVG plots), axis labels and a legend, shows a tooltip with the values under the mouse, and returns
// what is hovered so the caller can act on it (a click on a bit-width selects it).
//
// Spacing, line widths and markers follow ImGui::GetFontSize(), so plots read alike at 1280x720 and on
// HiDPI screens; frame, grid and text colours follow the ImGui style (dark or light). Data is neither
// copied nor kept: spans need only live for the call. NaN or infinite values are skipped (a gap in a line).
//
// Not for: zoom and pan, log axes, thousands of series, or files (core/engine/report/svg_plot.h writes the
// command line's SVG plots). A heat map of W x H cells costs up to 4·W·H vertices: with ImGui's 16-bit
// ImDrawIdx a window must stay under 65536 vertices unless the renderer supports vertex offsets (desktop
// OpenGL 3.2+ does, WebGL does not: build ImGui for the web with ImDrawIdx = unsigned int).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <imgui.h>

namespace qplay::ui {

// [SECTION] Colours

// Okabe & Ito (2008), "Color Universal Design": told apart under the common colour-vision deficiencies.
// Ordered for a dark background (black replaced by grey); index wraps around.
constexpr int kCategoricalColorCount = 8;
ImU32 categorical_color(int index, float alpha = 1.0f);
// Viridis, perceptually uniform and colour-blind safe: t = 0 dark purple, t = 1 yellow (t clamped;
// NaN gives grey). For counts and probabilities.
ImU32 sequential_color(double t);
// TensorFlow Playground's diverging scale for signed values: t = -1 orange, 0 a dark neutral (the
// plots' background shows through), 1 blue (t clamped; NaN gives grey).
ImU32 diverging_color(double t);
// a at t = 0, b at t = 1, per channel (alpha included).
ImU32 mix_colors(ImU32 a, ImU32 b, float t);

// [SECTION] Text

// The text, or as much of it as fits in max_width pixels followed by "…" (whole UTF-8 characters).
std::string ellipsize(std::string_view text, float max_width);

// [SECTION] Shared options

struct PlotAxis {
  std::string_view label;                    // x: under the axis; y: above it, at the top left
  std::optional<double> min, max;            // fixed limits; unset: from the data, padded by 5%
  std::span<const double> ticks;             // explicit ticks (bit-widths 2..8); empty: nice ticks
  std::span<const std::string> tick_labels;  // labels of `ticks` by index ("float"); missing: the number
  bool whole_numbers = false;                // a count (epochs): nice ticks on whole numbers only
};

// best: the corner hiding least data, or `above` when every corner hides some. above: right-aligned on
// the line between title and plot (beside the y label), when it fits there.
enum class LegendPlacement { best, top_right, top_left, bottom_right, bottom_left, above, hidden };

// A legend row of a heat map: a dot of `color` and a name (the classes of a decision boundary).
struct LegendEntry {
  std::string_view name;
  ImU32 color = 0;  // 0: categorical_color(index of the entry)
};

// Plot sizes: x = 0 takes the available width, x < 0 the available width minus -x; y likewise from
// the available height, except that y = 0 gives each plot its default height (about 0.6 x the width for
// line, bar and histogram plots, square for heat maps and confusion matrices).

// [SECTION] Line plot

struct LineSeries {
  std::string_view name;           // legend entry and tooltip row; empty: neither
  ImU32 color = 0;                 // 0: categorical_color(index of the series)
  std::span<const double> xs, ys;  // point i is (xs[i], ys[i]); the shorter span sets the count
  bool markers = false;            // a dot on every point (left out where points crowd closer than a dot)
  bool dashed = false;             // for reference curves
  bool step = false;               // a staircase: ys[i] holds from xs[i] to xs[i + 1] (a transfer function)
  // older[i] != 0: point i was computed on older data (weights still being re-evaluated): a hollow
  // marker, and the tooltip says so. Empty: every point is current.
  std::span<const uint8_t> older = {};
};

struct LinePlotOptions {
  std::string_view title;
  ImVec2 size = {0, 0};
  PlotAxis x_axis, y_axis;
  LegendPlacement legend = LegendPlacement::best;
  std::optional<double> marker_x;     // a vertical line at the current setting (the slider's bit-width)
  std::string_view marker_label;      // written beside the foot of that line
  std::optional<double> reference_y;  // a horizontal dashed line (the float model's accuracy)
  std::string_view reference_label;   // written above its right end, and a tooltip row
};

struct LinePlotHover {
  bool hovered = false;               // the mouse is over the plot area
  bool clicked = false;               // ... and the left button went down this frame
  bool held = false;                  // the left button went down on this plot and is still down
  double x = 0, y = 0;                // the mouse in data coordinates
  std::optional<double> crosshair_x;  // the data x nearest the mouse, which the tooltip reads out
  int series = -1, point = -1;        // the point nearest the mouse on screen
};

// Lines in the given order (later ones on top); the tooltip lists every named series at crosshair_x.
LinePlotHover line_plot(const char* id, std::span<const LineSeries> series,
                        const LinePlotOptions& options = {});

// [SECTION] Bar chart

struct BarSeries {
  std::string_view name;           // legend entry and tooltip row
  ImU32 color = 0;                 // 0: categorical_color(index of the series)
  std::span<const double> values;  // values[g]: this series' bar in group g; NaN: no bar
};

struct BarPlotOptions {
  std::string_view title;
  ImVec2 size = {0, 0};
  std::span<const std::string> group_labels;  // under each group; missing: the group's index (0, 1, ...)
  std::string_view x_label;
  PlotAxis y_axis;  // the range always includes 0, where bars start
  LegendPlacement legend = LegendPlacement::best;
  std::optional<double> reference_y;  // a horizontal dashed line, as in LinePlotOptions
  std::string_view reference_label;
};

struct BarPlotHover {
  bool hovered = false, clicked = false, held = false;
  int group = -1;   // the group under the mouse
  int series = -1;  // the bar's slot under the mouse within that group
};

// One group per category along x, one bar per series in each; the tooltip lists the group's values.
BarPlotHover bar_plot(const char* id, std::span<const BarSeries> series, const BarPlotOptions& options = {});

// [SECTION] Histogram

struct Histogram {
  std::string_view name;           // legend entry and tooltip row
  ImU32 color = 0;                 // 0: categorical_color(0) for the histogram, (1) for the overlay
  std::span<const double> counts;  // counts[i]: bin i of counts.size() equal bins over [low, high]
  double low = 0, high = 1;
};

struct HistogramOptions {
  std::string_view title;
  ImVec2 size = {0, 0};
  PlotAxis x_axis, y_axis;  // unset x limits: the bins and grid lines; y from 0
  LegendPlacement legend = LegendPlacement::best;
  std::optional<Histogram> overlay;    // drawn as an outline over the first (the quantized values)
  std::span<const double> grid_lines;  // vertical lines (the quantization levels), outermost emphasized
  std::string_view grid_lines_name;    // legend entry and tooltip row ("4-bit grid")
  ImU32 grid_lines_color = 0;          // 0: a neutral colour from the style
};

struct HistogramHover {
  bool hovered = false, clicked = false, held = false;
  double x = 0;          // the mouse in data coordinates
  int bin = -1;          // the histogram's bin under the mouse
  int overlay_bin = -1;  // the overlay's
  int grid_line = -1;    // the grid line within half a character of the mouse
};

// Filled bars of the histogram's bins, the overlay's outline over them, then the grid lines.
HistogramHover histogram_plot(const char* id, const Histogram& histogram,
                              const HistogramOptions& options = {});

// [SECTION] Heat map and image

struct ScatterPoint {
  double x = 0, y = 0;  // data coordinates, as the axes
  ImU32 fill = 0;       // the class colour
  ImU32 outline = 0;    // e.g. dark for training points, white for test points; 0: none
};

struct HeatMapOptions {
  std::string_view title;
  ImVec2 size = {0, 0};
  PlotAxis x_axis, y_axis;   // min and max: the data extent of the cells (unset: 0..columns, 0..rows)
  bool show_axes = true;     // false for images: the bare picture in a thin frame
  bool square_cells = true;  // the plot area keeps the cells' aspect ratio
  std::span<const ScatterPoint> points;
  float point_radius = 0.22f;             // in font sizes
  std::span<const double> cell_values;    // optional: a value per cell for the tooltip
  std::string_view value_name = "value";  // its name there
  std::span<const LegendEntry> legend_entries;
  LegendPlacement legend = LegendPlacement::best;
};

struct HeatMapHover {
  bool hovered = false, clicked = false, held = false;
  double x = 0, y = 0;        // the mouse in data coordinates
  int column = -1, row = -1;  // the cell under the mouse
  int point = -1;             // the scatter point under the mouse (the one drawn last wins)
};

// cells[row * columns + column] colours its cell; row 0 is the top row (as in an image), so it covers
// the highest y values: cell (c, r) spans x in [min + c·w, min + (c + 1)·w] and y in
// [max - (r + 1)·h, max - r·h]. The points are drawn over the cells in order.
HeatMapHover heat_map_plot(const char* id, std::span<const ImU32> cells, int columns, int rows,
                           const HeatMapOptions& options = {});

// [SECTION] Colour bar

// How a value maps to a colour in the plot beside the bar: t in [0, 1] for sequential_color, [-1, 1]
// for diverging_color.
enum class ColorScale { sequential, diverging };

// A horizontal colour bar as one line of text height: `low` at its left end, `high` at its right, and
// the scale between (the key to a heat map's or matrix's colours). width: 0 takes 8 font sizes.
void color_bar(ColorScale scale, std::string_view low, std::string_view high, float width = 0);

// [SECTION] Confusion matrix

struct ConfusionMatrixOptions {
  std::string_view title;
  ImVec2 size = {0, 0};
  std::span<const std::string> class_names;  // missing: the class numbers
  bool show_percents = true;                 // write each cell's % of its row where it fits
};

struct ConfusionMatrixHover {
  bool hovered = false, clicked = false, held = false;
  int true_class = -1, predicted_class = -1;
};

// counts[true_class * class_count + predicted_class]; rows are true classes (top to bottom), columns
// predicted ones. Cells are coloured by their share of the row (the recall of the true class), so a
// rare class reads as well as a common one, and show that share in % (the counts are in the tooltip);
// a colour bar under the title keys the colours. Names too long for the columns become numbers there, and
// the row labels read "3 Dress" so the numbers can be looked up.
ConfusionMatrixHover confusion_matrix_plot(const char* id, std::span<const int> counts, int class_count,
                                           const ConfusionMatrixOptions& options = {});

// [SECTION] Saving a plot

// Every plot's right-click menu offers "Save plot as SVG" and "Save plot as PNG" when these are set. The
// plot is saved as the next frame draws it, without what the mouse adds (crosshair, highlight): an SVG
// of the same shapes through the same drawing code (plot_painter.h), or the PNG of its pixels.
struct PlotSaving {
  std::function<void(const std::string& file_name, std::string svg)> save_svg;
  // The rectangle (display pixels) of the frame being drawn, to read back once it is rendered.
  std::function<void(const std::string& file_name, ImVec2 min, ImVec2 max)> save_png;
};
void set_plot_saving(PlotSaving saving);
enum class PlotFormat { svg, png };
// Saves the plot with this id (as given to line_plot, heat_map_plot, ...) when it is next drawn.
void save_plot(std::string_view id, PlotFormat format);
// Items of the next plot's right-click menu after its own (the accuracy plot's "Save card"); drawn
// inside the open menu.
void set_next_plot_menu_items(std::function<void()> items);
// Ends the frame's plot saving: an SVG is complete once its plot's legend is drawn, which is after the
// plot's own function returned. Call once at the end of each frame.
void finish_plot_saving();

}  // namespace qplay::ui
