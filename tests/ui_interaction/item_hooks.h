// What the interaction test sees of a frame: every interactive item ImGui registered (through the
// item hooks ImGui 1.86 calls when built with IMGUI_ENABLE_TEST_ENGINE), with its clipped rectangle,
// label and kind, and every IM_ASSERT that failed (imgui_test_config.h routes them here).
//
// Not for: the playground's own named controls (Playground::control_rect), which the app tests use.
#pragma once

#include <imgui.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace qplay::ui::testing {

struct DrawnItem {
  ImGuiID id = 0;
  ImVec2 min, max;     // the visible part, in display pixels
  std::string label;   // as given to the widget ("##" suffixes included); empty for unlabelled items
  std::string window;  // the window (or child) it was drawn in
  bool checkable = false, openable = false;
  ImVec2 centre() const { return ImVec2((min.x + max.x) / 2, (min.y + max.y) / 2); }
  float width() const { return max.x - min.x; }
};

// The first failed IM_ASSERT of a test, thrown out of the frame that hit it.
class ImGuiAssertion : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Starts recording into the current ImGui context: call once after ImGui::CreateContext.
void enable_item_hooks();
// Items registered since the last call (one frame's worth when called after each frame), visible ones
// only, in drawing order; an item drawn twice keeps its last rectangle.
std::vector<DrawnItem> take_drawn_items();
// After the first assertion has been thrown, later ones (while ImGui unwinds or the context is
// destroyed) are only counted: a second throw would terminate the test binary.
int failed_assertions();
void reset_assertions();

}  // namespace qplay::ui::testing
