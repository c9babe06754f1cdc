// The ImGui plots behind plot.h; the frame they share (layout, axes, legend) is plot_canvas.h. Contents:
//   [SECTION] Colours
//   [SECTION] Read-out helpers
//   [SECTION] Line plot
//   [SECTION] Bar plot
//   [SECTION] Histogram
#include "core/ui/plot.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "core/engine/report/axis_ticks.h"
#include "core/ui/plot_canvas.h"

namespace qplay::ui {

using namespace plot_internals;

namespace {

// [SECTION] Colours

constexpr unsigned kOkabeIto[kCategoricalColorCount] = {
    0x56B4E9,  // sky blue
    0xE69F00,  // orange
    0x009E73,  // bluish green
    0xCC79A7,  // reddish purple
    0xF0E442,  // yellow
    0x0072B2,  // blue
    0xD55E00,  // vermillion
    0xBBBBBB,  // grey, where Okabe-Ito has black
};
// Viridis (matplotlib) at t = 0, 1/8, ..., 1; linear in between stays within a few levels of the original.
constexpr unsigned kViridis[] = {0x440154, 0x472C7A, 0x3B518B, 0x2C718E, 0x21908D,
                                 0x27AD81, 0x5CC863, 0xAADC32, 0xFDE725};

ImVec4 rgb_color(unsigned rgb, float alpha) {
  return ImVec4(((rgb >> 16) & 0xFF) / 255.0f, ((rgb >> 8) & 0xFF) / 255.0f, (rgb & 0xFF) / 255.0f, alpha);
}

ImVec4 mix(const ImVec4& a, const ImVec4& b, float t) {
  return ImVec4(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, a.z + (b.z - a.z) * t, a.w + (b.w - a.w) * t);
}

}  // namespace

ImU32 categorical_color(int index, float alpha) {
  const int wrapped = ((index % kCategoricalColorCount) + kCategoricalColorCount) % kCategoricalColorCount;
  return ImGui::ColorConvertFloat4ToU32(rgb_color(kOkabeIto[wrapped], alpha));
}

ImU32 sequential_color(double t) {
  if (std::isnan(t)) return IM_COL32(128, 128, 128, 255);
  const double position = std::clamp(t, 0.0, 1.0) * 8;
  const int below = std::min(7, static_cast<int>(position));
  return ImGui::ColorConvertFloat4ToU32(mix(rgb_color(kViridis[below], 1), rgb_color(kViridis[below + 1], 1),
                                            static_cast<float>(position - below)));
}

ImU32 diverging_color(double t) {
  if (std::isnan(t)) return IM_COL32(128, 128, 128, 255);
  constexpr ImU32 kNegative = IM_COL32(245, 147, 34, 255), kNeutral = IM_COL32(38, 40, 46, 255),
                  kPositive = IM_COL32(8, 119, 189, 255);
  const float amount = static_cast<float>(std::min(1.0, std::fabs(t)));
  return mix_colors(kNeutral, t < 0 ? kNegative : kPositive, amount);
}

ImU32 mix_colors(ImU32 a, ImU32 b, float t) {
  return ImGui::ColorConvertFloat4ToU32(
      mix(ImGui::ColorConvertU32ToFloat4(a), ImGui::ColorConvertU32ToFloat4(b), std::clamp(t, 0.0f, 1.0f)));
}

namespace {

// [SECTION] Read-out helpers

// An x value as the axis writes it: an explicit tick's label ("float") when it is one.
std::string x_readout(const PlotAxis& axis, double x) {
  for (size_t i = 0; i < axis.ticks.size() && i < axis.tick_labels.size(); ++i) {
    if (axis.ticks[i] == x) return axis.tick_labels[i];
  }
  return format_readout(x);
}

// Sample points along a horizontal line, so "best" legends avoid reference lines too.
template <typename Visit>
void visit_horizontal_line(const Canvas& canvas, float y, Visit visit) {
  for (float x = canvas.plot_min.x; x <= canvas.plot_max.x; x += canvas.style.font) visit(ImVec2(x, y));
}

// A horizontal dashed line across the plot, labelled above its right end (below, when at the top).
void draw_reference_line(const Canvas& canvas, double y, std::string_view label) {
  const Style& style = canvas.style;
  const float line_y = canvas.py(y);
  draw_polyline(canvas.draw, {ImVec2(canvas.plot_min.x, line_y), ImVec2(canvas.plot_max.x, line_y)},
                style.reference, 1.5f, true, 0.8f * style.font);
  if (label.empty()) return;
  const bool room_above = line_y - canvas.plot_min.y > 1.4f * style.font;
  draw_label(
      canvas.draw,
      ImVec2(canvas.plot_max.x - 0.5f * style.font, line_y + (room_above ? -0.25f : 0.25f) * style.font),
      ImVec2(1, room_above ? 1.0f : 0.0f), style.reference, style.background, label);
}

// [SECTION] Line plot

size_t point_count(const LineSeries& series) { return std::min(series.xs.size(), series.ys.size()); }

bool finite_point(const LineSeries& series, size_t i) {
  return std::isfinite(series.xs[i]) && std::isfinite(series.ys[i]);
}

// A curve in pixels: one run of points per stretch of finite points.
using CurveRuns = std::vector<std::vector<ImVec2>>;

// A step series holds each y until the next x.
CurveRuns curve_runs(const Canvas& canvas, const LineSeries& series) {
  CurveRuns runs(1);
  const size_t count = point_count(series);
  for (size_t i = 0; i < count; ++i) {
    if (!finite_point(series, i)) {
      if (!runs.back().empty()) runs.emplace_back();
      continue;
    }
    const ImVec2 point(canvas.px(series.xs[i]), canvas.py(series.ys[i]));
    runs.back().push_back(point);
    if (series.step && i + 1 < count && finite_point(series, i + 1))
      runs.back().push_back(ImVec2(canvas.px(series.xs[i + 1]), point.y));
  }
  return runs;
}

bool is_older(const LineSeries& series, size_t i) { return i < series.older.size() && series.older[i] != 0; }

// Markers closer than about two of them merge into a smudge (a training curve of thousands of steps).
bool markers_shown(const Canvas& canvas, const LineSeries& series) {
  const size_t count = point_count(series);
  return series.markers && count > 0 &&
         canvas.plot_width() / static_cast<float>(count) >= 4 * canvas.style.marker_radius;
}

// The point a series reads out at data x: for a staircase the step holding there, else the nearest in x.
int readout_point(const LineSeries& series, double x) {
  int found = -1;
  for (size_t i = 0; i < point_count(series); ++i) {
    if (!finite_point(series, i)) continue;
    if (series.step) {
      if (series.xs[i] <= x && (found < 0 || series.xs[i] >= series.xs[found])) found = static_cast<int>(i);
    } else if (found < 0 || std::fabs(series.xs[i] - x) < std::fabs(series.xs[found] - x)) {
      found = static_cast<int>(i);
    }
  }
  return found;
}

}  // namespace

LinePlotHover line_plot(const char* id, std::span<const LineSeries> series, const LinePlotOptions& options) {
  Extent x_extent, y_extent;
  for (const LineSeries& line : series) {
    for (size_t i = 0; i < point_count(line); ++i) {
      if (!finite_point(line, i)) continue;
      x_extent.add(line.xs[i]);
      y_extent.add(line.ys[i]);
    }
  }
  const bool has_data = !x_extent.empty();
  if (options.marker_x) x_extent.add(*options.marker_x);
  if (options.reference_y) y_extent.add(*options.reference_y);
  const AxisRequest x = axis_request(options.x_axis, resolve_range(options.x_axis, x_extent, 0.05));
  const AxisRequest y = axis_request(options.y_axis, resolve_range(options.y_axis, y_extent, 0.05));
  const bool any_named =
      std::any_of(series.begin(), series.end(), [](const LineSeries& line) { return !line.name.empty(); });
  Canvas canvas = begin_canvas(id, options.size, 0.6f, options.title, x, y, 0,
                               any_named && options.legend != LegendPlacement::hidden);
  LinePlotHover hover;
  if (!canvas.visible) return hover;
  const Style& style = canvas.style;
  PlotPainter* draw = canvas.draw;
  if (options.reference_y) draw_reference_line(canvas, *options.reference_y, options.reference_label);
  if (options.marker_x) {
    const float line_x = std::round(canvas.px(*options.marker_x)) + 0.5f;
    draw->AddLine(ImVec2(line_x, canvas.plot_min.y), ImVec2(line_x, canvas.plot_max.y), style.reference,
                  1.5f);
    const bool room_right =
        canvas.plot_max.x - line_x > text_size(options.marker_label).x + 0.8f * style.font;
    draw_label(
        draw,
        ImVec2(line_x + (room_right ? 0.4f : -0.4f) * style.font, canvas.plot_max.y - 0.3f * style.font),
        ImVec2(room_right ? 0.0f : 1.0f, 1), style.reference, style.background, options.marker_label);
  }
  std::vector<CurveRuns> curves;  // per series, for drawing and for placing the legend
  for (const LineSeries& line : series) curves.push_back(curve_runs(canvas, line));
  for (size_t s = 0; s < series.size(); ++s) {
    const LineSeries& line = series[s];
    const ImU32 color = series_color(line.color, s);
    for (const std::vector<ImVec2>& run : curves[s])
      draw_polyline(draw, run, color, style.line_width, line.dashed, style.font);
    if (!markers_shown(canvas, line)) continue;
    for (size_t i = 0; i < point_count(line); ++i) {
      if (!finite_point(line, i)) continue;
      const ImVec2 at(canvas.px(line.xs[i]), canvas.py(line.ys[i]));
      if (is_older(line, i)) {
        draw->AddCircleFilled(at, style.marker_radius, style.background);
        draw->AddCircle(at, style.marker_radius, color, 0, 1.5f);
      } else {
        draw->AddCircleFilled(at, style.marker_radius, color);
      }
    }
  }
  if (!has_data) draw_no_data(canvas);

  if (canvas.hovered) {
    copy_mouse_state(canvas, &hover);
    hover.x = canvas.data_x(canvas.mouse.x);
    hover.y = canvas.data_y(canvas.mouse.y);
    float nearest_dx = std::numeric_limits<float>::infinity(), nearest_distance = nearest_dx;
    for (size_t s = 0; s < series.size(); ++s) {
      for (size_t i = 0; i < point_count(series[s]); ++i) {
        if (!finite_point(series[s], i)) continue;
        const float dx = std::fabs(canvas.px(series[s].xs[i]) - canvas.mouse.x);
        const float distance = std::hypot(dx, canvas.py(series[s].ys[i]) - canvas.mouse.y);
        if (dx < nearest_dx) nearest_dx = dx, hover.crosshair_x = series[s].xs[i];
        if (distance < nearest_distance) {
          nearest_distance = distance;
          hover.series = static_cast<int>(s), hover.point = static_cast<int>(i);
        }
      }
    }
  }
  if (hover.crosshair_x) {
    const float line_x = std::round(canvas.px(*hover.crosshair_x)) + 0.5f;
    draw->AddLine(ImVec2(line_x, canvas.plot_min.y), ImVec2(line_x, canvas.plot_max.y), style.crosshair);
  }
  std::vector<std::pair<size_t, int>> readouts;  // (series, point) at the crosshair
  if (hover.crosshair_x) {
    for (size_t s = 0; s < series.size(); ++s) {
      const int point = series[s].name.empty() ? -1 : readout_point(series[s], *hover.crosshair_x);
      if (point < 0) continue;
      readouts.emplace_back(s, point);
      const ImVec2 at(canvas.px(series[s].xs[point]), canvas.py(series[s].ys[point]));
      draw->AddCircleFilled(at, 1.5f * style.marker_radius, series_color(series[s].color, s));
      draw->AddCircle(at, 1.5f * style.marker_radius, style.background, 0, 1.5f);
    }
  }
  end_canvas(canvas);

  std::vector<LegendRow> legend;
  for (size_t s = 0; s < series.size(); ++s) {
    if (series[s].name.empty()) continue;
    const Swatch swatch = series[s].dashed                   ? Swatch::dashed_line
                          : markers_shown(canvas, series[s]) ? Swatch::line_and_marker
                                                             : Swatch::line;
    legend.push_back({series[s].name, series_color(series[s].color, s), swatch});
  }
  draw_legend(canvas, legend, options.legend, [&](ImVec2 min, ImVec2 max) {
    float hidden = 0;
    const auto count = [&](ImVec2 point) { hidden += inside(point, min, max) ? 1.0f : 0.0f; };
    for (const CurveRuns& runs : curves) {
      for (const std::vector<ImVec2>& run : runs) {
        for (size_t i = 0; i < run.size(); ++i) {
          count(run[i]);
          for (float t : {0.25f, 0.5f, 0.75f}) {
            if (i + 1 < run.size())
              count(
                  ImVec2(run[i].x + (run[i + 1].x - run[i].x) * t, run[i].y + (run[i + 1].y - run[i].y) * t));
          }
        }
      }
    }
    if (options.reference_y) visit_horizontal_line(canvas, canvas.py(*options.reference_y), count);
    return hidden;
  });

  if (hover.crosshair_x) {
    ImGui::BeginTooltip();
    ImGui::Text("%s: %s", named(options.x_axis.label, "x").c_str(),
                x_readout(options.x_axis, *hover.crosshair_x).c_str());
    for (const auto& [s, point] : readouts) {
      std::string text = std::string(series[s].name) + ": " + format_readout(series[s].ys[point]);
      if (!series[s].step && series[s].xs[point] != *hover.crosshair_x)
        text += " (at " + x_readout(options.x_axis, series[s].xs[point]) + ")";
      if (is_older(series[s], point)) text += " (older weights, updating)";
      tooltip_row(series_color(series[s].color, s), text);
    }
    if (options.reference_y)
      tooltip_row(canvas.style.reference,
                  named(options.reference_label, "reference") + ": " + format_readout(*options.reference_y));
    ImGui::EndTooltip();
  }
  return hover;
}

// [SECTION] Bar plot

BarPlotHover bar_plot(const char* id, std::span<const BarSeries> series, const BarPlotOptions& options) {
  size_t group_count = options.group_labels.size();
  Extent y_extent;
  y_extent.add(0);
  bool has_data = false;
  for (const BarSeries& bars : series) {
    group_count = std::max(group_count, bars.values.size());
    for (double value : bars.values) {
      has_data = has_data || std::isfinite(value);
      y_extent.add(value);
    }
  }
  if (options.reference_y) y_extent.add(*options.reference_y);
  std::vector<double> group_ticks;
  std::vector<std::string> group_labels;
  for (size_t g = 0; g < group_count; ++g) {
    group_ticks.push_back(static_cast<double>(g));
    group_labels.push_back(g < options.group_labels.size() ? options.group_labels[g] : std::to_string(g));
  }
  // Bars start at zero, so zero is an edge of the range (unpadded) unless values lie on both sides.
  AxisRange y_range = resolve_range(options.y_axis, y_extent, 0.05);
  if (!options.y_axis.min && y_extent.low >= 0) y_range.low = 0;
  if (!options.y_axis.max && y_extent.high <= 0) y_range.high = 0;
  const AxisRequest x{
      options.x_label, {-0.5, std::max(0.5, group_count - 0.5)}, group_ticks, group_labels, false};
  const AxisRequest y = axis_request(options.y_axis, y_range);
  std::vector<LegendRow> legend;
  for (size_t s = 0; s < series.size(); ++s) {
    if (!series[s].name.empty())
      legend.push_back({series[s].name, series_color(series[s].color, s), Swatch::box});
  }
  Canvas canvas =
      begin_canvas(id, options.size, 0.6f, options.title, x, y, 0, wants_legend(legend, options.legend));
  BarPlotHover hover;
  if (!canvas.visible) return hover;
  const Style& style = canvas.style;
  PlotPainter* draw = canvas.draw;

  const double slot = 0.8 / static_cast<double>(std::max<size_t>(1, series.size()));
  if (canvas.hovered) {
    copy_mouse_state(canvas, &hover);
    const double x_mouse = canvas.data_x(canvas.mouse.x);
    const double group = std::round(x_mouse);
    if (group >= 0 && group < static_cast<double>(group_count)) {
      hover.group = static_cast<int>(group);
      const double within = x_mouse - (group - 0.4);
      if (within >= 0 && within < 0.8)
        hover.series = std::min(static_cast<int>(within / slot), static_cast<int>(series.size()) - 1);
      draw->AddRectFilled(ImVec2(canvas.px(group - 0.5), canvas.plot_min.y),
                          ImVec2(canvas.px(group + 0.5), canvas.plot_max.y), style.highlight);
    }
  }
  // A gap between neighbouring bars, unless they are too thin to spare it.
  const float slot_pixels =
      static_cast<float>(slot) * canvas.plot_width() / static_cast<float>(canvas.x.high - canvas.x.low);
  const float gap = std::min(0.15f * style.font, 0.2f * slot_pixels);
  const auto bar_rect = [&](size_t s, size_t g, ImVec2* min, ImVec2* max) {
    const double left = static_cast<double>(g) - 0.4 + slot * static_cast<double>(s);
    const double value = series[s].values[g];
    *min = ImVec2(canvas.px(left) + gap / 2, canvas.py(std::max(0.0, value)));
    *max = ImVec2(canvas.px(left + slot) - gap / 2, canvas.py(std::min(0.0, value)));
  };
  for (size_t s = 0; s < series.size(); ++s) {
    for (size_t g = 0; g < series[s].values.size(); ++g) {
      if (!std::isfinite(series[s].values[g])) continue;
      ImVec2 min, max;
      bar_rect(s, g, &min, &max);
      const ImU32 color = series_color(series[s].color, s);
      const bool under_mouse = hover.group == static_cast<int>(g) && hover.series == static_cast<int>(s);
      draw->AddRectFilled(min, max, under_mouse ? emphasize(color) : color);
    }
  }
  // Without bars the reference keeps its line but not its label, which "no data" would run into.
  if (options.reference_y)
    draw_reference_line(canvas, *options.reference_y,
                        has_data ? options.reference_label : std::string_view());
  if (!has_data) draw_no_data(canvas);
  end_canvas(canvas);

  draw_legend(canvas, legend, options.legend, [&](ImVec2 min, ImVec2 max) {
    float hidden = 0;
    for (size_t s = 0; s < series.size(); ++s) {
      for (size_t g = 0; g < series[s].values.size(); ++g) {
        if (!std::isfinite(series[s].values[g])) continue;
        ImVec2 bar_min, bar_max;
        bar_rect(s, g, &bar_min, &bar_max);
        hidden += overlap_area(min, max, bar_min, bar_max);
      }
    }
    if (options.reference_y)
      visit_horizontal_line(canvas, canvas.py(*options.reference_y),
                            [&](ImVec2 p) { hidden += inside(p, min, max) ? 50.0f : 0.0f; });
    return hidden;
  });

  if (hover.group >= 0) {
    ImGui::BeginTooltip();
    const std::string& label = group_labels[static_cast<size_t>(hover.group)];
    if (options.x_label.empty()) {
      ImGui::TextUnformatted(label.c_str());
    } else {
      ImGui::Text("%s: %s", std::string(options.x_label).c_str(), label.c_str());
    }
    for (size_t s = 0; s < series.size(); ++s) {
      const size_t g = static_cast<size_t>(hover.group);
      const double value = g < series[s].values.size() ? series[s].values[g] : std::nan("");
      tooltip_row(series_color(series[s].color, s),
                  named(series[s].name, "series " + std::to_string(s)) + ": " + format_readout(value));
    }
    if (options.reference_y)
      tooltip_row(canvas.style.reference,
                  named(options.reference_label, "reference") + ": " + format_readout(*options.reference_y));
    ImGui::EndTooltip();
  }
  return hover;
}

// [SECTION] Histogram

namespace {

double bin_width(const Histogram& histogram) {
  return (histogram.high - histogram.low) / static_cast<double>(histogram.counts.size());
}

bool usable(const Histogram& histogram) {
  return !histogram.counts.empty() && std::isfinite(histogram.low) && std::isfinite(histogram.high) &&
         histogram.high > histogram.low;
}

// The bin holding x, or -1; the last bin includes its upper edge.
int bin_at(const Histogram& histogram, double x) {
  if (!usable(histogram) || x < histogram.low || x > histogram.high) return -1;
  const size_t bin = static_cast<size_t>((x - histogram.low) / bin_width(histogram));
  return static_cast<int>(std::min(bin, histogram.counts.size() - 1));
}

// Bin i's lower edge; interpolating the edges (rather than low + i * width) puts 0 exactly where it belongs.
double bin_edge(const Histogram& histogram, size_t i) {
  const double t = static_cast<double>(i) / static_cast<double>(histogram.counts.size());
  const double edge = histogram.low + (histogram.high - histogram.low) * t;
  return std::fabs(edge) < 1e-9 * (histogram.high - histogram.low) ? 0 : edge;
}

std::string bin_readout(const Histogram& histogram, int bin) {
  const size_t i = static_cast<size_t>(bin);
  const bool last = i + 1 == histogram.counts.size();
  return "[" + format_readout(bin_edge(histogram, i)) + ", " + format_readout(bin_edge(histogram, i + 1)) +
         (last ? "]" : ")") + ": " + format_readout(histogram.counts[i]);
}

}  // namespace

HistogramHover histogram_plot(const char* id, const Histogram& histogram, const HistogramOptions& options) {
  const Histogram* overlay = options.overlay && usable(*options.overlay) ? &*options.overlay : nullptr;
  Extent x_extent, y_extent;
  y_extent.add(0);
  for (const Histogram* layer : {&histogram, overlay}) {
    if (layer == nullptr || !usable(*layer)) continue;
    x_extent.add(layer->low);
    x_extent.add(layer->high);
    for (double count : layer->counts) y_extent.add(count);
  }
  for (double level : options.grid_lines) x_extent.add(level);
  AxisRange y_range = resolve_range(options.y_axis, y_extent, 0.06);
  if (!options.y_axis.min) y_range.low = 0;
  const AxisRequest x = axis_request(options.x_axis, resolve_range(options.x_axis, x_extent, 0.02));
  const AxisRequest y = axis_request(options.y_axis, y_range);
  const ImU32 main_color = histogram.color != 0 ? histogram.color : categorical_color(0);
  const ImU32 overlay_color = overlay && overlay->color != 0 ? overlay->color : categorical_color(1);
  const ImU32 grid_color =
      options.grid_lines_color != 0 ? options.grid_lines_color : ImGui::GetColorU32(ImGuiCol_Text);
  std::vector<LegendRow> legend;
  if (!histogram.name.empty()) legend.push_back({histogram.name, main_color, Swatch::box});
  if (overlay && !overlay->name.empty()) legend.push_back({overlay->name, overlay_color, Swatch::outline});
  if (!options.grid_lines.empty() && !options.grid_lines_name.empty())
    legend.push_back({options.grid_lines_name, grid_color, Swatch::vertical_line});
  Canvas canvas =
      begin_canvas(id, options.size, 0.6f, options.title, x, y, 0, wants_legend(legend, options.legend));
  HistogramHover hover;
  if (!canvas.visible) return hover;
  const Style& style = canvas.style;
  PlotPainter* draw = canvas.draw;

  if (canvas.hovered) {
    copy_mouse_state(canvas, &hover);
    hover.x = canvas.data_x(canvas.mouse.x);
    hover.bin = bin_at(histogram, hover.x);
    if (overlay) hover.overlay_bin = bin_at(*overlay, hover.x);
    float nearest = 0.5f * style.font;
    for (size_t i = 0; i < options.grid_lines.size(); ++i) {
      const float distance = std::fabs(canvas.px(options.grid_lines[i]) - canvas.mouse.x);
      if (distance <= nearest) nearest = distance, hover.grid_line = static_cast<int>(i);
    }
  }
  const auto bin_rect = [&](const Histogram& layer, size_t bin, ImVec2* min, ImVec2* max) {
    *min = ImVec2(canvas.px(bin_edge(layer, bin)), canvas.py(layer.counts[bin]));
    *max = ImVec2(canvas.px(bin_edge(layer, bin + 1)), canvas.py(0));
  };
  if (usable(histogram)) {
    for (size_t bin = 0; bin < histogram.counts.size(); ++bin) {
      if (!(histogram.counts[bin] > 0)) continue;
      ImVec2 min, max;
      bin_rect(histogram, bin, &min, &max);
      draw->AddRectFilled(
          min, max,
          static_cast<int>(bin) == hover.bin ? emphasize(main_color) : with_alpha(main_color, 0.8f));
    }
  }
  if (overlay) {
    // An outline (a faint fill under it) keeps the histogram beneath readable.
    std::vector<ImVec2> outline{ImVec2(canvas.px(overlay->low), canvas.py(0))};
    for (size_t bin = 0; bin < overlay->counts.size(); ++bin) {
      ImVec2 min, max;
      bin_rect(*overlay, bin, &min, &max);
      if (!std::isfinite(overlay->counts[bin])) min.y = max.y;
      if (overlay->counts[bin] > 0) draw->AddRectFilled(min, max, with_alpha(overlay_color, 0.2f));
      outline.push_back(ImVec2(min.x, min.y));
      outline.push_back(ImVec2(max.x, min.y));
    }
    outline.push_back(ImVec2(canvas.px(overlay->high), canvas.py(0)));
    draw_polyline(draw, outline, overlay_color, 0.9f * style.line_width, false, style.font);
  }
  if (!options.grid_lines.empty()) {
    // Dense grids (8 bits: 255 levels) would paint a solid block: their lines fade with their spacing,
    // and below a third of a character only the outermost levels (where values clip) are drawn.
    Extent levels;
    for (double level : options.grid_lines) levels.add(level);
    const float spacing = (canvas.px(levels.high) - canvas.px(levels.low)) /
                          static_cast<float>(std::max<size_t>(1, options.grid_lines.size() - 1));
    const float inner_alpha = std::min(spacing / (1.2f * style.font), 0.7f);
    for (size_t i = 0; i < options.grid_lines.size(); ++i) {
      const double level = options.grid_lines[i];
      const bool outermost = level == levels.low || level == levels.high;
      const bool under_mouse = static_cast<int>(i) == hover.grid_line;
      if (!std::isfinite(level) || (!outermost && !under_mouse && spacing < 0.3f * style.font)) continue;
      const float line_x = std::round(canvas.px(level)) + 0.5f;
      draw->AddLine(ImVec2(line_x, canvas.plot_min.y), ImVec2(line_x, canvas.plot_max.y),
                    with_alpha(grid_color, under_mouse || outermost ? 0.9f : inner_alpha),
                    under_mouse ? 2.0f : 1.0f);
    }
  }
  if (!usable(histogram) && !overlay) draw_no_data(canvas);
  end_canvas(canvas);

  draw_legend(canvas, legend, options.legend, [&](ImVec2 min, ImVec2 max) {
    float hidden = 0;
    for (const Histogram* layer : {&histogram, overlay}) {
      if (layer == nullptr || !usable(*layer)) continue;
      for (size_t bin = 0; bin < layer->counts.size(); ++bin) {
        if (!(layer->counts[bin] > 0)) continue;
        ImVec2 bin_min, bin_max;
        bin_rect(*layer, bin, &bin_min, &bin_max);
        hidden += overlap_area(min, max, bin_min, bin_max);
      }
    }
    return hidden;
  });

  if (hover.bin >= 0 || hover.overlay_bin >= 0 || hover.grid_line >= 0) {
    ImGui::BeginTooltip();
    ImGui::Text("%s: %s", named(options.x_axis.label, "x").c_str(), format_readout(hover.x).c_str());
    if (hover.bin >= 0)
      tooltip_row(main_color, named(histogram.name, "count") + " " + bin_readout(histogram, hover.bin));
    if (hover.overlay_bin >= 0)
      tooltip_row(overlay_color,
                  named(overlay->name, "overlay") + " " + bin_readout(*overlay, hover.overlay_bin));
    if (hover.grid_line >= 0) {
      tooltip_row(grid_color, named(options.grid_lines_name, "grid") + ": level " +
                                  std::to_string(hover.grid_line) + " = " +
                                  format_readout(options.grid_lines[static_cast<size_t>(hover.grid_line)]));
    }
    ImGui::EndTooltip();
  }
  return hover;
}

}  // namespace qplay::ui
