// Specification of the .qmodel file (core/engine/io/model_file.h) and of the pieces under it: CRC-32
// (crc32.h) and whole-file reads and atomic writes (file_util.h). Damaged files must be refused with the
// message for their kind of damage, and no input may crash the parser.
#include "core/engine/io/model_file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/engine/io/crc32.h"
#include "core/engine/io/file_util.h"
#include "core/engine/io/json.h"

namespace qplay {
namespace {

std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// A fresh, empty directory per test, so that "no temporary file left behind" can be checked by listing it.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = ::testing::TempDir() + "qplay_io_" + test->test_suite_name() + "_" + test->name();
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
    std::filesystem::create_directories(path_, ignored);
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      names.push_back(entry.path().filename());
    }
    return names;
  }

 private:
  std::string path_;
};

// ---- CRC-32

TEST(Crc32, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32(as_bytes("123456789")), 0xCBF43926u);
  EXPECT_EQ(crc32(as_bytes("")), 0u);
  EXPECT_EQ(crc32(as_bytes("The quick brown fox jumps over the lazy dog")), 0x414FA339u);
}

TEST(Crc32, ContinuesAcrossChunks) {
  const std::string_view text = "123456789";
  EXPECT_EQ(crc32(as_bytes(text.substr(4)), crc32(as_bytes(text.substr(0, 4)))), 0xCBF43926u);
}

// ---- Whole-file reads and atomic writes

constexpr size_t kTestFileLimit = size_t{1} << 20;

// A device that never ends (or a huge file) stops at the caller's limit with a message, instead of reading
// until memory runs out: `qplay-cli eval --model=/dev/zero` used to hang.
TEST(FileUtil, ReadsStopAtTheLimitWithAMessage) {
  ScratchDirectory directory;
  const std::vector<uint8_t> bytes(1000, 7);
  ASSERT_TRUE(write_file_atomically(directory.file("limit.bin"), bytes).ok());
  EXPECT_EQ(read_file_bytes(directory.file("limit.bin"), 1000, "a test file")->size(), 1000u);
  EXPECT_EQ(read_file_bytes(directory.file("limit.bin"), 999, "a test file").message(),
            directory.file("limit.bin") + ": more than 999 bytes, larger than a test file can be");
  if (std::filesystem::exists("/dev/zero")) {
    EXPECT_EQ(load_model_file("/dev/zero").message(), "/dev/zero: more than " +
                                                          std::to_string(kMaxModelFileBytes) +
                                                          " bytes, larger than a QPlay model file can be");
  }
}

TEST(FileUtil, WrittenBytesReadBackUnchanged) {
  ScratchDirectory directory;
  const std::vector<uint8_t> bytes = {0, 1, 2, 255, 0, 10, 13};
  ASSERT_TRUE(write_file_atomically(directory.file("data.bin"), bytes).ok());
  Result<std::vector<uint8_t>> read =
      read_file_bytes(directory.file("data.bin"), kTestFileLimit, "a test file");
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(*read, bytes);

  ASSERT_TRUE(write_text_file_atomically(directory.file("empty.txt"), "").ok());
  EXPECT_EQ(*read_text_file(directory.file("empty.txt"), kTestFileLimit, "a test file"), "");
}

TEST(FileUtil, ReadsFilesLargerThanOneChunk) {
  ScratchDirectory directory;
  std::vector<uint8_t> bytes(200000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7);
  ASSERT_TRUE(write_file_atomically(directory.file("big.bin"), bytes).ok());
  EXPECT_EQ(*read_file_bytes(directory.file("big.bin"), kTestFileLimit, "a test file"), bytes);
}

TEST(FileUtil, AtomicWriteReplacesAnExistingFileAndLeavesNoTemporaryFile) {
  ScratchDirectory directory;
  const std::string path = directory.file("settings.json");
  ASSERT_TRUE(write_text_file_atomically(path, "old content that is longer").ok());
  ASSERT_TRUE(write_text_file_atomically(path, "new").ok());
  EXPECT_EQ(*read_text_file(path, kTestFileLimit, "a test file"), "new");
  EXPECT_EQ(directory.entries(), std::vector<std::string>{"settings.json"});
}

