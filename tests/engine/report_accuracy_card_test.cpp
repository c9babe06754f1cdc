// The accuracy-vs-bits card (report/accuracy_card.h) and what the lab puts on it (lab/lab_card.h).
#include <gtest/gtest.h>

#include "core/engine/base/number_format.h"
#include "core/engine/deploy/model_size.h"
#include "core/engine/lab/decision_flips.h"
#include "core/engine/lab/lab_card.h"
#include "core/engine/report/accuracy_card.h"

namespace qplay {
namespace {

size_t count_of(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

TEST(AccuracyCard, EmbedsThePlotAndEscapesEveryText) {
  AccuracyCard card;
  card.title = "<a & b>";
  card.plot.title = "Test accuracy vs weight bits";
  card.plot.series.push_back({"run", {2, 4, 8}, {50, 80, 90}});
  card.settings = {{"method", "\"quoted\""}};
  card.numbers = {{"flip rate", "3.0%"}};
  const std::string svg = render_accuracy_card(card);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_EQ(count_of(svg, "<?xml"), 1u) << "the plot is an element, not a second document";
  EXPECT_EQ(count_of(svg, "<svg"), 2u);
  EXPECT_EQ(count_of(svg, "</svg>"), 2u);
  EXPECT_NE(svg.find("&lt;a &amp; b&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("<a & b>"), std::string::npos);
  EXPECT_NE(svg.find("&quot;quoted&quot;"), std::string::npos);
  EXPECT_NE(svg.find(">flip rate</text>"), std::string::npos);
  EXPECT_NE(svg.find(">3.0%</text>"), std::string::npos);
}

TEST(LabAccuracyCard, CarriesTheRunsSettingsAndNumbers) {
  LabState state = default_lab_state();
  state.methods = {"baseline"};
  state.experiment.dataset = DatasetChoice::moons;
  state.experiment.samples = 400;
  state.experiment.architecture = "mlp:8";
  state.experiment.epochs = 2;
  state.experiment.kernels = KernelChoice::reference;
  state.experiment.threads = 1;
  Result<std::unique_ptr<Lab>> made = Lab::create(state);
  ASSERT_TRUE(made.ok()) << made.message();
  Lab& lab = *made.value();
  lab.play();
  while (lab.playing()) lab.advance(50);
  for (int i = 0; i < 100 && !lab.evaluation_current(0, lab.setting_with_weight_bits(2)); ++i)
    lab.advance(1000);
  const AccuracyCard card = lab_accuracy_card(lab, 0);
  EXPECT_EQ(card.title, "moons, mlp:8, baseline");
  ASSERT_EQ(card.plot.series.size(), 1u);
  EXPECT_EQ(card.plot.series[0].x, (std::vector<double>{8, 7, 6, 5, 4, 3, 2}));
  ASSERT_TRUE(card.plot.reference_y.has_value());
  auto value_of = [](const std::vector<CardRow>& rows, const std::string& name) {
    for (const CardRow& row : rows)
      if (row.name == name) return row.value;
    return std::string("(missing)");
  };
  EXPECT_EQ(value_of(card.settings, "data set"), "moons");
  EXPECT_EQ(value_of(card.settings, "granularity"), "per-tensor");
  EXPECT_EQ(value_of(card.settings, "weight bits"), "2");
  const std::optional<DecisionFlips> flips = decision_flips(lab, 0, lab.current_setting());
  ASSERT_TRUE(flips.has_value());
  EXPECT_EQ(value_of(card.numbers, "flip rate"), format_double("%.1f", 100 * flips->rate()) + "%");
  // mlp:8 on 2-D points at 2-bit per-tensor weights: each layer's 16 weights in 4 bytes, one 4-byte scale,
  // biases in float (8 + 2): 40 + 16 bytes, as deploy/model_size.h counts them (its own tests).
  EXPECT_EQ(model_size(lab.network(0).architecture(), lab.current_setting()).bytes, 56u);
  EXPECT_NE(value_of(card.numbers, "model size").find(format_double("%.1f", 56 / 1024.0) + " KB"),
            std::string::npos)
      << value_of(card.numbers, "model size");
}

}  // namespace
}  // namespace qplay
