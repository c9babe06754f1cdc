// The playground drawn for real, without a window: an ImGui context with a built font atlas and a
// display size is all ImGui needs to lay out and tessellate a frame. Each test drives the same code the
// apps run every frame, through states a person reaches (links, hidden panels, the slider, Fashion-MNIST),
// and checks that it drew and kept its controls where the tests of the apps look for them.
#include <gtest/gtest.h>

#include <imgui.h>

#include "core/engine/deploy/model_size.h"
#include "core/engine/lab/lab_state.h"
#include "core/engine/lab/recipes.h"
#include "core/ui/playground.h"
#include "tests/ui/headless_imgui.h"

namespace qplay::ui {
namespace {

class HeadlessPlatform : public Platform {
 public:
  bool has_file_system() const override { return false; }
  // No file is saved or opened through the platform here (tests/ui_interaction does that).
  void save_file(const std::string&, std::string_view) override {}
  void request_open_file() override {}
  void set_shareable_state(const std::string& hash) override { published = hash; }
  std::string published;
};

class HeadlessImGui {
 public:
  explicit HeadlessImGui(ImVec2 display = {1280, 720}) { context_ = testing::create_headless_imgui(display); }
  ~HeadlessImGui() { ImGui::DestroyContext(context_); }

  // One frame: returns the number of vertices ImGui produced.
  int frame(Playground& playground, ImVec2 mouse = {-1, -1}, bool mouse_down = false) {
    ImGuiIO& io = ImGui::GetIO();
    io.MousePos = mouse;
    io.MouseDown[0] = mouse_down;
    ImGui::NewFrame();
    playground.frame();
    ImGui::Render();
    return ImGui::GetDrawData()->TotalVtxCount;
  }

  // Frames until the first view has trained (at least 5).
  void train(Playground& playground) {
    for (int i = 0; i < 600 && (playground.training() || playground.frames_drawn() < 5); ++i)
      frame(playground);
  }
  // A mouse click at the centre of a named control; false if it was not drawn. Returns the vertices of
  // the frame after it.
  bool click(Playground& playground, std::string_view control, int* vertices = nullptr) {
    float x, y, w, h;
    if (!playground.control_rect(control, &x, &y, &w, &h)) return false;
    const ImVec2 centre(x + w / 2, y + h / 2);
    frame(playground, centre);
    frame(playground, centre, true);
    frame(playground, centre, false);
    const int drawn = frame(playground);
    if (vertices) *vertices = drawn;
    return true;
  }

