// qplay-bench: how fast the engine trains, infers and moves the quantization slider, on the three
// workloads of docs/performance.md. tools/bench/bench_torch.py measures PyTorch on the same shapes
// and tools/bench/run.sh runs both (this one natively and as WebAssembly under node) and prints the
// comparison.
//
//   w1-train   mlp:256,256 (784-256-256-10, ReLU), batch 128: forward + loss + backward + SGD
//              momentum step, samples/s
//   w1-infer   the same network, forward only, batch 128, samples/s
//   w2-train   cnn:16,32 on 28x28x1, batch 64, samples/s
//   w2-infer   the same network, forward only, batch 64, samples/s
//   w3         one slider move: a W1 model's weights quantized per channel to 4 bits
//              (quantized_weights_view) and evaluated on 10,000 test samples, ms per move; every
//              evaluation chunk size in kChunkSizes is tried and the fastest reported
//   w3-w4a8    the same move with 8-bit activations too, as the slider runs it: quantize the weights
//              (4 bits, on the int8 runner's pool), calibrate the activation grids on 512 training samples,
//              build the int8 model and evaluate the 10,000 test samples through real int8 inference (the
//              fastest int8 GEMM variant of the CPU); pixels are uint8 codes (random bytes / 255), like
//              Fashion-MNIST's
//   w3-first-readout  the same move up to the first 1,000-sample read-out of an
//              IncrementalEvaluation (what the slider shows within the frame), ms
//   w4-lab-slider  the playground's slider: a paused Lab of three runs (baseline, gradl1, symreg;
//              mlp:128 on 28x28 byte pixels, 10,000 test samples) moved to a bit-width it has not seen,
//              then frames of lab.advance(8 ms) until every run's evaluation at it is complete, ms;
//              the same three evaluations done directly (evaluate_quantized) are the reference
//   w1-train-<method>  W1 training by each registered method (qreg, gradl1, symreg, cpq, raq) with
//              the registry defaults, samples/s, and its step cost: the ratio to plain W1 steps
//              timed back to back with it in the same repetitions (details.step_cost)
//   w1-train-memory                 memory of W1 training on the synthetic pool (run first)
//   w1-train-memory-fashion-mnist   memory of one Trainer epoch of W1 on Fashion-MNIST (alone)
//
// Data are uniform random pixels and labels from a fixed seed: the speed of float kernels does
// not depend on the values, and PyTorch sees the same shapes. Each measurement is one untimed
// warm-up repetition followed by --repetitions timed ones; the median and the range are reported.
//
// Flags: --threads=1,2  --kernels=auto  --only=<workload>  --repetitions=10  --json
//        --no-reference (skip the reference-kernel rows, e.g. when profiling)
//        --fashion-mnist=DIR (the IDX files of w1-train-memory-fashion-mnist)
// --kernels names the kernel table of every row except the reference ones; "auto" is the fastest
// this build has, and the rows (table and JSON) name the table that actually ran.
// Not a test (no numbers are checked) and not a profiler (docs/performance.md says how to profile).
//
// The same source builds for WebAssembly (the wasm CMake preset; run as `node qplay-bench.js`).
// There it runs 1 thread only (thread counts above 1 are skipped with a note), "auto" means the
// simd128 table, and the memory rows report the size of the wasm linear memory instead of the
// peak RSS, which a wasm module cannot see (see memory_mib). It reads no gzip: the Fashion-MNIST
// row needs --fashion-mnist=DIR holding uncompressed IDX files.
//
// [SECTION] Measuring
// [SECTION] Synthetic data and networks
// [SECTION] Workloads
// [SECTION] Method steps
// [SECTION] Output and command line
#ifndef __EMSCRIPTEN__
#include <sys/resource.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/data/fashion_mnist.h"
#include "core/engine/data/idx_reader.h"
#include "core/engine/deploy/int8_inference.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/io/json.h"
#include "core/engine/kernels/kernel_table.h"
#include "core/engine/lab/lab.h"
#include "core/engine/methods/method_registry.h"
#include "core/engine/nn/architecture.h"
#include "core/engine/nn/network.h"
#include "core/engine/train/evaluation.h"
#include "core/engine/train/incremental_evaluation.h"
#include "core/engine/train/optimizer.h"
#include "core/engine/train/sweep.h"
#include "core/engine/train/trainer.h"

