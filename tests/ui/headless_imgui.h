// An ImGui context that can lay out and tessellate frames without a window or renderer: a display size,
// a built font atlas and key indices that are their own ImGuiKey values. For the playground's frame
// tests (tests/ui) and the interaction test (tests/ui_interaction), which link different ImGui builds.
#pragma once

#include <imgui.h>

namespace qplay::ui::testing {

inline ImGuiContext* create_headless_imgui(ImVec2 display) {
  ImGuiContext* context = ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;
  io.DisplaySize = display;
  io.DeltaTime = 1.0f / 60;
  // As the desktop's OpenGL 3 renderer: draw lists may pass 65,536 vertices (the web build uses 32-bit
  // indices).
  io.BackendFlags |= ImGuiBackendFlags_RendererHasVtxOffset;
  for (int key = 0; key < ImGuiKey_COUNT; ++key) io.KeyMap[key] = key;
  unsigned char* pixels = nullptr;
  int width = 0, height = 0;
  io.Fonts->GetTexDataAsRGBA32(&pixels, &width, &height);
  return context;
}

}  // namespace qplay::ui::testing
