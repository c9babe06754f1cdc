// The commands both JavaScript front ends send a Lab (core/engine/lab/lab_commands.h): what each does,
// what it answers, and that a refused one says why and changes nothing.
#include "core/engine/lab/lab_commands.h"

#include <gtest/gtest.h>

#include "tests/engine/trained_fixtures.h"

namespace qplay {
namespace {

Json set_arguments(std::string_view key, std::string_view value) {
  return Json::object({{"key", Json(key)}, {"value", Json(value)}});
}

TEST(LabCommands, SetChangesOneSettingOrSaysWhyAndKeepsTheState) {
  std::unique_ptr<Lab> lab = small_moons_lab(2);
  ASSERT_TRUE(run_lab_command(*lab, "set", set_arguments("weight_bits", "3")).ok());
  EXPECT_EQ(lab->state().experiment.weight_bits, 3);
  const LabState before = lab->state();
  Result<Json> refused = run_lab_command(*lab, "set", set_arguments("learning_rate", "-1"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("learning_rate"), std::string::npos) << refused.message();
  EXPECT_EQ(lab->state(), before);
  Result<Json> malformed = run_lab_command(*lab, "set", Json::object({{"key", Json("weight_bits")}}));
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.message(), "set: missing 'value'");
}

TEST(LabCommands, StateAppliesTheGoodPartsOfAHashAndListsTheRest) {
  std::unique_ptr<Lab> lab = small_moons_lab(2);
  Result<Json> reply =
      run_lab_command(*lab, "state", Json::object({{"hash", Json("dataset=xor&weight_bits=99")}}));
  ASSERT_TRUE(reply.ok()) << reply.message();
  EXPECT_EQ(lab->state().experiment.dataset, DatasetChoice::xor_quadrants);
  ASSERT_EQ(reply.value().find("warnings")->size(), 1u);
  EXPECT_NE(reply.value().find("warnings")->as_array()[0].as_string().find("weight_bits"), std::string::npos);
}

TEST(LabCommands, StateJsonRoundTripsThroughImportJson) {
  std::unique_ptr<Lab> lab = small_moons_lab(2);
  ASSERT_TRUE(run_lab_command(*lab, "set", set_arguments("weight_bits", "5")).ok());
  Result<Json> saved = run_lab_command(*lab, "state_json", Json());
  ASSERT_TRUE(saved.ok());
  ASSERT_TRUE(run_lab_command(*lab, "set", set_arguments("weight_bits", "2")).ok());
  ASSERT_TRUE(
      run_lab_command(*lab, "import_json", Json::object({{"text", Json(to_json(saved.value()))}})).ok());
  EXPECT_EQ(lab->state().experiment.weight_bits, 5);
  EXPECT_FALSE(run_lab_command(*lab, "import_json", Json::object({{"text", Json("{")}})).ok());
  EXPECT_EQ(run_lab_command(*lab, "state_hash", Json()).value().as_string(), lab_state_to_hash(lab->state()));
}

TEST(LabCommands, RunControlsTrainAndMetricsReport) {
  std::unique_ptr<Lab> lab = small_moons_lab(2);
  ASSERT_TRUE(run_lab_command(*lab, "step", Json()).ok());
  EXPECT_EQ(lab->trainer(0).steps_taken(), 1);
  ASSERT_TRUE(run_lab_command(*lab, "play", Json()).ok());
  EXPECT_TRUE(lab->playing());
  Result<Json> advanced = run_lab_command(*lab, "advance", Json::object({{"budget_ms", Json(5.0)}}));
  ASSERT_TRUE(advanced.ok());
  EXPECT_TRUE(advanced.value().find("playing")->is_bool());
  ASSERT_TRUE(run_lab_command(*lab, "pause", Json()).ok());
  EXPECT_FALSE(lab->playing());
  Result<Json> metrics = run_lab_command(*lab, "metrics", Json());
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics.value().find("runs")->size(), 2u);
  ASSERT_TRUE(run_lab_command(*lab, "reset", Json()).ok());
  EXPECT_EQ(lab->trainer(0).steps_taken(), 0);
}

// allocate: the bits chosen under the budget become the lab's layer_weight_bits and fit the budget; a bad
// budget, method or run says why and changes nothing.
TEST(LabCommands, AllocateSetsPerLayerBitsThatFitTheBudget) {
  std::unique_ptr<Lab> lab = small_moons_lab(2);
  for (int i = 0; i < 20; ++i) lab->step();
  for (std::string_view method : {"measured", "hessian", "uniform"}) {
    SCOPED_TRACE(method);
    Result<Json> reply = run_lab_command(
        *lab, "allocate",
        Json::object({{"run", Json(1)}, {"method", Json(method)}, {"budget_bits", Json(3.5)}}));
    ASSERT_TRUE(reply.ok()) << reply.message();
    const Json& bits = *reply.value().find("weight_bits");
    ASSERT_EQ(bits.size(), lab->weighted_layers().size());
    for (size_t i = 0; i < bits.size(); ++i)
      EXPECT_EQ(bits.as_array()[i].as_number(), lab->state().layer_weight_bits[i]);
    EXPECT_LE(reply.value().find("average_weight_bits")->as_number(), 3.5);
    EXPECT_EQ(reply.value().find("method")->as_string(), method);
  }
  // As the browser app's bridge passes them: every field as text.
  ASSERT_TRUE(run_lab_command(
                  *lab, "allocate",
                  Json::object({{"run", Json("0")}, {"method", Json("uniform")}, {"budget_bits", Json("3")}}))
                  .ok());
  EXPECT_EQ(lab->state().layer_weight_bits, std::vector<int>(lab->weighted_layers().size(), 3));
  const LabState before = lab->state();
  for (const Json& bad :
       {Json::object({{"budget_bits", Json(1.0)}}), Json::object({{"budget_bits", Json("three")}}),
        Json::object({{"budget_bits", Json(3.0)}, {"budget_kb", Json(1.0)}}),
        Json::object({{"budget_bits", Json(3.0)}, {"method", Json("greedy")}}),
        Json::object({{"budget_bits", Json(3.0)}, {"run", Json(5)}})}) {
    Result<Json> refused = run_lab_command(*lab, "allocate", bad);
    ASSERT_FALSE(refused.ok()) << to_json(bad);
    EXPECT_EQ(refused.message().rfind("allocate: ", 0), 0u) << refused.message();
    EXPECT_EQ(lab->state(), before);
  }
}

TEST(LabCommands, AnUnknownCommandNamesTheKnownOnes) {
  std::unique_ptr<Lab> lab = small_moons_lab(2);
  Result<Json> reply = run_lab_command(*lab, "jump", Json());
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.message().find("unknown command 'jump'"), std::string::npos) << reply.message();
  EXPECT_NE(reply.message().find("metrics"), std::string::npos);
}

TEST(LabCommands, RunWeightsAreTheNetworksOrAnErrorNamingTheRuns) {
  std::unique_ptr<Lab> lab = small_moons_lab(2);
  Result<std::span<const float>> weights = lab_run_weights(*lab, 1);
  ASSERT_TRUE(weights.ok());
  EXPECT_EQ(weights.value().data(), lab->network(1).parameters().data());
  Result<std::span<const float>> missing = lab_run_weights(*lab, 2);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.message(), "no run 2 (the lab has 2)");
}

}  // namespace
}  // namespace qplay
