// The SVG line plot behind svg_plot.h. Contents:
//   [SECTION] Style
//   [SECTION] Numbers and text: locale-proof formatting, XML escaping, text width
//   [SECTION] Axes and layout
//   [SECTION] Series in pixels
//   [SECTION] Legend placement
//   [SECTION] Drawing
#include "core/engine/report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include "core/engine/base/number_format.h"
#include "core/engine/report/axis_ticks.h"

namespace qplay {
namespace {

// [SECTION] Style

// Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision
// deficiencies. Yellow is left out, too faint on white.
constexpr const char* kSeriesColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                          "#E69F00", "#56B4E9", "#000000"};
constexpr size_t kSeriesColourCount = sizeof(kSeriesColours) / sizeof(kSeriesColours[0]);
constexpr const char* kTextColour = "#222222";
constexpr const char* kAxisColour = "#444444";
constexpr const char* kGridColour = "#e6e6e6";
constexpr const char* kReferenceColour = "#707070";
constexpr const char* kSeriesDash = "7 4";
constexpr const char* kReferenceDash = "4 4";

constexpr double kTitleFontSize = 16;
constexpr double kAxisLabelFontSize = 13;
constexpr double kTickFontSize = 12;
constexpr double kLegendFontSize = 12;
// Without font metrics, text width is estimated from an average sans-serif glyph (digits are 0.556 em in
// Helvetica and Arial, lower case is narrower); generous so legend boxes and margins never cut text.
constexpr double kAverageGlyphWidthEm = 0.56;

constexpr double kTickLength = 5;
constexpr double kMarkerRadius = 3.5;
constexpr double kLineWidth = 2;
constexpr double kAxisPadFraction = 0.05;  // automatic limits leave 5% of the data range free on each side
constexpr int kTargetTickCount = 6;
// Markers closer than this (in pixels, on average) merge into a thick smudge, as on a training curve of
// thousands of steps; such series are drawn as a line only.
constexpr double kMinMarkerSpacing = 6;

constexpr double kLegendRowHeight = 18;
constexpr double kLegendPadding = 8;
constexpr double kLegendSwatchWidth = 24;
constexpr double kLegendInset = 8;  // distance from the plot frame when inside

// [SECTION] Numbers and text: locale-proof formatting, XML escaping, text width

// Drops trailing zeros of a fixed-point number ("120.50" -> "120.5", "3.00" -> "3") and the sign of zero.
std::string trim_fixed(std::string text) {
  if (text.find('.') != std::string::npos) {
    text.erase(text.find_last_not_of('0') + 1);
    if (text.back() == '.') text.pop_back();
  }
  if (text == "-0") text = "0";
  return text;
}

// A pixel coordinate, compactly. Points far outside explicit axis limits are clamped well beyond the
// clip region: their segments still leave the frame at (almost exactly) the right place, and the file
// never holds 300-digit numbers.
std::string px(double value) {
  if (!std::isfinite(value)) value = 0;
  return trim_fixed(format_double("%.2f", std::clamp(value, -1e5, 1e5)));
}

// Explicit ticks (bit-widths) read best as given: 2, 0.5, 1e+06.
std::string format_plain_number(double value) {
  std::string text = format_double("%.6g", value);
  return text == "-0" ? "0" : text;
}

// Length of the well-formed UTF-8 sequence starting at text[i], or 0 when it is malformed (overlong forms,
// surrogates and code points above U+10FFFF included).
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  unsigned char second_min = 0x80, second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;
    if (lead == 0xED) second_max = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;
    if (lead == 0xF4) second_max = 0x8F;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < second_min || byte(i + 1) > second_max) return 0;
  for (size_t k = 2; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return length;
}

double text_width(std::string_view text, double font_size) {
  size_t code_points = 0;
  for (char byte : text) {
    if ((static_cast<unsigned char>(byte) & 0xC0) != 0x80) ++code_points;
  }
  return static_cast<double>(code_points) * font_size * kAverageGlyphWidthEm;
}

// [SECTION] Axes and layout

struct Axis {
  AxisRange range;
  std::vector<double> ticks;
  std::vector<std::string> tick_labels;
};

// The data's extent along one axis, if it has any finite value.
std::optional<AxisRange> extent(const std::vector<double>& values) {
  double low = std::numeric_limits<double>::infinity(), high = -low;
  for (double value : values) {
    if (!std::isfinite(value)) continue;
    low = std::min(low, value);
    high = std::max(high, value);
  }
  if (low > high) return std::nullopt;
  return AxisRange{low, high};
}

