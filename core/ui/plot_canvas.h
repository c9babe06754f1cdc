// The frame every plot of plot.h draws into: the ImGui item it claims, its layout (title, y label line,
// plot area, ticks, x label), the style derived from the font size and the ImGui colours, the legend and
// tooltip rows, and small drawing helpers (aligned text, dashed lines). Internal to core/ui: panels use
// plot.h. Split from plot.cpp so each plot reads as "lay out, draw the data, legend, tooltip".
#pragma once

#include <functional>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <imgui.h>

#include "core/engine/report/axis_ticks.h"
#include "core/ui/plot.h"
#include "core/ui/plot_painter.h"

namespace qplay::ui::plot_internals {

// [SECTION] Style and colours

struct Style {
  float font = 13;          // ImGui::GetFontSize(): every length below follows it
  float line_width = 1.5f;  // data lines
  float marker_radius = 3;
  float tick_length = 4;
  ImU32 text = 0, tick_text = 0, axis = 0, grid = 0, background = 0, crosshair = 0, highlight = 0;
  ImU32 reference = 0;  // reference and marker lines and their labels
};

Style current_style();
ImU32 with_alpha(ImU32 color, float alpha);
ImU32 emphasize(ImU32 color);  // the colour under the mouse: towards the text colour
float luminance(ImU32 color);

// [SECTION] Drawing helpers

ImVec2 text_size(std::string_view text);
// align (0, 0) puts the text's top left at anchor, (0.5, 1) its bottom centre.
void draw_text(PlotPainter* draw, ImVec2 anchor, ImVec2 align, ImU32 color, std::string_view text);
// The same on a patch of `background`, for labels that sit on data lines.
void draw_label(PlotPainter* draw, ImVec2 anchor, ImVec2 align, ImU32 color, ImU32 background,
                std::string_view text);
void draw_polyline(PlotPainter* draw, const std::vector<ImVec2>& points, ImU32 color, float thickness,
                   bool dashed, float font);
float overlap_area(ImVec2 a_min, ImVec2 a_max, ImVec2 b_min, ImVec2 b_max);  // square pixels
bool inside(ImVec2 point, ImVec2 min, ImVec2 max);

// The finite extent of some values.
struct Extent {
  double low = std::numeric_limits<double>::infinity(), high = -low;  // empty: low > high
  void add(double value);
  bool empty() const { return low > high; }
};

// An axis range as plot.h promises: fixed limits as given, limits from the data (and from explicit
// ticks, which must show) padded by pad_fraction of the span.
AxisRange resolve_range(const PlotAxis& axis, Extent data, double pad_fraction);

// [SECTION] Canvas

// An axis as a plot asks for it.
struct AxisRequest {
  std::string_view label;
  AxisRange range;
  std::span<const double> ticks;             // explicit ticks; empty: nice ones
  std::span<const std::string> tick_labels;  // for explicit ticks; missing: the number
  bool grid = true;                          // light lines across the plot at the ticks
  bool shown = true;                         // false: no ticks, labels or margin
  bool whole_numbers = false;                // nice ticks on whole numbers only (a count)
};

// A plot's axis as the canvas takes it, over the resolved range.
AxisRequest axis_request(const PlotAxis& axis, AxisRange range);

// An axis as drawn.
struct AxisLayout {
  double low = 0, high = 1;
  std::vector<double> ticks;
  std::vector<std::string> labels;
};

struct Canvas {
  PlotPainter* draw = nullptr;  // the window's draw list, and an SVG while the plot is saved
  Style style;
  ImVec2 frame_min, frame_max;  // the whole item
  ImVec2 plot_min, plot_max;    // the data area inside the axes
  AxisLayout x, y;
  bool visible = false;  // false when scrolled out of view: nothing else is set, draw nothing
  bool hovered = false, clicked = false, held = false;
  ImVec2 mouse;
  // The line between title and plot: the y label on its left, room for a legend on its right.
  float label_line_y = 0, label_line_left = 0, label_line_free_left = 0;

  float px(double value) const;  // data to pixels; far-off values clamp to ten plot widths
  float py(double value) const;
  double data_x(float pixel) const;
  double data_y(float pixel) const;
  float plot_width() const { return plot_max.x - plot_min.x; }
  float plot_height() const { return plot_max.y - plot_min.y; }
};

// The item's size in pixels, following plot.h: 0 takes the available width, or the default height.
ImVec2 resolve_size(ImVec2 size, float default_height_per_width);

// Claims the item and draws title, background, grid, ticks and axis labels; data drawn next is clipped
// to the plot area until end_canvas. aspect: the plot area's height per width, 0 for any. has_legend
// keeps the label line even without a y label, for a legend that finds no free corner.
Canvas begin_canvas(const char* id, ImVec2 size, float default_height_per_width, std::string_view title,
                    const AxisRequest& x, const AxisRequest& y, float aspect, bool has_legend);
// Ends the clipping and draws the frame over the data.
void end_canvas(const Canvas& canvas);
void draw_no_data(const Canvas& canvas);

// [SECTION] Legend and tooltip rows

enum class Swatch { line, dashed_line, line_and_marker, box, outline, dot, vertical_line };

struct LegendRow {
  std::string_view name;
  ImU32 color = 0;
  Swatch swatch = Swatch::line;
};

// How much data a legend in the rectangle (min, max) would hide; 0 for none.
using DataUnderLegend = std::function<float(ImVec2 min, ImVec2 max)>;

// The name, or the fallback when it is empty ("x" for an unlabelled axis in a tooltip).
std::string named(std::string_view name, std::string_view fallback);
// A series' colour: its own, or the categorical colour of its index when it has none (0).
ImU32 series_color(ImU32 color, size_t index);
bool wants_legend(const std::vector<LegendRow>& rows, LegendPlacement placement);
// Every plot's hover result starts with these three.
template <typename Hover>
void copy_mouse_state(const Canvas& canvas, Hover* hover) {
  hover->hovered = true;
  hover->clicked = canvas.clicked;
  hover->held = canvas.held;
}

// `best` takes the corner hiding least (top right, top left, bottom right, bottom left on ties); when
// every corner hides some data the legend goes on the label line above the plot, if it fits there.
void draw_legend(const Canvas& canvas, const std::vector<LegendRow>& rows, LegendPlacement placement,
                 const DataUnderLegend& data_under);

// One tooltip line led by a small square of the series' colour.
void tooltip_row(ImU32 color, const std::string& text);

}  // namespace qplay::ui::plot_internals
