// ImGui 1.86's test-engine hooks (declared in imgui_internal.h under IMGUI_ENABLE_TEST_ENGINE), defined
// here instead of by Dear ImGui's separate test engine: ItemAdd gives every item's rectangle and id as
// it is laid out, ItemInfo its label and whether it is a checkbox or an openable header/tab.
#include "tests/ui_interaction/item_hooks.h"

#include <imgui_internal.h>

#include <algorithm>
#include <cstdio>
#include <unordered_map>

namespace qplay::ui::testing {
namespace {

std::vector<DrawnItem> drawn;
std::unordered_map<ImGuiID, size_t> index_of;  // id -> position in `drawn`
int assertion_count = 0;

}  // namespace

void imgui_assertion_failed(const char* expression, const char* file, int line) {
  if (assertion_count++ > 0) return;
  char message[512];
  std::snprintf(message, sizeof message, "IM_ASSERT(%s) failed at %s:%d", expression, file, line);
  throw ImGuiAssertion(message);
}

void enable_item_hooks() {
  GImGui->TestEngineHookItems = true;
  drawn.clear();
  index_of.clear();
}

std::vector<DrawnItem> take_drawn_items() {
  std::vector<DrawnItem> items;
  items.swap(drawn);
  index_of.clear();
  return items;
}

int failed_assertions() { return assertion_count; }
void reset_assertions() { assertion_count = 0; }

}  // namespace qplay::ui::testing

using qplay::ui::testing::drawn;
using qplay::ui::testing::index_of;

void ImGuiTestEngineHook_ItemAdd(ImGuiContext* context, const ImRect& bb, ImGuiID id) {
  ImGuiWindow* window = context->CurrentWindow;
  // ImGui's implicit "Debug##Default" window holds no playground item (only its own title bar).
  if (id == 0 || window == nullptr || window->SkipItems || window == context->CurrentWindowStack[0].Window)
    return;
  ImRect visible = bb;
  visible.ClipWithFull(window->ClipRect);
  if (visible.GetWidth() < 2 || visible.GetHeight() < 2) return;
  qplay::ui::testing::DrawnItem item;
  item.id = id;
  item.min = visible.Min;
  item.max = visible.Max;
  item.window = window->Name;
  auto [at, inserted] = index_of.emplace(id, drawn.size());
  if (inserted)
    drawn.push_back(std::move(item));
  else
    drawn[at->second] = std::move(item);
}

void ImGuiTestEngineHook_ItemInfo(ImGuiContext*, ImGuiID id, const char* label, ImGuiItemStatusFlags flags) {
  auto at = index_of.find(id);
  if (at == index_of.end()) return;
  qplay::ui::testing::DrawnItem& item = drawn[at->second];
  item.label = label ? label : "";
  item.checkable = (flags & ImGuiItemStatusFlags_Checkable) != 0;
  item.openable = (flags & ImGuiItemStatusFlags_Openable) != 0;
}

void ImGuiTestEngineHook_Log(ImGuiContext*, const char*, ...) {}

const char* ImGuiTestEngine_FindItemDebugLabel(ImGuiContext*, ImGuiID id) {
  auto at = index_of.find(id);
  return at == index_of.end() ? nullptr : drawn[at->second].label.c_str();
}
