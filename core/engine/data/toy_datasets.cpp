// Generators for the toy data sets declared in toy_datasets.h.
//
// Determinism: every random number comes from one qplay::Rng in a fixed order (each draw is its
// own statement, because the evaluation order of two calls inside one expression is unspecified),
// and sin/cos go through deterministic_math. The file must be built with -ffp-contract=off.
#include "core/engine/data/toy_datasets.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "core/engine/base/deterministic_math.h"
#include "core/engine/base/rng.h"
#include "core/engine/io/json.h"

namespace qplay {

namespace {

constexpr int kMinSamples = 10, kMaxSamples = 1'000'000;
constexpr double kMaxNoise = 2.0;
constexpr double kMinTestFraction = 0.05, kMaxTestFraction = 0.95;
constexpr int kMinClasses = 2, kMaxClasses = 10;

// Shapes, chosen so the clean data lies within [-1.5, 1.5] (only the moons reach it; the others
// stay within 1.3, leaving room for noise): the range in which tanh and ReLU MLPs with standard
// initialisation train without input normalisation.
constexpr double kSpiralOuterRadius = 1.3;
// Three quarters of a turn per arm: curved enough to need hidden layers, yet with arms far
// enough apart (1.3 / (0.75 * arms) radially) that a small MLP separates them at noise 0.1.
constexpr double kSpiralTurns = 0.75;
constexpr double kCircleOuterRadius = 1.2, kCircleInnerRadius = 0.6;
constexpr double kXorGap = 0.1, kXorExtent = 1.2;  // |coordinate| range before noise
constexpr double kBlobCentreRadius = 1.0;
constexpr double kBlobSpread = 0.2;  // a blob's own std-dev; options.noise widens it further

struct Points {
  std::vector<float> x;    // [n, 2]
  std::vector<int32_t> y;  // [n]
};

class PointWriter {
 public:
  PointWriter(Points& points, Rng& rng, double noise) : points_(points), rng_(rng), noise_(noise) {}

  // Appends (x, y) plus independent Gaussian noise on each coordinate.
  void add(double x, double y, int label) {
    double noise_x = noise_ * rng_.normal();
    double noise_y = noise_ * rng_.normal();
    points_.x.push_back(static_cast<float>(x + noise_x));
    points_.x.push_back(static_cast<float>(y + noise_y));
    points_.y.push_back(label);
  }

