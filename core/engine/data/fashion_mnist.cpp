// Fashion-MNIST loading; see fashion_mnist.h.
#include "core/engine/data/fashion_mnist.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <span>
#include <utility>
#include <vector>

namespace qplay {

namespace {

constexpr uint32_t kImageSide = 28;
constexpr size_t kPixelsPerImage = kImageSide * kImageSide;
constexpr int kNumClasses = 10;
// A pixel byte p is the feature p / 255.0f, in [0, 1].
constexpr float kPixelDivisor = 255.0f;

Status check_options(const FashionMnistOptions& options) {
  if (options.max_train < 1) {
    return Status::error("max_train must be at least 1, got " + std::to_string(options.max_train));
  }
  if (options.max_test < 0) {
    return Status::error("max_test must be at least 0, got " + std::to_string(options.max_test));
  }
  return Status();
}

// The IDX header's 4th byte is the number of dimensions: 3 for images, 1 for labels.
Status check_idx_kind(std::span<const uint8_t> bytes, uint8_t dimensions, const std::string& path) {
  if (bytes.size() < 4 || bytes[3] == dimensions || bytes[2] != 0x08) return Status();  // parse_idx says more
  auto kind = [](int d) {
    return d == 3   ? std::string("an images file")
           : d == 1 ? std::string("a labels file")
                    : std::to_string(d) + " dimensions";
  };
  return Status::error(path + ": its header says " + kind(bytes[3]) + ", but this should be " +
                       kind(dimensions) + " (are the images and labels files swapped or renamed?)");
}

// Checks one split's images and labels against each other and the Fashion-MNIST format, then
// keeps the first `limit` samples: the image bytes move into x as uint8 codes (pixel p decodes to
// p / 255.0f, the float this loader used to store), the labels widen into y. Both arrays are
// released before returning, so a split's pixels are never held twice, nor ever as floats.
Status convert_split(const char* split, IdxArray images, IdxArray labels, int limit, FeatureRows& x,
                     std::vector<int32_t>& y) {
  const std::string images_name = std::string(split) + "-images",
                    labels_name = std::string(split) + "-labels";
  if (images.dims.size() != 3) {
    return Status::error(images_name + ": expected 3 dimensions (count x 28 x 28), found " +
                         std::to_string(images.dims.size()));
  }
  if (images.dims[1] != kImageSide || images.dims[2] != kImageSide) {
    return Status::error(images_name + ": expected 28 x 28 images, found " + std::to_string(images.dims[1]) +
                         " x " + std::to_string(images.dims[2]));
  }
  if (labels.dims.size() != 1) {
    return Status::error(labels_name + ": expected 1 dimension (count), found " +
                         std::to_string(labels.dims.size()));
  }
  if (labels.dims[0] != images.dims[0]) {
    return Status::error(std::string(split) + ": " + std::to_string(images.dims[0]) + " images but " +
                         std::to_string(labels.dims[0]) + " labels");
  }
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= kNumClasses) {
      return Status::error(labels_name + ": label " + std::to_string(labels.data[i]) + " at index " +
                           std::to_string(i) + " is not a Fashion-MNIST class (0 to 9)");
    }
  }

  const size_t count = std::min<size_t>(images.dims[0], static_cast<size_t>(limit));
  y.assign(labels.data.begin(), labels.data.begin() + count);
  labels = {};
  std::vector<uint8_t> pixels = std::move(images.data);
  images = {};
  if (pixels.size() > count * kPixelsPerImage) {
    pixels.resize(count * kPixelsPerImage);
    pixels.shrink_to_fit();  // a copy of the kept images, then the whole file's bytes are freed
  }
  x = FeatureRows::from_uint8_codes(std::move(pixels), kPixelsPerImage, kPixelDivisor);
  return Status();
}

// dir/name.gz if it exists, else dir/name if it exists, else an empty path. A build without zlib
// looks for the uncompressed file first, since it cannot read the other.
std::filesystem::path find_idx_file(const std::filesystem::path& directory, const std::string& name) {
  std::error_code error;
  const std::string compressed = name + ".gz";
  for (const std::string& candidate :
       gzip_supported() ? std::array{compressed, name} : std::array{name, compressed}) {
    if (std::filesystem::is_regular_file(directory / candidate, error)) return directory / candidate;
  }
  return {};
}

}  // namespace

Result<Dataset> make_fashion_mnist_from_idx(IdxArray train_images, IdxArray train_labels,
                                            IdxArray test_images, IdxArray test_labels,
                                            const FashionMnistOptions& options) {
  Status status = check_options(options);
  Dataset dataset;
  dataset.name = "fashion-mnist";
  dataset.sample_shape = {kImageSide, kImageSide, 1};
  dataset.num_classes = kNumClasses;
  dataset.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  if (status.ok()) {
    status = convert_split("train", std::move(train_images), std::move(train_labels), options.max_train,
                           dataset.train_x, dataset.train_y);
  }
  if (status.ok()) {
    status = convert_split("test", std::move(test_images), std::move(test_labels), options.max_test,
                           dataset.test_x, dataset.test_y);
  }
  if (status.ok()) status = validate_dataset(dataset);
  if (!status.ok()) return status.with_context("Fashion-MNIST");
  return dataset;
}

Result<Dataset> load_fashion_mnist(const FashionMnistOptions& options) {
  Status valid = check_options(options);
  if (!valid.ok()) return valid.with_context("Fashion-MNIST");
  const std::string install_hint =
      " (install the Debian package dataset-fashion-mnist, or run tools/setup.sh)";
  std::error_code error;
  if (!std::filesystem::is_directory(options.directory, error)) {
    return Status::error("Fashion-MNIST not found in " + options.directory + install_hint);
  }

  // Order: train images, train labels, test images, test labels.
  const std::array<std::string, 4> names = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  const std::array<uint8_t, 4> dimensions = {3, 1, 3, 1};
  std::array<IdxArray, 4> arrays;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::filesystem::path path = find_idx_file(options.directory, names[i]);
    if (path.empty()) {
      return Status::error("Fashion-MNIST: neither " + names[i] + ".gz nor " + names[i] + " is in " +
                           options.directory + install_hint);
    }
    Result<std::vector<uint8_t>> bytes = read_file_maybe_gzip(path.string());
    if (!bytes.ok()) return bytes.status().with_context("Fashion-MNIST");
    // A swapped or renamed file would otherwise read its data as dimension sizes and fail on the size.
    if (Status kind = check_idx_kind(*bytes, dimensions[i], path.string()); !kind.ok())
      return kind.with_context("Fashion-MNIST");
    Result<IdxArray> array = parse_idx(std::move(bytes).value(), path.string());
    if (!array.ok()) return array.status().with_context("Fashion-MNIST");
    arrays[i] = std::move(array).value();
  }
  return make_fashion_mnist_from_idx(std::move(arrays[0]), std::move(arrays[1]), std::move(arrays[2]),
                                     std::move(arrays[3]), options);
}

}  // namespace qplay