// Explicit limits are kept as given; a limit taken from the data is padded so markers on it are whole.
AxisRange axis_range(std::optional<AxisRange> data, std::optional<double> min, std::optional<double> max) {
  const bool auto_low = !min || !std::isfinite(*min), auto_high = !max || !std::isfinite(*max);
  AxisRange range =
      widen_if_flat(auto_low ? (data ? data->low : 0) : *min, auto_high ? (data ? data->high : 1) : *max);
  const double pad = (range.high - range.low) * kAxisPadFraction;
  if (auto_low) range.low -= pad;
  if (auto_high) range.high += pad;
  return range;
}

bool inside(const AxisRange& range, double value) {
  const double tolerance = (range.high - range.low) * 1e-9;
  return value >= range.low - tolerance && value <= range.high + tolerance;
}

Axis nice_axis(AxisRange range) {
  const NiceTicks ticks =
      nice_ticks(range.low, range.high, TickCount::near(kTargetTickCount), TickPlacement::inside);
  return {range, ticks.values, format_tick_labels(ticks)};
}

Axis explicit_axis(AxisRange range, const std::vector<double>& ticks,
                   const std::vector<std::string>& labels) {
  Axis axis{range, {}, {}};
  for (size_t i = 0; i < ticks.size(); ++i) {
    if (!std::isfinite(ticks[i]) || !inside(range, ticks[i])) continue;
    axis.ticks.push_back(ticks[i]);
    axis.tick_labels.push_back(i < labels.size() ? labels[i] : format_plain_number(ticks[i]));
  }
  return axis;
}

// Only points with both coordinates finite are drawn, so only they count for the limits.
void collect_finite_points(const LinePlot& plot, std::vector<double>* xs, std::vector<double>* ys) {
  for (const PlotSeries& series : plot.series) {
    const size_t count = std::min(series.x.size(), series.y.size());
    for (size_t i = 0; i < count; ++i) {
      if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) continue;
      xs->push_back(series.x[i]);
      ys->push_back(series.y[i]);
    }
  }
}

// The plot area in pixels, y growing downwards as in SVG.
struct Frame {
  double left = 0, top = 0, right = 0, bottom = 0;
  double map_x(const Axis& axis, double x) const {
    return left + (x - axis.range.low) / (axis.range.high - axis.range.low) * (right - left);
  }
  double map_y(const Axis& axis, double y) const {
    return bottom - (y - axis.range.low) / (axis.range.high - axis.range.low) * (bottom - top);
  }
};

struct Canvas {
  double width = 0, height = 0;
  // Set: an <svg> element at this point of an enclosing document (render_svg_element), no declaration.
  std::optional<std::pair<double, double>> embedded_at;
};

double max_label_width(const std::vector<std::string>& labels, double font_size) {
  double widest = 0;
  for (const std::string& label : labels) widest = std::max(widest, text_width(label, font_size));
  return widest;
}

// Margins hold the title, the axis labels and the tick labels; `right_reserve` is room for a legend
// placed outside the plot area.
Frame layout_frame(const LinePlot& plot, const Canvas& canvas, const Axis& x_axis, const Axis& y_axis,
                   double right_reserve) {
  Frame frame;
  frame.top = plot.title.empty() ? 16 : 44;
  frame.bottom = canvas.height - (plot.x_label.empty() ? 32 : 54);
  frame.left = 12 + (plot.y_label.empty() ? 0 : kAxisLabelFontSize + 10) +
               max_label_width(y_axis.tick_labels, kTickFontSize) + kTickLength + 6;
  // The last x tick label is centred on its tick and must not run off the canvas.
  const double last_label_half =
      x_axis.tick_labels.empty() ? 0 : text_width(x_axis.tick_labels.back(), kTickFontSize) / 2;
  frame.right = canvas.width - std::max({20.0, last_label_half + 6, right_reserve});
  return frame;
}

// [SECTION] Series in pixels

struct Point {
  double x = 0, y = 0;
};

// One polyline per stretch of finite points; a NaN or infinity ends a stretch, leaving a gap.
using PixelRuns = std::vector<std::vector<Point>>;

