// The Lab and what it is made of: runs side by side from one seed, live quantization settings that
// never retrain, rebuilds that do, the evaluation cache behind the slider, decision boundaries and the
// weight statistics of the weights panel.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/engine/base/rng.h"
#include "core/engine/lab/lab.h"
#include "core/engine/lab/lab_report.h"
#include "core/engine/lab/weight_statistics.h"
#include "core/engine/methods/cpq_dropbits.h"
#include "core/engine/train/sweep.h"

namespace qplay {
namespace {

LabState small_state(std::vector<std::string> methods = {"baseline", "gradl1"}) {
  LabState state = default_lab_state();
  state.methods = std::move(methods);
  state.experiment.dataset = DatasetChoice::moons;
  state.experiment.samples = 600;
  state.experiment.architecture = "mlp:16,16";
  state.experiment.epochs = 8;
  state.experiment.kernels = KernelChoice::reference;
  state.experiment.threads = 1;
  return state;
}

std::unique_ptr<Lab> trained_lab(LabState state = small_state()) {
  Result<std::unique_ptr<Lab>> lab = Lab::create(state);
  EXPECT_TRUE(lab.ok()) << lab.message();
  std::unique_ptr<Lab> l = std::move(lab).value();
  l->play();
  while (l->playing()) l->advance(50);
  return l;
}

TEST(Lab, RunsStartFromTheSameDataAndWeights) {
  Result<std::unique_ptr<Lab>> lab = Lab::create(small_state({"baseline", "gradl1", "symreg"}));
  ASSERT_TRUE(lab.ok()) << lab.message();
  const Lab& l = *lab.value();
  ASSERT_EQ(l.run_count(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(l.run(i).run.dataset.get(), &l.dataset());
  EXPECT_EQ(l.run(1).method, "gradl1");
  for (int i = 1; i < 3; ++i)  // one kernel table, one thread pool: the runs take turns
    EXPECT_EQ(&l.run(i).run.network->kernels(), &l.run(0).run.network->kernels());
  std::span<const float> baseline = l.run(0).run.network->parameters(),
                         gradl1 = l.run(1).run.network->parameters();
  ASSERT_EQ(baseline.size(), gradl1.size());
  EXPECT_TRUE(std::equal(baseline.begin(), baseline.end(), gradl1.begin()));
  // symreg deploys its saturating reparameterization w = c·tanh(v/c) of the same initial v.
  std::span<const float> symreg = l.run(2).run.network->parameters();
  for (size_t i = 0; i < baseline.size(); ++i) {
    EXPECT_LE(std::fabs(symreg[i]), std::fabs(baseline[i]) + 1e-7f);
    EXPECT_GE(symreg[i] * baseline[i], 0.0f);
  }
}

TEST(Lab, PlayTrainsEveryRunInLockstepUntilFinished) {
  Result<std::unique_ptr<Lab>> made = Lab::create(small_state());
  ASSERT_TRUE(made.ok());
  Lab& lab = *made.value();
  lab.play();
  for (int i = 0; i < 7; ++i) {
    lab.advance(0);  // a zero budget still takes one step, round robin
    const long a = lab.run(0).run.trainer->steps_taken(), b = lab.run(1).run.trainer->steps_taken();
    EXPECT_LE(std::abs(a - b), 1);
  }
  while (lab.playing()) lab.advance(50);
  EXPECT_TRUE(lab.finished());
  for (int i = 0; i < lab.run_count(); ++i) {
    EXPECT_EQ(lab.run(i).run.trainer->completed_epochs(), 8);
    EXPECT_TRUE(lab.run(i).run.trainer->status().ok());
  }
  EXPECT_GT(lab.training_samples_per_second(), 0);
  lab.play();  // nothing left to train
  EXPECT_FALSE(lab.playing());
}

TEST(Lab, SliderSettingsApplyLiveAndEqualAPostTrainingEvaluation) {
  std::unique_ptr<Lab> lab = trained_lab();
  const long steps = lab->run(0).run.trainer->steps_taken();
  for (int bits : {2, 8, 3}) {
    ASSERT_TRUE(lab->set("weight_bits", std::to_string(bits)));
    lab->advance(1000);
    EXPECT_EQ(lab->run(0).run.trainer->steps_taken(), steps) << "a quantization setting must not retrain";
    for (int r = 0; r < lab->run_count(); ++r) {
      const EvaluationCache::Entry* entry = lab->evaluation(r, lab->current_setting());
      ASSERT_NE(entry, nullptr);
      ASSERT_TRUE(entry->complete);
      Evaluation expected =
          evaluate_quantized(*lab->run(r).run.network, lab->dataset(), lab->current_setting(),
                             lab->state().experiment.calibration_samples);
      EXPECT_DOUBLE_EQ(entry->result.accuracy, expected.accuracy) << bits << " bits, run " << r;
      EXPECT_NEAR(entry->result.loss, expected.loss, 1e-5);
    }
  }
  // The curve's points are evaluated for every run too, and 2 bits lose accuracy against float.
  for (int r = 0; r < lab->run_count(); ++r) {
    const auto* at_float = lab->evaluation(r, lab->setting_with_weight_bits(0));
    const auto* at_two = lab->evaluation(r, lab->setting_with_weight_bits(2));
    ASSERT_TRUE(at_float && at_two && at_float->complete && at_two->complete);
    EXPECT_GT(at_float->result.accuracy, 0.8);
    EXPECT_NE(at_float->result.accuracy, at_two->result.accuracy);
  }
}

TEST(Lab, ANewSliderSettingAnswersBeforeSetReturns) {
  std::unique_ptr<Lab> lab = trained_lab();
  ASSERT_TRUE(lab->set("weight_bits", "5"));  // the frame that moved the slider can show the number
  for (int r = 0; r < lab->run_count(); ++r) {
    const EvaluationCache::Entry* entry = lab->evaluation(r, lab->current_setting());
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->result.samples,
              lab->dataset().test_size());  // 180 test points: the first read-out is all
  }
}

TEST(Lab, OtherSettingsRebuildFromTheSeedAndBadValuesChangeNothing) {
  std::unique_ptr<Lab> lab = trained_lab();
  const Dataset* data = &lab->dataset();
  ASSERT_TRUE(lab->set("learning_rate", "0.1"));
  EXPECT_EQ(lab->run(0).run.trainer->steps_taken(), 0);
  EXPECT_EQ(&lab->dataset(), data) << "a training setting must not regenerate the data";
  ASSERT_TRUE(lab->set("noise", "0.2"));
  EXPECT_NE(&lab->dataset(), data);

  const LabState before = lab->state();
  Status bad = lab->set("architecture", "mlp:banana");
  EXPECT_FALSE(bad);
  EXPECT_EQ(lab->state(), before);
  EXPECT_FALSE(lab->set("methods", "baseline,nothing"));
  EXPECT_EQ(lab->state(), before);
  Status no_images = lab->set("architecture", "cnn:4");
  EXPECT_FALSE(no_images) << "a CNN needs image data";
  EXPECT_EQ(lab->run_count(), 2);

  ASSERT_TRUE(lab->set("methods", "cpq"));
  EXPECT_EQ(lab->run_count(), 1);
  EXPECT_EQ(lab->run(0).method, "cpq");
}

TEST(Lab, ResetReturnsToTheInitialWeights) {
  Result<std::unique_ptr<Lab>> made = Lab::create(small_state());
  ASSERT_TRUE(made.ok());
  Lab& lab = *made.value();
  const std::vector<float> initial(lab.run(0).run.network->parameters().begin(),
                                   lab.run(0).run.network->parameters().end());
  lab.step();
  lab.step();
  EXPECT_EQ(lab.run(0).run.trainer->steps_taken(), 2);
  ASSERT_TRUE(lab.reset());
  std::span<const float> now = lab.run(0).run.network->parameters();
  EXPECT_TRUE(std::equal(now.begin(), now.end(), initial.begin()));
  EXPECT_TRUE(lab.run(0).run.trainer->history().empty());
}

TEST(Lab, LayerWeightBitsQuantizeOnlyThoseLayersAndSensitivityQuantizesOneAlone) {
  std::unique_ptr<Lab> lab = trained_lab(small_state({"baseline"}));
  ASSERT_EQ(lab->weighted_layers().size(), 3u);
  ASSERT_TRUE(lab->set("layer_weight_bits", "-,2,-"));
  QuantizationSetting setting = lab->current_setting();
  const int middle = lab->weighted_layers()[1];
  EXPECT_EQ(setting.weight_bits_per_layer[middle], 2);

  const QuantizationSetting alone = lab->layer_only_setting(lab->weighted_layers()[0]);
  std::vector<float> view = quantized_weights_view(*lab->run(0).run.network, alone);
  std::span<const float> master = lab->run(0).run.network->parameters();
  for (const ParameterTensor& tensor : lab->run(0).run.network->parameter_tensors()) {
    const bool same =
        std::equal(master.begin() + tensor.offset, master.begin() + tensor.offset + tensor.size(),
                   view.begin() + tensor.offset);
    EXPECT_EQ(same, !(tensor.is_weight && tensor.layer == lab->weighted_layers()[0])) << tensor.name;
  }
  lab->set_interest({.accuracy_curves = false, .layer_sensitivity = true, .decision_boundaries = false});
  lab->advance(1000);
  for (int layer : lab->weighted_layers()) {
    const auto* entry = lab->evaluation(0, lab->layer_only_setting(layer));
    ASSERT_NE(entry, nullptr);
    EXPECT_TRUE(entry->complete);
  }
}

// One layer's input at 2 bits, every other activation float: only that input gets a grid, and the
// accuracy moves; the activations-only sensitivity setting of that layer is the same setting, and the
// first weighted layer's (its input is the data) is the float one.
TEST(Lab, LayerActivationBitsQuantizeOnlyThatInputAndSensitivityQuantizesOneAlone) {
  LabState state = small_state({"baseline"});
  state.experiment.dataset = DatasetChoice::spiral;  // the moons keep their accuracy at 2 bits
  state.experiment.weight_bits = 0;
  std::unique_ptr<Lab> lab = trained_lab(state);
  ASSERT_EQ(lab->weighted_layers().size(), 3u);
  const int middle = lab->weighted_layers()[1];
  lab->advance(1000);
  const EvaluationCache::Entry* at_float = lab->evaluation(0, lab->current_setting());
  ASSERT_TRUE(at_float && at_float->complete);
  const double float_accuracy = at_float->result.accuracy;

  ASSERT_TRUE(lab->set("layer_activation_bits", "2,2,-"));  // the first entry is ignored
  const QuantizationSetting setting = lab->current_setting();
  EXPECT_TRUE(quantizes_activations(setting));
  EXPECT_EQ(activation_bits_of_layer(setting, middle), 2);
  EXPECT_EQ(activation_bits_of_layer(setting, lab->weighted_layers()[0]), 0);
  EXPECT_EQ(activation_bits_of_layer(setting, lab->weighted_layers()[2]), 0);
  lab->advance(1000);
  const EvaluationCache::Entry* mixed = lab->evaluation(0, setting);
  ASSERT_TRUE(mixed && mixed->complete);
  const double mixed_accuracy = mixed->result.accuracy;
  EXPECT_NE(mixed_accuracy, float_accuracy);
  const ForwardOptions<float>* forward = lab->evaluation_forward(0, setting);
  ASSERT_TRUE(forward && forward->activation_quantization);
  const std::vector<std::optional<QuantGrid>>& grids = forward->activation_quantization->input_grids;
  for (size_t layer = 0; layer < grids.size(); ++layer)
    EXPECT_EQ(grids[layer].has_value(), static_cast<int>(layer) == middle) << "layer " << layer;

  // The sensitivity bars at 2-bit activations: the middle layer's is the evaluation above.
  ASSERT_TRUE(lab->set("layer_activation_bits", ""));
  ASSERT_TRUE(lab->set("activation_bits", "2"));
  EXPECT_FALSE(quantizes_activations(lab->layer_activation_only_setting(lab->weighted_layers()[0])));
  lab->set_interest({.accuracy_curves = false, .layer_sensitivity = true, .decision_boundaries = false});
  lab->advance(1000);
  for (size_t i = 1; i < lab->weighted_layers().size(); ++i) {
    const auto* entry = lab->evaluation(0, lab->layer_activation_only_setting(lab->weighted_layers()[i]));
    ASSERT_NE(entry, nullptr) << "layer " << i;
    EXPECT_TRUE(entry->complete);
  }
  EXPECT_EQ(lab->evaluation(0, lab->layer_activation_only_setting(middle))->result.accuracy, mixed_accuracy);
}

TEST(Lab, DecisionBoundaryAgreesWithThePredictionsAtTheTestPoints) {
  std::unique_ptr<Lab> lab = trained_lab(small_state({"baseline"}));
  ASSERT_TRUE(lab->set("weight_bits", "8"));
  lab->advance(1000);
  const LabRun& run = lab->run(0);
  const DecisionBoundary& boundary = run.float_boundary;
  ASSERT_EQ(boundary.predicted_class.size(), 64u * 64u);
  const PlaneRegion& region = boundary.region;
  std::vector<int32_t> predictions;
  evaluate(*run.run.network, lab->dataset().test_x, lab->dataset().test_y, {}, &predictions);
  size_t agree = 0;
  std::vector<float> point(2);
  for (size_t i = 0; i < lab->dataset().test_size(); ++i) {
    lab->dataset().test_x.copy_rows(i, 1, point.data());
    ASSERT_TRUE(point[0] > region.x_min && point[0] < region.x_max && point[1] > region.y_min &&
                point[1] < region.y_max);
    const int column = static_cast<int>((point[0] - region.x_min) / (region.x_max - region.x_min) * 64);
    const int row = static_cast<int>((region.y_max - point[1]) / (region.y_max - region.y_min) * 64);
    agree += boundary.predicted_class[row * 64 + column] == predictions[i];
  }
  // A cell is ~1/40 of the data's width: only points right at the boundary may disagree.
  EXPECT_GE(double(agree) / lab->dataset().test_size(), 0.95);
  EXPECT_LT(boundary_disagreement(run.float_boundary, run.quantized_boundary), 0.02)
      << "8 bits barely move it";
  ASSERT_TRUE(lab->set("weight_bits", "2"));
  ASSERT_TRUE(lab->set("granularity", "per-tensor"));
  lab->advance(1000);
  EXPECT_GT(boundary_disagreement(run.float_boundary, run.quantized_boundary), 0.02)
      << "2 bits per tensor move it";
}

TEST(NeuronMaps, EachCellIsTheHiddenLayersOutputAtItsCentre) {
  std::unique_ptr<Lab> lab = trained_lab(small_state({"baseline"}));  // mlp:16,16 with ReLU
  Network<float>& network = *lab->run(0).run.network;
  const std::vector<int> hidden = hidden_neuron_layers(network.architecture());
  ASSERT_EQ(hidden, (std::vector<int>{1, 3}))
      << "the ReLU after each hidden dense layer, not the output layer";
  EXPECT_EQ(network.architecture().layers[hidden[0]].kind, LayerKind::relu);
  Result<Architecture> linear = parse_architecture("linear", TensorShape{1, 1, 2}, 2);
  ASSERT_TRUE(linear.ok()) << linear.message();
  EXPECT_TRUE(hidden_neuron_layers(linear.value()).empty()) << "one dense layer: no hidden neurons";

  const PlaneRegion& region = lab->plane_region();
  constexpr int kResolution = 5;
  const NeuronMaps maps = compute_neuron_maps(network, {}, region, kResolution, hidden[1]);
  ASSERT_EQ(maps.neurons, 16);
  ASSERT_EQ(maps.values.size(), 16u * kResolution * kResolution);
  // Cell (row 1, column 3) by a forward of its centre alone.
  const float x = region.x_min + 3.5f * (region.x_max - region.x_min) / kResolution;
  const float y = region.y_max - 1.5f * (region.y_max - region.y_min) / kResolution;
  const std::vector<float> centre = {x, y};
  network.forward(centre, 1);
  std::span<const float> expected = network.layer_output(hidden[1]);
  for (int n = 0; n < 16; ++n) EXPECT_NEAR(maps.map(n)[1 * kResolution + 3], expected[n], 1e-5f) << n;

  // The lab keeps the maps of the layer the panel looks at, float and at the slider's setting. At 2 bits
  // per tensor some neuron moves; the float maps stay as they were.
  lab->set_interest({.neuron_map_layer = hidden[1]});
  lab->advance(1000);
  const NeuronMaps float_maps = lab->run(0).float_neuron_maps;
  ASSERT_EQ(float_maps.layer, hidden[1]);
  EXPECT_EQ(float_maps.values,
            compute_neuron_maps(network, {}, region, float_maps.resolution, hidden[1]).values);
  ASSERT_TRUE(lab->set("weight_bits", "2"));
  ASSERT_TRUE(lab->set("granularity", "per-tensor"));
  lab->advance(1000);
  const NeuronMaps& moved = lab->run(0).quantized_neuron_maps;
  ASSERT_EQ(moved.values.size(), float_maps.values.size());
  EXPECT_TRUE(lab->plane_maps_current(0)) << "of the current setting and weights";
  float largest_change = 0;
  for (size_t i = 0; i < moved.values.size(); ++i)
    largest_change = std::max(largest_change, std::fabs(moved.values[i] - float_maps.values[i]));
  EXPECT_GT(largest_change, 1e-3f);
  EXPECT_EQ(lab->run(0).float_neuron_maps.values, float_maps.values);
}

// CPQ learns its quantizer (a step α per layer); the lab rounds its weights on that grid, as CPQ deploys
// them, and shows that grid in the weight panel. A baseline is rounded post-training as before.
TEST(Lab, ReadsCpqOnTheGridItLearned) {
  LabState state = small_state({"baseline", "cpq"});
  state.experiment.methods.cpq.bits = 3;
  state.experiment.weight_bits = 3;
  std::unique_ptr<Lab> lab = trained_lab(state);
  for (int i = 0; i < 200 && !lab->evaluation(1, lab->current_setting()); ++i) lab->advance(50);
  while (!lab->evaluation_current(1, lab->current_setting())) lab->advance(50);
  const LabRun& cpq = lab->run(1);
  std::vector<float> view;
  const ForwardOptions<float> deployed = cpq.run.trainer->trained_forward(view);
  const Evaluation as_deployed =
      evaluate(*cpq.run.network, lab->dataset().test_x, lab->dataset().test_y, deployed);
  EXPECT_DOUBLE_EQ(lab->evaluation(1, lab->current_setting())->result.accuracy, as_deployed.accuracy);
  EXPECT_EQ(own_grid_method(lab->run(0))
                ->quantize_on_own_grid(*lab->run(0).run.network, lab->current_setting(), view),
            false);

  double step = 0;
  for (const MethodReadout& readout : cpq.readouts)
    if (readout.name == "step α" && readout.layer == lab->weighted_layers().front()) step = readout.value;
  ASSERT_GT(step, 0);
  const std::vector<LayerWeightStatistics> stats =
      weight_statistics(*cpq.run.network, lab->current_setting(), 60, own_grid_method(cpq));
  ASSERT_EQ(stats.front().grid_levels.size(), 8u);  // 3 bits: codes -4..3
  for (size_t k = 0; k < 8; ++k) EXPECT_NEAR(stats.front().grid_levels[k], (int(k) - 4) * step, 1e-5 * step);
}

TEST(Lab, MetricsCarryWhatEachMethodLearnedPerLayer) {
  LabState state = small_state({"baseline", "cpq"});
  state.experiment.methods.cpq.bits = 4;
  state.experiment.methods.cpq.learn_bits = true;
  std::unique_ptr<Lab> lab = trained_lab(state);
  const Json metrics = lab_metrics_json(*lab);
  const Json::Array& runs = metrics.find("runs")->as_array();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].find("readouts")->size(), 0u);  // the baseline learns nothing beyond weights

