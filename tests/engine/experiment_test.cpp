// The state table: every setting is parsed, range-checked and round-trips through JSON; bad values
// and unknown keys give messages that say what is allowed; saved models carry their experiment.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "core/engine/experiment/run.h"
#include "core/engine/experiment/saved_model.h"
#include "core/engine/experiment/state_table.h"
#include "core/engine/io/file_util.h"
#include "core/engine/io/json.h"

namespace qplay {
namespace {

TEST(StateTable, EveryRowHasHelpAndItsDefaultIsValid) {
  Experiment defaults;
  for (const SettingRow& row : experiment_settings()) {
    EXPECT_FALSE(row.help.empty()) << row.key;
    Experiment copy;
    EXPECT_TRUE(set_setting(copy, row.key, get_setting(defaults, row)).ok()) << row.key;
  }
  EXPECT_TRUE(validate_experiment(defaults).ok());
}

TEST(StateTable, RejectsOutOfRangeAndMalformedValuesAndKeepsTheOldValue) {
  Experiment e;
  Status bad = set_setting(e, "learning_rate", "99");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), "learning_rate must be a number from 1e-06 to 10, got '99'");
  EXPECT_EQ(e.learning_rate, Experiment().learning_rate);
  EXPECT_FALSE(set_setting(e, "epochs", "3.5").ok());
  EXPECT_FALSE(set_setting(e, "epochs", "").ok());
  EXPECT_FALSE(set_setting(e, "noise", "nan").ok());
  // Text that a saved file could not hold as it is (not UTF-8) is refused where it comes in.
  EXPECT_EQ(set_setting(e, "data_dir", "/data/\xff").message(), "data_dir must be UTF-8 text");
  // Spaces around a value are refused alike for numbers and integers.
  for (const char* text : {" 0.5", "0.5 ", "\t0.5"}) EXPECT_FALSE(set_setting(e, "noise", text).ok()) << text;
  for (const char* text : {" 3", "3 "}) EXPECT_FALSE(set_setting(e, "epochs", text).ok()) << text;
  Status choice = set_setting(e, "optimizer", "rmsprop");
  EXPECT_NE(choice.message().find("one of sgd, adam"), std::string::npos) << choice.message();
}

TEST(StateTable, SaysWhenASettingApplies) {
  auto applies = [](std::string_view key, const Experiment& e) {
    return setting_applies(*find_setting(key), e);
  };
  Experiment e;
  e.dataset = DatasetChoice::moons;
  EXPECT_FALSE(applies("classes", e)) << "moons have two classes";
  EXPECT_TRUE(applies("noise", e));
  EXPECT_FALSE(applies("train_limit", e));
  e.dataset = DatasetChoice::spiral;
  EXPECT_TRUE(applies("classes", e));
  e.dataset = DatasetChoice::fashion_mnist;
  EXPECT_FALSE(applies("noise", e));
  EXPECT_TRUE(applies("data_dir", e));
  EXPECT_FALSE(applies("percentile", e));
  e.range_method = RangeMethod::percentile;
  EXPECT_TRUE(applies("percentile", e));
  e.optimizer = OptimizerKind::adam;
  EXPECT_FALSE(applies("momentum", e));
  EXPECT_TRUE(applies("learning_rate", e)) << "rows without a condition always apply";
}

// Files are read strictly (hashes are the forgiving form): unknown keys at the top, numbers written as
// strings and choices written as numbers are refused with the key named. A UTF-8 byte-order mark, which
// some editors add, is read past (RFC 8259 allows it).
TEST(StateTable, ExperimentFilesAreReadStrictly) {
  auto read = [](std::string_view text) {
    Result<Json> json = parse_json(text);
    return json ? experiment_from_json(*json).status() : json.status();
  };
  const std::string header = R"({"format": "qplay-experiment", "version": 1, )";
  EXPECT_TRUE(read(header + R"("settings": {"epochs": 5, "dataset": "moons"}})").ok());
  EXPECT_NE(read(header + R"("settings": {}, "extra": 1})").message().find("unknown key 'extra'"),
            std::string::npos);
  EXPECT_NE(read(header + R"("settings": {"epochs": "5"}})").message().find("'epochs' must be a number"),
            std::string::npos);
  EXPECT_NE(read(header + R"("settings": {"dataset": 3}})").message().find("'dataset' must be a string"),
            std::string::npos);
  EXPECT_NE(read(header + R"("settings": {"epoch": 5}})").message().find("epochs"), std::string::npos)
      << "an unknown setting suggests the closest";
  EXPECT_TRUE(read("\xEF\xBB\xBF" + header + R"("settings": {}})").ok()) << "a byte-order mark is read past";
}

TEST(StateTable, UnknownKeysSuggestTheClosestSetting) {
  Experiment e;
  Status status = set_setting(e, "learnig_rate", "0.1");
  EXPECT_NE(status.message().find("did you mean 'learning_rate'"), std::string::npos) << status.message();
}