 private:
  Points& points_;
  Rng& rng_;
  double noise_;
};

// Class sizes that add up to num_samples and differ by at most one.
int class_size(int num_samples, int num_classes, int label) {
  return num_samples / num_classes + (label < num_samples % num_classes ? 1 : 0);
}

// Position along a class's curve in (0, 1): stratified (one point per equal slot, jittered within
// it) so small data sets still cover the whole curve evenly.
double stratified(int index, int count, Rng& rng) { return (index + rng.uniform()) / count; }

void generate_spiral(int num_samples, int num_arms, Rng& rng, PointWriter& out) {
  for (int arm = 0; arm < num_arms; ++arm) {
    const int count = class_size(num_samples, num_arms, arm);
    for (int i = 0; i < count; ++i) {
      double along = stratified(i, count, rng);
      double radius = kSpiralOuterRadius * along;  // grows linearly with the angle
      double angle = 2.0 * kPi * arm / num_arms + 2.0 * kPi * kSpiralTurns * along;
      out.add(radius * deterministic_cos(angle), radius * deterministic_sin(angle), arm);
    }
  }
}

// sklearn's make_moons, shifted so the pair is centred on the origin: x in [-1.5, 1.5].
void generate_moons(int num_samples, Rng& rng, PointWriter& out) {
  for (int moon = 0; moon < 2; ++moon) {
    const int count = class_size(num_samples, 2, moon);
    for (int i = 0; i < count; ++i) {
      double angle = kPi * stratified(i, count, rng);
      double cos_angle = deterministic_cos(angle), sin_angle = deterministic_sin(angle);
      if (moon == 0) {
        out.add(cos_angle - 0.5, sin_angle - 0.25, moon);
      } else {
        out.add(0.5 - cos_angle, 0.25 - sin_angle, moon);
      }
    }
  }
}

void generate_circles(int num_samples, Rng& rng, PointWriter& out) {
  for (int ring = 0; ring < 2; ++ring) {
    const int count = class_size(num_samples, 2, ring);
    const double radius = ring == 0 ? kCircleOuterRadius : kCircleInnerRadius;
    for (int i = 0; i < count; ++i) {
      double angle = 2.0 * kPi * stratified(i, count, rng);
      out.add(radius * deterministic_cos(angle), radius * deterministic_sin(angle), ring);
    }
  }
}

// Label 0: both coordinates share a sign; label 1: they differ. Noise can carry a point across an
// axis without changing its label, which is how this data set gets label noise (as in the
// TensorFlow Playground).
void generate_xor(int num_samples, Rng& rng, PointWriter& out) {
  for (int label = 0; label < 2; ++label) {
    const int count = class_size(num_samples, 2, label);
    for (int i = 0; i < count; ++i) {
      double sign_x = rng.below(2) == 0 ? 1.0 : -1.0;
      double sign_y = label == 0 ? sign_x : -sign_x;
      double magnitude_x = rng.uniform(kXorGap, kXorExtent);
      double magnitude_y = rng.uniform(kXorGap, kXorExtent);
      out.add(sign_x * magnitude_x, sign_y * magnitude_y, label);
    }
  }
}

// The writer adds options.noise on top of each blob's own spread.
void generate_blobs(int num_samples, int num_blobs, Rng& rng, PointWriter& out) {
  for (int blob = 0; blob < num_blobs; ++blob) {
    const int count = class_size(num_samples, num_blobs, blob);
    const double angle = 2.0 * kPi * blob / num_blobs;
    const double centre_x = kBlobCentreRadius * deterministic_cos(angle);
    const double centre_y = kBlobCentreRadius * deterministic_sin(angle);
    for (int i = 0; i < count; ++i) {
      double offset_x = kBlobSpread * rng.normal();
      double offset_y = kBlobSpread * rng.normal();
      out.add(centre_x + offset_x, centre_y + offset_y, blob);
    }
  }
}

std::vector<std::string> class_names_for(ToyDatasetKind kind, int num_classes) {
  switch (kind) {
    case ToyDatasetKind::moons:
      return {"upper moon", "lower moon"};
    case ToyDatasetKind::circles:
      return {"outer circle", "inner circle"};
    case ToyDatasetKind::xor_quadrants:
      return {"same sign", "opposite signs"};
    case ToyDatasetKind::spiral:
    case ToyDatasetKind::blobs:
      break;
  }
  const std::string prefix = kind == ToyDatasetKind::spiral ? "arm " : "blob ";
  std::vector<std::string> names;
  for (int label = 0; label < num_classes; ++label) names.push_back(prefix + std::to_string(label));
  return names;
}

Status validate_options(const ToyDatasetOptions& options) {
  if (options.num_samples < kMinSamples || options.num_samples > kMaxSamples) {
    return Status::error("num_samples must be between " + std::to_string(kMinSamples) + " and " +
                         std::to_string(kMaxSamples) + ", got " + std::to_string(options.num_samples));
  }
  // Written as !(in range) so that NaN is rejected too.
  if (!(options.noise >= 0.0 && options.noise <= kMaxNoise)) {
    return Status::error("noise must be between 0 and " + format_json_number(kMaxNoise) + ", got " +
                         format_json_number(options.noise));
  }
  if (!(options.test_fraction >= kMinTestFraction && options.test_fraction <= kMaxTestFraction)) {
    return Status::error("test_fraction must be between " + format_json_number(kMinTestFraction) + " and " +
                         format_json_number(kMaxTestFraction) + ", got " +
                         format_json_number(options.test_fraction));
  }
  if (uses_num_classes(options.kind) &&
      (options.num_classes < kMinClasses || options.num_classes > kMaxClasses)) {
    return Status::error("num_classes must be between " + std::to_string(kMinClasses) + " and " +
                         std::to_string(kMaxClasses) + ", got " + std::to_string(options.num_classes));
  }
  return Status();
}

}  // namespace

bool uses_num_classes(ToyDatasetKind kind) {
  return kind == ToyDatasetKind::spiral || kind == ToyDatasetKind::blobs;
}

const char* toy_dataset_name(ToyDatasetKind kind) {
  switch (kind) {
    case ToyDatasetKind::spiral:
      return "spiral";
    case ToyDatasetKind::moons:
      return "moons";
    case ToyDatasetKind::circles:
      return "circles";
    case ToyDatasetKind::xor_quadrants:
      return "xor";
    case ToyDatasetKind::blobs:
      return "blobs";
  }
  return "unknown";
}

std::optional<ToyDatasetKind> parse_toy_dataset_kind(std::string_view name) {
  for (ToyDatasetKind kind : {ToyDatasetKind::spiral, ToyDatasetKind::moons, ToyDatasetKind::circles,
                              ToyDatasetKind::xor_quadrants, ToyDatasetKind::blobs}) {
    if (name == toy_dataset_name(kind)) return kind;
  }
  return std::nullopt;
}

Result<Dataset> make_toy_dataset(const ToyDatasetOptions& options) {
  if (!parse_toy_dataset_kind(toy_dataset_name(options.kind))) {
    return Status::error("unknown toy data set kind " + std::to_string(static_cast<int>(options.kind)));
  }
  Status valid = validate_options(options);
  if (!valid.ok()) return valid.with_context(std::string(toy_dataset_name(options.kind)) + " data set");

  const int num_samples = options.num_samples;
  const int num_classes = uses_num_classes(options.kind) ? options.num_classes : 2;
  Rng rng(options.seed);
  Points points;
  points.x.reserve(2 * static_cast<size_t>(num_samples));
  points.y.reserve(num_samples);
  PointWriter writer(points, rng, options.noise);
  switch (options.kind) {
    case ToyDatasetKind::spiral:
      generate_spiral(num_samples, num_classes, rng, writer);
      break;
    case ToyDatasetKind::moons:
      generate_moons(num_samples, rng, writer);
      break;
    case ToyDatasetKind::circles:
      generate_circles(num_samples, rng, writer);
      break;
    case ToyDatasetKind::xor_quadrants:
      generate_xor(num_samples, rng, writer);
      break;
    case ToyDatasetKind::blobs:
      generate_blobs(num_samples, num_classes, rng, writer);
      break;
  }

  std::vector<uint32_t> order(num_samples);
  std::iota(order.begin(), order.end(), 0u);
  rng.shuffle(order);

  // llround is exact, so the split point is the same on every platform. Both sides keep at least
  // one sample.
  const long long rounded_test = std::llround(num_samples * options.test_fraction);
  const int test_size = static_cast<int>(std::clamp<long long>(rounded_test, 1, num_samples - 1));
  const int train_size = num_samples - test_size;

  Dataset dataset;
  std::vector<float> train_x, test_x;  // [n, 2]
  train_x.reserve(2 * static_cast<size_t>(train_size));
  dataset.train_y.reserve(train_size);
  test_x.reserve(2 * static_cast<size_t>(test_size));
  dataset.test_y.reserve(test_size);
  dataset.name = toy_dataset_name(options.kind);
  dataset.sample_shape = {2};
  dataset.num_classes = num_classes;
  dataset.class_names = class_names_for(options.kind, num_classes);
  for (int position = 0; position < num_samples; ++position) {
    const uint32_t source = order[position];
    const bool train = position < train_size;
    std::vector<float>& x = train ? train_x : test_x;
    (train ? dataset.train_y : dataset.test_y).push_back(points.y[source]);
    x.push_back(points.x[2 * source]);
    x.push_back(points.x[2 * source + 1]);
  }
  dataset.train_x = FeatureRows::from_floats(std::move(train_x), 2);
  dataset.test_x = FeatureRows::from_floats(std::move(test_x), 2);
  return dataset;
}

}  // namespace qplay