  std::vector<int> learned_bits_layers;
  for (const Json& readout : runs[1].find("readouts")->as_array()) {
    if (readout.find("name")->as_string() != "learned weight bits") continue;
    const double bits = readout.find("value")->as_number();
    EXPECT_GE(bits, kCpqFewestBits);
    EXPECT_LE(bits, 4);
    learned_bits_layers.push_back(static_cast<int>(readout.find("layer")->as_number()));
  }
  EXPECT_EQ(learned_bits_layers, lab->weighted_layers());
  // The same bits as numbers, so a page need not know the readout's name.
  std::vector<int> listed;
  for (const Json& b : runs[1].find("learned_weight_bits")->as_array()) listed.push_back(int(b.as_number()));
  EXPECT_EQ(format_layer_bits(listed), learned_layer_bits(*lab, 1));
  EXPECT_TRUE(runs[0].find("learned_weight_bits")->is_null());
  // The same numbers the method reports for the trained weights.
  const std::vector<MethodReadout> direct =
      lab->run(1).run.trainer->method().readouts(*lab->run(1).run.network);
  EXPECT_EQ(method_readouts_json(direct), *runs[1].find("readouts"));

  // A loaded model brings weights only: no learned state to report.
  const std::vector<float> weights(lab->run(1).run.network->parameters().begin(),
                                   lab->run(1).run.network->parameters().end());
  ASSERT_TRUE(lab->load_weights(1, weights).ok());
  lab->advance(10);
  EXPECT_EQ(lab_metrics_json(*lab).find("runs")->as_array()[1].find("readouts")->size(), 0u);
}

TEST(EvaluationCache, KeepsTheLastCompleteResultWhileNewerWeightsAreEvaluated) {
  LabState state = small_state({"baseline"});
  state.experiment.samples = 2000;  // 600 test points
  Result<std::unique_ptr<Lab>> made = Lab::create(state);
  ASSERT_TRUE(made.ok());
  const LabRun& run = made.value()->run(0);
  EvaluationCache cache(made.value()->shared_dataset(), 64);
  QuantizationSetting setting = made.value()->setting_with_weight_bits(4);
  EXPECT_EQ(cache.find(setting), nullptr);
  // A zero budget evaluates one chunk per call (a whole one first, then the smallest): partial results
  // are shown until the first completes.
  EXPECT_FALSE(cache.evaluate(*run.run.network, 1, setting, 0));
  ASSERT_NE(cache.find(setting), nullptr);
  EXPECT_EQ(cache.find(setting)->result.samples, 250u);
  EXPECT_FALSE(cache.find(setting)->complete);
  size_t shown = 250;
  while (!cache.evaluate(*run.run.network, 1, setting, 0)) {
    EXPECT_GT(cache.find(setting)->result.samples, shown);
    shown = cache.find(setting)->result.samples;
    EXPECT_FALSE(cache.find(setting)->complete);
  }
  const Evaluation first = cache.find(setting)->result;
  EXPECT_TRUE(cache.is_current(setting, 1));
  EXPECT_FALSE(cache.is_current(setting, 2));
  EXPECT_EQ(cache.find(made.value()->setting_with_weight_bits(3)), nullptr);

  for (int i = 0; i < 20; ++i) run.run.trainer->step();
  EXPECT_FALSE(cache.evaluate(*run.run.network, 2, setting, 0));
  EXPECT_EQ(cache.find(setting)->weights_version, 1u)
      << "the old complete result stays until the new one is done";
  EXPECT_TRUE(cache.find(setting)->complete);
  EXPECT_EQ(cache.find(setting)->result.loss, first.loss);
  while (!cache.evaluate(*run.run.network, 2, setting, 0)) {
  }
  EXPECT_EQ(cache.find(setting)->weights_version, 2u);
  EXPECT_NE(cache.find(setting)->result.loss, first.loss);
  ASSERT_NE(cache.forward_options(setting), nullptr);
  const std::vector<int32_t>& predictions = cache.find(setting)->predictions;
  EXPECT_EQ(predictions.size(), 600u);
  EXPECT_EQ(std::count(predictions.begin(), predictions.end(), -1), 0);
}

// Random 6x6 images stored as uint8 codes (as Fashion-MNIST is), 3 classes.
std::shared_ptr<const Dataset> random_images(int train, int test) {
  Rng rng(17);
  auto rows = [&](int count) {
    std::vector<uint8_t> codes(static_cast<size_t>(count) * 36);
    for (uint8_t& code : codes) code = static_cast<uint8_t>(rng.below(256));
    return FeatureRows::from_uint8_codes(std::move(codes), 36, 255.0f);
  };
  auto labels = [&](int count) {
    std::vector<int32_t> y(count);
    for (int32_t& label : y) label = static_cast<int32_t>(rng.below(3));
    return y;
  };
  Dataset images;
  images.name = "random images";
  images.sample_shape = {6, 6, 1};
  images.num_classes = 3;
  images.class_names = {"a", "b", "c"};
  images.train_x = rows(train);
  images.train_y = labels(train);
  images.test_x = rows(test);
  images.test_y = labels(test);
  return std::make_shared<const Dataset>(std::move(images));
}

// With quantized activations on image data the slider runs real int8 inference: its numbers are
// evaluate_quantized's (which takes the same path), close to fake quantization's, and they follow
// the weights like every other evaluation; with float activations it stays on the float network.
TEST(EvaluationCache, QuantizedActivationsOnImagesEvaluateInInt8AndFollowTheWeights) {
  std::shared_ptr<const Dataset> images = random_images(300, 700);
  Result<Architecture> architecture = parse_architecture("mlp:12", TensorShape{6, 6, 1}, 3);
  ASSERT_TRUE(architecture.ok());
  Network<float> network(*architecture, reference_kernel_table());
  network.initialize(3);
  EvaluationCache cache(images, 200);
  QuantizationSetting setting;
  setting.weights = {.bits = 4};
  setting.activations = {.bits = 8};
  while (!cache.evaluate(network, 1, setting, 0)) {
  }
  EXPECT_TRUE(cache.evaluates_in_int8(setting));
  const Evaluation int8 = evaluate_quantized(network, *images, setting, 200);
  const Evaluation fake =
      evaluate_quantized(network, *images, setting, 200, nullptr, QuantizedPath::fake_quantization);
  EXPECT_DOUBLE_EQ(cache.find(setting)->result.accuracy, int8.accuracy);
  EXPECT_NEAR(cache.find(setting)->result.loss, int8.loss, 1e-6);
  EXPECT_NEAR(cache.find(setting)->result.accuracy, fake.accuracy, 0.01);

  network.initialize(4);  // new weights, version 2
  while (!cache.evaluate(network, 2, setting, 0)) {
  }
  const Evaluation after = evaluate_quantized(network, *images, setting, 200);
  EXPECT_EQ(cache.find(setting)->weights_version, 2u);
  EXPECT_DOUBLE_EQ(cache.find(setting)->result.accuracy, after.accuracy);
  EXPECT_NEAR(cache.find(setting)->result.loss, after.loss, 1e-6);

  QuantizationSetting float_activations = setting;
  float_activations.activations.bits = 0;
  while (!cache.evaluate(network, 2, float_activations, 0)) {
  }
  EXPECT_FALSE(cache.evaluates_in_int8(float_activations));
}

TEST(EvaluationCache, KeepsAtMostItsSettingsDroppingTheLeastRecentlyUsed) {
  Result<std::unique_ptr<Lab>> made = Lab::create(small_state({"baseline"}));
  ASSERT_TRUE(made.ok());
  Lab& lab = *made.value();
  EXPECT_EQ(lab.cached_settings(), EvaluationCache::kDefaultMaxSettings) << "a small network keeps them all";
  EvaluationCache cache(lab.shared_dataset(), 64, /*max_settings=*/3);
  Network<float>& network = *lab.run(0).run.network;
  for (int bits : {8, 6, 4}) cache.evaluate(network, 1, lab.setting_with_weight_bits(bits), 1e9);
  cache.evaluate(network, 1, lab.setting_with_weight_bits(8), 1e9);  // used again: now the newest
  cache.evaluate(network, 1, lab.setting_with_weight_bits(2), 1e9);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.find(lab.setting_with_weight_bits(6)), nullptr) << "the least recently used went";
  EXPECT_NE(cache.find(lab.setting_with_weight_bits(8)), nullptr);
}