TEST(StateTable, EverySettingRoundTripsThroughJson) {
  Experiment e;
  e.dataset = DatasetChoice::moons;
  e.learning_rate = 0.0123;
  e.seed = 4000000000LL;
  e.architecture = "mlp:3,4:tanh";
  e.granularity = Granularity::per_tensor;
  e.method = MethodKind::qreg;
  e.methods.qreg.training.weights.bits = 3;
  e.methods.qreg.mode = QregMode::uniform_noise;
  e.methods.gradl1.lambda_activations = 0.25;
  Result<Json> parsed = parse_json(to_json(experiment_to_json(e)));
  ASSERT_TRUE(parsed.ok());
  Result<Experiment> back = experiment_from_json(*parsed);
  ASSERT_TRUE(back.ok()) << back.message();
  for (const SettingRow& row : experiment_settings()) {
    EXPECT_EQ(get_setting(*back, row), get_setting(e, row)) << row.key;
  }
}

TEST(StateTable, EveryMethodKnobRoundTripsThroughJsonAtANonDefaultValue) {
  const Experiment defaults;
  Experiment e;
  int knobs = 0;
  for (const SettingRow& row : experiment_settings()) {
    const bool a_methods_knob =
        std::any_of(registered_methods().begin(), registered_methods().end(),
                    [&](const MethodRegistration& m) { return row.group == choice_name(m.kind); });
    if (row.group != "method" && !a_methods_knob) continue;
    // The last choice, or a value three quarters of the way through the range, unless that is the default.
    std::string value;
    if (row.kind == SettingKind::choice) {
      value = std::string(row.choices.back() == get_setting(defaults, row) ? row.choices.front()
                                                                           : row.choices.back());
    } else {
      const double x = row.min + 0.75 * (row.max - row.min);
      value = row.kind == SettingKind::integer ? std::to_string(static_cast<long long>(x))
                                               : format_json_number(x);
    }
    ASSERT_TRUE(set_setting(e, row.key, value).ok()) << row.key << " = " << value;
    EXPECT_NE(get_setting(e, row), get_setting(defaults, row)) << row.key;
    ++knobs;
  }
  EXPECT_GE(knobs, 25);  // method + the knobs of qreg, gradl1, symreg, cpq and raq
  Result<Json> parsed = parse_json(to_json(experiment_to_json(e)));
  ASSERT_TRUE(parsed.ok());
  Result<Experiment> back = experiment_from_json(*parsed);
  ASSERT_TRUE(back.ok()) << back.message();
  for (const SettingRow& row : experiment_settings())
    EXPECT_EQ(get_setting(*back, row), get_setting(e, row)) << row.key;
}

TEST(StateTable, ExperimentFilesRefuseForeignAndInvalidContent) {
  for (const char* text : {"[]", R"({"format":"other","version":1,"settings":{}})",
                           R"({"format":"qplay-experiment","version":2,"settings":{}})",
                           R"({"format":"qplay-experiment","version":1,"settings":{"epochs":-1}})",
                           R"({"format":"qplay-experiment","version":1,"settings":{"bogus":1}})",
                           R"({"format":"qplay-experiment","version":1,"settings":{"epochs":[1]}})"}) {
    Result<Json> json = parse_json(text);
    ASSERT_TRUE(json.ok());
    EXPECT_FALSE(experiment_from_json(*json).ok()) << text;
  }
  std::string path = ::testing::TempDir() + "/broken_experiment.json";
  ASSERT_TRUE(write_text_file_atomically(path, "{ not json").ok());
  Result<Experiment> loaded = load_experiment_file(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.message().find("broken_experiment.json"), std::string::npos) << loaded.message();
}

TEST(StateTable, CrossFieldValidation) {
  Experiment e;
  e.architecture = "cnn:8";
  EXPECT_FALSE(validate_experiment(e).ok());
  e.dataset = DatasetChoice::fashion_mnist;
  EXPECT_TRUE(validate_experiment(e).ok());
  e.activation_bits = 1;
  EXPECT_FALSE(validate_experiment(e).ok());
}

TEST(SavedModel, RoundTripsWeightsAndExperiment) {
  Experiment e;
  e.dataset = DatasetChoice::circles;
  e.architecture = "mlp:5";
  e.epochs = 1;
  e.kernels = KernelChoice::reference;
  Result<qplay::Run> run = start_run(e);
  ASSERT_TRUE(run.ok()) << run.message();
  std::string path = ::testing::TempDir() + "/saved.qmodel";
  ASSERT_TRUE(save_model(path, *run->network, e).ok());
  Result<SavedModel> loaded = load_model(path, reference_kernel_table());
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  EXPECT_EQ(loaded->experiment.dataset, DatasetChoice::circles);
  EXPECT_TRUE(std::equal(run->network->parameters().begin(), run->network->parameters().end(),
                         loaded->network->parameters().begin()));
}