// A save killed before its rename leaves "<path>.tmp-<pid>-<n>": the next save to that path removes it,
// unless its process is still alive (it may still be writing).
TEST(FileUtil, TheNextSaveRemovesWhatAKilledSaveLeftBehind) {
#ifdef __EMSCRIPTEN__
  GTEST_SKIP() << "WebAssembly has no processes to ask whether a writer is alive; nothing is removed there";
#endif
  ScratchDirectory directory;
  const std::string path = directory.file("model.qmodel");
  const std::string dead = path + ".tmp-2147483647-0",
                    alive = path + ".tmp-" + std::to_string(getpid()) + "-999999";
  ASSERT_TRUE(write_text_file_atomically(dead + "x", "").ok());  // files to rename into place
  std::filesystem::rename(dead + "x", dead);
  ASSERT_TRUE(write_text_file_atomically(alive + "x", "").ok());
  std::filesystem::rename(alive + "x", alive);
  EXPECT_EQ(orphaned_temporaries(path), std::vector<std::string>{dead});
  ASSERT_TRUE(write_text_file_atomically(path, "new").ok());
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(alive)) << "a live writer's file stays";
}

TEST(FileUtil, FailedWriteLeavesNothingBehindAndSaysWhy) {
  ScratchDirectory directory;
  const std::string path = directory.file("missing_folder/model.qmodel");
  const Status status = write_text_file_atomically(path, "x");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message().rfind(path + ": cannot create", 0), 0u) << status.message();

  // Renaming over a directory fails after the temporary file was written; it must be removed.
  std::filesystem::create_directory(directory.file("occupied"));
  const Status over_directory = write_text_file_atomically(directory.file("occupied"), "x");
  ASSERT_FALSE(over_directory.ok());
  EXPECT_NE(over_directory.message().find("cannot replace the file"), std::string::npos);
  EXPECT_EQ(directory.entries(), std::vector<std::string>{"occupied"});
}

TEST(FileUtil, ReadingAMissingFileOrADirectorySaysSo) {
  ScratchDirectory directory;
  EXPECT_EQ(read_file_bytes(directory.file("nope.bin"), kTestFileLimit, "a test file").message(),
            directory.file("nope.bin") + ": no such file");
  std::filesystem::create_directory(directory.file("folder"));
  EXPECT_EQ(read_file_bytes(directory.file("folder"), kTestFileLimit, "a test file").message(),
            directory.file("folder") + ": is a directory, not a file");
}

// ---- The model file

