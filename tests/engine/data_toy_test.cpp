// Specification of the toy data sets (toy_datasets.h) and of validate_dataset (dataset.h).
// The golden numbers at the bottom pin the exact bits generated from a seed: the WebAssembly
// build runs this same file, so a difference there means the two builds draw different data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iterator>
#include <limits>
#include <numbers>
#include <span>
#include <vector>

#include "core/engine/data/dataset.h"
#include "core/engine/data/toy_datasets.h"

namespace qplay {
namespace {

constexpr ToyDatasetKind kAllKinds[] = {ToyDatasetKind::spiral, ToyDatasetKind::moons,
                                        ToyDatasetKind::circles, ToyDatasetKind::xor_quadrants,
                                        ToyDatasetKind::blobs};

Dataset make_or_die(const ToyDatasetOptions& options) {
  Result<Dataset> dataset = make_toy_dataset(options);
  EXPECT_TRUE(dataset.ok()) << dataset.message();
  return dataset.ok() ? std::move(dataset).value() : Dataset{};
}

// FNV-1a over the bit patterns of every feature and label, train then test: equal hashes mean
// bit-identical data sets.
uint64_t fingerprint(const Dataset& dataset) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  auto mix = [&hash](uint32_t word) {
    for (int byte = 0; byte < 4; ++byte) {
      hash ^= (word >> (8 * byte)) & 0xffu;
      hash *= 0x100000001b3ULL;
    }
  };
  for (const FeatureRows* x : {&dataset.train_x, &dataset.test_x}) {
    EXPECT_EQ(x->storage(), FeatureStorage::float32);  // toy points are stored as they were drawn
    for (float value : x->floats()) {
      uint32_t bits;
      std::memcpy(&bits, &value, sizeof(bits));
      mix(bits);
    }
  }
  for (const std::vector<int32_t>* y : {&dataset.train_y, &dataset.test_y}) {
    for (int32_t label : *y) mix(static_cast<uint32_t>(label));
  }
  return hash;
}

std::vector<int> class_counts(const Dataset& dataset) {
  std::vector<int> counts(dataset.num_classes, 0);
  for (int32_t label : dataset.train_y) ++counts[label];
  for (int32_t label : dataset.test_y) ++counts[label];
  return counts;
}

TEST(ToyDataset, SameSeedGivesBitIdenticalData) {
  for (ToyDatasetKind kind : kAllKinds) {
    Dataset first = make_or_die({.kind = kind, .seed = 42});
    Dataset second = make_or_die({.kind = kind, .seed = 42});
    EXPECT_EQ(fingerprint(first), fingerprint(second)) << toy_dataset_name(kind);
    ASSERT_EQ(first.train_x.size(), second.train_x.size());
    EXPECT_EQ(0, std::memcmp(first.train_x.floats().data(), second.train_x.floats().data(),
                             first.train_x.size() * sizeof(float)));
    EXPECT_EQ(first.test_y, second.test_y);
  }
}

TEST(ToyDataset, DifferentSeedGivesDifferentData) {
  for (ToyDatasetKind kind : kAllKinds) {
    Dataset first = make_or_die({.kind = kind, .seed = 1});
    Dataset second = make_or_die({.kind = kind, .seed = 2});
    std::span<const float> a = first.train_x.floats(), b = second.train_x.floats();
    EXPECT_FALSE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << toy_dataset_name(kind);
  }
}

TEST(ToyDataset, EveryKindIsAValidDataSetOfTwoDimensionalPoints) {
  for (ToyDatasetKind kind : kAllKinds) {
    Dataset dataset = make_or_die({.kind = kind});
    EXPECT_TRUE(validate_dataset(dataset).ok()) << validate_dataset(dataset).message();
    EXPECT_EQ(dataset.name, toy_dataset_name(kind));
    EXPECT_EQ(dataset.sample_shape, std::vector<int>{2});
    EXPECT_EQ(dataset.sample_size(), 2);
    EXPECT_EQ(dataset.class_names.size(), static_cast<size_t>(dataset.num_classes));
  }
}

TEST(ToyDataset, SpiralAndBlobsHaveTheRequestedClassesOthersHaveTwo) {
  EXPECT_EQ(make_or_die({.kind = ToyDatasetKind::spiral, .num_classes = 5}).num_classes, 5);
  EXPECT_EQ(make_or_die({.kind = ToyDatasetKind::blobs, .num_classes = 7}).num_classes, 7);
  EXPECT_EQ(make_or_die({.kind = ToyDatasetKind::spiral, .num_classes = 10}).num_classes, 10);
  for (ToyDatasetKind kind :
       {ToyDatasetKind::moons, ToyDatasetKind::circles, ToyDatasetKind::xor_quadrants}) {
    // num_classes is ignored here, even when it would be invalid for spiral.
    Dataset dataset = make_or_die({.kind = kind, .num_classes = 1});
    EXPECT_EQ(dataset.num_classes, 2) << toy_dataset_name(kind);
    EXPECT_EQ(class_counts(dataset), (std::vector<int>{300, 300})) << toy_dataset_name(kind);
  }
}

TEST(ToyDataset, ClassCountsDifferByAtMostOne) {
  for (ToyDatasetKind kind : kAllKinds) {
    for (int num_samples : {10, 601, 1000}) {
      Dataset dataset = make_or_die({.kind = kind, .num_samples = num_samples, .num_classes = 4});
      std::vector<int> counts = class_counts(dataset);
      int smallest = *std::min_element(counts.begin(), counts.end());
      int largest = *std::max_element(counts.begin(), counts.end());
      EXPECT_LE(largest - smallest, 1) << toy_dataset_name(kind) << " n=" << num_samples;
      EXPECT_GE(smallest, 1);
    }
  }
}

TEST(ToyDataset, SplitFollowsTestFraction) {
  Dataset dataset = make_or_die({.kind = ToyDatasetKind::moons, .num_samples = 600, .test_fraction = 0.3});
  EXPECT_EQ(dataset.train_size(), 420u);
  EXPECT_EQ(dataset.test_size(), 180u);
  EXPECT_EQ(dataset.train_x.rows(), 420u);
  EXPECT_EQ(dataset.train_x.row_size(), 2u);
  EXPECT_EQ(dataset.train_x.size(), 840u);
  EXPECT_EQ(dataset.test_x.rows(), 180u);

  Dataset smallest = make_or_die({.kind = ToyDatasetKind::moons, .num_samples = 10, .test_fraction = 0.05});
  EXPECT_EQ(smallest.test_size(), 1u);  // never an empty test set
  EXPECT_EQ(smallest.train_size(), 9u);
  Dataset largest = make_or_die({.kind = ToyDatasetKind::moons, .num_samples = 10, .test_fraction = 0.95});
  EXPECT_EQ(largest.train_size(), 1u);  // never an empty training set
}

TEST(ToyDataset, ShuffleMixesClassesBeforeTheSplit) {
  Dataset dataset = make_or_die({.kind = ToyDatasetKind::spiral, .num_classes = 3});
  std::vector<int> test_counts(3, 0);
  for (int32_t label : dataset.test_y) ++test_counts[label];
  for (int count : test_counts) EXPECT_GT(count, 40);  // 60 expected per class out of 180
}

TEST(ToyDataset, DefaultNoiseKeepsFeaturesNearUnitRange) {
  for (ToyDatasetKind kind : kAllKinds) {
    Dataset clean = make_or_die({.kind = kind, .noise = 0.0});
    for (float value : clean.train_x.floats()) EXPECT_LE(std::fabs(value), 1.5f) << toy_dataset_name(kind);
    Dataset noisy = make_or_die({.kind = kind});
    for (float value : noisy.train_x.floats()) EXPECT_LE(std::fabs(value), 2.0f) << toy_dataset_name(kind);
  }
}

TEST(ToyDataset, NoiselessShapesAreExact) {
  Dataset circles = make_or_die({.kind = ToyDatasetKind::circles, .noise = 0.0});
  for (size_t i = 0; i < circles.train_size(); ++i) {
    double radius = std::hypot(circles.train_x.value(i, 0), circles.train_x.value(i, 1));
    EXPECT_NEAR(radius, circles.train_y[i] == 0 ? 1.2 : 0.6, 1e-6);
  }
  Dataset xor_data = make_or_die({.kind = ToyDatasetKind::xor_quadrants, .noise = 0.0});
  for (size_t i = 0; i < xor_data.train_size(); ++i) {
    bool same_sign = (xor_data.train_x.value(i, 0) > 0) == (xor_data.train_x.value(i, 1) > 0);
    EXPECT_EQ(xor_data.train_y[i], same_sign ? 0 : 1);
  }
  Dataset moons = make_or_die({.kind = ToyDatasetKind::moons, .noise = 0.0});
  for (size_t i = 0; i < moons.train_size(); ++i) {
    // The upper moon is the unit half circle around (-0.5, -0.25), the lower one around (0.5, 0.25).
    double centre_x = moons.train_y[i] == 0 ? -0.5 : 0.5, centre_y = moons.train_y[i] == 0 ? -0.25 : 0.25;
    EXPECT_NEAR(std::hypot(moons.train_x.value(i, 0) - centre_x, moons.train_x.value(i, 1) - centre_y), 1.0,
                1e-6);
  }
}

TEST(ToyDataset, SpiralRadiusGrowsWithAngleAlongEachArm) {
  Dataset spiral = make_or_die({.kind = ToyDatasetKind::spiral, .noise = 0.0, .num_classes = 2});
  for (size_t i = 0; i < spiral.train_size(); ++i) {
    double x = spiral.train_x.value(i, 0), y = spiral.train_x.value(i, 1);
    // Arm a starts at angle pi * a and winds three quarters of a turn while the radius grows to 1.3.
    double winding = std::atan2(y, x) - std::numbers::pi * spiral.train_y[i];
    double along = std::hypot(x, y) / 1.3;
    double phase = std::remainder(winding - 1.5 * std::numbers::pi * along, 2.0 * std::numbers::pi);
    EXPECT_NEAR(phase, 0.0, 1e-5) << "sample " << i;
  }
}

TEST(ToyDatasetOptions, InvalidOptionsSayWhatIsAllowed) {
  struct Case {
    ToyDatasetOptions options;
    const char* phrase;
  };
  const Case cases[] = {
      {{.num_samples = 5}, "spiral data set: num_samples must be between 10 and 1000000, got 5"},
      {{.num_samples = 2'000'000}, "num_samples must be between 10 and 1000000"},
      {{.noise = -0.1}, "noise must be between 0 and 2, got -0.1"},
      {{.noise = 2.5}, "noise must be between 0 and 2, got 2.5"},
      {{.noise = std::numeric_limits<double>::quiet_NaN()}, "noise must be between 0 and 2"},
      {{.test_fraction = 0.0}, "test_fraction must be between 0.05 and 0.95, got 0"},
      {{.test_fraction = 1.0}, "test_fraction must be between 0.05 and 0.95, got 1"},
      {{.kind = ToyDatasetKind::spiral, .num_classes = 1},
       "spiral data set: num_classes must be between 2 and 10, got 1"},
      {{.kind = ToyDatasetKind::blobs, .num_classes = 11},
       "blobs data set: num_classes must be between 2 and 10, got 11"},
  };
  for (const Case& c : cases) {
    Result<Dataset> dataset = make_toy_dataset(c.options);
    ASSERT_FALSE(dataset.ok()) << c.phrase;
    EXPECT_NE(dataset.message().find(c.phrase), std::string::npos) << dataset.message();
  }
}

TEST(ToyDatasetOptions, UnknownKindIsAnError) {
  Result<Dataset> dataset = make_toy_dataset({.kind = static_cast<ToyDatasetKind>(42)});
  ASSERT_FALSE(dataset.ok());
  EXPECT_NE(dataset.message().find("unknown toy data set kind 42"), std::string::npos) << dataset.message();
}

TEST(ToyDatasetKindNames, ParseAcceptsExactlyTheNamesThatNameReturns) {
  for (ToyDatasetKind kind : kAllKinds) EXPECT_EQ(parse_toy_dataset_kind(toy_dataset_name(kind)), kind);
  EXPECT_EQ(parse_toy_dataset_kind("xor"), ToyDatasetKind::xor_quadrants);
  EXPECT_EQ(parse_toy_dataset_kind("spiral"), ToyDatasetKind::spiral);
  EXPECT_FALSE(parse_toy_dataset_kind("Spiral").has_value());
  EXPECT_FALSE(parse_toy_dataset_kind("").has_value());
  EXPECT_FALSE(parse_toy_dataset_kind("mnist").has_value());
}

TEST(ValidateDataset, ReportsEachBrokenInvariant) {
  const Dataset good = make_or_die({.kind = ToyDatasetKind::moons, .num_samples = 20});
  ASSERT_TRUE(validate_dataset(good).ok());

  // good's features as floats, changed by `edit`.
  auto edited = [](const FeatureRows& x, size_t row_size,
                   const std::function<void(std::vector<float>&)>& edit) {
    std::vector<float> values(x.floats().begin(), x.floats().end());
    edit(values);
    return FeatureRows::from_floats(std::move(values), row_size);
  };

  Dataset short_rows = good;
  short_rows.train_x = edited(good.train_x, 2, [](std::vector<float>& v) { v.resize(v.size() - 2); });
  EXPECT_NE(
      validate_dataset(short_rows).message().find("moons: train_x has 13 rows for 14 labels in train_y"),
      std::string::npos)
      << validate_dataset(short_rows).message();

  Dataset wide_rows = good;
  wide_rows.test_x = edited(good.test_x, 3, [](std::vector<float>& v) { v.resize(v.size() / 2 * 3); });
  EXPECT_NE(
      validate_dataset(wide_rows).message().find("test_x has rows of 3 features, expected the sample size 2"),
      std::string::npos)
      << validate_dataset(wide_rows).message();

  Dataset bad_label = good;
  bad_label.test_y[3] = 2;
  EXPECT_NE(validate_dataset(bad_label).message().find("test_y[3] = 2 is outside the classes [0, 2)"),
            std::string::npos)
      << validate_dataset(bad_label).message();

  Dataset negative_label = good;
  negative_label.train_y[0] = -1;
  EXPECT_NE(validate_dataset(negative_label).message().find("train_y[0] = -1"), std::string::npos);

  Dataset not_a_number = good;
  not_a_number.train_x =
      edited(good.train_x, 2, [](std::vector<float>& v) { v[5] = std::numeric_limits<float>::quiet_NaN(); });
  EXPECT_NE(validate_dataset(not_a_number).message().find("train_x[5] (sample 2) is NaN"), std::string::npos)
      << validate_dataset(not_a_number).message();

  Dataset infinite = good;
  infinite.test_x =
      edited(good.test_x, 2, [](std::vector<float>& v) { v[0] = -std::numeric_limits<float>::infinity(); });
  EXPECT_NE(validate_dataset(infinite).message().find("test_x[0] (sample 0) is infinite"), std::string::npos);

  Dataset no_names = good;
  no_names.class_names.clear();
  EXPECT_NE(validate_dataset(no_names).message().find("class_names has 0 entries for 2 classes"),
            std::string::npos);

  Dataset empty = good;
  empty.train_x = FeatureRows();
  empty.train_y.clear();
  EXPECT_NE(validate_dataset(empty).message().find("the training set is empty"), std::string::npos);
}

// Golden numbers, computed once natively (g++ 12, x86-64) and hard-coded: any platform, compiler
// or standard library must reproduce them bit for bit from the seed.
TEST(ToyDatasetGolden, SpiralSeedOneIsBitIdenticalEverywhere) {
  Dataset spiral = make_or_die({.kind = ToyDatasetKind::spiral, .seed = 1});
  ASSERT_EQ(spiral.train_size(), 420u);
  double sum = 0.0;
  for (const FeatureRows* x : {&spiral.train_x, &spiral.test_x}) {
    for (float value : x->floats()) sum += value;
  }
  std::printf("spiral seed 1: sum %.17g, fingerprint 0x%016llx\n", sum,
              static_cast<unsigned long long>(fingerprint(spiral)));
  std::span<const float> points = spiral.train_x.floats();
  std::printf("first points: (%a, %a) label %d, (%a, %a) label %d, (%a, %a) label %d\n", points[0], points[1],
              spiral.train_y[0], points[2], points[3], spiral.train_y[1], points[4], points[5],
              spiral.train_y[2]);

  EXPECT_NEAR(sum, -0.86083823008812033, 1e-12);
  EXPECT_EQ(fingerprint(spiral), 0x86e060ef008185ceULL);
  const float first_points[] = {0x1.d2f626p-3f,  0x1.90c8a6p-3f, -0x1.58bb24p-1f,
                                -0x1.0f2794p+0f, -0x1.14707p+0f, -0x1.5cf33cp-2f};
  const int32_t first_labels[] = {0, 0, 0};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(points[i], first_points[i]) << "coordinate " << i;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(spiral.train_y[i], first_labels[i]) << "label " << i;
}

TEST(ToyDatasetGolden, EveryKindIsBitIdenticalEverywhere) {
  const uint64_t expected[] = {0x52ad79e4de36f78bULL, 0x8db57cdf8815ed41ULL, 0xd7a3d380bda4183fULL,
                               0x460ee208454c69b1ULL, 0xdc36c9dfa9145143ULL};
  for (size_t k = 0; k < std::size(kAllKinds); ++k) {
    uint64_t hash = fingerprint(make_or_die({.kind = kAllKinds[k], .num_classes = 4, .seed = 7}));
    std::printf("%s seed 7, 4 classes: fingerprint 0x%016llx\n", toy_dataset_name(kAllKinds[k]),
                static_cast<unsigned long long>(hash));
    EXPECT_EQ(hash, expected[k]) << toy_dataset_name(kAllKinds[k]);
  }
}

}  // namespace
}  // namespace qplay
