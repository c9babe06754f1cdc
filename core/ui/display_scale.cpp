#include "core/ui/display_scale.h"

#include <algorithm>
#include <cmath>
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

// The disc's square in the atlas, in pixels: about the size of a dot at scale 1 to 2, because the
// renderers sample the atlas bilinearly without mipmaps, and a much larger disc shrunk to a few pixels
// comes out jagged.
constexpr int kDiscPixels = 16;
const ImFontAtlas* disc_atlas = nullptr;  // the atlas the disc was added to, and its custom rectangle
int disc_rect = -1;

// Builds the atlas and paints the disc into its rectangle: white, alpha = how much of each pixel the
// circle covers (a one-pixel ramp at the edge).
void add_disc(ImFontAtlas& atlas) {
  disc_rect = atlas.AddCustomRectRegular(kDiscPixels, kDiscPixels);
  disc_atlas = &atlas;
  unsigned char* pixels = nullptr;
  int width = 0, height = 0;
  atlas.GetTexDataAsRGBA32(&pixels, &width, &height);
  const ImFontAtlasCustomRect* rect = atlas.GetCustomRectByIndex(disc_rect);
  const float centre = kDiscPixels / 2.0f, radius = centre - 1.0f;
  for (int y = 0; y < kDiscPixels; ++y) {
    for (int x = 0; x < kDiscPixels; ++x) {
      const float distance = std::hypot(x + 0.5f - centre, y + 0.5f - centre);
      const float coverage = std::clamp(radius + 0.5f - distance, 0.0f, 1.0f);
      unsigned char* pixel = pixels + 4 * ((rect->Y + y) * width + rect->X + x);
      pixel[0] = pixel[1] = pixel[2] = 255;
      pixel[3] = static_cast<unsigned char>(std::lround(255 * coverage));
    }
  }
}

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
  add_disc(*io.Fonts);

  // ScaleAllSizes multiplies in place (and rounds), so start from ImGui's unscaled defaults each time.
  ImGuiStyle& style = ImGui::GetStyle();
  ImGuiStyle scaled;
  std::copy(std::begin(style.Colors), std::end(style.Colors), std::begin(scaled.Colors));
  scaled.ScaleAllSizes(content_scale / framebuffer_scale);
  style = scaled;
  return loaded_font;
}

bool disc_texture_coordinates(float uv[4]) {
  const ImFontAtlas* atlas = ImGui::GetIO().Fonts;
  if (atlas != disc_atlas || disc_rect < 0 || disc_rect >= atlas->CustomRects.Size || !atlas->TexReady)
    return false;
  ImVec2 min, max;
  atlas->CalcCustomRectUV(&atlas->CustomRects[disc_rect], &min, &max);
  uv[0] = min.x, uv[1] = min.y, uv[2] = max.x, uv[3] = max.y;
  return true;
}

}  // namespace qplay::ui
