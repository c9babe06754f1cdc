// PlaygroundState: what the playground's controls do to the Lab, without drawing. Bad input of every
// kind (a link, a setting, a file) says why and keeps the current lab; a data set that the platform
// is still downloading waits and then applies.
#include <gtest/gtest.h>

#include "core/engine/experiment/saved_model.h"
#include "core/ui/playground.h"
#include "core/ui/playground_state.h"

namespace qplay::ui {
namespace {

class FakePlatform : public Platform {
 public:
  bool has_file_system() const override { return false; }
  // No file is saved or opened through the platform here (tests/ui_interaction does that).
  void save_file(const std::string&, std::string_view) override {}
  void request_open_file() override {}
  void set_shareable_state(const std::string& hash) override { published = hash; }
  DataStatus prepare_dataset(std::string_view dataset) override {
    if (dataset != slow_dataset) return {};
    ++downloads_asked;
    return {downloads_asked >= 3, downloads_asked / 3.0, fail ? "data pack: HTTP 404" : ""};
  }
  std::string published;
  std::string slow_dataset = "none";
  int downloads_asked = 0;
  bool fail = false;
};

// A quick lab: few points, a small net, few epochs.
constexpr std::string_view kQuick = "samples=300&architecture=mlp:8&epochs=3&methods=baseline,gradl1";

TEST(PlaygroundState, OpensTrainingFromALinkAndWarnsAboutItsBadParts) {
  FakePlatform platform;
  PlaygroundState state(platform, std::string(kQuick) + "&weight_bits=42&dataset=moons");
  ASSERT_NE(state.lab(), nullptr);
  EXPECT_TRUE(state.lab()->playing()) << "the first view trains itself";
  EXPECT_EQ(state.lab()->state().experiment.dataset, DatasetChoice::moons);
  EXPECT_EQ(state.lab()->state().experiment.weight_bits, default_lab_state().experiment.weight_bits)
      << "the bad value keeps the default";
  EXPECT_TRUE(state.status().error);
  EXPECT_NE(state.status().text.find("weight_bits"), std::string::npos);
}

TEST(PlaygroundState, ALinkThatCannotBeBuiltFallsBackToTheDefaults) {
  FakePlatform platform;
  PlaygroundState state(platform, "dataset=fashion-mnist&data_dir=/nonexistent&architecture=cnn:4");
  ASSERT_NE(state.lab(), nullptr);
  EXPECT_EQ(state.lab()->state(), default_lab_state());
  EXPECT_TRUE(state.status().error);
  EXPECT_NE(state.status().text.find("default comparison"), std::string::npos);
}

TEST(PlaygroundState, SettingsApplyOrSayWhyAndThePublishedHashFollows) {
  FakePlatform platform;
  PlaygroundState state(platform, kQuick);
  state.apply_setting("weight_bits", "3");
  EXPECT_FALSE(state.status().error);
  EXPECT_NE(platform.published.find("weight_bits=3"), std::string::npos);
  const LabState before = state.lab()->state();
  state.apply_setting("learning_rate", "-1");
  EXPECT_TRUE(state.status().error);
  EXPECT_NE(state.status().text.find("learning_rate"), std::string::npos);
  EXPECT_EQ(state.lab()->state(), before);
  state.apply_setting("architecture", "cnn:8");
  EXPECT_TRUE(state.status().error);
  EXPECT_EQ(state.lab()->state(), before);
}

TEST(PlaygroundState, BadFilesKeepTheLab) {
  FakePlatform platform;
  PlaygroundState state(platform, kQuick);
  const LabState before = state.lab()->state();
  for (std::string bad :
       {std::string("not json at all"), std::string("{\"format\": \"qplay-lab\", \"version\": 1}"),
        std::string("\x01\x02garbage", 9), std::string("{\"format\": \"qplay-lab\""), std::string()}) {
    state.open_file("bad.json", bad);
    EXPECT_TRUE(state.status().error) << bad;
    EXPECT_NE(state.status().text.find("bad.json"), std::string::npos);
    EXPECT_EQ(state.lab()->state(), before);
  }
}

TEST(PlaygroundState, ExperimentFilesAndModelsRoundTrip) {
  FakePlatform platform;
  PlaygroundState state(platform, kQuick);
  state.apply_setting("noise", "0.3");
  const std::string saved = state.experiment_json();
  state.apply_setting("noise", "0.05");
  state.open_file("saved.json", saved);
  EXPECT_FALSE(state.status().error) << state.status().text;
  EXPECT_DOUBLE_EQ(state.lab()->state().experiment.noise, 0.3);

  while (state.lab()->playing()) state.advance(50);
  state.selected_run = 1;
  const std::vector<uint8_t> model = state.model_file_bytes();
  const std::vector<float> weights(state.lab()->run(1).run.network->parameters().begin(),
                                   state.lab()->run(1).run.network->parameters().end());
  state.open_file("gradl1.qmodel",
                  std::string_view(reinterpret_cast<const char*>(model.data()), model.size()));
  ASSERT_FALSE(state.status().error) << state.status().text;
  ASSERT_EQ(state.lab()->run_count(), 1);
  EXPECT_EQ(state.lab()->run(0).method, "gradl1");
  EXPECT_TRUE(state.lab()->run(0).loaded);
  std::span<const float> loaded = state.lab()->run(0).run.network->parameters();
  EXPECT_TRUE(std::equal(loaded.begin(), loaded.end(), weights.begin()));
  std::vector<uint8_t> truncated(model.begin(), model.begin() + model.size() / 2);
  state.open_file("cut.qmodel",
                  std::string_view(reinterpret_cast<const char*>(truncated.data()), truncated.size()));
  EXPECT_TRUE(state.status().error);
  EXPECT_TRUE(state.lab()->run(0).loaded) << "the loaded model stays";
}

TEST(PlaygroundState, ALinkToADataSetStillDownloadingStartsTrainingOnceItIsHere) {
  FakePlatform platform;
  platform.slow_dataset = "circles";
  PlaygroundState state(platform, std::string(kQuick) + "&dataset=circles");
  EXPECT_EQ(state.lab(), nullptr);
  EXPECT_TRUE(state.data_pending());
  for (int i = 0; i < 3 && !state.lab(); ++i) state.advance(1);
  ASSERT_NE(state.lab(), nullptr);
  EXPECT_EQ(state.lab()->state().experiment.dataset, DatasetChoice::circles);
  EXPECT_TRUE(state.lab()->playing()) << "like the default view, a linked one trains itself";
}

TEST(PlaygroundState, ADataSetStillDownloadingWaitsThenApplies) {
  FakePlatform platform;
  platform.slow_dataset = "circles";
  PlaygroundState state(platform, kQuick);
  state.apply_setting("dataset", "circles");
  EXPECT_TRUE(state.data_pending());
  EXPECT_EQ(state.lab()->state().experiment.dataset, DatasetChoice::spiral)
      << "the old lab stays until the data is here";
  state.advance(1);
  EXPECT_TRUE(state.data_pending());
  EXPECT_GT(state.data_progress(), 0.5);
  state.advance(1);
  EXPECT_FALSE(state.data_pending());
  EXPECT_EQ(state.lab()->state().experiment.dataset, DatasetChoice::circles);

  platform.slow_dataset = "xor";
  platform.downloads_asked = 0;
  platform.fail = true;
  state.apply_setting("dataset", "xor");
  EXPECT_TRUE(state.status().error);
  EXPECT_NE(state.status().text.find("404"), std::string::npos);
  EXPECT_FALSE(state.data_pending());
  EXPECT_EQ(state.lab()->state().experiment.dataset, DatasetChoice::circles);
}

}  // namespace
}  // namespace qplay::ui
