// Every one-click recipe (lab/recipes.h) trained from five seeds exactly as the playground trains it: the
// method's run against the baseline's, paired by seed, must give the verdict the recipe tells the person.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/engine/lab/lab.h"
#include "core/engine/lab/lab_report.h"
#include "core/engine/lab/recipes.h"
#include "core/engine/report/statistics.h"

namespace qplay {
namespace {

struct RunReading {
  double reading = 0;  // what the recipe reads, of this run
  double clean = 0;    // the same run without the effect: float accuracy, or zero gap
};

// Trains the recipe's state from `seed` to the end, presses the learned-bits button if the recipe says so,
// and waits for every number to be of the final weights.
std::vector<RunReading> trained_readings(const MethodRecipe& recipe, int64_t seed) {
  ParsedLabState parsed = lab_state_from_hash(recipe.state);
  EXPECT_TRUE(parsed.warnings.empty()) << recipe.method << ": " << parsed.warnings.front();
  parsed.state.experiment.seed = seed;
  Result<std::unique_ptr<Lab>> created = Lab::create(parsed.state);
  EXPECT_TRUE(created.ok()) << created.message();
  if (!created.ok()) return {};
  Lab& lab = **created;
  lab.play();
  while (lab.playing()) lab.advance(50);
  if (recipe.use_learned_bits) {
    const std::string bits = learned_layer_bits(lab, 1);
    EXPECT_FALSE(bits.empty()) << recipe.method;
    EXPECT_TRUE(lab.set("layer_weight_bits", bits).ok());
  }
  std::vector<RunReading> readings;
  for (int attempt = 0; attempt < 1000 && readings.empty(); ++attempt) {
    lab.advance(50);
    const Json metrics = lab_metrics_json(lab);
    bool all_current = true;
    std::vector<RunReading> candidate;
    for (const Json& run : metrics.find("runs")->as_array()) {
      const Json& current = *run.find("current");
      const Json& in_float = *run.find("float");
      all_current &= current.find("current")->as_bool() && in_float.find("current")->as_bool();
      const Json& history = *run.find("history");
      const double test = history.find("test_accuracy")->as_array().back().as_number();
      const double train = history.find("train_accuracy")->as_array().back().as_number();
      if (recipe.reading == RecipeReading::generalization_gap) {
        candidate.push_back({test - train, 0.0});
      } else if (all_current) {
        candidate.push_back({current.find("accuracy")->as_number(), in_float.find("accuracy")->as_number()});
      }
    }
    if (all_current) readings = candidate;
  }
  EXPECT_EQ(readings.size(), 2u) << recipe.method << ": the numbers never became current";
  return readings;
}

TEST(MethodRecipes, EachShowsTheVerdictItTellsAcrossFiveSeeds) {
  for (const MethodRecipe& recipe : method_recipes()) {
    std::vector<double> method, baseline, baseline_clean;
    for (int64_t seed = 1; seed <= 5; ++seed) {
      const std::vector<RunReading> readings = trained_readings(recipe, seed);
      ASSERT_EQ(readings.size(), 2u);
      baseline.push_back(readings[0].reading);
      baseline_clean.push_back(readings[0].clean);
      method.push_back(readings[1].reading);
    }
    const PairedDifference difference = paired_difference(method, baseline);
    const PairedDifference effect = paired_difference(baseline, baseline_clean);
    EXPECT_EQ(claim_verdict(difference, effect), recipe.verdict)
        << recipe.method << ": " << 100 * difference.mean << " points [" << 100 * difference.low << ", "
        << 100 * difference.high << "], the baseline's own effect " << 100 * effect.mean << " points";
  }
}

TEST(MethodRecipes, TheShippedFileParses) {
  Result<std::vector<MethodRecipe>> parsed = parse_method_recipes(method_recipes_asset());
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->size(), method_recipes().size());
  EXPECT_EQ(parsed->size(), 5u);
}

TEST(MethodRecipes, ABrokenFileIsRefusedWithAMessageNamingTheRecipeAndField) {
  EXPECT_EQ(parse_method_recipes("{").status().message().rfind("recipes", 0), 0u);
  EXPECT_FALSE(parse_method_recipes(R"({"format": "qplay-recipes", "version": 2, "recipes": []})").ok());
  const std::string no_title = R"({"format": "qplay-recipes", "version": 1, "recipes": [{"method": "cpq",
      "state": "methods=baseline,cpq", "look": "x", "reading": "accuracy-at-slider", "use_learned_bits": false,
      "verdict": "better"}]})";
  EXPECT_EQ(parse_method_recipes(no_title).status().message(),
            "recipe 1: \"title\" must be a non-empty string");
  std::string bad_reading = no_title;
  bad_reading.replace(bad_reading.find("\"state\""), 0, "\"title\": \"t\", ");
  ASSERT_TRUE(parse_method_recipes(bad_reading).ok());
  bad_reading.replace(bad_reading.find("accuracy-at-slider"), 18, "vibes");
  EXPECT_EQ(parse_method_recipes(bad_reading).status().message(), "recipe 1: unknown reading 'vibes'");
}

TEST(MethodRecipes, CoverEveryMethodOnceWithAStateThePlaygroundAccepts) {
  std::vector<std::string_view> methods;
  for (const MethodRecipe& recipe : method_recipes()) {
    methods.push_back(recipe.method);
    const ParsedLabState parsed = lab_state_from_hash(recipe.state);
    EXPECT_TRUE(parsed.warnings.empty()) << recipe.state;
    ASSERT_EQ(parsed.state.methods.size(), 2u) << recipe.state;
    EXPECT_EQ(parsed.state.methods[0], "baseline");
    EXPECT_EQ(parsed.state.methods[1], recipe.method);
    EXPECT_FALSE(recipe.look.empty());
  }
  std::vector<std::string_view> expected(lab_method_names().begin() + 1, lab_method_names().end());
  std::sort(methods.begin(), methods.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(methods, expected);
}

}  // namespace
}  // namespace qplay
