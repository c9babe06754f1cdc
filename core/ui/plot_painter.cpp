#include "core/ui/plot_painter.h"

#include <cmath>

#include "core/engine/base/number_format.h"
#include "core/engine/report/svg_plot.h"
#include "core/ui/display_scale.h"

namespace qplay::ui::plot_internals {
namespace {

std::string number(float value) {
  std::string text = format_double("%.2f", std::isfinite(value) ? value : 0.0f);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text == "-0" ? "0" : text;
}

// fill="#rrggbb" fill-opacity="a" (or stroke), the opacity left out when opaque.
std::string paint(const char* attribute, ImU32 color) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "#%02x%02x%02x", (color >> IM_COL32_R_SHIFT) & 0xFF,
                (color >> IM_COL32_G_SHIFT) & 0xFF, (color >> IM_COL32_B_SHIFT) & 0xFF);
  std::string out = std::string(" ") + attribute + "=\"" + hex + "\"";
  const unsigned alpha = (color >> IM_COL32_A_SHIFT) & 0xFF;
  if (alpha != 255) out += std::string(" ") + attribute + "-opacity=\"" + number(alpha / 255.0f) + "\"";
  return out;
}

std::string stroke(ImU32 color, float thickness) {
  return " fill=\"none\"" + paint("stroke", color) + " stroke-width=\"" + number(thickness) + "\"";
}

std::string rect_attributes(ImVec2 min, ImVec2 max, float rounding) {
  std::string out = "<rect x=\"" + number(min.x) + "\" y=\"" + number(min.y) + "\" width=\"" +
                    number(max.x - min.x) + "\" height=\"" + number(max.y - min.y) + "\"";
  if (rounding > 0) out += " rx=\"" + number(rounding) + "\"";
  return out;
}

}  // namespace

void PlotPainter::start_svg(ImVec2 min, ImVec2 max, ImU32 background, std::string_view title) {
  recording_ = true;
  clip_paths_ = open_clip_groups_ = 0;
  const std::string width = number(max.x - min.x), height = number(max.y - min.y);
  // The viewBox starts at the plot's place on screen, so shapes keep their display coordinates.
  svg_ =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
      "width=\"" +
      width + "\" height=\"" + height + "\" viewBox=\"" + number(min.x) + " " + number(min.y) + " " + width +
      " " + height + "\" font-family=\"DejaVu Sans, sans-serif\">\n";
  if (!title.empty()) svg_ += "<title>" + escape_xml(title) + "</title>\n";
  svg_ += rect_attributes(min, max, 0) + paint("fill", background) + "/>\n";
}

std::string PlotPainter::finish_svg() {
  for (; open_clip_groups_ > 0; --open_clip_groups_) svg_ += "</g>\n";
  svg_ += "</svg>\n";
  recording_ = false;
  return std::move(svg_);
}

void PlotPainter::AddLine(ImVec2 a, ImVec2 b, ImU32 color, float thickness) {
  list_->AddLine(a, b, color, thickness);
  if (recording_)
    svg_ += "<line x1=\"" + number(a.x) + "\" y1=\"" + number(a.y) + "\" x2=\"" + number(b.x) + "\" y2=\"" +
            number(b.y) + "\"" + stroke(color, thickness) + "/>\n";
}

void PlotPainter::AddRect(ImVec2 min, ImVec2 max, ImU32 color, float rounding, ImDrawFlags flags,
                          float thickness) {
  list_->AddRect(min, max, color, rounding, flags, thickness);
  // ImGui strokes half a pixel inside the rectangle's edge.
  if (recording_)
    svg_ +=
        rect_attributes(ImVec2(min.x + 0.5f, min.y + 0.5f), ImVec2(max.x - 0.5f, max.y - 0.5f), rounding) +
        stroke(color, thickness) + "/>\n";
}

void PlotPainter::AddRectFilled(ImVec2 min, ImVec2 max, ImU32 color, float rounding, ImDrawFlags flags) {
  list_->AddRectFilled(min, max, color, rounding, flags);
  // Crisp edges: neighbouring cells of a heat map show no seams between them.
  if (recording_)
    svg_ +=
        rect_attributes(min, max, rounding) + paint("fill", color) + " shape-rendering=\"crispEdges\"/>\n";
}

