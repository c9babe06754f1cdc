// LabState: the one shareable description of a lab. Hashes are forgiving (bad parts become warnings and
// keep defaults), JSON is strict, and both round-trip every setting.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/engine/experiment/state_table.h"
#include "core/engine/kernels/kernel_table.h"
#include "core/engine/lab/lab_state.h"

namespace qplay {
namespace {

TEST(LabStateHash, DefaultStateIsJustTheSeed) {
  EXPECT_EQ(lab_state_to_hash(default_lab_state()), "seed=1");
  ParsedLabState parsed = lab_state_from_hash("");
  EXPECT_TRUE(parsed.warnings.empty());
  EXPECT_EQ(parsed.state, default_lab_state());
}

TEST(LabStateHash, ThePlatformsDefaultThreadsStayOutOfTheHash) {
  // The threaded WebAssembly page sets its own default; a link made there carries no thread count.
  set_default_lab_threads(2);
  LabState state = default_lab_state();
  EXPECT_EQ(state.experiment.threads, std::min(2, max_kernel_threads()));
  EXPECT_EQ(lab_state_to_hash(state).find("threads"), std::string::npos) << lab_state_to_hash(state);
  EXPECT_EQ(lab_state_from_hash("").state.experiment.threads, state.experiment.threads);
  set_default_lab_threads(1000);  // no more than this build's kernels run on
  EXPECT_EQ(default_lab_state().experiment.threads, max_kernel_threads());
  set_default_lab_threads(0);
  EXPECT_EQ(default_lab_state().experiment.threads, 1);
  state.experiment.threads = 2;  // a lab that sets its own still says so (where it differs)
  EXPECT_NE(lab_state_to_hash(state).find("threads=2"), std::string::npos) << lab_state_to_hash(state);
}

TEST(LabStateHash, ReadsSettingsMethodsAndHideFlags) {
  ParsedLabState parsed = lab_state_from_hash(
      "#dataset=moons&methods=baseline,cpq&weight_bits=3&architecture=mlp:16,16&setup_hide=1");
  ASSERT_TRUE(parsed.warnings.empty()) << parsed.warnings.front();
  EXPECT_EQ(parsed.state.experiment.dataset, DatasetChoice::moons);
  EXPECT_EQ(parsed.state.experiment.weight_bits, 3);
  EXPECT_EQ(parsed.state.experiment.architecture, "mlp:16,16");
  EXPECT_EQ(parsed.state.methods, (std::vector<std::string>{"baseline", "cpq"}));
  EXPECT_TRUE(parsed.state.hidden.count("setup"));
}

TEST(LabStateHash, RoundTripsEveryNonDefaultValue) {
  LabState state = default_lab_state();
  state.methods = {"raq", "baseline"};
  ASSERT_TRUE(set_setting(state.experiment, "noise", "0.25"));
  ASSERT_TRUE(set_setting(state.experiment, "learning_rate", "1e-3"));
  ASSERT_TRUE(set_setting(state.experiment, "data_dir", "/tmp/my data&more"));
  ASSERT_TRUE(set_setting(state.experiment, "granularity", "per-tensor"));
  state.layer_weight_bits = {8, -1, 2};
  state.layer_activation_bits = {-1, 0, 3};
  state.hidden = {"weight_bits", "curves", "layer_activation_bits"};
  const std::string hash = lab_state_to_hash(state);
  EXPECT_EQ(hash.find(' '), std::string::npos) << hash;
  ParsedLabState parsed = lab_state_from_hash(hash);
  ASSERT_TRUE(parsed.warnings.empty()) << parsed.warnings.front();
  EXPECT_EQ(parsed.state, state) << hash;
}

TEST(LabStateHash, BadPartsBecomeWarningsAndKeepTheirDefaults) {
  ParsedLabState parsed = lab_state_from_hash(
      "weight_bits=99&dataset=mnist&bogus=1&methods=baseline,nope&lonely&noise=0.3&nothing_hide=1&method="
      "cpq");
  EXPECT_EQ(parsed.warnings.size(), 7u);
  LabState expected = default_lab_state();
  expected.experiment.noise = 0.3;  // the one good part is applied
  EXPECT_EQ(parsed.state, expected);
  bool mentions_allowed_range = false;
  for (const std::string& w : parsed.warnings)
    mentions_allowed_range |= w.find("weight_bits") != std::string::npos;
  EXPECT_TRUE(mentions_allowed_range);
}

TEST(LabStateHash, MalformedPercentEscapesAreKeptAsTyped) {
  ParsedLabState parsed = lab_state_from_hash("architecture=mlp%3A8&dataset=%zz");
  EXPECT_EQ(parsed.state.experiment.architecture, "mlp:8");
  ASSERT_EQ(parsed.warnings.size(), 1u);
  EXPECT_NE(parsed.warnings[0].find("%zz"), std::string::npos);
}

// Found by fuzz_url_hash: "data_dir=\x80" (or %80) set a data_dir that the state's JSON file wrote as
// U+FFFD, so a shared link and the file saved from it described different labs.
TEST(LabStateHash, TextThatIsNotUtf8IsAWarning) {
  for (std::string_view hash : {"data_dir=\x80&noise=0.3", "data_dir=%C3%28&noise=0.3", "%FF=1&noise=0.3"}) {
    ParsedLabState parsed = lab_state_from_hash(hash);
    ASSERT_EQ(parsed.warnings.size(), 1u) << hash;
    EXPECT_NE(parsed.warnings[0].find("not UTF-8"), std::string::npos) << parsed.warnings[0];
    LabState expected = default_lab_state();
    expected.experiment.noise = 0.3;
    EXPECT_EQ(parsed.state, expected) << hash;
  }
  ParsedLabState accented = lab_state_from_hash("data_dir=/d%C3%A9j%C3%A0");
  EXPECT_TRUE(accented.warnings.empty());
  EXPECT_EQ(accented.state.experiment.data_dir, "/d\xC3\xA9j\xC3\xA0");
}

TEST(LabStateValues, MethodListsAreCheckedAndSingleMethodIsRedirected) {
  LabState state = default_lab_state();
  EXPECT_FALSE(set_lab_state_value(state, "methods", "baseline,baseline"));
  EXPECT_FALSE(set_lab_state_value(state, "methods", ""));
  EXPECT_FALSE(set_lab_state_value(state, "methods", "baseline,gradl1,qreg,symreg,cpq,raq,baseline"));
  Status single = set_lab_state_value(state, "method", "cpq");
  ASSERT_FALSE(single);
  EXPECT_NE(single.message().find("methods="), std::string::npos);
  EXPECT_EQ(state, default_lab_state());
}

TEST(LabStateValues, LayerWeightBitsParse) {
  Result<std::vector<int>> bits = parse_layer_bits("layer_weight_bits", "8,-,4");
  ASSERT_TRUE(bits.ok());
  EXPECT_EQ(bits.value(), (std::vector<int>{8, -1, 4}));
  EXPECT_EQ(format_layer_bits(bits.value()), "8,-,4");
  // "float" is 0, as the sliders and the command line's bit lists say it (written back as 0).
  EXPECT_EQ(parse_layer_bits("layer_weight_bits", "float,-,2").value(), (std::vector<int>{0, -1, 2}));
  EXPECT_FALSE(parse_layer_bits("layer_weight_bits", "9").ok());
  EXPECT_FALSE(parse_layer_bits("layer_weight_bits", "4,,4").ok());
  EXPECT_FALSE(parse_layer_bits("layer_weight_bits", "4x").ok());
}

TEST(LabStateValues, LayerActivationBitsParseWithoutOneBitAndSetTheirOwnList) {
  EXPECT_EQ(parse_layer_bits("layer_weight_bits", "1,-").value(), (std::vector<int>{1, -1}));
  Result<std::vector<int>> one_bit = parse_layer_bits("layer_activation_bits", "1,-");
  ASSERT_FALSE(one_bit.ok());
  EXPECT_EQ(
      one_bit.message(),
      "layer_activation_bits: '1' is not 0 (float), 2..8, 'float' or '-' (global; one entry per weighted "
      "layer, e.g. 8,4,-)");
  LabState state = default_lab_state();
  ASSERT_TRUE(set_lab_state_value(state, "layer_activation_bits", "-,0,2"));
  EXPECT_EQ(state.layer_activation_bits, (std::vector<int>{-1, 0, 2}));
  EXPECT_TRUE(state.layer_weight_bits.empty());
  EXPECT_NE(lab_state_to_hash(state).find("layer_activation_bits=-,0,2"), std::string::npos);
}

TEST(LabStateJson, RoundTripsAndReadsExperimentFiles) {
  LabState state = default_lab_state();
  state.methods = {"baseline", "qreg"};
  state.experiment.methods.qreg.training.weights.bits = 3;
  state.layer_weight_bits = {-1, 4, -1};
  state.layer_activation_bits = {-1, 2, 0};
  state.hidden = {"setup"};
  Result<LabState> back = lab_state_from_json(parse_json(to_json(lab_state_to_json(state))).value());
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back.value(), state);