TEST(Lab, LargeNetworksCacheFewerSettingsButAllThePanelsNeed) {
  LabState state = small_state({"baseline"});
  state.experiment.architecture = "mlp:1024,1024";  // 1,055,747 parameters: 4.2 MB per quantized copy
  Result<std::unique_ptr<Lab>> made = Lab::create(state);
  ASSERT_TRUE(made.ok()) << made.message();
  const size_t needed = 1 + Lab::curve_weight_bits().size() + 2 * made.value()->weighted_layers().size();
  EXPECT_EQ(made.value()->cached_settings(), 15u) << "64 MB of copies";
  EXPECT_GE(made.value()->cached_settings(), needed);
}

TEST(EvaluationCache, SettingKeysSeparateEveryField) {
  QuantizationSetting a;
  a.weights.bits = 4;
  std::set<std::string> keys = {quantization_setting_key(a)};
  QuantizationSetting b = a;
  b.weights.granularity = Granularity::per_tensor;
  keys.insert(quantization_setting_key(b));
  b = a, b.activations.bits = 8, keys.insert(quantization_setting_key(b));
  b = a, b.weights.range_method = RangeMethod::mse, keys.insert(quantization_setting_key(b));
  b = a, b.weights.symmetry = Symmetry::asymmetric, keys.insert(quantization_setting_key(b));
  b = a, b.weight_bits_per_layer = {-1, 2}, keys.insert(quantization_setting_key(b));
  b = a, b.activation_bits_per_layer = {-1, 2}, keys.insert(quantization_setting_key(b));
  b = a, b.activation_bits_per_layer = {-1, 0}, keys.insert(quantization_setting_key(b));
  b = a, b.activations.bits = 8, b.activation_bits_per_layer = {-1, 0},
  keys.insert(quantization_setting_key(b));
  b = a, b.activation_bits_per_layer = {-1, 2}, b.activations.range_method = RangeMethod::mse;
  keys.insert(quantization_setting_key(b));
  EXPECT_EQ(keys.size(), 10u);
  b = a, b.weight_bits_per_layer = {-1, -1};  // all global: the same setting as a
  EXPECT_EQ(quantization_setting_key(b), quantization_setting_key(a));
  b = a, b.activation_bits_per_layer = {-1, -1};
  EXPECT_EQ(quantization_setting_key(b), quantization_setting_key(a));
}