ModelFile make_test_model() {
  ModelFile model;
  model.architecture = "mlp:4,3";
  model.input_shape = {2, 3};
  model.num_classes = 3;
  model.metadata_json = R"({"dataset": "moons", "seed": 7, "learning_rate": 0.05})";
  // The float values a serializer could get wrong: signed zeros, denormals, the extremes.
  const std::vector<float> tricky_values = {0.1f,
                                            -0.0f,
                                            0.0f,
                                            std::numeric_limits<float>::denorm_min(),
                                            1e-40f,
                                            -3e-39f,
                                            std::numeric_limits<float>::min(),
                                            std::numeric_limits<float>::max(),
                                            std::numeric_limits<float>::lowest(),
                                            0.333333343f,
                                            12345.678f,
                                            -2.5e-7f};
  std::vector<float> dense1_weight = tricky_values;
  for (int i = 0; i < 12; ++i) dense1_weight.push_back(static_cast<float>(i) - 5.5f);
  model.tensors = {
      {"dense1.weight", {4, 6}, dense1_weight},
      {"dense1.bias", {4}, {0.5f, -0.5f, 0.25f, -0.25f}},
      {"dense2.weight", {3, 4}, std::vector<float>(12, 0.125f)},
      {"dense2.bias", {3}, {1e-3f, 2e-3f, 3e-3f}},
      {"temperature", {}, {1.5f}},  // rank 0: a scalar
  };
  return model;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

void expect_identical(const ModelFile& actual, const ModelFile& expected) {
  EXPECT_EQ(actual.architecture, expected.architecture);
  EXPECT_EQ(actual.input_shape, expected.input_shape);
  EXPECT_EQ(actual.num_classes, expected.num_classes);
  EXPECT_EQ(actual.metadata_json, expected.metadata_json);
  ASSERT_EQ(actual.tensors.size(), expected.tensors.size());
  for (size_t t = 0; t < expected.tensors.size(); ++t) {
    EXPECT_EQ(actual.tensors[t].name, expected.tensors[t].name);
    EXPECT_EQ(actual.tensors[t].shape, expected.tensors[t].shape);
    ASSERT_EQ(actual.tensors[t].values.size(), expected.tensors[t].values.size());
    for (size_t i = 0; i < expected.tensors[t].values.size(); ++i) {
      EXPECT_TRUE(same_bits(actual.tensors[t].values[i], expected.tensors[t].values[i]))
          << expected.tensors[t].name << "[" << i << "]";
    }
  }
}

uint32_t load_u32(const std::vector<uint8_t>& bytes, size_t offset) {
  return uint32_t{bytes[offset]} | uint32_t{bytes[offset + 1]} << 8 | uint32_t{bytes[offset + 2]} << 16 |
         uint32_t{bytes[offset + 3]} << 24;
}

void store_u32(uint32_t value, std::vector<uint8_t>* bytes, size_t offset) {
  for (int i = 0; i < 4; ++i) (*bytes)[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

// Recomputes the trailing checksum after a test has edited the bytes on purpose, so that the check under
// test, not the checksum, is what refuses the file.
void reseal(std::vector<uint8_t>* bytes) {
  const size_t end = bytes->size() - 4;
  store_u32(crc32(std::span<const uint8_t>(bytes->data(), end)), bytes, end);
}

// Builds model files field by field, including ones no valid ModelFile would produce.
class RawModelFile {
 public:
  RawModelFile& u32(uint32_t value) {
    for (int i = 0; i < 4; ++i) header_.push_back(static_cast<uint8_t>(value >> (8 * i)));
    return *this;
  }
  RawModelFile& string(std::string_view text) {
    u32(static_cast<uint32_t>(text.size()));
    header_.insert(header_.end(), text.begin(), text.end());
    return *this;
  }
  // A prefix that is fine up to the tensor count.
  RawModelFile& valid_prefix(uint32_t tensor_count) {
    return string("mlp").u32(1).u32(4).u32(2).string("").u32(tensor_count);
  }
  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> header = header_;
    header.resize((header.size() + 3) / 4 * 4, 0);
    // No payload: these headers declare none, or are refused before it matters.
    std::vector<uint8_t> bytes(16 + header.size() + 4, 0);
    std::memcpy(bytes.data(), "QPLAYMDL", 8);
    store_u32(1, &bytes, 8);
    store_u32(static_cast<uint32_t>(header.size()), &bytes, 12);
    std::copy(header.begin(), header.end(), bytes.begin() + 16);
    reseal(&bytes);
    return bytes;
  }

 private:
  std::vector<uint8_t> header_;
};

std::string parse_error(const std::vector<uint8_t>& bytes) {
  Result<ModelFile> parsed = parse_model_file(bytes);
  return parsed.ok() ? "(parsed fine)" : parsed.message();
}

TEST(ModelFile, RoundTripIsBitExactIncludingDenormalsAndNegativeZero) {
  const ModelFile model = make_test_model();
  ASSERT_TRUE(validate_model_file(model).ok()) << validate_model_file(model).message();
  Result<ModelFile> parsed = parse_model_file(serialize_model_file(model));
  ASSERT_TRUE(parsed.ok()) << parsed.message();
  expect_identical(*parsed, model);
}

TEST(ModelFile, LayoutIsTheDocumentedLittleEndianOne) {
  ModelFile model;
  model.architecture = "a";
  model.input_shape = {1};
  model.num_classes = 1;
  model.tensors = {{"w", {1}, {1.0f}}};
  const std::vector<uint8_t> bytes = serialize_model_file(model);
  // clang-format off
  const std::vector<uint8_t> expected_without_checksum = {
      'Q', 'P', 'L', 'A', 'Y', 'M', 'D', 'L',  // magic
      1, 0, 0, 0,                              // version
      40, 0, 0, 0,                             // header length: 38 bytes of fields + 2 of padding
      1, 0, 0, 0, 'a',                         // architecture
      1, 0, 0, 0, 1, 0, 0, 0,                  // input shape [1]
      1, 0, 0, 0,                              // num_classes
      0, 0, 0, 0,                              // metadata ""
      1, 0, 0, 0,                              // tensor count
      1, 0, 0, 0, 'w',                         // tensor name
      1, 0, 0, 0, 1, 0, 0, 0,                  // tensor shape [1]
      0, 0,                                    // padding to a multiple of 4
      0x00, 0x00, 0x80, 0x3F,                  // 1.0f
  };
  // clang-format on
  ASSERT_EQ(bytes.size(), expected_without_checksum.size() + 4);
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.end() - 4), expected_without_checksum);
  EXPECT_EQ(load_u32(bytes, bytes.size() - 4), crc32(expected_without_checksum));
}