PixelRuns series_runs(const PlotSeries& series, const Frame& frame, const Axis& x_axis, const Axis& y_axis) {
  PixelRuns runs;
  bool in_run = false;
  const size_t count = std::min(series.x.size(), series.y.size());
  for (size_t i = 0; i < count; ++i) {
    if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) {
      in_run = false;
      continue;
    }
    if (!in_run) runs.emplace_back();
    in_run = true;
    runs.back().push_back({frame.map_x(x_axis, series.x[i]), frame.map_y(y_axis, series.y[i])});
  }
  return runs;
}

size_t point_count(const PixelRuns& runs) {
  size_t count = 0;
  for (const std::vector<Point>& run : runs) count += run.size();
  return count;
}

bool markers_readable(const PixelRuns& runs, const Frame& frame) {
  return static_cast<double>(point_count(runs)) * kMinMarkerSpacing <= frame.right - frame.left;
}

// [SECTION] Legend placement

struct LegendEntry {
  std::string label;
  std::string colour;
  const char* dash = nullptr;  // stroke-dasharray, or none for a solid line
  bool marker = true;
};

struct Box {
  double x = 0, y = 0, width = 0, height = 0;
  bool contains(Point point, double margin) const {
    return point.x >= x - margin && point.x <= x + width + margin && point.y >= y - margin &&
           point.y <= y + height + margin;
  }
};

Box legend_size(const std::vector<LegendEntry>& entries) {
  double widest = 0;
  for (const LegendEntry& entry : entries)
    widest = std::max(widest, text_width(entry.label, kLegendFontSize));
  return {0, 0, kLegendPadding * 2 + kLegendSwatchWidth + 8 + widest,
          kLegendPadding * 2 + kLegendRowHeight * static_cast<double>(entries.size()) - 4};
}

// How much drawn data a legend at `box` would hide: lines sampled every 2 pixels, markers counting more.
int covered_data(const Box& box, const std::vector<PixelRuns>& all_runs) {
  constexpr double kSampleSpacing = 2;
  constexpr int kMarkerWeight = 10;
  int covered = 0;
  for (const PixelRuns& runs : all_runs) {
    for (const std::vector<Point>& run : runs) {
      for (size_t i = 0; i < run.size(); ++i) {
        if (box.contains(run[i], kMarkerRadius + 2)) covered += kMarkerWeight;
        if (i == 0) continue;
        const Point from = run[i - 1], to = run[i];
        const double length = std::hypot(to.x - from.x, to.y - from.y);
        const int samples = static_cast<int>(std::min(length / kSampleSpacing, 2000.0));
        for (int s = 1; s < samples; ++s) {
          const double t = static_cast<double>(s) / samples;
          if (box.contains({from.x + t * (to.x - from.x), from.y + t * (to.y - from.y)}, kLineWidth))
            ++covered;
        }
      }
    }
  }
  return covered;
}

// The first spot inside the frame, in the order people look for a legend, that hides no data.
std::optional<Box> place_legend_inside(Box size, const Frame& frame, const std::vector<PixelRuns>& all_runs) {
  if (size.width > (frame.right - frame.left) * 0.5 || size.height > (frame.bottom - frame.top) * 0.6) {
    return std::nullopt;
  }
  const double left = frame.left + kLegendInset, right = frame.right - kLegendInset - size.width;
  const double top = frame.top + kLegendInset, bottom = frame.bottom - kLegendInset - size.height;
  const double middle = (frame.top + frame.bottom - size.height) / 2;
  const Point corners[] = {{right, top},   {left, top},     {right, bottom},
                           {left, bottom}, {right, middle}, {left, middle}};
  for (Point corner : corners) {
    const Box box{corner.x, corner.y, size.width, size.height};
    if (covered_data(box, all_runs) == 0) return box;
  }
  return std::nullopt;
}

// [SECTION] Drawing

void append_text(std::string* out, double x, double y, std::string_view anchor, std::string_view text,
                 std::string_view extra_attributes = "") {
  *out += "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\"";
  if (anchor != "start") *out += " text-anchor=\"" + std::string(anchor) + "\"";
  if (!extra_attributes.empty()) *out += " " + std::string(extra_attributes);
  *out += ">" + escape_xml(text) + "</text>\n";
}

void append_line(std::string* out, Point from, Point to) {
  *out += "<line x1=\"" + px(from.x) + "\" y1=\"" + px(from.y) + "\" x2=\"" + px(to.x) + "\" y2=\"" +
          px(to.y) + "\"/>\n";
}

