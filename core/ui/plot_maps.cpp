// The ImGui plots of plot.h that colour a grid of cells: heat maps and images (with scatter points),
// confusion matrices, and the colour bar that keys them. Their frame is plot_canvas.h. Contents:
//   [SECTION] Heat map
//   [SECTION] Colour bar
//   [SECTION] Confusion matrix
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "core/ui/plot.h"
#include "core/ui/plot_canvas.h"

namespace qplay::ui {

using namespace plot_internals;

// [SECTION] Heat map

HeatMapHover heat_map_plot(const char* id, std::span<const ImU32> cells, int columns, int rows,
                           const HeatMapOptions& options) {
  columns = std::max(columns, 0), rows = std::max(rows, 0);
  const AxisRange x_range =
      widen_if_flat(options.x_axis.min.value_or(0), options.x_axis.max.value_or(columns));
  const AxisRange y_range = widen_if_flat(options.y_axis.min.value_or(0), options.y_axis.max.value_or(rows));
  const AxisRequest x{options.x_axis.label,       x_range, options.x_axis.ticks,
                      options.x_axis.tick_labels, false,   options.show_axes};
  const AxisRequest y{options.y_axis.label,       y_range, options.y_axis.ticks,
                      options.y_axis.tick_labels, false,   options.show_axes};
  const float aspect =
      options.square_cells && columns > 0 && rows > 0 ? static_cast<float>(rows) / columns : 0;
  std::vector<LegendRow> legend;
  for (size_t i = 0; i < options.legend_entries.size(); ++i) {
    const LegendEntry& entry = options.legend_entries[i];
    legend.push_back({entry.name, series_color(entry.color, i), Swatch::dot});
  }
  Canvas canvas =
      begin_canvas(id, options.size, 1.0f, options.title, x, y, aspect, wants_legend(legend, options.legend));
  HeatMapHover hover;
  if (!canvas.visible) return hover;
  const Style& style = canvas.style;
  PlotPainter* draw = canvas.draw;

  // Cells as rows of equal-colour runs: images have wide black margins, decision regions wide plains.
  const size_t cell_count = std::min(cells.size(), static_cast<size_t>(columns) * static_cast<size_t>(rows));
  const auto cell_left = [&](int column) {
    return canvas.plot_min.x + canvas.plot_width() * column / columns;
  };
  const auto cell_top = [&](int row) { return canvas.plot_min.y + canvas.plot_height() * row / rows; };
  for (int row = 0; row < rows; ++row) {
    int run_start = 0;
    for (int column = 1; column <= columns; ++column) {
      const size_t start = static_cast<size_t>(row) * columns + run_start;
      const size_t here = static_cast<size_t>(row) * columns + column;
      if (start >= cell_count) break;
      if (column < columns && here < cell_count && cells[here] == cells[start]) continue;
      draw->AddRectFilled(ImVec2(cell_left(run_start), cell_top(row)),
                          ImVec2(cell_left(column), cell_top(row + 1)), cells[start]);
      run_start = column;
    }
  }
  // Every data point of a boundary plot, every frame: its outline a slightly larger disc under the fill.
  const float radius = options.point_radius * style.font;
  const float rim = std::max(1.0f, 0.08f * style.font);
  for (const ScatterPoint& point : options.points) {
    if (!std::isfinite(point.x) || !std::isfinite(point.y)) continue;
    const ImVec2 at(canvas.px(point.x), canvas.py(point.y));
    if (point.outline != 0) draw->AddDisc(at, radius + 0.5f * rim, point.outline);
    draw->AddDisc(at, point.outline != 0 ? radius - 0.5f * rim : radius, point.fill);
  }
  if (cell_count == 0 && options.points.empty()) draw_no_data(canvas);

  if (canvas.hovered) {
    copy_mouse_state(canvas, &hover);
    hover.x = canvas.data_x(canvas.mouse.x);
    hover.y = canvas.data_y(canvas.mouse.y);
    const float fx = (canvas.mouse.x - canvas.plot_min.x) / canvas.plot_width();
    const float fy = (canvas.mouse.y - canvas.plot_min.y) / canvas.plot_height();
    if (columns > 0 && rows > 0) {
      hover.column = std::clamp(static_cast<int>(fx * columns), 0, columns - 1);
      hover.row = std::clamp(static_cast<int>(fy * rows), 0, rows - 1);
      if (canvas.plot_width() / columns >= 0.5f * style.font)
        draw->AddRect(ImVec2(cell_left(hover.column), cell_top(hover.row)),
                      ImVec2(cell_left(hover.column + 1), cell_top(hover.row + 1)), style.text, 0, 0, 1.5f);
    }
    for (size_t i = 0; i < options.points.size(); ++i) {
      const ScatterPoint& point = options.points[i];
      if (std::hypot(canvas.px(point.x) - canvas.mouse.x, canvas.py(point.y) - canvas.mouse.y) <= radius + 2)
        hover.point = static_cast<int>(i);
    }
    if (hover.point >= 0) {
      const ScatterPoint& point = options.points[static_cast<size_t>(hover.point)];
      draw->AddCircle(ImVec2(canvas.px(point.x), canvas.py(point.y)), radius + 0.15f * style.font, style.text,
                      0, 2);
    }
  }
  end_canvas(canvas);

  draw_legend(canvas, legend, options.legend, [&](ImVec2 min, ImVec2 max) {
    float hidden = 0;
    for (const ScatterPoint& point : options.points)
      hidden += inside(ImVec2(canvas.px(point.x), canvas.py(point.y)), min, max);
    return hidden;
  });

  if (hover.column >= 0 || hover.point >= 0) {
    ImGui::BeginTooltip();
    if (options.show_axes) {
      ImGui::Text("%s: %s, %s: %s", named(options.x_axis.label, "x").c_str(), format_readout(hover.x).c_str(),
                  named(options.y_axis.label, "y").c_str(), format_readout(hover.y).c_str());
    } else if (hover.column >= 0) {
      ImGui::Text("column %d, row %d", hover.column, hover.row);
    }
    const size_t cell = static_cast<size_t>(hover.row) * columns + hover.column;
    if (hover.column >= 0 && cell < options.cell_values.size() && cell < cell_count)
      tooltip_row(cells[cell],
                  std::string(options.value_name) + ": " + format_readout(options.cell_values[cell]));
    if (hover.point >= 0) {
      const ScatterPoint& point = options.points[static_cast<size_t>(hover.point)];
      tooltip_row(point.fill, "point " + std::to_string(hover.point) + " at (" + format_readout(point.x) +
                                  ", " + format_readout(point.y) + ")");
    }
    ImGui::EndTooltip();
  }
  return hover;
}

// [SECTION] Colour bar

void color_bar(ColorScale scale, std::string_view low, std::string_view high, float width) {
  const float font = ImGui::GetFontSize();
  if (width <= 0) width = 8 * font;
  const ImVec2 low_size = text_size(low), high_size = text_size(high);
  const float gap = 0.4f * font;
  ImGui::Dummy(ImVec2(low_size.x + gap + width + gap + high_size.x, font));
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 origin = ImGui::GetItemRectMin();
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  draw->AddText(origin, text, low.data(), low.data() + low.size());
  const float left = origin.x + low_size.x + gap, top = origin.y + 0.2f * font,
              bottom = origin.y + 0.8f * font;
  constexpr int kSteps = 32;
  for (int i = 0; i < kSteps; ++i) {
    const double t = (i + 0.5) / kSteps;
    const ImU32 color = scale == ColorScale::sequential ? sequential_color(t) : diverging_color(2 * t - 1);
    draw->AddRectFilled(ImVec2(left + width * i / kSteps, top),
                        ImVec2(left + width * (i + 1) / kSteps, bottom), color);
  }
  draw->AddRect(ImVec2(left, top), ImVec2(left + width, bottom), ImGui::GetColorU32(ImGuiCol_Border));
  draw->AddText(ImVec2(left + width + gap, origin.y), text, high.data(), high.data() + high.size());
}

// [SECTION] Confusion matrix

ConfusionMatrixHover confusion_matrix_plot(const char* id, std::span<const int> counts, int class_count,
                                           const ConfusionMatrixOptions& options) {
  const size_t n = static_cast<size_t>(std::max(class_count, 0));
  const auto count_at = [&](size_t true_class, size_t predicted) {
    const size_t index = true_class * n + predicted;
    return index < counts.size() ? counts[index] : 0;
  };
  const auto name_of = [&](size_t c) {
    return c < options.class_names.size() ? options.class_names[c] : std::to_string(c);
  };

  // Names label the columns when the widest fits a cell (estimated before layout from the item's
  // width); otherwise columns get numbers and rows "3 Dress", so numbers can be looked up.
  const float font = ImGui::GetFontSize();
  float widest_name = 0;
  for (size_t c = 0; c < n; ++c) widest_name = std::max(widest_name, text_size(name_of(c)).x);
  const ImVec2 item = resolve_size(options.size, 1.0f);
  const float cell_estimate =
      std::min(item.x - widest_name - 2 * font, item.y - 4 * font) / std::max<float>(1, n);
  const bool names_on_columns = widest_name + 0.6f * font <= cell_estimate;
  std::vector<double> column_ticks, row_ticks;
  std::vector<std::string> column_labels, row_labels;
  for (size_t c = 0; c < n; ++c) {
    column_ticks.push_back(c + 0.5);
    row_ticks.push_back(static_cast<double>(n - c) - 0.5);
    column_labels.push_back(names_on_columns ? name_of(c) : std::to_string(c));
    const bool numbered = !names_on_columns && c < options.class_names.size();
    row_labels.push_back(numbered ? std::to_string(c) + " " + name_of(c) : name_of(c));
  }
  const AxisRange range{0, std::max<double>(1, n)};
  const AxisRequest x{"predicted", range, column_ticks, column_labels, false};
  const AxisRequest y{"true", range, row_ticks, row_labels, false};
  if (!options.title.empty()) {
    ImGui::TextUnformatted(ellipsize(options.title, ImGui::GetContentRegionAvail().x).c_str());
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("%.*s", static_cast<int>(options.title.size()), options.title.data());
  }
  color_bar(ColorScale::sequential, "0% of the row", "100%");
  Canvas canvas = begin_canvas(
      id, ImVec2(options.size.x, options.size.y <= 0 ? options.size.y : options.size.y - 2.6f * font), 1.0f,
      {}, x, y, 1.0f, false);
  ConfusionMatrixHover hover;
  if (!canvas.visible) return hover;
  PlotPainter* draw = canvas.draw;
  const float cell = canvas.plot_width() / std::max<float>(1, n);

  if (canvas.hovered && n > 0) {
    copy_mouse_state(canvas, &hover);
    hover.predicted_class =
        std::clamp(static_cast<int>((canvas.mouse.x - canvas.plot_min.x) / cell), 0, static_cast<int>(n) - 1);
    hover.true_class =
        std::clamp(static_cast<int>((canvas.mouse.y - canvas.plot_min.y) / cell), 0, static_cast<int>(n) - 1);
  }
  std::vector<long long> row_sums(n, 0);
  for (size_t t = 0; t < n; ++t) {
    for (size_t p = 0; p < n; ++p) row_sums[t] += count_at(t, p);
  }
  for (size_t t = 0; t < n; ++t) {
    for (size_t p = 0; p < n; ++p) {
      const int count = count_at(t, p);
      const double share =
          row_sums[t] > 0 ? static_cast<double>(count) / static_cast<double>(row_sums[t]) : 0;
      const ImU32 color = sequential_color(share);
      // A one-pixel seam between cells keeps neighbours of equal colour apart.
      const ImVec2 min(canvas.plot_min.x + cell * p + 0.5f, canvas.plot_min.y + cell * t + 0.5f);
      const ImVec2 max(canvas.plot_min.x + cell * (p + 1) - 0.5f, canvas.plot_min.y + cell * (t + 1) - 0.5f);
      draw->AddRectFilled(min, max, color);
      // The share in whole percent, in a smaller font where the full size does not fit (never below 70%).
      const std::string text = std::to_string(static_cast<int>(std::lround(100 * share)));
      const float fitting = font * (cell - 0.2f * font) / std::max(1.0f, text_size(text).x);
      const float size = std::min({font, fitting, cell * 0.9f});
      if (options.show_percents && size >= 0.7f * font) {
        const ImVec2 extent = ImGui::GetFont()->CalcTextSizeA(size, FLT_MAX, 0, text.c_str());
        draw->AddText(
            ImGui::GetFont(), size,
            ImVec2(std::floor((min.x + max.x - extent.x) / 2), std::floor((min.y + max.y - extent.y) / 2)),
            luminance(color) > 0.45f ? IM_COL32(0, 0, 0, 255) : IM_COL32(255, 255, 255, 255), text.c_str());
      }
    }
  }
  if (hover.true_class >= 0) {
    const ImVec2 min(canvas.plot_min.x + cell * hover.predicted_class,
                     canvas.plot_min.y + cell * hover.true_class);
    draw->AddRect(min, ImVec2(min.x + cell, min.y + cell), canvas.style.text, 0, 0, 2.0f);
  }
  if (n == 0) draw_no_data(canvas);
  end_canvas(canvas);

  if (hover.true_class >= 0) {
    const size_t t = static_cast<size_t>(hover.true_class), p = static_cast<size_t>(hover.predicted_class);
    const int count = count_at(t, p);
    ImGui::BeginTooltip();
    ImGui::Text("true %s, predicted %s: %d", name_of(t).c_str(), name_of(p).c_str(), count);
    if (row_sums[t] > 0) {
      ImGui::TextDisabled("%s%% of the %lld %s samples", format_readout(100.0 * count / row_sums[t]).c_str(),
                          row_sums[t], name_of(t).c_str());
    }
    ImGui::EndTooltip();
  }
  return hover;
}

}  // namespace qplay::ui