namespace {

using namespace qplay;
using Clock = std::chrono::steady_clock;

#ifdef __EMSCRIPTEN__
constexpr bool kWebAssembly = true;
#else
constexpr bool kWebAssembly = false;
#endif
// The threaded WebAssembly build (Emscripten pthreads) runs --threads up to its preloaded workers + 1.
#ifdef __EMSCRIPTEN_PTHREADS__
constexpr bool kWebAssemblyThreads = true;
#else
constexpr bool kWebAssemblyThreads = false;
#endif

// [SECTION] Measuring ----------------------------------------------------------------------------

// One row of the output: a workload at one kernel table and thread count.
struct Measurement {
  std::string workload;           // "w1-train", ...
  std::string kernels;            // the table that ran: "xnnpack", "simd128", "reference", ...
  int threads = 1;                // as asked for (--threads); WebAssembly without pthreads runs 1 only
  std::string unit;               // "samples/s" (higher is better), "ms" or "MiB" (lower is better)
  std::vector<double> values;     // [repetitions], in unit
  Json details = Json::object();  // batch size, chunk size, ...
  std::string role = "main";      // "main" (--kernels) or "reference" (the plain C++ table, for scale)
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Seconds per unit of work for each of `repetitions` timed calls of fn, after one untimed warm-up
// call (XNNPACK packs its operators and the network grows its arena there). fn does one
// repetition's work and returns how many units (samples, slider moves) that was. prepare, if
// given, runs before every call outside the timing.
std::vector<double> measure(std::string_view name, int repetitions, const std::function<double()>& fn,
                            const std::function<void()>& prepare = {}) {
  std::fprintf(stderr, "  %-40.*s", static_cast<int>(name.size()), name.data());
  std::vector<double> seconds_per_unit, seconds_per_repetition;
  for (int r = -1; r < repetitions; ++r) {
    if (prepare) prepare();
    const Clock::time_point start = Clock::now();
    const double units = fn();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (r < 0) continue;  // the warm-up
    seconds_per_unit.push_back(seconds / units);
    seconds_per_repetition.push_back(seconds);
  }
  std::fprintf(stderr, " %8.1f ms per repetition (median)\n", 1e3 * median(seconds_per_repetition));
  return seconds_per_unit;
}

std::vector<double> per_second(const std::vector<double>& seconds_per_unit) {
  std::vector<double> rates;
  for (double s : seconds_per_unit) rates.push_back(1.0 / s);
  return rates;
}

std::vector<double> milliseconds(const std::vector<double>& seconds_per_unit) {
  std::vector<double> ms;
  for (double s : seconds_per_unit) ms.push_back(1e3 * s);
  return ms;
}

// What the memory rows report, in MiB. Natively: the peak resident set of the whole process.
// A wasm module cannot see its RSS (and emscripten's getrusage returns zeros), so there it is the
// size of the module's linear memory. With ALLOW_MEMORY_GROWTH that only grows, so after the work
// it is the heap's high-water mark rounded up to 64 KiB pages, plus static data and the stack;
// node's own heap and the compiled code are not in it. A different quantity from RSS: say so.
double memory_mib() {
#ifdef __EMSCRIPTEN__
  return static_cast<double>(__builtin_wasm_memory_size(0)) * 65536.0 / 1048576.0;
#else
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // Linux reports KiB
#endif
}
constexpr const char* kMemoryMeasure =
    kWebAssembly ? "wasm linear memory size (heap pages, not RSS)" : "peak RSS of the process";

// [SECTION] Synthetic data and networks ----------------------------------------------------------

// The two models of the benchmark and how much work one timed repetition does.
struct Model {
  const char* name;          // "w1", "w2"
  const char* architecture;  // parse_architecture spec
  TensorShape input;
  int batch;
  int pool_batches;  // the synthetic training pool holds this many batches
  int train_steps;   // per repetition, with XNNPACK (the reference table does a fifth)
  int infer_steps;   // forward passes per repetition
};

constexpr Model kW1{"w1", "mlp:256,256", {1, 1, 784}, 128, 64, 40, 100};
constexpr Model kW2{"w2", "cnn:16,32", {28, 28, 1}, 64, 64, 20, 40};
constexpr int kClasses = 10;
constexpr int kTestSamples = 10000;
constexpr uint64_t kSeed = 20240611;
// W3's evaluation chunk sizes; the fastest is reported.
const std::vector<int> kChunkSizes = {256, 500, 1000, 2000, 5000, 10000};

// Uniform [0, 1) pixels and uniform labels: rows[count, sample_size], labels[count].
struct Samples {
  std::vector<float> features;
  std::vector<int32_t> labels;
};

Samples random_samples(int count, int sample_size, uint64_t seed) {
  Rng rng(seed);
  Samples samples;
  samples.features.resize(static_cast<size_t>(count) * sample_size);
  for (float& x : samples.features) x = static_cast<float>(rng.uniform());
  samples.labels.resize(count);
  for (int32_t& y : samples.labels) y = static_cast<int32_t>(rng.below(kClasses));
  return samples;
}

std::shared_ptr<const KernelTable> kernel_table(const std::string& name, int threads) {
  auto table = make_kernel_table(name, threads);
  if (!table.ok()) {
    std::fprintf(stderr, "qplay-bench: %s\n", table.message().c_str());
    std::exit(2);
  }
  return *table;
}

Network<float> make_network(const Model& model, std::shared_ptr<const KernelTable> kernels) {
  auto architecture = parse_architecture(model.architecture, model.input, kClasses);
  if (!architecture.ok()) {
    std::fprintf(stderr, "qplay-bench: %s\n", architecture.message().c_str());
    std::exit(2);
  }
  Network<float> network(*architecture, std::move(kernels));
  network.initialize(kSeed);
  return network;
}

// Trains on consecutive batches of the pool, wrapping around; returns the last loss. With a
// method, its compute_gradients replaces the plain forward + loss + backward.
struct TrainingLoop {
  Network<float>& network;
  const Samples& pool;
  int batch;
  TrainingMethod* method = nullptr;
  Rng* method_stream = nullptr;  // the method's noise and masks (RAQ, CPQ), as the Trainer's
  OptimizerSettings sgd{OptimizerKind::sgd, /*learning_rate=*/0.01, /*momentum=*/0.9};
  long step = 0;