void append_document_start(std::string* out, const LinePlot& plot, const Canvas& canvas) {
  const std::string width = px(canvas.width), height = px(canvas.height);
  if (canvas.embedded_at) {
    *out += "<svg x=\"" + px(canvas.embedded_at->first) + "\" y=\"" + px(canvas.embedded_at->second) + "\"";
  } else {
    *out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    *out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\"";
  }
  *out += " width=\"" + width + "\" height=\"" + height + "\" viewBox=\"0 0 " + width + " " + height +
          "\" font-family=\"sans-serif\" fill=\"" + kTextColour + "\">\n";
  if (!plot.title.empty()) *out += "<title>" + escape_xml(plot.title) + "</title>\n";
  *out += "<rect width=\"" + width + "\" height=\"" + height + "\" fill=\"#ffffff\"/>\n";
}

void append_titles(std::string* out, const LinePlot& plot, const Canvas& canvas, const Frame& frame) {
  if (!plot.title.empty()) {
    append_text(out, canvas.width / 2, 28, "middle", plot.title,
                "font-size=\"" + px(kTitleFontSize) + "\" font-weight=\"bold\"");
  }
  const std::string label_font = "font-size=\"" + px(kAxisLabelFontSize) + "\"";
  if (!plot.x_label.empty()) {
    append_text(out, (frame.left + frame.right) / 2, canvas.height - 14, "middle", plot.x_label, label_font);
  }
  if (!plot.y_label.empty()) {
    const double x = 12 + kAxisLabelFontSize, y = (frame.top + frame.bottom) / 2;
    append_text(out, x, y, "middle", plot.y_label,
                label_font + " transform=\"rotate(-90 " + px(x) + " " + px(y) + ")\"");
  }
}

void append_grid_and_axes(std::string* out, const Frame& frame, const Axis& x_axis, const Axis& y_axis) {
  *out +=
      "<g stroke=\"" + std::string(kGridColour) + "\" stroke-width=\"1\" shape-rendering=\"crispEdges\">\n";
  for (double tick : x_axis.ticks) {
    const double x = frame.map_x(x_axis, tick);
    append_line(out, {x, frame.top}, {x, frame.bottom});
  }
  for (double tick : y_axis.ticks) {
    const double y = frame.map_y(y_axis, tick);
    append_line(out, {frame.left, y}, {frame.right, y});
  }
  *out += "</g>\n";

  *out +=
      "<g stroke=\"" + std::string(kAxisColour) + "\" stroke-width=\"1\" shape-rendering=\"crispEdges\">\n";
  append_line(out, {frame.left, frame.bottom}, {frame.right, frame.bottom});
  append_line(out, {frame.left, frame.top}, {frame.left, frame.bottom});
  for (double tick : x_axis.ticks) {
    const double x = frame.map_x(x_axis, tick);
    append_line(out, {x, frame.bottom}, {x, frame.bottom + kTickLength});
  }
  for (double tick : y_axis.ticks) {
    const double y = frame.map_y(y_axis, tick);
    append_line(out, {frame.left - kTickLength, y}, {frame.left, y});
  }
  *out += "</g>\n";

  // Tick labels sit about a third of the font size below their anchor line to look centred on the tick.
  *out += "<g font-size=\"" + px(kTickFontSize) + "\" fill=\"" + std::string(kAxisColour) + "\">\n";
  for (size_t i = 0; i < x_axis.ticks.size(); ++i) {
    append_text(out, frame.map_x(x_axis, x_axis.ticks[i]), frame.bottom + kTickLength + kTickFontSize + 2,
                "middle", x_axis.tick_labels[i]);
  }
  for (size_t i = 0; i < y_axis.ticks.size(); ++i) {
    append_text(out, frame.left - kTickLength - 4,
                frame.map_y(y_axis, y_axis.ticks[i]) + kTickFontSize * 0.35, "end", y_axis.tick_labels[i]);
  }
  *out += "</g>\n";
}

std::string stroke_attributes(const std::string& colour, double width, const char* dash) {
  std::string attributes = "fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"" + px(width) + "\"";
  if (dash != nullptr) attributes += " stroke-dasharray=\"" + std::string(dash) + "\"";
  return attributes;
}

