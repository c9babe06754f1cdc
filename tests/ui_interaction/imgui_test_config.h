// Dear ImGui configuration of the interaction test (IMGUI_USER_CONFIG): every IM_ASSERT of ImGui and
// of the playground code compiled against it reports to the test instead of aborting the process, so
// a broken push/pop pair or an out-of-range item fails the test with ImGui's own condition.
#pragma once

namespace qplay::ui::testing {
void imgui_assertion_failed(const char* expression, const char* file, int line);
}  // namespace qplay::ui::testing

#define IM_ASSERT(_EXPR) \
  ((_EXPR) ? (void)0 : ::qplay::ui::testing::imgui_assertion_failed(#_EXPR, __FILE__, __LINE__))
