// qplay-bench: how fast the engine trains, infers and moves the quantization slider, on the three
// workloads of docs/performance.md. tools/bench/bench_torch.py measures PyTorch on the same shapes
// and tools/bench/run.sh runs both and prints the comparison.
//
//   w1-train   mlp:256,256 (784-256-256-10, ReLU), batch 128: forward + loss + backward + SGD
//              momentum step, samples/s
//   w1-infer   the same network, forward only, batch 128, samples/s
//   w2-train   cnn:16,32 on 28x28x1, batch 64, samples/s
//   w2-infer   the same network, forward only, batch 64, samples/s
//   w3         one slider move: a W1 model's weights quantized per channel to 4 bits
//              (quantized_weights_view) and evaluated on 10,000 test samples, ms per move; every
//              evaluation chunk size in kChunkSizes is tried and the fastest reported
//   w1-train-memory                 peak RSS of W1 training on the synthetic pool (run first)
//   w1-train-memory-fashion-mnist   peak RSS of one Trainer epoch of W1 on Fashion-MNIST (alone)
//
// Data are uniform random pixels and labels from a fixed seed: the speed of float kernels does
// not depend on the values, and PyTorch sees the same shapes. Each measurement is one untimed
// warm-up repetition followed by --repetitions timed ones; the median and the range are reported.
//
// Flags: --threads=1,2  --only=<workload>  --repetitions=10  --json
//        --no-reference (skip the reference-kernel rows, e.g. when profiling)
// Not a test (no numbers are checked) and not a profiler (docs/performance.md says how to profile).
//
// [SECTION] Measuring
// [SECTION] Synthetic data and networks
// [SECTION] Workloads
// [SECTION] Output and command line
#include <sys/resource.h>

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
#include "core/engine/io/json.h"
#include "core/engine/kernels/kernel_table.h"
#include "core/engine/nn/architecture.h"
#include "core/engine/nn/network.h"
#include "core/engine/quant/post_training.h"
#include "core/engine/train/evaluation.h"
#include "core/engine/train/optimizer.h"
#include "core/engine/train/trainer.h"

namespace {

using namespace qplay;
using Clock = std::chrono::steady_clock;

// [SECTION] Measuring ----------------------------------------------------------------------------

// One row of the output: a workload at one kernel table and thread count.
struct Measurement {
  std::string workload;           // "w1-train", ...
  std::string kernels;            // "xnnpack" or "reference"
  int threads = 1;                //
  std::string unit;               // "samples/s" (higher is better), "ms" or "MiB" (lower is better)
  std::vector<double> values;     // [repetitions], in unit
  Json details = Json::object();  // batch size, chunk size, ...
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

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // Linux reports KiB
}

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

// Trains on consecutive batches of the pool, wrapping around; returns the last loss.
struct TrainingLoop {
  Network<float>& network;
  const Samples& pool;
  int batch;
  OptimizerSettings sgd{OptimizerKind::sgd, /*learning_rate=*/0.01, /*momentum=*/0.9};
  long step = 0;