void append_series(std::string* out, const PixelRuns& runs, const LegendEntry& style) {
  std::string path_data;
  for (const std::vector<Point>& run : runs) {
    for (size_t i = 0; i < run.size(); ++i)
      path_data += (i == 0 ? "M" : "L") + px(run[i].x) + " " + px(run[i].y);
  }
  *out += "<path d=\"" + path_data + "\" " + stroke_attributes(style.colour, kLineWidth, style.dash) +
          " stroke-linejoin=\"round\" stroke-linecap=\"round\"/>\n";
  // A point with no finite neighbour has no line; it gets a marker even on a dense series, or it would
  // vanish.
  std::string markers;
  for (const std::vector<Point>& run : runs) {
    if (!style.marker && run.size() > 1) continue;
    for (Point point : run) {
      markers +=
          "<circle cx=\"" + px(point.x) + "\" cy=\"" + px(point.y) + "\" r=\"" + px(kMarkerRadius) + "\"/>\n";
    }
  }
  if (!markers.empty()) {
    *out += "<g fill=\"" + style.colour + "\" stroke=\"#ffffff\" stroke-width=\"1\">\n" + markers + "</g>\n";
  }
}

void append_legend(std::string* out, const Box& box, const std::vector<LegendEntry>& entries) {
  *out += "<g font-size=\"" + px(kLegendFontSize) + "\">\n";
  *out += "<rect x=\"" + px(box.x) + "\" y=\"" + px(box.y) + "\" width=\"" + px(box.width) + "\" height=\"" +
          px(box.height) + "\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.9\" stroke=\"#cccccc\"/>\n";
  for (size_t i = 0; i < entries.size(); ++i) {
    const LegendEntry& entry = entries[i];
    const double row_middle = box.y + kLegendPadding + kLegendRowHeight * static_cast<double>(i) + 5;
    const double swatch_left = box.x + kLegendPadding, swatch_right = swatch_left + kLegendSwatchWidth;
    *out += "<line x1=\"" + px(swatch_left) + "\" y1=\"" + px(row_middle) + "\" x2=\"" + px(swatch_right) +
            "\" y2=\"" + px(row_middle) + "\" " +
            stroke_attributes(entry.colour, entry.marker ? kLineWidth : 1.5, entry.dash) + "/>\n";
    if (entry.marker) {
      *out += "<circle cx=\"" + px((swatch_left + swatch_right) / 2) + "\" cy=\"" + px(row_middle) +
              "\" r=\"" + px(kMarkerRadius) + "\" fill=\"" + entry.colour +
              "\" stroke=\"#ffffff\" stroke-width=\"1\"/>\n";
    }
    append_text(out, swatch_right + 8, row_middle + kLegendFontSize * 0.35, "start", entry.label);
  }
  *out += "</g>\n";
}

std::string render_no_data(const LinePlot& plot, const Canvas& canvas) {
  std::string out;
  append_document_start(&out, plot, canvas);
  const Frame frame = layout_frame(plot, canvas, Axis{}, Axis{}, 0);
  out += "<rect x=\"" + px(frame.left) + "\" y=\"" + px(frame.top) + "\" width=\"" +
         px(frame.right - frame.left) + "\" height=\"" + px(frame.bottom - frame.top) +
         "\" fill=\"none\" stroke=\"#cccccc\"/>\n";
  append_titles(&out, plot, canvas, frame);
  append_text(&out, (frame.left + frame.right) / 2, (frame.top + frame.bottom) / 2, "middle", "no data",
              "font-size=\"" + px(kAxisLabelFontSize) + "\" fill=\"#888888\"");
  out += "</svg>\n";
  return out;
}

