// display_scale.h: the font atlas for a display's scale, and the disc it carries for plot dots.
#include <gtest/gtest.h>

#include <imgui.h>

#include "core/ui/display_scale.h"

namespace qplay::ui {
namespace {

class Context {
 public:
  Context() : context_(ImGui::CreateContext()) {}
  ~Context() { ImGui::DestroyContext(context_); }

 private:
  ImGuiContext* context_;
};

TEST(DisplayScale, TheAtlasCarriesAnAntiAliasedDiscForPlotDots) {
  Context context;
  float uv[4];
  EXPECT_FALSE(disc_texture_coordinates(uv)) << "no atlas built yet";
  apply_display_scale(nullptr, {2.0f, 1.0f});  // ImGui's own font, scaled: the disc does not need a file
  ASSERT_TRUE(disc_texture_coordinates(uv));
  unsigned char* pixels = nullptr;
  int width = 0, height = 0;
  ImGui::GetIO().Fonts->GetTexDataAsRGBA32(&pixels, &width, &height);
  auto alpha_at = [&](float u, float v) {
    const int x = static_cast<int>(u * width), y = static_cast<int>(v * height);
    return pixels[4 * (y * width + x) + 3];
  };
  EXPECT_EQ(alpha_at((uv[0] + uv[2]) / 2, (uv[1] + uv[3]) / 2), 255) << "opaque at the centre";
  EXPECT_EQ(alpha_at(uv[0] + 0.5f / width, uv[1] + 0.5f / height), 0) << "clear in the corner";
  // On the circle's edge a pixel is partly covered: the edge is anti-aliased.
  int partial = 0;
  for (float t = 0; t < 1; t += 0.01f) {
    const unsigned char a = alpha_at(uv[0] + t * (uv[2] - uv[0]), (uv[1] + uv[3]) / 2);
    partial += a > 0 && a < 255;
  }
  EXPECT_GT(partial, 0);
}

}  // namespace
}  // namespace qplay::ui