TEST(ModelFile, PayloadStartsFourByteAligned) {
  const std::vector<uint8_t> bytes = serialize_model_file(make_test_model());
  EXPECT_EQ(load_u32(bytes, 12) % 4, 0u);
}

TEST(ModelFile, SaveAndLoadRoundTripThroughAFile) {
  ScratchDirectory directory;
  const std::string path = directory.file("model.qmodel");
  const ModelFile model = make_test_model();
  ASSERT_TRUE(save_model_file(path, model).ok());
  Result<ModelFile> loaded = load_model_file(path);
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  expect_identical(*loaded, model);
}

TEST(ModelFile, SaveReplacesAnExistingFileAndLeavesNoTemporaryFile) {
  ScratchDirectory directory;
  const std::string path = directory.file("model.qmodel");
  ASSERT_TRUE(write_text_file_atomically(path, "an older, unrelated file").ok());
  ModelFile model = make_test_model();
  ASSERT_TRUE(save_model_file(path, model).ok());
  model.architecture = "mlp:8";
  ASSERT_TRUE(save_model_file(path, model).ok());
  EXPECT_EQ(load_model_file(path)->architecture, "mlp:8");
  EXPECT_EQ(directory.entries(), std::vector<std::string>{"model.qmodel"});
}

TEST(ModelFile, SaveRefusesAnInvalidModelAndWritesNothing) {
  ScratchDirectory directory;
  ModelFile model = make_test_model();
  model.tensors[1].values.pop_back();
  const Status status = save_model_file(directory.file("model.qmodel"), model);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(), directory.file("model.qmodel") +
                                  ": refusing to save an invalid model: tensor 'dense1.bias' has 3 values, "
                                  "its shape needs 4");
  EXPECT_TRUE(directory.entries().empty());
}

TEST(ModelFile, LoadingAMissingPathSaysSo) {
  ScratchDirectory directory;
  const std::string path = directory.file("absent.qmodel");
  EXPECT_EQ(load_model_file(path).message(), path + ": no such file");
}

TEST(ModelFile, LoadErrorsStartWithThePath) {
  ScratchDirectory directory;
  const std::string path = directory.file("notes.qmodel");
  ASSERT_TRUE(write_text_file_atomically(path, "these are my notes, not a model").ok());
  EXPECT_EQ(load_model_file(path).message(), path + ": not a QPlay model file (bad magic)");
}

// ---- Each kind of damage gets its own message