void PlotPainter::AddCircle(ImVec2 center, float radius, ImU32 color, int segments, float thickness) {
  list_->AddCircle(center, radius, color, segments, thickness);
  if (recording_)
    svg_ += "<circle cx=\"" + number(center.x) + "\" cy=\"" + number(center.y) + "\" r=\"" + number(radius) +
            "\"" + stroke(color, thickness) + "/>\n";
}

void PlotPainter::AddCircleFilled(ImVec2 center, float radius, ImU32 color, int segments) {
  list_->AddCircleFilled(center, radius, color, segments);
  if (recording_)
    svg_ += "<circle cx=\"" + number(center.x) + "\" cy=\"" + number(center.y) + "\" r=\"" + number(radius) +
            "\"" + paint("fill", color) + "/>\n";
}

void PlotPainter::AddDisc(ImVec2 center, float radius, ImU32 color) {
  float uv[4];
  if (disc_texture_coordinates(uv)) {
    list_->AddImage(ImGui::GetIO().Fonts->TexID, ImVec2(center.x - radius, center.y - radius),
                    ImVec2(center.x + radius, center.y + radius), ImVec2(uv[0], uv[1]), ImVec2(uv[2], uv[3]),
                    color);
  } else {
    const ImDrawListFlags flags = list_->Flags;
    list_->Flags &= ~ImDrawListFlags_AntiAliasedFill;
    list_->AddCircleFilled(center, radius, color, 6);
    list_->Flags = flags;
  }
  if (recording_)
    svg_ += "<circle cx=\"" + number(center.x) + "\" cy=\"" + number(center.y) + "\" r=\"" + number(radius) +
            "\"" + paint("fill", color) + "/>\n";
}

void PlotPainter::AddPolyline(const ImVec2* points, int count, ImU32 color, ImDrawFlags flags,
                              float thickness) {
  list_->AddPolyline(points, count, color, flags, thickness);
  if (!recording_ || count < 2) return;
  svg_ += "<polyline points=\"";
  for (int i = 0; i < count; ++i) svg_ += (i ? " " : "") + number(points[i].x) + "," + number(points[i].y);
  svg_ += "\"" + stroke(color, thickness) + " stroke-linejoin=\"round\"/>\n";
}

void PlotPainter::AddText(ImVec2 top_left, ImU32 color, const char* begin, const char* end) {
  list_->AddText(top_left, color, begin, end);
  if (recording_)
    add_text_svg(ImGui::GetFontSize(), top_left, color, end ? std::string_view(begin, end - begin) : begin);
}

void PlotPainter::AddText(const ImFont* font, float size, ImVec2 top_left, ImU32 color, const char* begin,
                          const char* end) {
  list_->AddText(font, size, top_left, color, begin, end);
  if (recording_) add_text_svg(size, top_left, color, end ? std::string_view(begin, end - begin) : begin);
}

void PlotPainter::add_text_svg(float size, ImVec2 top_left, ImU32 color, std::string_view text) {
  // ImGui places text by its top; SVG by its baseline, the font's ascent below.
  const ImFont* font = ImGui::GetFont();
  const float ascent = font->FontSize > 0 ? font->Ascent * size / font->FontSize : 0.8f * size;
  svg_ += "<text x=\"" + number(top_left.x) + "\" y=\"" + number(top_left.y + ascent) + "\" font-size=\"" +
          number(size) + "\"" + paint("fill", color) + ">" + escape_xml(text) + "</text>\n";
}

void PlotPainter::PushClipRect(ImVec2 min, ImVec2 max, bool intersect_with_current) {
  list_->PushClipRect(min, max, intersect_with_current);
  if (!recording_) return;
  const std::string id = "clip" + std::to_string(clip_paths_++);
  svg_ += "<clipPath id=\"" + id + "\">" + rect_attributes(min, max, 0) +
          "/></clipPath>\n<g clip-path=\"url(#" + id + ")\">\n";
  ++open_clip_groups_;
}

void PlotPainter::PopClipRect() {
  list_->PopClipRect();
  if (recording_ && open_clip_groups_ > 0) {
    svg_ += "</g>\n";
    --open_clip_groups_;
  }
}

}  // namespace qplay::ui::plot_internals
