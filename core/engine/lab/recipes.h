// One-click recipes: for each method, a lab state (a URL hash) in which its paper's claim can be seen on a
// toy set within seconds, and what to look at. They come from the studies behind docs/results.md and the
// probes that followed them, and each states the verdict a person will find across seeds, including "no
// difference shown" where the claim does not hold at our scale. They live in
// assets/recipes/method_recipes.json (compiled in); tests/engine/lab_recipes_test.cpp trains every recipe
// from five seeds exactly as the playground does and checks that verdict.
//
// Not for: lessons (web/examples), which tell a longer story around a setting.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/base/status.h"

namespace qplay {

// What the claim is read on, run by run: the method's run (the second) against the baseline's (the first).
enum class RecipeReading {
  accuracy_at_slider,  // test accuracy at the state's quantization setting
  generalization_gap,  // test minus train accuracy of the last epoch
};
constexpr std::array<std::string_view, 2> choice_names(RecipeReading) {
  return {"accuracy-at-slider", "generalization-gap"};
}

struct MethodRecipe {
  std::string method;  // the method whose effect it shows
  std::string title;   // the button's words
  std::string state;   // the lab state as a URL hash
  std::string look;    // what to do and what to look for, shown when the recipe is applied
  RecipeReading reading = RecipeReading::accuracy_at_slider;
  // Before reading: evaluate every run at the bit-widths this run learned (the learned-bits button).
  bool use_learned_bits = false;
  std::string verdict;  // across seeds 1..5, by the one rule of report/statistics.h
};

// {"format": "qplay-recipes", "version": 1, "recipes": [{method, title, state, look, reading,
// use_learned_bits, verdict}]}; strict, errors name the recipe and the field.
Result<std::vector<MethodRecipe>> parse_method_recipes(std::string_view json_text);

// The shipped recipes (assets/recipes/method_recipes.json); empty if that file were broken, which
// MethodRecipes.TheShippedFileParses catches before it ships.
const std::vector<MethodRecipe>& method_recipes();
// The shipped file's text, compiled in by CMake.
std::string_view method_recipes_asset();

}  // namespace qplay