TEST(ModelFileDamage, WrongMagicIsNotAModelFile) {
  EXPECT_EQ(parse_error({0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
            "not a QPlay model file (bad magic)");
  EXPECT_EQ(parse_error({'{', '}'}), "not a QPlay model file (bad magic)");
  EXPECT_EQ(parse_error({}), "not a QPlay model file (the file is empty)");
}

TEST(ModelFileDamage, NewerVersionIsRefusedByNumber) {
  std::vector<uint8_t> bytes = serialize_model_file(make_test_model());
  store_u32(7, &bytes, 8);
  EXPECT_EQ(parse_error(bytes), "model file version 7 is newer than this QPlay understands (1)");
  store_u32(0, &bytes, 8);
  EXPECT_EQ(parse_error(bytes), "corrupt: model file version 0 does not exist");
}

TEST(ModelFileDamage, TruncatedPayloadSaysHowManyBytesAreMissing) {
  ModelFile model;
  model.architecture = "mlp:200";
  model.input_shape = {200};
  model.num_classes = 2;
  model.tensors = {{"weights", {200}, std::vector<float>(200, 0.5f)}};
  std::vector<uint8_t> bytes = serialize_model_file(model);
  const size_t header_end = 16 + load_u32(bytes, 12);
  bytes.resize(header_end + 100);
  EXPECT_EQ(parse_error(bytes),
            "truncated: payload needs 804 bytes including the checksum, file has 100 after the header");
}

TEST(ModelFileDamage, TruncationAtEveryByteIsRefusedAsTruncated) {
  const std::vector<uint8_t> bytes = serialize_model_file(make_test_model());
  for (size_t size = 1; size < bytes.size(); ++size) {
    const std::string message = parse_error(std::vector<uint8_t>(bytes.begin(), bytes.begin() + size));
    EXPECT_EQ(message.rfind("truncated: ", 0), 0u) << "cut at " << size << ": " << message;
  }
}

TEST(ModelFileDamage, ChangedBytesAreACorruptChecksum) {
  const std::vector<uint8_t> original = serialize_model_file(make_test_model());
  std::vector<uint8_t> payload_flip = original;
  payload_flip[payload_flip.size() - 10] ^= 0x01;
  EXPECT_EQ(parse_error(payload_flip).rfind("corrupt: checksum mismatch (stored 0x", 0), 0u)
      << parse_error(payload_flip);

  std::vector<uint8_t> architecture_flip = original;
  architecture_flip[20] ^= 0x20;  // "mlp" -> "Mlp"
  EXPECT_EQ(parse_error(architecture_flip).rfind("corrupt: checksum mismatch", 0), 0u);

  std::vector<uint8_t> checksum_flip = original;
  checksum_flip.back() ^= 0x80;
  EXPECT_EQ(parse_error(checksum_flip).rfind("corrupt: checksum mismatch", 0), 0u);
}

TEST(ModelFileDamage, EverySingleByteChangeIsDetected) {
  const std::vector<uint8_t> original = serialize_model_file(make_test_model());
  for (size_t offset = 0; offset < original.size(); ++offset) {
    for (const uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xFF}}) {
      std::vector<uint8_t> damaged = original;
      damaged[offset] ^= mask;
      EXPECT_FALSE(parse_model_file(damaged).ok()) << "offset " << offset << " mask " << int{mask};
    }
  }
}

TEST(ModelFileDamage, BytesAfterTheChecksumAreRefused) {
  std::vector<uint8_t> bytes = serialize_model_file(make_test_model());
  bytes.insert(bytes.end(), {1, 2, 3});
  EXPECT_EQ(parse_error(bytes), "corrupt: 3 unexpected bytes after the checksum");
}

TEST(ModelFileDamage, NonFiniteValuesNameTheTensor) {
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()}) {
    ModelFile model = make_test_model();
    model.tensors[0].values[5] = bad;
    EXPECT_EQ(parse_error(serialize_model_file(model)),
              "tensor 'dense1.weight' holds NaN or infinity (first at index 5)");
    EXPECT_FALSE(validate_model_file(model).ok());
  }
}

