// Specification of the IDX reader (idx_reader.h) and the Fashion-MNIST loader (fashion_mnist.h).
// IDX and gzip inputs are built byte by byte here, so every corruption is deliberate and the
// tests need no zlib of their own; the real Fashion-MNIST files are used when installed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/engine/data/fashion_mnist.h"
#include "core/engine/data/idx_reader.h"

#ifndef QPLAY_FASHION_MNIST_DIR
#define QPLAY_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#endif

namespace qplay {
namespace {

using Bytes = std::vector<uint8_t>;

void append_big_endian_u32(Bytes& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(value >> shift));
}

void append_little_endian(Bytes& bytes, uint32_t value, int num_bytes) {
  for (int i = 0; i < num_bytes; ++i) bytes.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

Bytes make_idx(const std::vector<uint32_t>& dims, const Bytes& payload, uint8_t type = 0x08) {
  Bytes bytes = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t dim : dims) append_big_endian_u32(bytes, dim);
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return bytes;
}

Bytes counting_payload(size_t size) {
  Bytes payload(size);
  for (size_t i = 0; i < size; ++i) payload[i] = static_cast<uint8_t>(i * 7 + 3);
  return payload;
}

// CRC-32 as gzip uses it (reflected polynomial 0xEDB88320), bit by bit.
uint32_t crc32(const Bytes& bytes) {
  uint32_t crc = 0xffffffffu;
  for (uint8_t byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A valid gzip member (RFC 1952) whose deflate data uses stored blocks (RFC 1951 section 3.2.4):
// a real gzip stream that needs no compressor to write.
Bytes make_gzip(const Bytes& content) {
  Bytes gzip = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff};  // deflate, no flags, no mtime
  size_t offset = 0;
  do {
    const size_t length = std::min<size_t>(content.size() - offset, 65535);
    const bool final_block = offset + length == content.size();
    gzip.push_back(final_block ? 0x01 : 0x00);  // BFINAL bit, BTYPE 00 (stored)
    append_little_endian(gzip, static_cast<uint32_t>(length), 2);
    append_little_endian(gzip, static_cast<uint32_t>(~length), 2);
    gzip.insert(gzip.end(), content.begin() + offset, content.begin() + offset + length);
    offset += length;
  } while (offset < content.size());
  append_little_endian(gzip, crc32(content), 4);
  append_little_endian(gzip, static_cast<uint32_t>(content.size()), 4);
  return gzip;
}

std::string write_temp_file(const std::string& name, const Bytes& bytes) {
  const std::string path = ::testing::TempDir() + "qplay_data_idx_test_" + name;
  std::FILE* file = std::fopen(path.c_str(), "wb");
  EXPECT_NE(file, nullptr) << path;
  if (file) {
    std::fwrite(bytes.data(), 1, bytes.size(), file);
    std::fclose(file);
  }
  return path;
}

#define EXPECT_ERROR_CONTAINS(result, phrase)                                            \
  do {                                                                                   \
    EXPECT_FALSE((result).ok());                                                         \
    EXPECT_NE((result).message().find(phrase), std::string::npos) << (result).message(); \
  } while (0)

// [SECTION] parse_idx

TEST(ParseIdx, ReadsImagesAndLabels) {
  const Bytes payload = counting_payload(2 * 3 * 4);
  Result<IdxArray> images = parse_idx(make_idx({2, 3, 4}, payload), "images");
  ASSERT_TRUE(images.ok()) << images.message();
  EXPECT_EQ(images->dims, (std::vector<uint32_t>{2, 3, 4}));
  EXPECT_EQ(images->data, payload);

  Result<IdxArray> labels = parse_idx(make_idx({5}, {9, 0, 1, 2, 3}), "labels");
  ASSERT_TRUE(labels.ok()) << labels.message();
  EXPECT_EQ(labels->dims, std::vector<uint32_t>{5});
  EXPECT_EQ(labels->data, (Bytes{9, 0, 1, 2, 3}));
}

TEST(ParseIdx, TakesOverMovedBytesWithoutCopyingThePayload) {
  const Bytes file = make_idx({2, 3, 4}, counting_payload(2 * 3 * 4));
  Result<IdxArray> copied = parse_idx(std::span<const uint8_t>(file), "images");
  ASSERT_TRUE(copied.ok()) << copied.message();

  Bytes moved = file;
  const uint8_t* storage = moved.data();
  Result<IdxArray> in_place = parse_idx(std::move(moved), "images");
  ASSERT_TRUE(in_place.ok()) << in_place.message();
  EXPECT_EQ(in_place->dims, copied->dims);
  EXPECT_EQ(in_place->data, copied->data);
  EXPECT_EQ(in_place->data.data(), storage);  // the file's own allocation, payload shifted down

  Bytes truncated(file.begin(), file.end() - 1);
  EXPECT_ERROR_CONTAINS(parse_idx(std::move(truncated), "images"), "images: expected 40 bytes, file has 39");
}

TEST(ParseIdx, AcceptsAnEmptyArray) {
  Result<IdxArray> empty = parse_idx(make_idx({0, 28, 28}, {}), "images");
  ASSERT_TRUE(empty.ok()) << empty.message();
  EXPECT_TRUE(empty->data.empty());
}

TEST(ParseIdx, RejectsWrongMagic) {
  Bytes bytes = make_idx({4}, {1, 2, 3, 4});
  bytes[0] = 0x12;
  EXPECT_ERROR_CONTAINS(parse_idx(bytes, "labels"), "labels: not an IDX file (magic 0x12000801");
}

TEST(ParseIdx, SuggestsDecompressingAGzipFile) {
  EXPECT_ERROR_CONTAINS(parse_idx(make_gzip(make_idx({1}, {7})), "labels"), "decompress it first");
}

TEST(ParseIdx, RejectsElementTypesOtherThanUnsignedByte) {
  EXPECT_ERROR_CONTAINS(parse_idx(make_idx({1}, {0, 0, 0, 0}, 0x0D), "weights"),
                        "weights: IDX element type 0x0d (float32) is not supported; only 0x08");
  EXPECT_ERROR_CONTAINS(parse_idx(make_idx({1}, {0}, 0x42), "labels"), "0x42 (not an IDX type)");
}

TEST(ParseIdx, RejectsZeroOrTooManyDimensions) {
  EXPECT_ERROR_CONTAINS(parse_idx(make_idx({}, {}), "labels"), "declares 0 dimensions; expected 1 to 4");
  EXPECT_ERROR_CONTAINS(parse_idx(make_idx({1, 1, 1, 1, 1}, {0}), "labels"), "declares 5 dimensions");
}

TEST(ParseIdx, RejectsTruncatedHeaders) {
  EXPECT_ERROR_CONTAINS(parse_idx(Bytes{0, 0, 8}, "labels"), "file has 3 bytes, too short for an IDX header");
  Bytes bytes = make_idx({60000, 28, 28}, {});
  bytes.resize(10);
  EXPECT_ERROR_CONTAINS(parse_idx(bytes, "images"),
                        "truncated IDX header (3 dimensions need 16 bytes, file has 10)");
}

TEST(ParseIdx, RejectsATruncatedPayload) {
  Bytes bytes = make_idx({60000, 28, 28}, Bytes(1200 - 16));
  Result<IdxArray> images = parse_idx(bytes, "train-images");
  EXPECT_ERROR_CONTAINS(images, "train-images: expected 47040016 bytes, file has 1200");
  EXPECT_ERROR_CONTAINS(images, "truncated");
}

TEST(ParseIdx, RejectsTrailingBytes) {
  Bytes bytes = make_idx({2, 2}, counting_payload(4 + 3));
  EXPECT_ERROR_CONTAINS(parse_idx(bytes, "images"), "expected 16 bytes, file has 19");
  EXPECT_ERROR_CONTAINS(parse_idx(bytes, "images"), "3 unexpected trailing bytes");
}

TEST(ParseIdx, RejectsAbsurdDimensionsWithoutOverflowing) {
  EXPECT_ERROR_CONTAINS(parse_idx(make_idx({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {}), "images"),
                        "IDX dimensions 4294967295 x 4294967295 x 4294967295 x 4294967295 are too large");
  // Large but addressable on 64-bit hosts: reported as a size mismatch instead.
  Result<IdxArray> huge = parse_idx(make_idx({0xffffffff, 0xffff}, {1}), "images");
  EXPECT_FALSE(huge.ok());
}

// [SECTION] Files and gzip

TEST(ReadIdxFile, ReadsAPlainFile) {
  const Bytes payload = counting_payload(3 * 5);
  Result<IdxArray> array = read_idx_file(write_temp_file("plain.idx", make_idx({3, 5}, payload)));
  ASSERT_TRUE(array.ok()) << array.message();
  EXPECT_EQ(array->dims, (std::vector<uint32_t>{3, 5}));
  EXPECT_EQ(array->data, payload);
}

TEST(ReadIdxFile, MissingFileSaysSo) {
  const std::string path = ::testing::TempDir() + "qplay_data_idx_test_does_not_exist";
  EXPECT_ERROR_CONTAINS(read_idx_file(path), path + ": no such file");
}

TEST(ReadIdxFile, ErrorsNameTheFile) {
  const std::string path = write_temp_file("short.idx", make_idx({4}, {1, 2}));
  EXPECT_ERROR_CONTAINS(read_idx_file(path), path + ": expected 12 bytes, file has 10");
}

TEST(ReadFileMaybeGzip, ADirectoryIsNotAFile) {
  EXPECT_FALSE(read_file_maybe_gzip(::testing::TempDir()).ok());
}

TEST(ReadFileMaybeGzip, InflatesGzipRoundTrip) {
  const Bytes content = make_idx({5, 200, 200}, counting_payload(5 * 200 * 200));  // several stored blocks
  const std::string path = write_temp_file("round_trip.gz", make_gzip(content));
  Result<std::vector<uint8_t>> bytes = read_file_maybe_gzip(path);
  if (!gzip_supported()) {
    EXPECT_ERROR_CONTAINS(bytes, "decompress it first");
    GTEST_SKIP() << "built without zlib";
  }
  ASSERT_TRUE(bytes.ok()) << bytes.message();
  EXPECT_EQ(*bytes, content);
  Result<IdxArray> array = read_idx_file(path);
  ASSERT_TRUE(array.ok()) << array.message();
  EXPECT_EQ(array->dims, (std::vector<uint32_t>{5, 200, 200}));
}

// The in-memory path read_file_maybe_gzip takes (and the browser or a fuzzer can call directly).
TEST(InflateIfGzip, PassesPlainBytesThroughAndInflatesGzipInMemory) {
  const Bytes content = make_idx({3}, {7, 8, 9});
  Result<std::vector<uint8_t>> plain = inflate_if_gzip(Bytes(content), "labels");
  ASSERT_TRUE(plain.ok()) << plain.message();
  EXPECT_EQ(*plain, content);

  Result<std::vector<uint8_t>> inflated = inflate_if_gzip(make_gzip(content), "labels.gz");
  if (!gzip_supported()) {
    EXPECT_ERROR_CONTAINS(inflated, "labels.gz: the file is gzip-compressed");
    GTEST_SKIP() << "built without zlib";
  }
  ASSERT_TRUE(inflated.ok()) << inflated.message();
  EXPECT_EQ(*inflated, content);
  Bytes truncated = make_gzip(content);
  truncated.resize(truncated.size() - 1);
  EXPECT_ERROR_CONTAINS(inflate_if_gzip(std::move(truncated), "labels.gz"),
                        "labels.gz: truncated gzip stream");
}

TEST(ReadFileMaybeGzip, JoinsConcatenatedMembersLikeGunzip) {
  if (!gzip_supported()) GTEST_SKIP() << "built without zlib";
  const Bytes first = counting_payload(150000), second = {1, 2, 3};
  Bytes gzip = make_gzip(first);
  const Bytes tail = make_gzip(second);
  gzip.insert(gzip.end(), tail.begin(), tail.end());
  Result<std::vector<uint8_t>> bytes = read_file_maybe_gzip(write_temp_file("members.gz", gzip));
  ASSERT_TRUE(bytes.ok()) << bytes.message();
  Bytes expected = first;
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_EQ(*bytes, expected);
}

TEST(ReadFileMaybeGzip, ReportsCorruptStreams) {
  if (!gzip_supported()) GTEST_SKIP() << "built without zlib";
  const Bytes gzip = make_gzip(counting_payload(1000));

  Bytes bad_checksum = gzip;
  bad_checksum[bad_checksum.size() - 8] ^= 0xff;
  EXPECT_ERROR_CONTAINS(read_file_maybe_gzip(write_temp_file("bad_crc.gz", bad_checksum)),
                        "corrupt gzip stream (incorrect data check)");

  Bytes bad_block = gzip;
  bad_block[10] = 0x07;  // BTYPE 11 is reserved
  EXPECT_ERROR_CONTAINS(read_file_maybe_gzip(write_temp_file("bad_block.gz", bad_block)),
                        "corrupt gzip stream (invalid block type)");

  Bytes bad_method = gzip;
  bad_method[2] = 0x07;  // only 8 (deflate) exists
  EXPECT_ERROR_CONTAINS(read_file_maybe_gzip(write_temp_file("bad_method.gz", bad_method)),
                        "corrupt gzip stream");
}

TEST(ReadFileMaybeGzip, ReportsTruncatedStreams) {
  if (!gzip_supported()) GTEST_SKIP() << "built without zlib";
  const Bytes gzip = make_gzip(counting_payload(1000));
  for (size_t keep : {size_t{2}, size_t{12}, size_t{500}, gzip.size() - 1}) {
    const Bytes truncated(gzip.begin(), gzip.begin() + keep);
    const std::string path = write_temp_file("truncated.gz", truncated);
    EXPECT_ERROR_CONTAINS(read_file_maybe_gzip(path), path + ": truncated gzip stream");
  }
}

// [SECTION] Fashion-MNIST from parsed arrays and from a directory

// Every value of rows [first, first + count), decoded to float.
std::vector<float> decoded_rows(const FeatureRows& x, size_t first, size_t count) {
  std::vector<float> values(count * x.row_size());
  x.copy_rows(first, count, values.data());
  return values;
}

IdxArray image_array(uint32_t count, uint32_t side = 28) {
  return {{count, side, side}, counting_payload(size_t{count} * side * side)};
}
IdxArray label_array(const Bytes& labels) { return {{static_cast<uint32_t>(labels.size())}, labels}; }

TEST(MakeFashionMnistFromIdx, ScalesPixelsAndKeepsTheFirstSamples) {
  FashionMnistOptions options;
  options.max_train = 2;
  Result<Dataset> dataset = make_fashion_mnist_from_idx(image_array(3), label_array({9, 0, 5}),
                                                        image_array(1), label_array({3}), options);
  ASSERT_TRUE(dataset.ok()) << dataset.message();
  EXPECT_EQ(dataset->name, "fashion-mnist");
  EXPECT_EQ(dataset->sample_shape, (std::vector<int>{28, 28, 1}));
  EXPECT_EQ(dataset->sample_size(), 784);
  EXPECT_EQ(dataset->num_classes, 10);
  EXPECT_EQ(dataset->class_names.front(), "T-shirt/top");
  EXPECT_EQ(dataset->class_names.back(), "Ankle boot");
  EXPECT_EQ(dataset->train_y, (std::vector<int32_t>{9, 0}));
  EXPECT_EQ(dataset->test_y, std::vector<int32_t>{3});
  ASSERT_EQ(dataset->train_x.size(), 2u * 784);
  ASSERT_EQ(dataset->train_x.rows(), 2u);
  ASSERT_EQ(dataset->test_x.rows(), 1u);
  const Bytes pixels = counting_payload(3 * 784);
  // The bytes themselves are kept (a quarter of the floats), and decode to what the loader used to store.
  EXPECT_EQ(dataset->train_x.storage(), FeatureStorage::uint8_codes);
  EXPECT_EQ(dataset->train_x.storage_bytes(), 2u * 784);
  EXPECT_TRUE(std::equal(dataset->train_x.codes().begin(), dataset->train_x.codes().end(), pixels.begin()));
  const std::vector<float> train = decoded_rows(dataset->train_x, 0, 2);
  for (size_t i = 0; i < train.size(); ++i) {
    ASSERT_EQ(train[i], static_cast<float>(pixels[i]) / 255.0f) << "pixel " << i;
  }
}

TEST(MakeFashionMnistFromIdx, MovedImagesBecomeTheFeaturesAndLimitsCutBothSplits) {
  IdxArray train_images = image_array(3), test_images = image_array(4);
  const uint8_t* train_storage = train_images.data.data();
  FashionMnistOptions options;  // all training images, the first 2 test images
  options.max_test = 2;
  Result<Dataset> dataset =
      make_fashion_mnist_from_idx(std::move(train_images), label_array({1, 2, 3}), std::move(test_images),
                                  label_array({4, 5, 6, 7}), options);
  ASSERT_TRUE(dataset.ok()) << dataset.message();
  EXPECT_EQ(dataset->train_x.codes().data(), train_storage);  // moved, not copied
  EXPECT_EQ(dataset->train_x.rows(), 3u);
  EXPECT_EQ(dataset->test_x.rows(), 2u);
  EXPECT_EQ(dataset->test_x.storage_bytes(), 2u * 784);  // the cut-off images are freed
  EXPECT_EQ(dataset->test_y, (std::vector<int32_t>{4, 5}));
  EXPECT_EQ(decoded_rows(dataset->test_x, 1, 1),
            decoded_rows(dataset->train_x, 1, 1));  // same counting bytes

  FashionMnistOptions no_test;
  no_test.max_test = 0;
  Result<Dataset> training_only = make_fashion_mnist_from_idx(image_array(2), label_array({1, 2}),
                                                              image_array(1), label_array({3}), no_test);
  ASSERT_TRUE(training_only.ok()) << training_only.message();
  EXPECT_EQ(training_only->test_size(), 0u);
  EXPECT_TRUE(training_only->test_x.empty());
}

TEST(MakeFashionMnistFromIdx, RejectsArraysThatAreNotFashionMnist) {
  EXPECT_ERROR_CONTAINS(
      make_fashion_mnist_from_idx(image_array(2, 32), label_array({1, 2}), image_array(1), label_array({3})),
      "Fashion-MNIST: train-images: expected 28 x 28 images, found 32 x 32");
  EXPECT_ERROR_CONTAINS(
      make_fashion_mnist_from_idx(label_array({1, 2}), label_array({1, 2}), image_array(1), label_array({3})),
      "train-images: expected 3 dimensions (count x 28 x 28), found 1");
  EXPECT_ERROR_CONTAINS(
      make_fashion_mnist_from_idx(image_array(2), image_array(2), image_array(1), label_array({3})),
      "train-labels: expected 1 dimension (count), found 3");
  EXPECT_ERROR_CONTAINS(
      make_fashion_mnist_from_idx(image_array(3), label_array({1, 2}), image_array(1), label_array({3})),
      "train: 3 images but 2 labels");
  EXPECT_ERROR_CONTAINS(
      make_fashion_mnist_from_idx(image_array(2), label_array({1, 2}), image_array(1), label_array({10})),
      "test-labels: label 10 at index 0 is not a Fashion-MNIST class (0 to 9)");
  FashionMnistOptions no_training;
  no_training.max_train = 0;
  EXPECT_ERROR_CONTAINS(make_fashion_mnist_from_idx(image_array(2), label_array({1, 2}), image_array(1),
                                                    label_array({3}), no_training),
                        "max_train must be at least 1, got 0");
}

TEST(LoadFashionMnist, MissingDirectoryNamesThePackage) {
  FashionMnistOptions options;
  options.directory = "/nonexistent/fashion-mnist";
  EXPECT_ERROR_CONTAINS(load_fashion_mnist(options),
                        "Fashion-MNIST not found in /nonexistent/fashion-mnist (install the Debian package "
                        "dataset-fashion-mnist, or run tools/setup.sh)");
}

// A small stand-in directory: uncompressed files, or gzip files beside uncompressed ones.
std::string make_fashion_directory(const std::string& name, bool with_gzip) {
  const std::filesystem::path directory = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  auto write = [&](const std::string& file, const Bytes& bytes) {
    std::FILE* out = std::fopen((directory / file).string().c_str(), "wb");
    ASSERT_NE(out, nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), out);
    std::fclose(out);
  };
  write("train-images-idx3-ubyte", make_idx({4, 28, 28}, counting_payload(4 * 784)));
  write("train-labels-idx1-ubyte", make_idx({4}, {0, 1, 2, 3}));
  write("t10k-images-idx3-ubyte", make_idx({2, 28, 28}, counting_payload(2 * 784)));
  write("t10k-labels-idx1-ubyte", make_idx({2}, {4, 5}));
  if (with_gzip) {  // different labels, so the test can tell which file was read
    write("train-images-idx3-ubyte.gz", make_gzip(make_idx({4, 28, 28}, counting_payload(4 * 784))));
    write("train-labels-idx1-ubyte.gz", make_gzip(make_idx({4}, {9, 9, 9, 9})));
    write("t10k-images-idx3-ubyte.gz", make_gzip(make_idx({2, 28, 28}, counting_payload(2 * 784))));
    write("t10k-labels-idx1-ubyte.gz", make_gzip(make_idx({2}, {8, 8})));
  }
  return directory.string();
}

TEST(LoadFashionMnist, ReadsUncompressedFiles) {
  FashionMnistOptions options;
  options.directory = make_fashion_directory("qplay_fashion_plain", false);
  Result<Dataset> dataset = load_fashion_mnist(options);
  ASSERT_TRUE(dataset.ok()) << dataset.message();
  EXPECT_EQ(dataset->train_y, (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(dataset->test_y, (std::vector<int32_t>{4, 5}));
}

TEST(LoadFashionMnist, PrefersGzipFilesWhenItCanReadThem) {
  FashionMnistOptions options;
  options.directory = make_fashion_directory("qplay_fashion_gzip", true);
  Result<Dataset> dataset = load_fashion_mnist(options);
  ASSERT_TRUE(dataset.ok()) << dataset.message();
  if (gzip_supported()) {
    EXPECT_EQ(dataset->train_y, (std::vector<int32_t>{9, 9, 9, 9}));
    EXPECT_EQ(dataset->test_y, (std::vector<int32_t>{8, 8}));
  } else {  // a build without zlib (WebAssembly) takes the uncompressed files beside them
    EXPECT_EQ(dataset->train_y, (std::vector<int32_t>{0, 1, 2, 3}));
    EXPECT_EQ(dataset->test_y, (std::vector<int32_t>{4, 5}));
  }
}

TEST(LoadFashionMnist, GzipOnlyDirectoryNeedsZlibOrSaysToDecompress) {
  FashionMnistOptions options;
  options.directory = make_fashion_directory("qplay_fashion_gzip_only", true);
  for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte"}) {
    std::filesystem::remove(std::filesystem::path(options.directory) / name);
  }
  Result<Dataset> dataset = load_fashion_mnist(options);
  if (gzip_supported()) {
    ASSERT_TRUE(dataset.ok()) << dataset.message();
    EXPECT_EQ(dataset->train_y, (std::vector<int32_t>{9, 9, 9, 9}));
  } else {
    EXPECT_ERROR_CONTAINS(dataset, "decompress it first");
  }
}

TEST(LoadFashionMnist, MissingFileIsNamed) {
  FashionMnistOptions options;
  options.directory = make_fashion_directory("qplay_fashion_incomplete", false);
  std::filesystem::remove(std::filesystem::path(options.directory) / "t10k-labels-idx1-ubyte");
  EXPECT_ERROR_CONTAINS(
      load_fashion_mnist(options),
      "neither t10k-labels-idx1-ubyte.gz nor t10k-labels-idx1-ubyte is in " + options.directory);
}

TEST(LoadFashionMnist, CorruptFileIsNamed) {
  FashionMnistOptions options;
  options.directory = make_fashion_directory("qplay_fashion_corrupt", false);
  const std::string labels = (std::filesystem::path(options.directory) / "train-labels-idx1-ubyte").string();
  std::filesystem::resize_file(labels, 10);
  EXPECT_ERROR_CONTAINS(load_fashion_mnist(options),
                        "Fashion-MNIST: " + labels + ": expected 12 bytes, file has 10");
}

// A labels file that carries an images header (swapped or renamed files) is named as such, not as a size
// problem.
TEST(LoadFashionMnist, ALabelsFileWithAnImagesHeaderSaysSo) {
  FashionMnistOptions options;
  options.directory = make_fashion_directory("qplay_fashion_swapped", false);
  const std::filesystem::path directory(options.directory);
  std::filesystem::copy_file(directory / "t10k-images-idx3-ubyte", directory / "t10k-labels-idx1-ubyte",
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_ERROR_CONTAINS(load_fashion_mnist(options),
                        (directory / "t10k-labels-idx1-ubyte").string() +
                            ": its header says an images file, but this should be a labels file");
}

TEST(LoadFashionMnist, RealDataHasTheKnownSizesAndStatistics) {
  FashionMnistOptions options;
  options.directory = QPLAY_FASHION_MNIST_DIR;
  if (!std::filesystem::is_directory(options.directory))
    GTEST_SKIP() << "no Fashion-MNIST in " << options.directory;
  Result<Dataset> dataset = load_fashion_mnist(options);
  if (!gzip_supported() && dataset.message().find("decompress it first") != std::string::npos) {
    GTEST_SKIP() << "built without zlib and only .gz files are installed";
  }
  ASSERT_TRUE(dataset.ok()) << dataset.message();
  EXPECT_TRUE(validate_dataset(*dataset).ok());
  ASSERT_EQ(dataset->train_size(), 60000u);
  ASSERT_EQ(dataset->test_size(), 10000u);
  EXPECT_EQ(dataset->train_x.size(), 60000u * 784);
  EXPECT_EQ(dataset->train_x.storage(), FeatureStorage::uint8_codes);
  EXPECT_EQ(dataset->train_x.storage_bytes() + dataset->test_x.storage_bytes(), 70000u * 784);  // 55 MB

  // Published statistics: mean pixel 0.2860 and 6000 / 1000 images of every class. Decoded 1000
  // images at a time: a float copy of the whole set is what the data set avoids holding.
  double sum = 0.0;
  for (size_t first = 0; first < dataset->train_x.rows(); first += 1000) {
    const std::vector<float> chunk =
        decoded_rows(dataset->train_x, first, std::min<size_t>(1000, dataset->train_x.rows() - first));
    sum = std::accumulate(chunk.begin(), chunk.end(), sum);
  }
  EXPECT_NEAR(sum / static_cast<double>(dataset->train_x.size()), 0.2860, 0.0005);
  std::vector<int> train_counts(10, 0), test_counts(10, 0);
  for (int32_t label : dataset->train_y) ++train_counts[label];
  for (int32_t label : dataset->test_y) ++test_counts[label];
  EXPECT_EQ(train_counts, std::vector<int>(10, 6000));
  EXPECT_EQ(test_counts, std::vector<int>(10, 1000));
  EXPECT_EQ(dataset->train_y[0], 9);  // the first training image is an ankle boot
  for (float pixel : decoded_rows(dataset->test_x, 0, dataset->test_x.rows())) {
    ASSERT_TRUE(pixel >= 0.0f && pixel <= 1.0f);
  }

  FashionMnistOptions subset = options;
  subset.max_train = 1000;
  subset.max_test = 0;
  Result<Dataset> small = load_fashion_mnist(subset);
  ASSERT_TRUE(small.ok()) << small.message();
  EXPECT_EQ(small->train_size(), 1000u);
  EXPECT_EQ(small->test_size(), 0u);
  EXPECT_EQ(decoded_rows(small->train_x, 0, 1000), decoded_rows(dataset->train_x, 0, 1000));
}

}  // namespace
}  // namespace qplay