// init_model starts a run from a trained model's weights (fine-tuning), and only from one of the same
// network.
TEST(SavedModel, InitModelStartsFromItsWeightsAndRefusesAnotherNetwork) {
  Experiment e;
  e.dataset = DatasetChoice::moons;
  e.architecture = "mlp:5";
  e.epochs = 2;
  e.kernels = KernelChoice::reference;
  Result<qplay::Run> trained = start_run(e);
  ASSERT_TRUE(trained.ok()) << trained.message();
  while (!trained->trainer->finished()) trained->trainer->advance(1000);
  const std::string path = ::testing::TempDir() + "/start.qmodel";
  ASSERT_TRUE(save_model(path, *trained->network, e).ok());

  Experiment fine_tune = e;
  fine_tune.init_model = path;
  fine_tune.seed = 9;  // another seed's random weights would differ; the start is the file's
  Result<qplay::Run> started = start_run(fine_tune);
  ASSERT_TRUE(started.ok()) << started.message();
  EXPECT_TRUE(std::equal(trained->network->parameters().begin(), trained->network->parameters().end(),
                         started->network->parameters().begin()));

  fine_tune.architecture = "mlp:6";
  Result<qplay::Run> other = start_run(fine_tune);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.message().find("its network is mlp:5"), std::string::npos) << other.message();
  fine_tune.architecture = "mlp:5";
  fine_tune.init_model = ::testing::TempDir() + "/missing.qmodel";
  EXPECT_NE(start_run(fine_tune).message().find("no such file"), std::string::npos);
  EXPECT_TRUE(set_setting(fine_tune, "init_model", "").ok()) << "empty: from scratch";
}

TEST(SavedModel, RefusesTensorsThatDoNotMatchTheArchitecture) {
  Experiment e;
  e.architecture = "mlp:5";
  e.kernels = KernelChoice::reference;
  Result<qplay::Run> run = start_run(e);
  ASSERT_TRUE(run.ok());
  ModelFile file = make_model_file(*run->network, e);
  file.tensors[0].shape = {4, 2};
  file.tensors[0].values.resize(8);
  Result<SavedModel> loaded = model_from_file(file, reference_kernel_table());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.message().find("'0.weight'"), std::string::npos) << loaded.message();
  file = make_model_file(*run->network, e);
  file.tensors.pop_back();
  EXPECT_FALSE(model_from_file(file, reference_kernel_table()).ok());
}

// Sizes in a model file come from outside: a file with a valid checksum may still claim a 2^31-value
// input or 2^28 classes. They are refused with the sizes named, before anything multiplies them (UBSan
// saw "2147483647 * 8" overflow here, and one crafted CNN wrapped to 4096 values and loaded).
TEST(SavedModel, RefusesSizesThatWouldOverflowWithAMessage) {
  Experiment e;
  e.architecture = "mlp:5";
  e.kernels = KernelChoice::reference;
  Result<qplay::Run> run = start_run(e);
  ASSERT_TRUE(run.ok());
  const ModelFile valid = make_model_file(*run->network, e);
  struct Case {
    std::vector<int32_t> input;
    int32_t classes;
    std::string architecture, says;
  };
  const Case cases[] = {
      {{2147483647, 1, 1}, 3, "mlp:5", "2147483647x1x1 = 2147483647 values"},
      {{65536, 65536, 1}, 3, "cnn:8", "65536x65536x1 = 4294967296 values"},
      {{2, 1, 1}, 1 << 28, "mlp:5", "268435456 classes"},
      {{1024, 1024, 3}, 10, "cnn:4096", "would output 1024x1024x4096"},
      {{2048, 2048, 1}, 10, "mlp:4096", "parameters"},
  };
  for (const Case& c : cases) {
    ModelFile file = valid;
    file.input_shape = c.input;
    file.num_classes = c.classes;
    file.architecture = c.architecture;
    Result<SavedModel> loaded = model_from_file(file, reference_kernel_table());
    ASSERT_FALSE(loaded.ok()) << c.architecture;
    EXPECT_NE(loaded.message().find(c.says), std::string::npos) << loaded.message();
  }
}

// The example experiments in assets/experiments load, validate and name the method their file name says.
TEST(ShippedExperiments, EachLoadsAndValidates) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(QPLAY_ASSETS_DIR "/experiments")) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    Result<Experiment> loaded = load_experiment_file(entry.path().string());
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    const std::string name = entry.path().stem().string();
    EXPECT_NE(name.find(std::string(choice_name(loaded->method))), std::string::npos) << name;
    EXPECT_NE(name.find(loaded->dataset == DatasetChoice::fashion_mnist
                            ? "fashion"
                            : std::string(choice_name(loaded->dataset))),
              std::string::npos)
        << name;
  }
  EXPECT_GE(files, 5);
}

}  // namespace
}  // namespace qplay