TEST(ModelFileDamage, AbsurdSizesAreRefusedBeforeAnythingIsAllocated) {
  EXPECT_EQ(parse_error(RawModelFile().u32(2u << 20).bytes()),
            "architecture string is 2097152 bytes, more than the 1 MiB limit");
  EXPECT_EQ(parse_error(RawModelFile().u32(0xFFFFFFFFu).bytes()),
            "architecture string is 4294967295 bytes, more than the 1 MiB limit");
  EXPECT_EQ(parse_error(RawModelFile().string("mlp").u32(9).bytes()), "input shape has rank 9, more than 8");
  EXPECT_EQ(parse_error(RawModelFile().string("mlp").u32(1).u32(4).u32(2).u32(3u << 20).bytes()),
            "metadata is 3145728 bytes, more than the 1 MiB limit");
  EXPECT_EQ(parse_error(RawModelFile().valid_prefix(5000).bytes()),
            "5000 tensors, more than the limit of 4096");
  EXPECT_EQ(parse_error(RawModelFile().valid_prefix(1).u32(1u << 30).bytes()),
            "tensor name is 1073741824 bytes, more than the 1 MiB limit");
  EXPECT_EQ(parse_error(RawModelFile().valid_prefix(1).string("w").u32(9).bytes()),
            "tensor 'w' has rank 9, more than 8");
  EXPECT_EQ(parse_error(RawModelFile().valid_prefix(1).string("w").u32(2).u32(3).u32(0).bytes()),
            "tensor 'w' has dimension 0 at axis 1; dimensions must be >= 1");
  EXPECT_EQ(
      parse_error(RawModelFile().valid_prefix(1).string("w").u32(1).u32(static_cast<uint32_t>(-3)).bytes()),
      "tensor 'w' has dimension -3 at axis 0; dimensions must be >= 1");
  // 65536^3 overflows 32 bits; 2^31-1 to the 8th overflows 64 bits.
  EXPECT_EQ(
      parse_error(RawModelFile().valid_prefix(1).string("w").u32(3).u32(65536).u32(65536).u32(65536).bytes()),
      "tensor 'w' has more than 268435456 elements, the limit per tensor");
  RawModelFile huge_dimensions;
  huge_dimensions.valid_prefix(1).string("w").u32(8);
  for (int axis = 0; axis < 8; ++axis) huge_dimensions.u32(0x7FFFFFFF);
  EXPECT_EQ(parse_error(huge_dimensions.bytes()),
            "tensor 'w' has more than 268435456 elements, the limit per tensor");
  // Within the limits, but the file does not hold what the header declares.
  EXPECT_EQ(parse_error(RawModelFile().valid_prefix(4096).bytes()),
            "corrupt header: tensor name runs past the end of the header");
  EXPECT_EQ(parse_error(RawModelFile().valid_prefix(1).string("w").u32(2).u32(16384).u32(16384).bytes()),
            "truncated: payload needs 1073741828 bytes including the checksum, file has 4 after the header");
}

TEST(ModelFileDamage, AbsurdSizesInADamagedFileAreACorruptChecksum) {
  std::vector<uint8_t> bytes = RawModelFile().valid_prefix(5000).bytes();
  bytes.back() ^= 1;
  EXPECT_EQ(parse_error(bytes).rfind("corrupt: checksum mismatch", 0), 0u);
}

TEST(ModelFileDamage, InvalidFieldsInAnIntactFileAreNamed) {
  ModelFile model = make_test_model();
  std::vector<uint8_t> bytes = serialize_model_file(model);
  store_u32(0, &bytes, 16 + 4 + 7 + 4 + 8);  // num_classes, after "mlp:4,3" and the input shape [2, 3]
  reseal(&bytes);
  EXPECT_EQ(parse_error(bytes), "num_classes must be >= 1, got 0");

  model.metadata_json = R"({"seed": 7,})";
  EXPECT_EQ(parse_error(serialize_model_file(model)),
            "metadata is not valid JSON: line 1, column 11: trailing ',' before '}' is not allowed in JSON");

  std::vector<uint8_t> dirty_padding = RawModelFile().valid_prefix(0).bytes();
  dirty_padding[16 + 27] = 7;  // the header's fields take 27 bytes, then 1 byte of padding
  reseal(&dirty_padding);
  EXPECT_EQ(parse_error(dirty_padding), "corrupt header: padding bytes are not zero");

  EXPECT_EQ(parse_error(RawModelFile().valid_prefix(0).u32(0).bytes()),
            "corrupt header: its length 32 does not match its fields (27 bytes + 1 of padding)");
}