  Experiment experiment;
  experiment.method = MethodKind::symreg;
  experiment.dataset = DatasetChoice::circles;
  Result<LabState> from_experiment = lab_state_from_json(experiment_to_json(experiment));
  ASSERT_TRUE(from_experiment.ok()) << from_experiment.message();
  EXPECT_EQ(from_experiment.value().methods, std::vector<std::string>{"symreg"});
  EXPECT_EQ(from_experiment.value().experiment.dataset, DatasetChoice::circles);
}

TEST(LabStateJson, StrictAboutWhatASavedFileHolds) {
  Json json = lab_state_to_json(default_lab_state());
  json["methods"] = Json::array({Json("baseline"), Json("sgd")});
  EXPECT_NE(lab_state_from_json(json).message().find("unknown method 'sgd'"), std::string::npos);
  json = lab_state_to_json(default_lab_state());
  json["layer_weight_bits"] = Json::array({Json(12)});
  EXPECT_FALSE(lab_state_from_json(json).ok());
  json = lab_state_to_json(default_lab_state());
  json["layer_activation_bits"] = Json::array({Json(1)});
  EXPECT_EQ(lab_state_from_json(json).message(),
            "\"layer_activation_bits\" entries must be -1 (global), 0 (float) or 2..8");
  json["layer_activation_bits"] = Json::array({Json(-1), Json(0.5)});
  EXPECT_FALSE(lab_state_from_json(json).ok());
  json = lab_state_to_json(default_lab_state());
  json["format"] = "something-else";
  EXPECT_FALSE(lab_state_from_json(json).ok());
  EXPECT_FALSE(lab_state_from_json(Json(3.0)).ok());
}

}  // namespace
}  // namespace qplay
