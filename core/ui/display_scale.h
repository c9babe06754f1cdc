// Fonts and style sizes for a display's scale (HiDPI). The platform layer (native/desktop, web/app)
// calls apply_display_scale once after creating the ImGui context and again whenever the scale
// changes (a window moved to another monitor, browser zoom), between frames, then rebuilds its
// renderer's font texture. The playground itself never scales anything: it sizes its own widgets
// and plots in multiples of ImGui::GetFontSize() / GetFrameHeight(), which already include the scale.
#pragma once

namespace qplay::ui {

// Height in pixels of the playground's font on a display of scale 1 (96 dpi).
inline constexpr float kBaseFontPixels = 15.0f;

struct DisplayScale {
  // The operating system's (or browser's) UI scale: GLFW's window content scale, or the browser's
  // devicePixelRatio. 1 on a 96-dpi display, 2 on a typical HiDPI one.
  float content_scale = 1.0f;
  // Framebuffer pixels per ImGui display unit (io.DisplayFramebufferScale): 1 where windows are
  // measured in pixels (X11, Windows, our browser canvas), 2 on a macOS Retina display (points).
  float framebuffer_scale = 1.0f;

  bool operator==(const DisplayScale&) const = default;
};

// Rebuilds the font atlas with the font at font_path (a TrueType file; nullptr or unreadable: ImGui's
// built-in ProggyClean, scaled) rasterized at kBaseFontPixels * content_scale pixels (Latin, Greek and
// the math symbols listed in display_scale.cpp), and resets the
// style's sizes (padding, spacing, rounding, ...) to ImGui's defaults times the scale, keeping its
// colors. Returns false when it fell back to the built-in font. Call between frames; the renderer's
// font texture must be recreated afterwards (ImGui_ImplOpenGL3_DestroyFontsTexture + CreateFontsTexture).
bool apply_display_scale(const char* font_path, DisplayScale scale);

// The font atlas also holds a white disc with anti-aliased edges (apply_display_scale adds it), so a
// plot draws thousands of dots as one textured quad each instead of a fan of triangles: a browser
// drawing WebGL in software spent most of a frame on those. Writes the disc's texture coordinates
// (u0, v0, u1, v1) and returns true, or false when the current atlas was built without it (the dots
// are then drawn as shapes).
bool disc_texture_coordinates(float uv[4]);

}  // namespace qplay::ui