  float run(int steps) {
    const size_t sample_size = network.architecture().input.size();
    const long pool_batches = static_cast<long>(pool.labels.size()) / batch;
    float loss = 0.0f;
    for (int s = 0; s < steps; ++s, ++step) {
      const size_t first = static_cast<size_t>(step % pool_batches) * batch;
      std::span<const int32_t> labels(pool.labels.data() + first, batch);
      std::span<const float> features =
          std::span<const float>(pool.features).subspan(first * sample_size, batch * sample_size);
      if (method) {
        StepContext context;
        context.step = step + 1;
        context.learning_rate = sgd.learning_rate;
        context.rng = method_stream;
        loss = method->compute_gradients(network, {features, labels, batch}, context).loss;
        optimizer_step(network, sgd, sgd.learning_rate, step + 1);
        method->after_optimizer_step(network, context);
      } else {
        network.forward(features, batch);
        loss = network.loss(labels);
        network.backward(labels);
        optimizer_step(network, sgd, sgd.learning_rate, step + 1);
      }
    }
    return loss;
  }
};

// [SECTION] Workloads ----------------------------------------------------------------------------

// kernels is a make_kernel_table name ("auto", "xnnpack", "reference", ...); the Measurement
// names the table it resolved to.
Measurement bench_training(const Model& model, const std::string& kernels, int threads, int repetitions) {
  const Samples pool = random_samples(model.batch * model.pool_batches, model.input.size(), kSeed);
  const std::shared_ptr<const KernelTable> table = kernel_table(kernels, threads);
  Network<float> network = make_network(model, table);
  TrainingLoop loop{network, pool, model.batch};
  const int steps = table->name == "reference" ? std::max(1, model.train_steps / 5) : model.train_steps;
  float loss = 0.0f;
  const std::string name =
      std::string(model.name) + "-train " + table->name + " " + std::to_string(threads) + "t";
  auto timings = measure(name, repetitions, [&] {
    loss = loop.run(steps);
    return double(steps) * model.batch;
  });
  Measurement m{std::string(model.name) + "-train", table->name, threads, "samples/s", per_second(timings)};
  m.details["batch"] = model.batch;
  m.details["final_loss"] = loss;  // finite, or the run measured the NaN fallback path
  return m;
}

Measurement bench_inference(const Model& model, const std::string& kernels, int threads, int repetitions) {
  const Samples pool = random_samples(model.batch * model.pool_batches, model.input.size(), kSeed);
  const std::shared_ptr<const KernelTable> table = kernel_table(kernels, threads);
  Network<float> network = make_network(model, table);
  const size_t batch_floats = static_cast<size_t>(model.batch) * model.input.size();
  const int steps = table->name == "reference" ? std::max(1, model.infer_steps / 5) : model.infer_steps;
  long step = 0;
  const std::string name =
      std::string(model.name) + "-infer " + table->name + " " + std::to_string(threads) + "t";
  // Inference: no backward follows.
  ForwardOptions<float> inference;
  inference.forward_only = true;
  auto timings = measure(name, repetitions, [&] {
    for (int s = 0; s < steps; ++s, ++step) {
      const size_t first = static_cast<size_t>(step % model.pool_batches) * batch_floats;
      network.forward(std::span<const float>(pool.features).subspan(first, batch_floats), model.batch,
                      inference);
    }
    return double(steps) * model.batch;
  });
  Measurement m{std::string(model.name) + "-infer", table->name, threads, "samples/s", per_second(timings)};
  m.details["batch"] = model.batch;
  return m;
}

// One slider move on a W1 model: quantize every weight (per channel, symmetric, min-max, 4 bits)
// into a view, then evaluate the view on the 10,000 test samples with float activations.
// Before each move the master weights get a new seed (untimed): a real move changes the bits, so
// no move may be served by XNNPACK's cache of operators packed for the previous move's weights.
Measurement bench_slider_move(const std::string& kernel_name, int threads, int repetitions) {
  const Samples test = random_samples(kTestSamples, kW1.input.size(), kSeed + 1);
  QuantizationSetting setting;
  setting.weights.bits = 4;
  setting.weights.granularity = Granularity::per_channel;
  setting.weights.symmetry = Symmetry::symmetric;
  setting.weights.range_method = RangeMethod::min_max;

  auto kernels = kernel_table(kernel_name, threads);
  Measurement best{"w3", kernels->name, threads, "ms"};
  Json by_chunk = Json::object();
  double best_median = INFINITY;
  for (int chunk : kChunkSizes) {
    Network<float> network = make_network(kW1, kernels);
    uint64_t seed = kSeed;
    double accuracy = 0.0;
    const std::string name =
        "w3 chunk " + std::to_string(chunk) + " " + kernels->name + " " + std::to_string(threads) + "t";
    auto timings = measure(
        name, repetitions,
        [&] {
          std::vector<float> view = quantized_weights_view(network, setting);
          ForwardOptions<float> options;
          options.parameters = view;
          accuracy =
              evaluate(network, test.features, test.labels, options, nullptr, kTestSamples, chunk).accuracy;
          return 1.0;
        },
        [&] { network.initialize(++seed); });
    const double ms = median(milliseconds(timings));
    by_chunk[std::to_string(chunk)] = ms;
    if (ms < best_median) {
      best_median = ms;
      best.values = milliseconds(timings);
      best.details["chunk_size"] = chunk;
      best.details["accuracy"] = accuracy;  // about 0.1: random weights, random labels
    }
  }
  best.details["weight_bits"] = setting.weights.bits;
  best.details["median_ms_by_chunk_size"] = by_chunk;
  // The same move on pixels stored as bytes (random bytes / 255, as Fashion-MNIST's), as the
  // playground runs it: the first layer in integers (deploy/byte_input_layer.h), the rest float.
  {
    std::vector<uint8_t> bytes(test.features.size());
    Rng rng(kSeed + 3);
    for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(rng.below(256));
    const FeatureRows pixels = FeatureRows::from_uint8_codes(std::move(bytes), kW1.input.size(), 255.0f);
    Network<float> network = make_network(kW1, kernels);
    TaskPool pool(threads);
    uint64_t seed = kSeed;
    auto timings = measure(
        "w3 byte pixels, first layer in integers " + kernels->name + " " + std::to_string(threads) + "t",
        repetitions,
        [&] {
          std::vector<float> view(network.parameter_count());
          std::vector<std::vector<QuantGrid>> grids;
          quantize_weights_into(network, network.parameters(), setting, view, &grids, &pool);
          const ByteInputLayer first_layer =
              build_byte_input_layer(network, network.parameters(), grids, pixels).value();
          ForwardOptions<float> options;
          options.parameters = view;
          evaluate(network, first_layer, pixels, test.labels, options);
          return 1.0;
        },
        [&] { network.initialize(++seed); });
    best.details["byte_pixels_first_layer_in_integers_ms"] = median(milliseconds(timings));
  }
  return best;
}

// W3 at W4A8 (see the top). Each repetition is a first visit: new master weights (untimed), so the
// calibration and the int8 model are made afresh, as on a slider move. Details split the median
// move into its steps, measured in the same repetitions.
Measurement bench_slider_move_int8(const std::string& kernel_name, int threads, int repetitions) {
  constexpr int kCalibrationSamples = 512;  // the experiment's default calibration_samples
  auto random_codes = [](int count, uint64_t seed) {
    Rng rng(seed);
    std::vector<uint8_t> codes(static_cast<size_t>(count) * kW1.input.size());
    for (uint8_t& code : codes) code = static_cast<uint8_t>(rng.below(256));
    return FeatureRows::from_uint8_codes(std::move(codes), kW1.input.size(), 255.0f);
  };
  const FeatureRows train = random_codes(kCalibrationSamples, kSeed);
  const FeatureRows test = random_codes(kTestSamples, kSeed + 1);
  const Samples labels = random_samples(kTestSamples, 1, kSeed + 2);
  QuantizationSetting setting;
  setting.weights = {.bits = 4, .granularity = Granularity::per_channel};
  setting.activations = {.bits = 8};

  auto kernels = kernel_table(kernel_name, threads);
  Network<float> network = make_network(kW1, kernels);
  Int8Runner runner(threads);
  uint64_t seed = kSeed;
  double accuracy = 0.0;
  std::vector<double> quantize_ms, calibrate_ms, build_ms, evaluate_ms;
  auto since = [](Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  };
  const std::string name = "w3-w4a8 " + kernels->name + " " + std::to_string(threads) + "t";
  auto timings = measure(
      name, repetitions,
      [&] {
        Clock::time_point step = Clock::now();
        std::vector<float> view(network.parameter_count());
        std::vector<std::vector<QuantGrid>> weight_grids;
        quantize_weights_into(network, network.parameters(), setting, view, &weight_grids, &runner.pool());
        quantize_ms.push_back(since(step));
        step = Clock::now();
        const ActivationQuantization activations =
            calibrate_activation_ranges(network, view, train, kCalibrationSamples, setting.activations);
        calibrate_ms.push_back(since(step));
        // As the slider does: the float table's workers sleep before the int8 runner's pool starts.
        if (kernels->release_workers) kernels->release_workers(*kernels);
        step = Clock::now();
        Result<Int8Model> model =
            build_int8_model_for_setting(network, network.parameters(), setting, activations, test,
                                         std::move(weight_grids), &runner.pool());
        build_ms.push_back(since(step));
        if (!model) {
          std::fprintf(stderr, "qplay-bench: w3-w4a8: %s\n", model.message().c_str());
          std::exit(1);
        }
        step = Clock::now();
        accuracy = evaluate_int8(*model, runner, test, labels.labels).value().accuracy;
        evaluate_ms.push_back(since(step));
        return 1.0;
      },
      [&] { network.initialize(++seed); });
  Measurement m{"w3-w4a8", kernels->name, threads, "ms"};
  m.values = milliseconds(timings);
  m.details["int8_gemm"] = int8_gemm_variant_name(fastest_int8_gemm_variant());
  m.details["accuracy"] = accuracy;  // about 0.1: random weights, random labels
  m.details["weight_bits"] = setting.weights.bits;
  m.details["activation_bits"] = setting.activations.bits;
  // The warm-up is the first of each list.
  auto median_of_timed = [](std::vector<double> values) {
    values.erase(values.begin());
    return median(values);
  };
  m.details["quantize_ms"] = median_of_timed(quantize_ms);
  m.details["calibrate_ms"] = median_of_timed(calibrate_ms);
  m.details["build_int8_ms"] = median_of_timed(build_ms);
  m.details["evaluate_int8_ms"] = median_of_timed(evaluate_ms);
  return m;
}

// The slider's first answer: the same move (quantize every weight into a view), then an
// IncrementalEvaluation of the test set run until its first 1,000 samples (a random subset) are in,
// which is what a UI shows in the frame of the move before refining it over the next frames.
Measurement bench_slider_first_readout(const std::string& kernel_name, int threads, int repetitions) {
  const Samples test = random_samples(kTestSamples, kW1.input.size(), kSeed + 1);
  const FeatureRows features = FeatureRows::from_floats(test.features, kW1.input.size());
  QuantizationSetting setting;
  setting.weights.bits = 4;
  setting.weights.granularity = Granularity::per_channel;
  setting.weights.symmetry = Symmetry::symmetric;
  setting.weights.range_method = RangeMethod::min_max;
  constexpr size_t kFirstReadoutSamples = 1000;

  auto kernels = kernel_table(kernel_name, threads);
  Network<float> network = make_network(kW1, kernels);
  IncrementalEvaluation incremental(features, test.labels);
  uint64_t seed = kSeed;
  std::vector<float> view;
  const std::string name = "w3-first-readout " + kernels->name + " " + std::to_string(threads) + "t";
  auto timings = measure(
      name, repetitions,
      [&] {
        view = quantized_weights_view(network, setting);
        ForwardOptions<float> options;
        options.parameters = view;
        incremental.restart();
        incremental.advance(network, options, /*budget_ms=*/0.0, kFirstReadoutSamples);
        return 1.0;
      },
      [&] { network.initialize(++seed); });
  Measurement m{"w3-first-readout", kernels->name, threads, "ms"};
  m.values = milliseconds(timings);
  m.details["samples"] = static_cast<double>(incremental.evaluated());
  m.details["weight_bits"] = setting.weights.bits;
  return m;
}

// The slider as the playground moves it (see the w4-lab-slider line at the top). Each repetition first
// clears the runs' caches (a new calibration size), so every move is a first visit.
Measurement bench_lab_slider(const std::string& kernel_name, int threads, int repetitions) {
  constexpr int kTrainSamples = 2000;
  const Samples train = random_samples(kTrainSamples, kW1.input.size(), kSeed);
  const Samples test = random_samples(kTestSamples, kW1.input.size(), kSeed + 1);
  Dataset images;
  images.name = "synthetic 28x28";
  images.sample_shape = {28, 28, 1};
  images.num_classes = kClasses;
  for (int c = 0; c < kClasses; ++c) images.class_names.push_back(std::to_string(c));
  // Pixels stored as bytes, as Fashion-MNIST's are (random bytes / 255): the playground's path for them.
  auto random_pixels = [](size_t count, uint64_t seed) {
    Rng rng(seed);
    std::vector<uint8_t> bytes(count * kW1.input.size());
    for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(rng.below(256));
    return FeatureRows::from_uint8_codes(std::move(bytes), kW1.input.size(), 255.0f);
  };
  images.train_x = random_pixels(kTrainSamples, kSeed);
  images.test_x = random_pixels(kTestSamples, kSeed + 1);
  images.train_y = train.labels;
  images.test_y = test.labels;
  auto dataset = std::make_shared<const Dataset>(std::move(images));

  LabState state = default_lab_state();
  state.methods = {"baseline", "gradl1", "symreg"};
  state.experiment.architecture = "mlp:128";
  state.experiment.kernels = *parse_choice<KernelChoice>(kernel_name);
  state.experiment.threads = threads;
  Result<std::unique_ptr<Lab>> made = Lab::create(state, dataset);
  if (!made) {
    std::fprintf(stderr, "qplay-bench: %s\n", made.message().c_str());
    std::exit(1);
  }
  Lab& lab = *made.value();
  constexpr double kFrameMs = 8.0;
  auto all_current = [&] {
    for (int r = 0; r < lab.run_count(); ++r)
      if (!lab.evaluation_current(r, lab.current_setting())) return false;
    return true;
  };
  int bits = 8, frames = 0, calibration = 256;
  const std::string name =
      "w4-lab-slider " + lab.run(0).run.network->kernels().name + " " + std::to_string(threads) + "t";
  auto timings = measure(
      name, repetitions,
      [&] {
        bits = bits == 2 ? 8 : bits - 1;
        (void)lab.set("weight_bits", std::to_string(bits));
        frames = 0;
        do {
          lab.advance(kFrameMs);
          ++frames;
        } while (!all_current());
        return 1.0;
      },
      [&] { (void)lab.set("calibration_samples", std::to_string(++calibration)); });
  auto direct = measure("w4-lab-slider direct evaluation", repetitions, [&] {
    for (int r = 0; r < lab.run_count(); ++r)
      evaluate_quantized(*lab.run(r).run.network, *dataset, lab.current_setting(), calibration);
    return 1.0;
  });
  // The same, all in float (the first layer too): what the pixel bytes in integers save.
  auto direct_float = measure("w4-lab-slider direct evaluation in float", repetitions, [&] {
    for (int r = 0; r < lab.run_count(); ++r)
      evaluate_quantized(*lab.run(r).run.network, *dataset, lab.current_setting(), calibration, nullptr,
                         QuantizedPath::fake_quantization);
    return 1.0;
  });
  Measurement m{"w4-lab-slider", lab.run(0).run.network->kernels().name, threads, "ms"};
  m.values = milliseconds(timings);
  m.details["frames"] = frames;
  m.details["frame_budget_ms"] = kFrameMs;
  m.details["runs"] = lab.run_count();
  m.details["direct_ms"] = 1e3 * median(direct);
  m.details["direct_in_float_ms"] = 1e3 * median(direct_float);
  return m;
}

// Memory (memory_mib) of W1 training over the synthetic pool, for the process as a whole (binary,
// libraries, data pool, network arena, XNNPACK's packed weights and threads). Only meaningful when
// nothing bigger ran before it in this process: main runs it first.
Measurement bench_training_memory(const std::string& kernel_name, int threads) {
  const double before_mib = memory_mib();
  const Samples pool = random_samples(kW1.batch * kW1.pool_batches, kW1.input.size(), kSeed);
  const std::shared_ptr<const KernelTable> table = kernel_table(kernel_name, threads);
  Network<float> network = make_network(kW1, table);
  TrainingLoop loop{network, pool, kW1.batch};
  std::fprintf(stderr, "  %-40s",
               ("w1-train-memory " + table->name + " " + std::to_string(threads) + "t").c_str());
  loop.run(2 * kW1.pool_batches);
  Measurement m{"w1-train-memory", table->name, threads, "MiB", {memory_mib()}};
  std::fprintf(stderr, " %10.1f MiB (%s)\n", m.values[0], kMemoryMeasure);
  m.details["measure"] = kMemoryMeasure;
  m.details[kWebAssembly ? "memory_before_mib" : "rss_before_mib"] = before_mib;
  m.details["data_pool_mib"] = pool.features.size() * sizeof(float) / 1048576.0;
  m.details["network_arena_mib"] = network.arena_bytes() / 1048576.0;
  return m;
}

// Memory (memory_mib) of the real path: Fashion-MNIST loaded (as the data set stores it), one
// Trainer epoch of W1 (batch 128, SGD momentum), ending with the epoch's test evaluation. Run it
// alone (--only=...).
Measurement bench_fashion_mnist_memory(const std::string& directory, const std::string& kernel_name,
                                       int threads) {
  FashionMnistOptions options;
  options.directory = directory;
  auto dataset = load_fashion_mnist(options);
  if (!dataset.ok()) {
    std::fprintf(stderr, "qplay-bench: %s\n", dataset.message().c_str());
    if (!gzip_supported()) {
      std::fprintf(stderr,
                   "qplay-bench: this build reads no gzip; pass --fashion-mnist=DIR with the four files"
                   " uncompressed (the wasm test build makes them in <build>/tests/fashion-mnist)\n");
    }
    std::exit(2);
  }
  auto shared = std::make_shared<const Dataset>(std::move(*dataset));
  const std::shared_ptr<const KernelTable> table = kernel_table(kernel_name, threads);
  Network<float> network = make_network(kW1, table);
  TrainingSettings settings;
  settings.epochs = 1;
  settings.batch_size = kW1.batch;
  settings.optimizer = {OptimizerKind::sgd, 0.05, 0.9};
  Trainer trainer(shared, network, settings);
  std::fprintf(
      stderr, "  %-40s",
      ("w1-train-memory-fashion-mnist " + table->name + " " + std::to_string(threads) + "t").c_str());
  while (!trainer.finished()) trainer.advance(1000.0);
  Measurement m{"w1-train-memory-fashion-mnist", table->name, threads, "MiB", {memory_mib()}};
  std::fprintf(stderr, " %10.1f MiB (%s)\n", m.values[0], kMemoryMeasure);
  m.details["measure"] = kMemoryMeasure;
  m.details["dataset_mib"] = (shared->train_x.storage_bytes() + shared->test_x.storage_bytes()) / 1048576.0;
  m.details["test_accuracy"] = trainer.history().empty() ? 0.0 : trainer.history().back().test_accuracy;
  return m;
}

// [SECTION] Method steps --------------------------------------------------------------------------
// Each training method's W1 step against a plain one (issue 16).

// The method rows, in MethodKind order of the registry; "w1-train-" + the method's state-table name.
constexpr MethodKind kBenchedMethods[] = {MethodKind::qreg, MethodKind::gradl1, MethodKind::symreg,
                                          MethodKind::cpq, MethodKind::raq};

std::string method_workload(MethodKind kind) {
  return "w1-train-" + std::string(choice_names(kind)[static_cast<size_t>(kind)]);
}

// W1 trained by one registered method, made by its registry factory from the registry defaults
// (MethodSettings{}: the settings a new experiment starts with; the recipes in
// assets/recipes/method_recipes.json change only data, architecture and bit-widths, except CPQ's learned
// bits) and the default experiment grids, attached as the Trainer attaches it. Each repetition times
// `steps` plain W1 steps (w1-train's loop) and then `steps` of the method on its own network, back to back,
// so the ratio of the two (details.step_cost, the median of the per-repetition ratios) sees the same
// machine load. values: the method's samples/s.
Measurement bench_method_training(MethodKind kind, const std::string& kernels, int threads, int repetitions) {
  const Model& model = kW1;
  const Samples pool = random_samples(model.batch * model.pool_batches, model.input.size(), kSeed);
  const std::shared_ptr<const KernelTable> table = kernel_table(kernels, threads);
  Network<float> plain_network = make_network(model, table);
  Network<float> method_network = make_network(model, table);
  const MethodRegistration& registration = registration_of(kind);
  Result<std::unique_ptr<TrainingMethod>> made = registration.make(MethodSettings{}, MethodContext{});
  if (!made.ok()) {
    std::fprintf(stderr, "qplay-bench: %s\n", made.message().c_str());
    std::exit(1);
  }
  std::unique_ptr<TrainingMethod> method = std::move(made).value();
  method->attach(method_network);
  Rng method_stream(kSeed, /*stream=*/0x3e7);
  TrainingLoop plain{plain_network, pool, model.batch};
  TrainingLoop trained{method_network, pool, model.batch, method.get(), &method_stream};
  const int steps = std::max(1, model.train_steps / 2);
  const std::string workload = method_workload(kind);
  std::vector<double> plain_seconds, method_seconds;
  float loss = 0.0f;
  std::fprintf(stderr, "  %-40s",
               (workload + " " + table->name + " " + std::to_string(threads) + "t").c_str());
  for (int r = -1; r < repetitions; ++r) {  // r = -1: the untimed warm-up of both
    const Clock::time_point start = Clock::now();
    plain.run(steps);
    const Clock::time_point middle = Clock::now();
    loss = trained.run(steps);
    const Clock::time_point end = Clock::now();
    if (r < 0) continue;
    plain_seconds.push_back(std::chrono::duration<double>(middle - start).count());
    method_seconds.push_back(std::chrono::duration<double>(end - middle).count());
  }
  std::vector<double> step_costs, plain_rates, method_rates;
  for (size_t r = 0; r < method_seconds.size(); ++r) {
    step_costs.push_back(method_seconds[r] / plain_seconds[r]);
    plain_rates.push_back(steps * model.batch / plain_seconds[r]);
    method_rates.push_back(steps * model.batch / method_seconds[r]);
  }
  std::fprintf(stderr, " %8.1f ms per repetition (median), %.2fx a plain step\n",
               1e3 * median(method_seconds), median(step_costs));
  Measurement m{workload, table->name, threads, "samples/s", method_rates};
  m.details["batch"] = model.batch;
  m.details["final_loss"] = loss;
  m.details["settings"] = "registry defaults";
  m.details["plain_samples_per_second"] = median(plain_rates);
  m.details["step_cost"] = median(step_costs);
  m.details["step_cost_min"] = *std::min_element(step_costs.begin(), step_costs.end());
  m.details["step_cost_max"] = *std::max_element(step_costs.begin(), step_costs.end());
  return m;
}

// [SECTION] Output and command line --------------------------------------------------------------

Json to_json_row(const Measurement& m) {
  std::vector<double> sorted = m.values;
  std::sort(sorted.begin(), sorted.end());
  Json row = Json::object();
  row["workload"] = m.workload;
  row["kernels"] = m.kernels;
  row["role"] = m.role;
  row["threads"] = m.threads;
  row["unit"] = m.unit;
  row["median"] = median(m.values);
  row["min"] = sorted.front();
  row["max"] = sorted.back();
  Json values = Json::array();
  for (double v : m.values) values.push_back(v);
  row["values"] = values;
  row["details"] = m.details;
  return row;
}

void print_table(const std::vector<Measurement>& rows) {
  std::printf("%-30s %-10s %7s %14s %12s  %-20s\n", "workload", "kernels", "threads", "median", "unit",
              "range (spread)");
  for (const Measurement& m : rows) {
    std::vector<double> sorted = m.values;
    std::sort(sorted.begin(), sorted.end());
    const double mid = median(m.values);
    const double spread = mid > 0 ? 100.0 * (sorted.back() - sorted.front()) / mid : 0.0;
    std::printf("%-30s %-10s %7d %14.1f %12s  %.1f..%.1f (%.1f%%)\n", m.workload.c_str(), m.kernels.c_str(),
                m.threads, mid, m.unit.c_str(), sorted.front(), sorted.back(), spread);
  }
}

struct Options {
  std::vector<int> threads = {1, 2};
  std::string kernels = "auto";  // the table of every row except the reference ones
  std::string only;              // empty: every workload except the Fashion-MNIST memory one
  bool reference = true;         // also time W1 on the reference kernels (1 thread)
  int repetitions = 10;
  bool json = false;
  std::string fashion_mnist_directory = FashionMnistOptions().directory;
  std::vector<std::string> skipped;  // what was asked for but cannot run in this build, and why
};

const char* kUsage =
    "usage: qplay-bench [--threads=1,2] [--kernels=auto] [--only=WORKLOAD] [--repetitions=10]\n"
    "                   [--no-reference] [--fashion-mnist=DIR] [--json]\n"
    "workloads: w1-train w1-infer w2-train w2-infer w3 w3-w4a8 w3-first-readout w4-lab-slider "
    "w1-train-memory\n"
    "           w1-train-memory-fashion-mnist w1-train-qreg w1-train-gradl1 w1-train-symreg w1-train-cpq\n"
    "           w1-train-raq\n";

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value_of = [&](std::string_view flag) -> std::optional<std::string> {
      if (arg.substr(0, flag.size()) != flag) return std::nullopt;
      return std::string(arg.substr(flag.size()));
    };
    if (arg == "--json") {
      options.json = true;
    } else if (auto threads = value_of("--threads=")) {
      options.threads.clear();
      for (size_t start = 0; start <= threads->size();) {
        size_t comma = std::min(threads->find(',', start), threads->size());
        options.threads.push_back(std::atoi(threads->substr(start, comma - start).c_str()));
        start = comma + 1;
      }
    } else if (auto kernels = value_of("--kernels=")) {
      options.kernels = *kernels;
    } else if (auto only = value_of("--only=")) {
      options.only = *only;
    } else if (arg == "--no-reference") {
      options.reference = false;
    } else if (auto repetitions = value_of("--repetitions=")) {
      options.repetitions = std::max(1, std::atoi(repetitions->c_str()));
    } else if (auto directory = value_of("--fashion-mnist=")) {
      options.fashion_mnist_directory = *directory;
    } else {
      std::fprintf(stderr, "qplay-bench: unknown argument '%s'\n%s", argv[i], kUsage);
      std::exit(2);
    }
  }
  for (int t : options.threads) {
    if (t < 1 || t > 64) {
      std::fprintf(stderr, "qplay-bench: --threads takes numbers from 1 to 64\n%s", kUsage);
      std::exit(2);
    }
  }
  if (kWebAssembly && !kWebAssemblyThreads) {  // every kernel table runs on the calling thread
    for (int t : options.threads) {
      if (t == 1) continue;
      options.skipped.push_back(std::to_string(t) + " threads: this WebAssembly build has no threads");
    }
    std::erase_if(options.threads, [](int t) { return t > 1; });
    if (options.threads.empty()) {
      std::fprintf(stderr, "qplay-bench: this WebAssembly build runs 1 thread only (--threads=1)\n%s",
                   kUsage);
      std::exit(2);
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  const std::vector<std::string> known = {"",
                                          "w1-train",
                                          "w1-infer",
                                          "w2-train",
                                          "w2-infer",
                                          "w3",
                                          "w3-w4a8",
                                          "w3-first-readout",
                                          "w4-lab-slider",
                                          "w1-train-qreg",
                                          "w1-train-gradl1",
                                          "w1-train-symreg",
                                          "w1-train-cpq",
                                          "w1-train-raq",
                                          "w1-train-memory",
                                          "w1-train-memory-fashion-mnist"};
  if (std::find(known.begin(), known.end(), options.only) == known.end()) {
    std::fprintf(stderr, "qplay-bench: unknown workload '%s'\n%s", options.only.c_str(), kUsage);
    return 2;
  }
  auto wanted = [&](std::string_view workload) { return options.only.empty() || options.only == workload; };
  const int most_threads = *std::max_element(options.threads.begin(), options.threads.end());
  for (const std::string& note : options.skipped) std::fprintf(stderr, "  skipped: %s\n", note.c_str());

  std::vector<Measurement> rows;
  // Memory first: the peak RSS of a fresh process (in WASM: its linear memory, which never shrinks)
  // is the one that means something.
  if (wanted("w1-train-memory")) rows.push_back(bench_training_memory(options.kernels, most_threads));
  if (options.only == "w1-train-memory-fashion-mnist") {
    rows.push_back(
        bench_fashion_mnist_memory(options.fashion_mnist_directory, options.kernels, most_threads));
  }
  // The table "--kernels" resolves to; the reference rows would only repeat it when it is "reference".
  const std::string main_table = kernel_table(options.kernels, most_threads)->name;
  for (const Model& model : {kW1, kW2}) {
    // What the fast table buys: the plain C++ kernels at 1 thread, W1 only (W2 would take minutes).
    const bool reference =
        options.reference && std::string_view(model.name) == "w1" && main_table != "reference";
    auto add_reference = [&](Measurement m) {
      m.role = "reference";
      rows.push_back(std::move(m));
    };
    if (wanted(std::string(model.name) + "-train")) {
      for (int threads : options.threads) {
        rows.push_back(bench_training(model, options.kernels, threads, options.repetitions));
      }
      if (reference) add_reference(bench_training(model, "reference", 1, options.repetitions));
    }
    if (wanted(std::string(model.name) + "-infer")) {
      for (int threads : options.threads) {
        rows.push_back(bench_inference(model, options.kernels, threads, options.repetitions));
      }
      if (reference) add_reference(bench_inference(model, "reference", 1, options.repetitions));
    }
  }
  for (MethodKind kind : kBenchedMethods) {
    if (!wanted(method_workload(kind))) continue;
    for (int threads : options.threads) {
      rows.push_back(bench_method_training(kind, options.kernels, threads, options.repetitions));
    }
  }
  if (wanted("w3")) {
    for (int threads : options.threads) {
      rows.push_back(bench_slider_move(options.kernels, threads, options.repetitions));
    }
  }
  if (wanted("w3-w4a8")) {
    for (int threads : options.threads) {
      rows.push_back(bench_slider_move_int8(options.kernels, threads, options.repetitions));
    }
  }
  if (wanted("w4-lab-slider")) {
    for (int threads : options.threads) {
      rows.push_back(bench_lab_slider(options.kernels, threads, options.repetitions));
    }
  }
  if (wanted("w3-first-readout")) {
    for (int threads : options.threads) {
      rows.push_back(bench_slider_first_readout(options.kernels, threads, options.repetitions));
    }
  }

  if (options.json) {
    Json document = Json::object();
    document["tool"] = "qplay-bench";
    document["platform"] = kWebAssembly ? "wasm" : "native";
    document["kernels_requested"] = options.kernels;
    document["kernels"] = main_table;
    document["repetitions"] = options.repetitions;
    Json skipped = Json::array();
    for (const std::string& note : options.skipped) skipped.push_back(note);
    document["skipped"] = skipped;
    Json results = Json::array();
    for (const Measurement& m : rows) results.push_back(to_json_row(m));
    document["results"] = results;
    std::printf("%s\n", to_json(document).c_str());
  } else {
    print_table(rows);
    for (const std::string& note : options.skipped) std::printf("skipped: %s\n", note.c_str());
  }
  return 0;
}