 private:
  ImGuiContext* context_;
};

constexpr std::string_view kQuick = "samples=300&architecture=mlp:8&epochs=3";

TEST(PlaygroundFrame, FirstViewDrawsAndTrainsItself) {
  HeadlessImGui imgui;
  HeadlessPlatform platform;
  Playground playground(platform, std::string(kQuick) + "&weight_bits=0");  // trained, in float
  int vertices = 0;
  for (int i = 0; i < 30; ++i) vertices = imgui.frame(playground);
  EXPECT_GT(vertices, 5000) << "a full playground, not an empty window";
  EXPECT_EQ(playground.frames_drawn(), 30);
  for (int i = 0; i < 600 && playground.training(); ++i) imgui.frame(playground);
  EXPECT_FALSE(playground.training());
  EXPECT_GT(playground.current_accuracy(), 0.5);
  float x, y, w, h;
  ASSERT_TRUE(playground.control_rect("weight_bits", &x, &y, &w, &h));
  EXPECT_GT(w, 50);
  EXPECT_TRUE(playground.control_rect("play", &x, &y, &w, &h));
}

TEST(PlaygroundFrame, DraggingTheSliderChangesTheSettingAndTheLink) {
  HeadlessImGui imgui;
  HeadlessPlatform platform;
  Playground playground(platform, kQuick);
  imgui.train(playground);
  float x, y, w, h;
  ASSERT_TRUE(playground.control_rect("weight_bits", &x, &y, &w, &h));
  const ImVec2 start(x + w * 0.1f, y + h / 2),
      end(x + w - 2, y + h / 2);  // from 2 bits to the far right (float)
  imgui.frame(playground, start);
  imgui.frame(playground, start, true);
  for (int step = 1; step <= 5; ++step)
    imgui.frame(playground, ImVec2(start.x + (end.x - start.x) * step / 5, start.y), true);
  imgui.frame(playground, end, false);
  for (int i = 0; i < 5; ++i) imgui.frame(playground);
  EXPECT_NE(platform.published.find("weight_bits=0"), std::string::npos) << platform.published;
}

TEST(PlaygroundFrame, HiddenPanelsAndControlsAreNotDrawn) {
  HeadlessImGui imgui;
  HeadlessPlatform platform;
  Playground playground(platform, std::string(kQuick) + "&setup_hide=1&weight_bits_hide=1&run_hide=1");
  for (int i = 0; i < 5; ++i) imgui.frame(playground);
  float x, y, w, h;
  EXPECT_FALSE(playground.control_rect("weight_bits", &x, &y, &w, &h));
  EXPECT_FALSE(playground.control_rect("play", &x, &y, &w, &h));
}

TEST(PlaygroundFrame, EveryDataSetAndASmallWindowDraw) {
  HeadlessImGui imgui(ImVec2(800, 500));
  HeadlessPlatform platform;
  for (std::string_view data :
       {"dataset=moons", "dataset=circles", "dataset=xor", "dataset=blobs&classes=5"}) {
    Playground playground(platform, std::string(kQuick) + "&" + std::string(data) +
                                        "&methods=baseline,qreg,gradl1,symreg,cpq,raq&activation_bits=4");
    int vertices = 0;
    for (int i = 0; i < 20; ++i) vertices = imgui.frame(playground);
    EXPECT_GT(vertices, 2000) << data;
  }
}

TEST(PlaygroundFrame, TheLearnedTabMovesThePerLayerSliderToCpqsBits) {
  HeadlessImGui imgui;
  HeadlessPlatform platform;
  Playground playground(platform, std::string(kQuick) + "&methods=baseline,cpq&cpq_bits=4&cpq_learn_bits=on");
  imgui.train(playground);
  ASSERT_TRUE(imgui.click(playground, "learned_tab")) << "CPQ learned bits: the tab is offered";
  EXPECT_EQ(platform.published.find("layer_weight_bits="), std::string::npos);
  ASSERT_TRUE(imgui.click(playground, "use_learned_bits")) << "the tab shows CPQ's bits";
  EXPECT_NE(platform.published.find("layer_weight_bits="), std::string::npos) << platform.published;

  Playground without(platform, std::string(kQuick) + "&methods=baseline,gradl1");
  for (int i = 0; i < 5; ++i) imgui.frame(without);
  float x, y, w, h;
  EXPECT_FALSE(without.control_rect("learned_tab", &x, &y, &w, &h))
      << "nothing learned beyond weights: no tab";
}

// The sensitivity tab steers mixed precision: a press on a layer's bars chooses it, its -/+ buttons and a
// vertical drag on the bars set that layer's own bits, and the link follows as with the per-layer slider.
TEST(PlaygroundFrame, TheSensitivityTabSetsOneLayersWeightAndActivationBits) {
  HeadlessImGui imgui;
  HeadlessPlatform platform;
  // Without the weights tab the sensitivity tab is the first, open at once; three weighted layers.
  Playground playground(platform, std::string(kQuick) + "&architecture=mlp:8,8&weights_hide=1&weight_bits=4");
  imgui.train(playground);
  float x, y, w, h;
  ASSERT_TRUE(playground.control_rect("sensitivity_weights", &x, &y, &w, &h)) << "the tab is drawn";
  EXPECT_FALSE(playground.control_rect("more_activations", &x, &y, &w, &h)) << "layer 0's input is the data";
  ASSERT_TRUE(imgui.click(playground, "sensitivity_activations"));  // the middle layer's bars
  ASSERT_TRUE(imgui.click(playground, "fewer_activations")) << "layer 1 chosen: its input has bits";
  EXPECT_NE(platform.published.find("layer_activation_bits=-,8,-"), std::string::npos) << platform.published;
  ASSERT_TRUE(imgui.click(playground, "more_weights"));
  EXPECT_NE(platform.published.find("layer_weight_bits=-,5,-"), std::string::npos) << platform.published;

  // Up by three and a half steps of 1.5 lines on the weights plot: 5 -> 8 bits.
  ASSERT_TRUE(playground.control_rect("sensitivity_weights", &x, &y, &w, &h));
  const ImVec2 centre(x + w / 2, y + h / 2);
  const float step = 1.5f * ImGui::GetFontSize();
  imgui.frame(playground, centre);
  imgui.frame(playground, centre, true);
  for (float travel = step; travel <= 3.5f * step; travel += step / 2)
    imgui.frame(playground, ImVec2(centre.x, centre.y - travel), true);
  imgui.frame(playground, ImVec2(centre.x, centre.y - 3.5f * step), false);
  EXPECT_NE(platform.published.find("layer_weight_bits=-,8,-"), std::string::npos) << platform.published;
}

// The budget slider: released at ~5 bits per weight, every layer gets its own bits (2..8) chosen for the
// selected run, which fit the budget; picking another method chooses again.
TEST(PlaygroundFrame, TheBudgetSliderChoosesEveryLayersBitsWithinTheBudget) {
  HeadlessImGui imgui;
  HeadlessPlatform platform;
  Playground playground(platform, std::string(kQuick) + "&architecture=mlp:8,8&weights_hide=1&weight_bits=4");
  imgui.train(playground);
  ASSERT_TRUE(imgui.click(playground, "budget_bits"));  // the middle of 2..8
  // The allocation runs in the lab's slices, a frame drawn after each; its bits apply when it is done.
  for (int i = 0; i < 1000 && lab_state_from_hash(platform.published).state.layer_weight_bits.empty(); ++i)
    imgui.frame(playground);
  const std::vector<int> bits = lab_state_from_hash(platform.published).state.layer_weight_bits;
  const std::string value = format_layer_bits(bits);
  ASSERT_EQ(bits.size(), 3u) << platform.published;
  const Architecture architecture = parse_architecture("mlp:8,8", {1, 1, 2}, 3).value();
  QuantizationSetting setting;
  setting.weights.bits = 4;
  setting.weight_bits_per_layer.assign(architecture.layers.size(), -1);
  size_t weighted = 0;
  for (size_t layer = 0; layer < architecture.layers.size(); ++layer) {
    if (!architecture.layers[layer].has_parameters()) continue;
    const int b = bits[weighted++];
    EXPECT_TRUE(b >= 2 && b <= 8) << value;
    setting.weight_bits_per_layer[layer] = b;
  }
  EXPECT_LE(model_size(architecture, setting).average_weight_bits, 5.01) << value;
}

// The Pareto fronts: asked for while training (which pauses), they fill in over frames, a click on the
// plot applies the nearest point's bits, and a training step marks them as of older weights.
TEST(PlaygroundFrame, TheParetoFrontsFillInAClickAppliesAPointAndTrainingMarksThemOlder) {
  HeadlessImGui imgui;
  HeadlessPlatform platform;
  Playground playground(platform,
                        "samples=1000&architecture=mlp:8,8&epochs=200&weights_hide=1&weight_bits=4");
  for (int i = 0; i < 5; ++i) imgui.frame(playground);
  if (!playground.training()) ASSERT_TRUE(imgui.click(playground, "play"));
  ASSERT_TRUE(playground.training());
  float x, y, w, h;
  EXPECT_FALSE(playground.control_rect("pareto_fronts_plot", &x, &y, &w, &h));
  ASSERT_TRUE(imgui.click(playground, "pareto_fronts"));
  EXPECT_FALSE(playground.training());
  int frames = 0;
  while (frames < 3000 && playground.control_rect("allocation_progress", &x, &y, &w, &h)) {
    imgui.frame(playground);
    ++frames;
  }
  ASSERT_LT(frames, 3000);
  int vertices = 0;
  ASSERT_TRUE(playground.control_rect("pareto_fronts_plot", &x, &y, &w, &h));
  EXPECT_FALSE(playground.control_rect("pareto_older", &x, &y, &w, &h));
  EXPECT_TRUE(lab_state_from_hash(platform.published).state.layer_weight_bits.empty());

  ASSERT_TRUE(imgui.click(playground, "pareto_fronts_plot", &vertices));
  EXPECT_GT(vertices, 1000);
  const std::vector<int> bits = lab_state_from_hash(platform.published).state.layer_weight_bits;
  ASSERT_EQ(bits.size(), 3u) << platform.published;
  for (int b : bits) EXPECT_TRUE(b >= 2 && b <= 8) << platform.published;

  ASSERT_TRUE(imgui.click(playground, "step"));
  EXPECT_TRUE(playground.control_rect("pareto_older", &x, &y, &w, &h));
  EXPECT_TRUE(playground.control_rect("pareto_fronts_plot", &x, &y, &w, &h));  // still shown, greyed
}

// On a phone's narrow, tall screen (panels in tabs; the others hidden so the sensitivity tab shows) the
// fronts stack under the bars and stay inside the window.
TEST(PlaygroundFrame, TheParetoFrontsFitAPhone) {
  HeadlessImGui imgui({390, 844});
  HeadlessPlatform platform;
  Playground playground(platform, std::string(kQuick) +
                                      "&architecture=mlp:8,8&weights_hide=1&weight_bits=4&curves_hide=1&"
                                      "boundary_hide=1&training_hide=1");
  imgui.train(playground);
  float x, y, w, h;
  ASSERT_TRUE(imgui.click(playground, "pareto_fronts"));
  for (int i = 0; i < 3000 && playground.control_rect("allocation_progress", &x, &y, &w, &h); ++i)
    imgui.frame(playground);
  imgui.frame(playground);
  ASSERT_TRUE(playground.control_rect("pareto_fronts_plot", &x, &y, &w, &h));
  EXPECT_GE(x, 0);
  EXPECT_LE(x + w, 390.5f);
  EXPECT_GT(w, 200);
  EXPECT_GT(h, 60);
}

TEST(PlaygroundFrame, AMethodRecipeLoadsItsComparisonAndStartsTraining) {
  HeadlessImGui imgui;
  HeadlessPlatform platform;
  Playground playground(platform, std::string(kQuick));
  imgui.train(playground);
  ASSERT_FALSE(playground.training());
  for (const MethodRecipe& recipe : method_recipes()) {
    ASSERT_TRUE(imgui.click(playground, "recipe_" + std::string(recipe.method))) << recipe.method;
    // The address now holds the recipe's state, and its runs train by themselves.
    EXPECT_EQ(platform.published, lab_state_to_hash(lab_state_from_hash(recipe.state).state))
        << recipe.method;
    EXPECT_TRUE(playground.training()) << recipe.method;
  }
}

TEST(PlaygroundFrame, TheNeuronsTabDrawsAMapPerNeuron) {
  HeadlessImGui imgui;
  HeadlessPlatform platform;
  Playground playground(platform, std::string(kQuick) + "&methods=baseline&weight_bits=2");
  imgui.train(playground);
  const int before = imgui.frame(playground);
  int after = 0;
  ASSERT_TRUE(imgui.click(playground, "neurons_tab", &after));
  // Eight neurons of 24x24 cells: far more vertices than the weights tab it replaced, whatever merges.
  EXPECT_GT(after, before + 8 * 24 * 4) << "the maps are drawn";
}

TEST(PlaygroundFrame, FashionMnistShowsImagesWhenTheDataIsInstalled) {
  HeadlessImGui imgui;
  HeadlessPlatform platform;
  Playground playground(platform,
                        "dataset=fashion-mnist&train_limit=500&test_limit=200&architecture=mlp:16&epochs=1&"
                        "data_dir=" QPLAY_FASHION_MNIST_DIR);
  for (int i = 0; i < 10; ++i) imgui.frame(playground);
  if (platform.published.find("dataset=fashion-mnist") == std::string::npos)
    GTEST_SKIP() << "Fashion-MNIST is not installed at " QPLAY_FASHION_MNIST_DIR;
  for (int i = 0; i < 400 && playground.training(); ++i) imgui.frame(playground);
  EXPECT_FALSE(playground.training());
  EXPECT_GT(imgui.frame(playground), 10000) << "18 images of 28x28 cells and the plots";
  float x, y, w, h;
  EXPECT_FALSE(playground.control_rect("neurons_tab", &x, &y, &w, &h))
      << "only 2-D data sets have a plane to map";
}

}  // namespace
}  // namespace qplay::ui