TEST(WeightStatistics, HistogramsCountEveryWeightAndQuantizedValuesSitOnTheGrid) {
  std::unique_ptr<Lab> lab = trained_lab(small_state({"baseline"}));
  QuantizationSetting setting = lab->setting_with_weight_bits(2);
  setting.weights.granularity = Granularity::per_tensor;
  const Network<float>& network = *lab->run(0).run.network;
  std::vector<LayerWeightStatistics> layers = weight_statistics(network, setting, 40);
  ASSERT_EQ(layers.size(), 3u);
  for (const LayerWeightStatistics& stats : layers) {
    size_t tensor_size = 0;
    for (const ParameterTensor& t : network.parameter_tensors())
      if (t.name == stats.name) tensor_size = t.size();
    uint64_t total = 0, quantized_total = 0, occupied = 0;
    for (uint32_t c : stats.float_weights.counts) total += c;
    for (uint32_t c : stats.quantized_weights.counts) quantized_total += c, occupied += c > 0;
    EXPECT_EQ(total, tensor_size);
    EXPECT_EQ(quantized_total, tensor_size);
    ASSERT_EQ(stats.grid_levels.size(), 3u) << "2-bit symmetric restricted range: -s, 0, +s";
    EXPECT_LE(occupied, 3u);
    EXPECT_FALSE(stats.per_channel);
    for (float y : stats.staircase_y)
      EXPECT_TRUE(std::find(stats.grid_levels.begin(), stats.grid_levels.end(), y) !=
                  stats.grid_levels.end());
  }
  EXPECT_TRUE(weight_statistics(network, lab->setting_with_weight_bits(0)).front().grid_levels.empty());
}

TEST(WeightStatistics, HistogramOfDegenerateInput) {
  const float values[] = {1.0f, 1.0f, NAN, INFINITY};
  Histogram h = histogram_of(values, 10, 1.0f, 1.0f);
  EXPECT_LT(h.low, h.high);
  uint64_t total = 0;
  for (uint32_t c : h.counts) total += c;
  EXPECT_EQ(total, 2u);
}

}  // namespace
}  // namespace qplay
