#include "core/ui/display_scale.h"

#include <algorithm>
#include <cstdio>
#include <iterator>

#include "imgui.h"

namespace qplay::ui {

namespace {

// The characters the playground may write besides ASCII: Latin-1 and Latin Extended-A (names),
// Greek (λ, σ, ε), punctuation (– — … • ‖), super/subscripts (⁻¹ ₂), letterlike symbols (ℓ in
// "gradient-ℓ1"), arrows, math operators (≈ ≤ ≥ ∞ ∇ √) and geometric shapes (▶ ■ ●). DejaVu Sans has
// them all; glyphs outside these ranges are drawn as '?'. Add a range here to use more.
constexpr ImWchar kGlyphRanges[] = {
    0x0020, 0x017F,  // Basic Latin, Latin-1 Supplement, Latin Extended-A
    0x0370, 0x03FF,  // Greek and Coptic
    0x2000, 0x209F,  // General Punctuation, Superscripts and Subscripts
    0x2100, 0x21FF,  // Letterlike Symbols, Number Forms, Arrows
    0x2200, 0x22FF,  // Mathematical Operators
    0x25A0, 0x25FF,  // Geometric Shapes
    0,
};

bool file_is_readable(const char* path) {
  if (path == nullptr || path[0] == '\0') return false;
  std::FILE* file = std::fopen(path, "rb");
  if (file == nullptr) return false;
  std::fclose(file);
  return true;
}

}  // namespace

bool apply_display_scale(const char* font_path, DisplayScale scale) {
  const float content_scale = std::max(scale.content_scale, 0.25f);
  const float framebuffer_scale = std::max(scale.framebuffer_scale, 0.25f);
  ImGuiIO& io = ImGui::GetIO();

  // Glyphs are rasterized for the physical pixels, then drawn at 1/framebuffer_scale in display
  // units, so text stays sharp on Retina displays too.
  io.Fonts->Clear();
  bool loaded_font = false;
  if (file_is_readable(font_path)) {
    loaded_font = io.Fonts->AddFontFromFileTTF(font_path, kBaseFontPixels * content_scale, nullptr,
                                               kGlyphRanges) != nullptr;
  }
  if (!loaded_font) {
    ImFontConfig config;
    config.SizePixels = 13.0f * content_scale;  // ProggyClean is drawn for 13 px
    io.Fonts->AddFontDefault(&config);
  }
  io.FontGlobalScale = 1.0f / framebuffer_scale;

  // ScaleAllSizes multiplies in place (and rounds), so start from ImGui's unscaled defaults each time.
  ImGuiStyle& style = ImGui::GetStyle();
  ImGuiStyle scaled;
  std::copy(std::begin(style.Colors), std::end(style.Colors), std::begin(scaled.Colors));
  scaled.ScaleAllSizes(content_scale / framebuffer_scale);
  style = scaled;
  return loaded_font;
}

}  // namespace qplay::ui
