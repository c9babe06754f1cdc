// The plot frame behind plot_canvas.h. Contents:
//   [SECTION] Style and colours
//   [SECTION] Drawing helpers
//   [SECTION] Canvas: the item, its layout and axes
//   [SECTION] Legend and tooltip rows
#include "core/ui/plot_canvas.h"

#include <algorithm>
#include <cmath>

namespace qplay::ui {

std::string ellipsize(std::string_view text, float max_width) {
  if (plot_internals::text_size(text).x <= max_width) return std::string(text);
  constexpr std::string_view kEllipsis = "\u2026";
  const float room = max_width - plot_internals::text_size(kEllipsis).x;
  size_t length = text.size();
  while (length > 0 && plot_internals::text_size(text.substr(0, length)).x > room) --length;
  while (length > 0 && (static_cast<unsigned char>(text[length]) & 0xC0) == 0x80) --length;
  return std::string(text.substr(0, length)) + std::string(kEllipsis);
}

}  // namespace qplay::ui

namespace qplay::ui::plot_internals {

// [SECTION] Style and colours

Style current_style() {
  Style style;
  style.font = ImGui::GetFontSize();
  style.line_width = std::max(1.5f, 0.12f * style.font);
  style.marker_radius = 0.22f * style.font;
  style.tick_length = 0.3f * style.font;
  style.text = ImGui::GetColorU32(ImGuiCol_Text);
  style.tick_text = ImGui::GetColorU32(ImGuiCol_Text, 0.78f);
  style.axis = ImGui::GetColorU32(ImGuiCol_Text, 0.4f);
  style.grid = ImGui::GetColorU32(ImGuiCol_Text, 0.09f);
  style.crosshair = ImGui::GetColorU32(ImGuiCol_Text, 0.45f);
  style.highlight = ImGui::GetColorU32(ImGuiCol_Text, 0.07f);
  style.reference = ImGui::GetColorU32(ImGuiCol_Text, 0.6f);
  // The plot area stands out from the window by a few percent towards the text colour.
  const ImVec4 window = ImGui::GetStyleColorVec4(ImGuiCol_WindowBg);
  const ImVec4 text = ImGui::GetStyleColorVec4(ImGuiCol_Text);
  const float t = 0.035f;
  style.background =
      ImGui::GetColorU32(ImVec4(window.x + (text.x - window.x) * t, window.y + (text.y - window.y) * t,
                                window.z + (text.z - window.z) * t, window.w));
  return style;
}

ImU32 with_alpha(ImU32 color, float alpha) {
  ImVec4 channels = ImGui::ColorConvertU32ToFloat4(color);
  channels.w *= alpha;
  return ImGui::ColorConvertFloat4ToU32(channels);
}

ImU32 emphasize(ImU32 color) {
  const ImVec4 text = ImGui::GetStyleColorVec4(ImGuiCol_Text);
  return mix_colors(color, ImGui::ColorConvertFloat4ToU32(ImVec4(text.x, text.y, text.z, 1)), 0.35f);
}

float luminance(ImU32 color) {
  const ImVec4 channels = ImGui::ColorConvertU32ToFloat4(color);
  return 0.2126f * channels.x + 0.7152f * channels.y + 0.0722f * channels.z;
}

// [SECTION] Drawing helpers

ImVec2 text_size(std::string_view text) {
  if (text.empty()) return ImVec2(0, ImGui::GetFontSize());
  return ImGui::CalcTextSize(text.data(), text.data() + text.size());
}

// Whole pixels keep the glyphs sharp.
void draw_text(PlotPainter* draw, ImVec2 anchor, ImVec2 align, ImU32 color, std::string_view text) {
  if (text.empty()) return;
  const ImVec2 size = text_size(text);
  const ImVec2 position(std::floor(anchor.x - size.x * align.x), std::floor(anchor.y - size.y * align.y));
  draw->AddText(position, color, text.data(), text.data() + text.size());
}

void draw_label(PlotPainter* draw, ImVec2 anchor, ImVec2 align, ImU32 color, ImU32 background,
                std::string_view text) {
  if (text.empty()) return;
  const ImVec2 size = text_size(text);
  const float pad = 0.2f * ImGui::GetFontSize();
  const ImVec2 min(std::floor(anchor.x - size.x * align.x), std::floor(anchor.y - size.y * align.y));
  draw->AddRectFilled(ImVec2(min.x - pad, min.y), ImVec2(min.x + size.x + pad, min.y + size.y), background);
  draw->AddText(min, color, text.data(), text.data() + text.size());
}

namespace {

// Dashes keep their rhythm across the points of a curve.
void draw_dashed_polyline(PlotPainter* draw, const std::vector<ImVec2>& points, ImU32 color, float thickness,
                          float dash, float gap) {
  float phase = 0;  // distance into the current dash + gap period
  for (size_t i = 1; i < points.size(); ++i) {
    const ImVec2 a = points[i - 1], b = points[i];
    const float length = std::hypot(b.x - a.x, b.y - a.y);
    float along = 0;
    while (along < length) {
      const bool on = phase < dash;
      const float piece = std::min(length - along, on ? dash - phase : dash + gap - phase);
      if (on) {
        const float t0 = along / length, t1 = (along + piece) / length;
        draw->AddLine(ImVec2(a.x + (b.x - a.x) * t0, a.y + (b.y - a.y) * t0),
                      ImVec2(a.x + (b.x - a.x) * t1, a.y + (b.y - a.y) * t1), color, thickness);
      }
      along += piece;
      phase = std::fmod(phase + piece, dash + gap);
    }
  }
}

}  // namespace

void draw_polyline(PlotPainter* draw, const std::vector<ImVec2>& points, ImU32 color, float thickness,
                   bool dashed, float font) {
  if (points.size() < 2) return;
  if (dashed) {
    draw_dashed_polyline(draw, points, color, thickness, 0.5f * font, 0.35f * font);
  } else {
    draw->AddPolyline(points.data(), static_cast<int>(points.size()), color, 0, thickness);
  }
}

float overlap_area(ImVec2 a_min, ImVec2 a_max, ImVec2 b_min, ImVec2 b_max) {
  const float width = std::min(a_max.x, b_max.x) - std::max(a_min.x, b_min.x);
  const float height = std::min(a_max.y, b_max.y) - std::max(a_min.y, b_min.y);
  return width > 0 && height > 0 ? width * height : 0;
}

bool inside(ImVec2 point, ImVec2 min, ImVec2 max) {
  return point.x >= min.x && point.x <= max.x && point.y >= min.y && point.y <= max.y;
}

void Extent::add(double value) {
  if (!std::isfinite(value)) return;
  low = std::min(low, value);
  high = std::max(high, value);
}

AxisRange resolve_range(const PlotAxis& axis, Extent data, double pad_fraction) {
  for (double tick : axis.ticks) data.add(tick);
  const bool auto_low = !axis.min || !std::isfinite(*axis.min);
  const bool auto_high = !axis.max || !std::isfinite(*axis.max);
  const double low = auto_low ? (data.empty() ? 0 : data.low) : *axis.min;
  const double high = auto_high ? (data.empty() ? 1 : data.high) : *axis.max;
  AxisRange range = widen_if_flat(low, high);
  const double pad = (range.high - range.low) * pad_fraction;
  if (auto_low) range.low -= pad;
  if (auto_high) range.high += pad;
  return range;
}

AxisRequest axis_request(const PlotAxis& axis, AxisRange range) {
  AxisRequest request{axis.label, range, axis.ticks, axis.tick_labels};
  request.whole_numbers = axis.whole_numbers;
  return request;
}

// [SECTION] Canvas: the item, its layout and axes

float Canvas::px(double value) const {
  const double t = (value - x.low) / (x.high - x.low);
  return plot_min.x + static_cast<float>(std::clamp(t, -10.0, 11.0)) * plot_width();
}

float Canvas::py(double value) const {
  const double t = (value - y.low) / (y.high - y.low);
  return plot_max.y - static_cast<float>(std::clamp(t, -10.0, 11.0)) * plot_height();
}

double Canvas::data_x(float pixel) const {
  return x.low + (pixel - plot_min.x) / plot_width() * (x.high - x.low);
}

double Canvas::data_y(float pixel) const {
  return y.low + (plot_max.y - pixel) / plot_height() * (y.high - y.low);
}

ImVec2 resolve_size(ImVec2 size, float default_height_per_width) {
  const float font = ImGui::GetFontSize();
  const ImVec2 available = ImGui::GetContentRegionAvail();
  const float width = std::max(size.x > 0 ? size.x : available.x + size.x, 4 * font);
  float height = size.y > 0 ? size.y : available.y + size.y;
  if (size.y == 0) height = std::clamp(width * default_height_per_width, 8 * font, 36 * font);
  return ImVec2(width, std::max(height, 4 * font));
}

namespace {

float widest_text(const std::vector<std::string>& texts) {
  float widest = 0;
  for (const std::string& text : texts) widest = std::max(widest, text_size(text).x);
  return widest;
}

// Nice ticks leave a gap of 1.6 characters between labels along the axis (y labels are one line high,
// x labels are measured); explicit ticks are kept as given.
AxisLayout layout_axis(const AxisRequest& request, float length, bool vertical, float font) {
  AxisLayout axis{request.range.low, request.range.high, {}, {}};
  if (!request.shown) return axis;
  if (!request.ticks.empty()) {
    for (size_t i = 0; i < request.ticks.size(); ++i) {
      const double tick = request.ticks[i];
      if (!std::isfinite(tick) || tick < axis.low || tick > axis.high) continue;
      axis.ticks.push_back(tick);
      axis.labels.push_back(i < request.tick_labels.size() ? request.tick_labels[i] : format_readout(tick));
    }
    return axis;
  }
  // Start from short labels and measure: wider ones lower the count, which settles in a step or two
  // (fewer ticks never need longer labels).
  const float gap = 1.6f * font;
  float label_extent = vertical ? font : 1.5f * font;
  for (int attempt = 0; attempt < 3; ++attempt) {
    // n ticks over the axis leave n - 1 spaces of label + gap.
    const int max_ticks = static_cast<int>(length / (label_extent + gap)) + 1;
    TickCount count = TickCount::at_most(max_ticks);
    count.whole_numbers = request.whole_numbers;
    const NiceTicks ticks = nice_ticks(axis.low, axis.high, count, TickPlacement::inside);
    axis.ticks = ticks.values;
    axis.labels = format_tick_labels(ticks);
    if (vertical) break;
    const float widest = widest_text(axis.labels);
    if (widest <= label_extent) break;
    label_extent = widest;
  }
  return axis;
}

// Explicit ticks may crowd (bit-widths 1..32 on a narrow plot): label every stride-th one.
size_t label_stride(const AxisLayout& axis, float length, float label_extent) {
  if (axis.ticks.size() < 2) return 1;
  const float spacing =
      length * static_cast<float>(std::fabs(axis.ticks[1] - axis.ticks[0]) / (axis.high - axis.low));
  return static_cast<size_t>(std::max(1.0f, std::ceil(label_extent / std::max(spacing, 1.0f))));
}

void draw_axes(const Canvas& canvas, const AxisRequest& x, const AxisRequest& y) {
  const Style& style = canvas.style;
  const float font = style.font;
  PlotPainter* draw = canvas.draw;
  const size_t x_stride =
      label_stride(canvas.x, canvas.plot_width(), widest_text(canvas.x.labels) + 0.8f * font);
  const size_t y_stride = label_stride(canvas.y, canvas.plot_height(), 1.1f * font);
  // Lines on pixel centres stay one pixel wide.
  for (size_t i = 0; i < canvas.x.ticks.size(); ++i) {
    const float tick_x = std::round(canvas.px(canvas.x.ticks[i])) + 0.5f;
    if (x.grid)
      draw->AddLine(ImVec2(tick_x, canvas.plot_min.y), ImVec2(tick_x, canvas.plot_max.y), style.grid);
    draw->AddLine(ImVec2(tick_x, canvas.plot_max.y), ImVec2(tick_x, canvas.plot_max.y + style.tick_length),
                  style.axis);
    if (i % x_stride != 0) continue;
    // Labels at the ends stay inside the item rather than spilling into a neighbour.
    const float half = text_size(canvas.x.labels[i]).x / 2;
    const float label_x = std::clamp(tick_x, canvas.frame_min.x + half, canvas.frame_max.x - half);
    draw_text(draw, ImVec2(label_x, canvas.plot_max.y + style.tick_length + 0.15f * font), ImVec2(0.5f, 0),
              style.tick_text, canvas.x.labels[i]);
  }
  for (size_t i = 0; i < canvas.y.ticks.size(); ++i) {
    const float tick_y = std::round(canvas.py(canvas.y.ticks[i])) + 0.5f;
    if (y.grid)
      draw->AddLine(ImVec2(canvas.plot_min.x, tick_y), ImVec2(canvas.plot_max.x, tick_y), style.grid);
    draw->AddLine(ImVec2(canvas.plot_min.x - style.tick_length, tick_y), ImVec2(canvas.plot_min.x, tick_y),
                  style.axis);
    if (i % y_stride != 0) continue;
    draw_text(draw, ImVec2(canvas.plot_min.x - style.tick_length - 0.3f * font, tick_y), ImVec2(1, 0.5f),
              style.tick_text, canvas.y.labels[i]);
  }
  const float center_x = (canvas.plot_min.x + canvas.plot_max.x) / 2;
  if (x.shown) {
    draw_text(draw, ImVec2(center_x, canvas.plot_max.y + style.tick_length + 1.3f * font), ImVec2(0.5f, 0),
              style.tick_text, x.label);
  }
  if (y.shown) {
    draw_text(draw, ImVec2(canvas.label_line_left, canvas.label_line_y), ImVec2(0, 0), style.tick_text,
              y.label);
  }
}

// What saving plots needs across frames: the platform's callbacks, the plot to save when next drawn, the
// SVG being recorded, and the painter every plot draws through.
struct PlotSavingState {
  PlotSaving callbacks;
  std::string pending_id;
  PlotFormat pending_format = PlotFormat::svg;
  std::string svg_file_name;
  std::function<void()> next_menu_items;
  PlotPainter painter;
};

PlotSavingState& plot_saving_state() {
  static PlotSavingState state;
  return state;
}

// The right-click menu of the plot just claimed (the last item).
void draw_plot_menu(const char* id, const std::function<void()>& menu_items) {
  PlotSavingState& saving = plot_saving_state();
  const bool can_save = saving.callbacks.save_svg || saving.callbacks.save_png;
  if (!can_save && !menu_items) return;
  if (!ImGui::BeginPopupContextItem()) return;  // the plot's own id: one menu per plot
  if (saving.callbacks.save_svg && ImGui::MenuItem("Save plot as SVG")) save_plot(id, PlotFormat::svg);
  if (saving.callbacks.save_png && ImGui::MenuItem("Save plot as PNG")) save_plot(id, PlotFormat::png);
  if (menu_items) {
    if (can_save) ImGui::Separator();
    menu_items();
  }
  ImGui::EndPopup();
}

}  // namespace

Canvas begin_canvas(const char* id, ImVec2 size, float default_height_per_width, std::string_view title,
                    const AxisRequest& x, const AxisRequest& y, float aspect, bool has_legend) {
  Canvas canvas;
  ImGui::InvisibleButton(id, resolve_size(size, default_height_per_width));
  canvas.visible = ImGui::IsItemVisible();
  canvas.frame_min = ImGui::GetItemRectMin();
  canvas.frame_max = ImGui::GetItemRectMax();
  PlotSavingState& saving = plot_saving_state();
  const std::function<void()> menu_items = std::move(saving.next_menu_items);
  saving.next_menu_items = nullptr;
  finish_plot_saving();  // the previous plot is complete, legend and all
  if (!canvas.visible) return canvas;
  saving.painter.set_draw_list(ImGui::GetWindowDrawList());
  canvas.draw = &saving.painter;
  // What the mouse adds is left out of a saved plot.
  bool saved_now = false;
  if (saving.pending_id == id) {
    saved_now = true;
    const std::string file_name =
        "qplay-" + saving.pending_id + (saving.pending_format == PlotFormat::svg ? ".svg" : ".png");
    if (saving.pending_format == PlotFormat::svg && saving.callbacks.save_svg) {
      saving.painter.start_svg(canvas.frame_min, canvas.frame_max, ImGui::GetColorU32(ImGuiCol_WindowBg),
                               title);
      saving.svg_file_name = file_name;
    } else if (saving.pending_format == PlotFormat::png && saving.callbacks.save_png) {
      saving.callbacks.save_png(file_name, canvas.frame_min, canvas.frame_max);
    }
    saving.pending_id.clear();
  }
  canvas.style = current_style();
  const Style& style = canvas.style;
  const float font = style.font;

  // Top to bottom: title; the label line (the y label at the top left as Observable Plot writes it, so
  // no rotated text, and room for a legend); the plot; tick labels; the x label.
  float top = canvas.frame_min.y + 0.2f * font;
  const float title_y = top;
  if (!title.empty()) top += 1.4f * font;
  canvas.label_line_y = top;
  if ((y.shown && !y.label.empty()) || has_legend) top += 1.4f * font;
  top += y.shown ? 0.5f * font : 0;
  float bottom = canvas.frame_max.y - 1;
  if (x.shown) bottom -= style.tick_length + 1.3f * font + (x.label.empty() ? 0 : 1.3f * font);
  canvas.plot_min.y = top;
  canvas.plot_max.y = std::max(bottom, top + 2 * font);

  canvas.y = layout_axis(y, canvas.plot_height(), true, font);
  const float left_margin = y.shown ? 0.6f * font + widest_text(canvas.y.labels) + style.tick_length : 1;
  canvas.plot_min.x = canvas.frame_min.x + left_margin;
  canvas.plot_max.x =
      std::max(canvas.frame_max.x - (x.shown ? 0.9f * font : 1), canvas.plot_min.x + 2 * font);
  if (aspect > 0) {
    const float width = canvas.plot_width(), height = canvas.plot_height();
    if (height > width * aspect) {
      canvas.plot_max.y = canvas.plot_min.y + width * aspect;
      canvas.y = layout_axis(y, canvas.plot_height(), true, font);
    } else {
      const float narrower = height / aspect;
      canvas.plot_min.x += (width - narrower) / 2;
      canvas.plot_max.x = canvas.plot_min.x + narrower;
    }
  }
  canvas.x = layout_axis(x, canvas.plot_width(), false, font);
  // The y label starts where the widest tick label does (the plot may have moved right to keep its aspect).
  canvas.label_line_left = canvas.plot_min.x - left_margin + 0.3f * font;
  canvas.label_line_free_left = canvas.label_line_left + (y.shown ? text_size(y.label).x : 0);

  // A title wider than the plot's frame is cut with "…" and read whole in a tooltip.
  const std::string shown_title = ellipsize(title, canvas.frame_max.x - canvas.frame_min.x);
  const float title_width = text_size(shown_title).x;
  const float title_x =
      std::clamp((canvas.plot_min.x + canvas.plot_max.x) / 2, canvas.frame_min.x + title_width / 2,
                 canvas.frame_max.x - title_width / 2);
  draw_text(canvas.draw, ImVec2(title_x, title_y), ImVec2(0.5f, 0), style.text, shown_title);
  if (shown_title.size() != title.size() && ImGui::IsItemHovered() &&
      inside(ImGui::GetIO().MousePos, ImVec2(canvas.frame_min.x, title_y),
             ImVec2(canvas.frame_max.x, title_y + font)))
    ImGui::SetTooltip("%.*s", static_cast<int>(title.size()), title.data());
  canvas.draw->AddRectFilled(canvas.plot_min, canvas.plot_max, style.background);
  draw_axes(canvas, x, y);

  canvas.mouse = ImGui::GetIO().MousePos;
  canvas.hovered =
      !saved_now && ImGui::IsItemHovered() && inside(canvas.mouse, canvas.plot_min, canvas.plot_max);
  canvas.clicked = canvas.hovered && ImGui::IsItemClicked();
  canvas.held = ImGui::IsItemActive();
  draw_plot_menu(id, menu_items);  // last: the menu's window becomes the last item
  canvas.draw->PushClipRect(canvas.plot_min, canvas.plot_max, true);
  return canvas;
}

void end_canvas(const Canvas& canvas) {
  canvas.draw->PopClipRect();
  canvas.draw->AddRect(canvas.plot_min, canvas.plot_max, canvas.style.axis);
}

void draw_no_data(const Canvas& canvas) {
  draw_text(canvas.draw,
            ImVec2((canvas.plot_min.x + canvas.plot_max.x) / 2, (canvas.plot_min.y + canvas.plot_max.y) / 2),
            ImVec2(0.5f, 0.5f), canvas.style.tick_text, "no data");
}

// [SECTION] Legend and tooltip rows

namespace {

void draw_swatch(PlotPainter* draw, ImVec2 min, ImVec2 max, ImU32 color, Swatch swatch, const Style& style) {
  const float middle_y = std::round((min.y + max.y) / 2), middle_x = (min.x + max.x) / 2;
  const float side = 0.7f * (max.y - min.y);
  const ImVec2 box_min(middle_x - side / 2, middle_y - side / 2),
      box_max(middle_x + side / 2, middle_y + side / 2);
  switch (swatch) {
    case Swatch::line:
    case Swatch::line_and_marker:
      draw->AddLine(ImVec2(min.x, middle_y), ImVec2(max.x, middle_y), color, style.line_width);
      if (swatch == Swatch::line_and_marker) {
        draw->AddCircleFilled(ImVec2(middle_x, middle_y), style.marker_radius, color);
      }
      break;
    case Swatch::dashed_line:
      draw_polyline(draw, {ImVec2(min.x, middle_y), ImVec2(max.x, middle_y)}, color, style.line_width, true,
                    0.8f * style.font);
      break;
    case Swatch::box:
      draw->AddRectFilled(box_min, box_max, color);
      break;
    case Swatch::outline:
      draw->AddRect(box_min, box_max, color, 0, 0, style.line_width);
      break;
    case Swatch::dot:
      draw->AddCircleFilled(ImVec2(middle_x, middle_y), side / 2, color);
      break;
    case Swatch::vertical_line:
      draw->AddLine(ImVec2(middle_x, min.y), ImVec2(middle_x, max.y), color, 1.5f);
      break;
  }
}

}  // namespace

void draw_legend(const Canvas& canvas, const std::vector<LegendRow>& rows, LegendPlacement placement,
                 const DataUnderLegend& data_under) {
  if (rows.empty() || placement == LegendPlacement::hidden) return;
  const Style& style = canvas.style;
  const float font = style.font, padding = 0.4f * font, swatch_width = 1.6f * font, row_height = 1.25f * font;
  const float swatch_gap = 0.4f * font, entry_gap = 1.0f * font;
  PlotPainter* draw = canvas.draw;

  // On the label line: entries side by side, right-aligned with the plot.
  float line_width = 0;
  for (const LegendRow& row : rows)
    line_width += swatch_width + swatch_gap + text_size(row.name).x + entry_gap;
  line_width -= entry_gap;
  const bool fits_above = canvas.plot_max.x - line_width >= canvas.label_line_free_left + 1.5f * font;

  const ImVec2 box(
      2 * padding + swatch_width + swatch_gap +
          [&] {
            float widest = 0;
            for (const LegendRow& row : rows) widest = std::max(widest, text_size(row.name).x);
            return widest;
          }(),
      2 * padding + row_height * static_cast<float>(rows.size()) - 0.25f * font);
  const float inset = 0.4f * font;
  const auto corner = [&](LegendPlacement where) {
    const bool right = where == LegendPlacement::top_right || where == LegendPlacement::bottom_right;
    const bool top = where == LegendPlacement::top_right || where == LegendPlacement::top_left;
    return ImVec2(right ? canvas.plot_max.x - inset - box.x : canvas.plot_min.x + inset,
                  top ? canvas.plot_min.y + inset : canvas.plot_max.y - inset - box.y);
  };
  if (placement == LegendPlacement::best) {
    float least = std::numeric_limits<float>::infinity();
    for (LegendPlacement where : {LegendPlacement::top_right, LegendPlacement::top_left,
                                  LegendPlacement::bottom_right, LegendPlacement::bottom_left}) {
      const ImVec2 min = corner(where);
      const float hidden = data_under(min, ImVec2(min.x + box.x, min.y + box.y));
      if (hidden < least) least = hidden, placement = where;
    }
    if (least > 0 && fits_above) placement = LegendPlacement::above;
  }
  if (placement == LegendPlacement::above && fits_above) {
    float left = canvas.plot_max.x - line_width;
    for (const LegendRow& row : rows) {
      const float top = canvas.label_line_y;
      draw_swatch(draw, ImVec2(left, top), ImVec2(left + swatch_width, top + font), row.color, row.swatch,
                  style);
      left += swatch_width + swatch_gap;
      draw_text(draw, ImVec2(left, top), ImVec2(0, 0), style.text, row.name);
      left += text_size(row.name).x + entry_gap;
    }
    return;
  }
  if (placement == LegendPlacement::above) placement = LegendPlacement::top_right;  // it did not fit
  const ImVec2 min = corner(placement), max(min.x + box.x, min.y + box.y);
  draw->AddRectFilled(min, max, with_alpha(style.background, 0.88f), 0.2f * font);
  draw->AddRect(min, max, style.grid, 0.2f * font);
  for (size_t i = 0; i < rows.size(); ++i) {
    const float top = min.y + padding + row_height * static_cast<float>(i);
    draw_swatch(draw, ImVec2(min.x + padding, top), ImVec2(min.x + padding + swatch_width, top + font),
                rows[i].color, rows[i].swatch, style);
    draw_text(draw, ImVec2(min.x + padding + swatch_width + swatch_gap, top), ImVec2(0, 0), style.text,
              rows[i].name);
  }
}

void tooltip_row(ImU32 color, const std::string& text) {
  const float font = ImGui::GetFontSize();
  const ImVec2 at = ImGui::GetCursorScreenPos();
  ImGui::GetWindowDrawList()->AddRectFilled(ImVec2(at.x, at.y + 0.2f * font),
                                            ImVec2(at.x + 0.6f * font, at.y + 0.8f * font), color);
  ImGui::Dummy(ImVec2(0.6f * font, font));
  ImGui::SameLine();
  ImGui::TextUnformatted(text.c_str());
}

ImU32 series_color(ImU32 color, size_t index) {
  return color != 0 ? color : categorical_color(static_cast<int>(index));
}

bool wants_legend(const std::vector<LegendRow>& rows, LegendPlacement placement) {
  return !rows.empty() && placement != LegendPlacement::hidden;
}

std::string named(std::string_view name, std::string_view fallback) {
  return std::string(name.empty() ? fallback : name);
}

}  // namespace qplay::ui::plot_internals

namespace qplay::ui {

using plot_internals::plot_saving_state;

void set_plot_saving(PlotSaving saving) { plot_saving_state().callbacks = std::move(saving); }

void save_plot(std::string_view id, PlotFormat format) {
  plot_saving_state().pending_id = std::string(id);
  plot_saving_state().pending_format = format;
}

void set_next_plot_menu_items(std::function<void()> items) {
  plot_saving_state().next_menu_items = std::move(items);
}

void finish_plot_saving() {
  plot_internals::PlotSavingState& saving = plot_saving_state();
  if (!saving.painter.recording_svg()) return;
  std::string svg = saving.painter.finish_svg();
  if (saving.callbacks.save_svg) saving.callbacks.save_svg(saving.svg_file_name, std::move(svg));
}

}  // namespace qplay::ui
