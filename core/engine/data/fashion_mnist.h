// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 28x28 grey images of 10 kinds of clothing,
// 60000 for training and 10000 for testing, as a Dataset with sample_shape {28, 28, 1} (NHWC) whose
// pixels stay bytes (FeatureStorage::uint8_codes: byte p is the feature p / 255.0f in [0, 1]), so
// the 70000 images take 55 MB rather than 220 MB of floats. Native builds read the four IDX files
// from a directory (the Debian package dataset-fashion-mnist installs them); the browser build
// parses fetched bytes with parse_idx and calls make_fashion_mnist_from_idx.
// Not a general IDX reader (idx_reader.h) and no augmentation or normalisation beyond /255.
#pragma once

#include <string>

#include "core/engine/base/status.h"
#include "core/engine/data/dataset.h"
#include "core/engine/data/idx_reader.h"

namespace qplay {

struct FashionMnistOptions {
  std::string directory = "/usr/share/datasets/fashion-mnist";
  // The first max_train / max_test samples of each file, in file order (which is already mixed
  // across classes). Larger values than a file holds mean "all of it".
  int max_train = 60000;  // at least 1
  int max_test = 10000;   // at least 0
};

// Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte from options.directory, preferring the .gz
// file when both exist (the uncompressed one in builds without zlib). Errors name the file and
// the problem; a missing directory names the package that provides it.
Result<Dataset> load_fashion_mnist(const FashionMnistOptions& options = {});

// Builds the data set from already-parsed IDX arrays: checks that images are N x 28 x 28, that
// each image has a label and that labels are below 10. Uses options.max_train and max_test only.
// Pass the arrays with std::move: their image bytes become the data set's features without a
// copy, and each split's arrays are freed as soon as they are consumed.
Result<Dataset> make_fashion_mnist_from_idx(IdxArray train_images, IdxArray train_labels,
                                            IdxArray test_images, IdxArray test_labels,
                                            const FashionMnistOptions& options = {});

}  // namespace qplay