// Random damage of every kind: any outcome is fine except reading out of bounds or crashing, which the
// sanitizer build catches. A file that still parses must be valid.
TEST(ModelFileDamage, RandomDamageNeverCrashesTheParser) {
  const std::vector<uint8_t> original = serialize_model_file(make_test_model());
  std::mt19937 random(20240611);
  for (int trial = 0; trial < 600; ++trial) {
    std::vector<uint8_t> damaged = original;
    const int edits = 1 + static_cast<int>(random() % 8);
    for (int edit = 0; edit < edits; ++edit) {
      const size_t offset = random() % damaged.size();
      switch (random() % 4) {
        case 0:
          damaged[offset] = static_cast<uint8_t>(random());
          break;
        case 1:
          damaged.resize(offset + 1);
          break;
        case 2:
          damaged.insert(damaged.begin() + offset, static_cast<uint8_t>(random()));
          break;
        case 3:
          store_u32(static_cast<uint32_t>(random()), &damaged, std::min(offset, damaged.size() - 4));
          break;
      }
      if (damaged.size() < 4) damaged.resize(4, 0);
    }
    if (trial % 2 == 0 && damaged.size() >= 20) reseal(&damaged);  // reach the checks behind the checksum
    Result<ModelFile> parsed = parse_model_file(damaged);
    if (parsed.ok()) {
      EXPECT_TRUE(validate_model_file(*parsed).ok());
    } else {
      EXPECT_FALSE(parsed.message().empty());
    }
  }
}

// ---- JSON export

TEST(ModelFileJson, ExportFollowsTheDocumentedSchema) {
  const ModelFile model = make_test_model();
  const Json json = model_file_to_json(model);
  EXPECT_EQ(*get_string(json, "format"), "qplay-weights");
  EXPECT_EQ(*get_integer(json, "version"), 1);
  EXPECT_EQ(*get_string(json, "architecture"), "mlp:4,3");
  EXPECT_EQ(*json.find("input_shape"), Json::array({2, 3}));
  EXPECT_EQ(*get_integer(json, "num_classes"), 3);
  EXPECT_EQ(*json.find("metadata"), *parse_json(model.metadata_json));
  const Json* tensors = json.find("tensors");
  ASSERT_TRUE(tensors != nullptr && tensors->is_array());
  ASSERT_EQ(tensors->size(), model.tensors.size());
  const Json& bias = tensors->as_array()[1];
  EXPECT_EQ(*get_string(bias, "name"), "dense1.bias");
  EXPECT_EQ(*bias.find("shape"), Json::array({4}));
  EXPECT_EQ(to_json(*bias.find("values"), 0), "[0.5,-0.5,0.25,-0.25]");
  // Not 0.0010000000474974513, the exact value of 0.001f.
  EXPECT_EQ(to_json(*tensors->as_array()[3].find("values"), 0), "[0.001,0.002,0.003]");
}

TEST(ModelFileJson, ExportedValuesReadBackAsTheSameFloats) {
  const ModelFile model = make_test_model();
  Result<Json> reparsed = parse_json(to_json(model_file_to_json(model)));
  ASSERT_TRUE(reparsed.ok()) << reparsed.message();
  const Json::Array& tensors = reparsed->find("tensors")->as_array();
  for (size_t t = 0; t < model.tensors.size(); ++t) {
    const Json::Array& values = tensors[t].find("values")->as_array();
    ASSERT_EQ(values.size(), model.tensors[t].values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_TRUE(same_bits(static_cast<float>(values[i].as_number()), model.tensors[t].values[i]))
          << model.tensors[t].name << "[" << i << "] written as " << to_json(values[i]);
    }
  }
}

TEST(ModelFileJson, MissingOrBrokenMetadataIsStillExported) {
  ModelFile model = make_test_model();
  model.metadata_json = "";
  EXPECT_EQ(*model_file_to_json(model).find("metadata"), Json::object());
  model.metadata_json = "{not json";
  EXPECT_EQ(*model_file_to_json(model).find("metadata"), Json("{not json"));
}

}  // namespace
}  // namespace qplay