  float run(int steps) {
    const size_t sample_size = network.architecture().input.size();
    const long pool_batches = static_cast<long>(pool.labels.size()) / batch;
    float loss = 0.0f;
    for (int s = 0; s < steps; ++s, ++step) {
      const size_t first = static_cast<size_t>(step % pool_batches) * batch;
      std::span<const int32_t> labels(pool.labels.data() + first, batch);
      network.forward(std::span<const float>(pool.features).subspan(first * sample_size, batch * sample_size),
                      batch);
      loss = network.loss(labels);
      network.backward(labels);
      optimizer_step(network, sgd, sgd.learning_rate, step + 1);
    }
    return loss;
  }
};

// [SECTION] Workloads ----------------------------------------------------------------------------

Measurement bench_training(const Model& model, const std::string& kernels, int threads, int repetitions) {
  const Samples pool = random_samples(model.batch * model.pool_batches, model.input.size(), kSeed);
  Network<float> network = make_network(model, kernel_table(kernels, threads));
  TrainingLoop loop{network, pool, model.batch};
  const int steps = kernels == "reference" ? std::max(1, model.train_steps / 5) : model.train_steps;
  float loss = 0.0f;
  const std::string name =
      std::string(model.name) + "-train " + kernels + " " + std::to_string(threads) + "t";
  auto timings = measure(name, repetitions, [&] {
    loss = loop.run(steps);
    return double(steps) * model.batch;
  });
  Measurement m{std::string(model.name) + "-train", kernels, threads, "samples/s", per_second(timings)};
  m.details["batch"] = model.batch;
  m.details["final_loss"] = loss;  // finite, or the run measured the NaN fallback path
  return m;
}

Measurement bench_inference(const Model& model, const std::string& kernels, int threads, int repetitions) {
  const Samples pool = random_samples(model.batch * model.pool_batches, model.input.size(), kSeed);
  Network<float> network = make_network(model, kernel_table(kernels, threads));
  const size_t batch_floats = static_cast<size_t>(model.batch) * model.input.size();
  const int steps = kernels == "reference" ? std::max(1, model.infer_steps / 5) : model.infer_steps;
  long step = 0;
  const std::string name =
      std::string(model.name) + "-infer " + kernels + " " + std::to_string(threads) + "t";
  auto timings = measure(name, repetitions, [&] {
    for (int s = 0; s < steps; ++s, ++step) {
      const size_t first = static_cast<size_t>(step % model.pool_batches) * batch_floats;
      network.forward(std::span<const float>(pool.features).subspan(first, batch_floats), model.batch);
    }
    return double(steps) * model.batch;
  });
  Measurement m{std::string(model.name) + "-infer", kernels, threads, "samples/s", per_second(timings)};
  m.details["batch"] = model.batch;
  return m;
}

// One slider move on a W1 model: quantize every weight (per channel, symmetric, min-max, 4 bits)
// into a view, then evaluate the view on the 10,000 test samples with float activations.
// Before each move the master weights get a new seed (untimed): a real move changes the bits, so
// no move may be served by XNNPACK's cache of operators packed for the previous move's weights.
Measurement bench_slider_move(int threads, int repetitions) {
  const Samples test = random_samples(kTestSamples, kW1.input.size(), kSeed + 1);
  QuantizationSetting setting;
  setting.weights.bits = 4;
  setting.weights.granularity = Granularity::per_channel;
  setting.weights.symmetry = Symmetry::symmetric;
  setting.weights.range_method = RangeMethod::min_max;

  auto kernels = kernel_table("xnnpack", threads);
  Measurement best{"w3", "xnnpack", threads, "ms"};
  Json by_chunk = Json::object();
  double best_median = INFINITY;
  for (int chunk : kChunkSizes) {
    Network<float> network = make_network(kW1, kernels);
    uint64_t seed = kSeed;
    double accuracy = 0.0;
    const std::string name = "w3 chunk " + std::to_string(chunk) + " " + std::to_string(threads) + "t";
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
  return best;
}

// Peak RSS of W1 training over the synthetic pool, for the process as a whole (binary, libraries,
// data pool, network arena, XNNPACK's packed weights and threads). Only meaningful when nothing
// bigger ran before it in this process: main runs it first.
Measurement bench_training_memory(int threads) {
  const double before_mib = peak_rss_mib();
  const Samples pool = random_samples(kW1.batch * kW1.pool_batches, kW1.input.size(), kSeed);
  Network<float> network = make_network(kW1, kernel_table("xnnpack", threads));
  TrainingLoop loop{network, pool, kW1.batch};
  std::fprintf(stderr, "  %-40s", ("w1-train-memory " + std::to_string(threads) + "t").c_str());
  loop.run(2 * kW1.pool_batches);
  Measurement m{"w1-train-memory", "xnnpack", threads, "MiB", {peak_rss_mib()}};
  std::fprintf(stderr, " %10.1f MiB\n", m.values[0]);
  m.details["rss_before_mib"] = before_mib;
  m.details["data_pool_mib"] = pool.features.size() * sizeof(float) / 1048576.0;
  m.details["network_arena_mib"] = network.arena_bytes() / 1048576.0;
  return m;
}

// Peak RSS of the real path: Fashion-MNIST loaded as float, one Trainer epoch of W1 (batch 128,
// SGD momentum), ending with the epoch's test evaluation. Run it alone (--only=...).
Measurement bench_fashion_mnist_memory(int threads) {
  auto dataset = load_fashion_mnist();
  if (!dataset.ok()) {
    std::fprintf(stderr, "qplay-bench: %s\n", dataset.message().c_str());
    std::exit(2);
  }
  auto shared = std::make_shared<const Dataset>(std::move(*dataset));
  Network<float> network = make_network(kW1, kernel_table("xnnpack", threads));
  TrainingSettings settings;
  settings.epochs = 1;
  settings.batch_size = kW1.batch;
  settings.optimizer = {OptimizerKind::sgd, 0.05, 0.9};
  Trainer trainer(shared, network, settings);
  std::fprintf(stderr, "  %-40s", ("w1-train-memory-fashion-mnist " + std::to_string(threads) + "t").c_str());
  while (!trainer.finished()) trainer.advance(1000.0);
  Measurement m{"w1-train-memory-fashion-mnist", "xnnpack", threads, "MiB", {peak_rss_mib()}};
  std::fprintf(stderr, " %10.1f MiB\n", m.values[0]);
  m.details["dataset_mib"] = (shared->train_x.size() + shared->test_x.size()) * sizeof(float) / 1048576.0;
  m.details["test_accuracy"] = trainer.history().empty() ? 0.0 : trainer.history().back().test_accuracy;
  return m;
}

// [SECTION] Output and command line --------------------------------------------------------------

Json to_json_row(const Measurement& m) {
  std::vector<double> sorted = m.values;
  std::sort(sorted.begin(), sorted.end());
  Json row = Json::object();
  row["workload"] = m.workload;
  row["kernels"] = m.kernels;
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
  std::string only;       // empty: every workload except the Fashion-MNIST memory one
  bool reference = true;  // also time W1 on the reference kernels (1 thread)
  int repetitions = 10;
  bool json = false;
};

const char* kUsage =
    "usage: qplay-bench [--threads=1,2] [--only=WORKLOAD] [--repetitions=10] [--no-reference] [--json]\n"
    "workloads: w1-train w1-infer w2-train w2-infer w3 w1-train-memory w1-train-memory-fashion-mnist\n";

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
    } else if (auto only = value_of("--only=")) {
      options.only = *only;
    } else if (arg == "--no-reference") {
      options.reference = false;
    } else if (auto repetitions = value_of("--repetitions=")) {
      options.repetitions = std::max(1, std::atoi(repetitions->c_str()));
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
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  const std::vector<std::string> known = {
      "",         "w1-train", "w1-infer",        "w2-train",
      "w2-infer", "w3",       "w1-train-memory", "w1-train-memory-fashion-mnist"};
  if (std::find(known.begin(), known.end(), options.only) == known.end()) {
    std::fprintf(stderr, "qplay-bench: unknown workload '%s'\n%s", options.only.c_str(), kUsage);
    return 2;
  }
  auto wanted = [&](std::string_view workload) { return options.only.empty() || options.only == workload; };
  const int most_threads = *std::max_element(options.threads.begin(), options.threads.end());

  std::vector<Measurement> rows;
  // Memory first: the peak RSS of a fresh process is the one that means something.
  if (wanted("w1-train-memory")) rows.push_back(bench_training_memory(most_threads));
  if (options.only == "w1-train-memory-fashion-mnist")
    rows.push_back(bench_fashion_mnist_memory(most_threads));
  for (const Model& model : {kW1, kW2}) {
    // What XNNPACK buys: the plain C++ kernels at 1 thread, W1 only (W2 would take minutes).
    const bool reference = options.reference && std::string_view(model.name) == "w1";
    if (wanted(std::string(model.name) + "-train")) {
      for (int threads : options.threads) {
        rows.push_back(bench_training(model, "xnnpack", threads, options.repetitions));
      }
      if (reference) rows.push_back(bench_training(model, "reference", 1, options.repetitions));
    }
    if (wanted(std::string(model.name) + "-infer")) {
      for (int threads : options.threads) {
        rows.push_back(bench_inference(model, "xnnpack", threads, options.repetitions));
      }
      if (reference) rows.push_back(bench_inference(model, "reference", 1, options.repetitions));
    }
  }
  if (wanted("w3")) {
    for (int threads : options.threads) rows.push_back(bench_slider_move(threads, options.repetitions));
  }

  if (options.json) {
    Json document = Json::object();
    document["tool"] = "qplay-bench";
    document["repetitions"] = options.repetitions;
    Json results = Json::array();
    for (const Measurement& m : rows) results.push_back(to_json_row(m));
    document["results"] = results;
    std::printf("%s\n", to_json(document).c_str());
  } else {
    print_table(rows);
  }
  return 0;
}
