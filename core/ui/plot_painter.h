// Where the plots of plot.h draw: the window's ImDrawList and, while a plot is being saved as SVG, an
// SVG document of the very same shapes. It offers the subset of ImDrawList's calls the plots make, with
// ImDrawList's names and arguments, so the plot code reads as ImGui code and draws the file through the
// same lines that draw the screen. Internal to core/ui (plot_canvas.h hands one to each plot).
// Not for: text outside the plots, or images other than the scatter dots (AddDisc).
#pragma once

#include <string>
#include <string_view>

#include <imgui.h>

namespace qplay::ui::plot_internals {

class PlotPainter {
 public:
  void set_draw_list(ImDrawList* list) { list_ = list; }

  // Starts an SVG of the rectangle (min, max) in display pixels, filled with `background` (the window's
  // colour shows through the plots); every shape until finish_svg goes into it too.
  void start_svg(ImVec2 min, ImVec2 max, ImU32 background, std::string_view title);
  bool recording_svg() const { return recording_; }
  // The document, and recording stops.
  std::string finish_svg();

  void AddLine(ImVec2 a, ImVec2 b, ImU32 color, float thickness = 1.0f);
  void AddRect(ImVec2 min, ImVec2 max, ImU32 color, float rounding = 0, ImDrawFlags flags = 0,
               float thickness = 1.0f);
  void AddRectFilled(ImVec2 min, ImVec2 max, ImU32 color, float rounding = 0, ImDrawFlags flags = 0);
  void AddCircle(ImVec2 center, float radius, ImU32 color, int segments = 0, float thickness = 1.0f);
  void AddCircleFilled(ImVec2 center, float radius, ImU32 color, int segments = 0);
  void AddPolyline(const ImVec2* points, int count, ImU32 color, ImDrawFlags flags, float thickness);
  void AddText(ImVec2 top_left, ImU32 color, const char* begin, const char* end = nullptr);
  void AddText(const ImFont* font, float size, ImVec2 top_left, ImU32 color, const char* begin,
               const char* end = nullptr);
  // A round dot for scatter points, thousands a frame: a textured quad of the font atlas's disc
  // (display_scale.h), or a hexagon without anti-aliased fringes where the atlas has none.
  void AddDisc(ImVec2 center, float radius, ImU32 color);
  void PushClipRect(ImVec2 min, ImVec2 max, bool intersect_with_current);
  void PopClipRect();

 private:
  void add_text_svg(float size, ImVec2 top_left, ImU32 color, std::string_view text);

  ImDrawList* list_ = nullptr;
  bool recording_ = false;
  std::string svg_;
  int clip_paths_ = 0;  // clip paths defined so far (their ids)
  int open_clip_groups_ = 0;
};

}  // namespace qplay::ui::plot_internals