// The whole plot: a document, or an element of one at embedded_at.
std::string render(const LinePlot& plot, std::optional<std::pair<double, double>> embedded_at) {
  const Canvas canvas{static_cast<double>(std::max(plot.width, 240)),
                      static_cast<double>(std::max(plot.height, 160)), embedded_at};
  std::vector<double> xs, ys;
  collect_finite_points(plot, &xs, &ys);
  if (xs.empty()) return render_no_data(plot, canvas);

  // Explicit ticks (the "float" column) and the reference line belong on the plot even beyond the data.
  for (double tick : plot.x_ticks) xs.push_back(tick);
  if (plot.reference_y) ys.push_back(*plot.reference_y);
  const AxisRange x_range = axis_range(extent(xs), plot.x_min, plot.x_max);
  const AxisRange y_range = axis_range(extent(ys), plot.y_min, plot.y_max);
  const Axis x_axis =
      plot.x_ticks.empty() ? nice_axis(x_range) : explicit_axis(x_range, plot.x_ticks, plot.x_tick_labels);
  const Axis y_axis = nice_axis(y_range);
  const bool has_reference = plot.reference_y && std::isfinite(*plot.reference_y);

  std::vector<LegendEntry> styles, legend;
  for (size_t i = 0; i < plot.series.size(); ++i) {
    const PlotSeries& series = plot.series[i];
    styles.push_back(
        {series.label, kSeriesColours[i % kSeriesColourCount], series.dashed ? kSeriesDash : nullptr, true});
  }
  const auto runs_in = [&](const Frame& frame) {
    std::vector<PixelRuns> all_runs;
    for (const PlotSeries& series : plot.series)
      all_runs.push_back(series_runs(series, frame, x_axis, y_axis));
    if (has_reference) {
      const double y = frame.map_y(y_axis, *plot.reference_y);
      all_runs.push_back({{{frame.left, y}, {frame.right, y}}});
    }
    return all_runs;
  };

  Frame frame = layout_frame(plot, canvas, x_axis, y_axis, 0);
  std::vector<PixelRuns> all_runs = runs_in(frame);
  for (size_t i = 0; i < plot.series.size(); ++i) {
    styles[i].marker = markers_readable(all_runs[i], frame);
    if (styles[i].label.empty()) continue;
    legend.push_back(styles[i]);
    if (all_runs[i].empty()) legend.back().label += " (no data)";
  }
  if (has_reference && !plot.reference_label.empty()) {
    legend.push_back({plot.reference_label, kReferenceColour, kReferenceDash, false});
  }

  std::optional<Box> legend_box;
  if (!legend.empty()) {
    const Box size = legend_size(legend);
    legend_box = place_legend_inside(size, frame, all_runs);
    if (!legend_box) {
      frame = layout_frame(plot, canvas, x_axis, y_axis, size.width + 28);
      all_runs = runs_in(frame);
      legend_box = Box{frame.right + 16, frame.top, size.width, size.height};
    }
  }

  std::string out;
  append_document_start(&out, plot, canvas);
  // Markers on the frame's edge stay whole; lines beyond explicit limits are cut at it.
  const double clip_margin = kMarkerRadius + 1;
  out += "<defs><clipPath id=\"plot-area\"><rect x=\"" + px(frame.left - clip_margin) + "\" y=\"" +
         px(frame.top - clip_margin) + "\" width=\"" + px(frame.right - frame.left + 2 * clip_margin) +
         "\" height=\"" + px(frame.bottom - frame.top + 2 * clip_margin) + "\"/></clipPath></defs>\n";
  append_grid_and_axes(&out, frame, x_axis, y_axis);
  append_titles(&out, plot, canvas, frame);

  out += "<g clip-path=\"url(#plot-area)\">\n";
  if (has_reference) {
    const double y = frame.map_y(y_axis, *plot.reference_y);
    out += "<line x1=\"" + px(frame.left) + "\" y1=\"" + px(y) + "\" x2=\"" + px(frame.right) + "\" y2=\"" +
           px(y) + "\" " + stroke_attributes(kReferenceColour, 1.5, kReferenceDash) + "/>\n";
  }
  for (size_t i = 0; i < plot.series.size(); ++i) {
    if (!all_runs[i].empty()) append_series(&out, all_runs[i], styles[i]);
  }
  out += "</g>\n";
  if (legend_box) append_legend(&out, *legend_box, legend);
  out += "</svg>\n";
  return out;
}

}  // namespace

std::string render_svg(const LinePlot& plot) { return render(plot, std::nullopt); }

std::string render_svg_element(const LinePlot& plot, double x, double y) {
  return render(plot, std::pair{x, y});
}

// XML 1.0 forbids most control characters and malformed UTF-8 anywhere in a document, and one such byte
// in a label would make the whole plot unreadable, so they become U+FFFD.
std::string escape_xml(std::string_view text) {
  constexpr const char* kReplacementCharacter = "\xEF\xBF\xBD";
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = utf8_sequence_length(text, i);
      if (length == 0) {
        out += kReplacementCharacter;
        ++i;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += kReplacementCharacter;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out;
}

}  // namespace qplay
