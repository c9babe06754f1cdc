// Reading and writing the .qmodel format laid out in model_file.h. Contents:
//   [SECTION] Limits and the checks shared by validation and parsing
//   [SECTION] Writing
//   [SECTION] Reading
//   [SECTION] JSON export
#include "core/engine/io/model_file.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/engine/io/crc32.h"
#include "core/engine/io/file_util.h"

namespace qplay {

namespace {

// [SECTION] Limits and the checks shared by validation and parsing

constexpr char kMagic[8] = {'Q', 'P', 'L', 'A', 'Y', 'M', 'D', 'L'};
constexpr size_t kFixedPartSize = 16;  // magic, version, header length
constexpr size_t kChecksumSize = 4;
constexpr uint64_t kMaxStringBytes = uint64_t{1} << 20;
constexpr uint64_t kMaxRank = 8;
constexpr uint64_t kMaxTensorElements = uint64_t{1} << 28;
constexpr uint64_t kMaxTensorCount = 4096;

Status check_string_length(std::string_view what, uint64_t length) {
  if (length <= kMaxStringBytes) return Status();
  return Status::error(std::string(what) + " is " + std::to_string(length) +
                       " bytes, more than the 1 MiB limit");
}

Status check_rank(std::string_view what, uint64_t rank) {
  if (rank <= kMaxRank) return Status();
  return Status::error(std::string(what) + " has rank " + std::to_string(rank) + ", more than " +
                       std::to_string(kMaxRank));
}

// The number of elements of `shape`, or why it is not a shape we accept. Multiplies in 64 bits and stops
// as soon as the limit is passed, so no product of hostile dimensions can overflow.
Result<uint64_t> count_elements(std::string_view what, const std::vector<int32_t>& shape) {
  if (Status rank = check_rank(what, shape.size()); !rank.ok()) return rank;
  uint64_t count = 1;
  for (size_t axis = 0; axis < shape.size(); ++axis) {
    if (shape[axis] < 1) {
      return Status::error(std::string(what) + " has dimension " + std::to_string(shape[axis]) + " at axis " +
                           std::to_string(axis) + "; dimensions must be >= 1");
    }
    count *= static_cast<uint64_t>(shape[axis]);
    if (count > kMaxTensorElements) {
      return Status::error(std::string(what) + " has more than " + std::to_string(kMaxTensorElements) +
                           " elements, the limit per tensor");
    }
  }
  return count;
}

std::string tensor_label(const std::string& name) { return "tensor '" + name + "'"; }

// For shapes count_elements has accepted.
uint64_t element_count(const std::vector<int32_t>& shape) {
  uint64_t count = 1;
  for (const int32_t dimension : shape) count *= static_cast<uint64_t>(dimension);
  return count;
}

}  // namespace

Status validate_model_file(const ModelFile& model) {
  if (Status status = check_string_length("architecture string", model.architecture.size()); !status.ok()) {
    return status;
  }
  if (Result<uint64_t> count = count_elements("input shape", model.input_shape); !count.ok()) {
    return count.status();
  }
  if (model.num_classes < 1) {
    return Status::error("num_classes must be >= 1, got " + std::to_string(model.num_classes));
  }
  if (Status status = check_string_length("metadata", model.metadata_json.size()); !status.ok()) {
    return status;
  }
  if (!model.metadata_json.empty()) {
    if (Result<Json> metadata = parse_json(model.metadata_json); !metadata.ok()) {
      return metadata.status().with_context("metadata is not valid JSON");
    }
  }
  if (model.tensors.size() > kMaxTensorCount) {
    return Status::error(std::to_string(model.tensors.size()) + " tensors, more than the limit of " +
                         std::to_string(kMaxTensorCount));
  }
  for (const ModelTensor& tensor : model.tensors) {
    const std::string label = tensor_label(tensor.name);
    if (Status status = check_string_length("tensor name", tensor.name.size()); !status.ok()) return status;
    Result<uint64_t> count = count_elements(label, tensor.shape);
    if (!count.ok()) return count.status();
    if (tensor.values.size() != *count) {
      return Status::error(label + " has " + std::to_string(tensor.values.size()) +
                           " values, its shape needs " + std::to_string(*count));
    }
    for (size_t i = 0; i < tensor.values.size(); ++i) {
      if (!std::isfinite(tensor.values[i])) {
        return Status::error(label + " holds NaN or infinity (first at index " + std::to_string(i) + ")");
      }
    }
  }
  return Status();
}

// [SECTION] Writing

namespace {

void append_u32(uint32_t value, std::vector<uint8_t>* out) {
  for (int shift = 0; shift < 32; shift += 8) out->push_back(static_cast<uint8_t>(value >> shift));
}

void append_string(const std::string& text, std::vector<uint8_t>* out) {
  append_u32(static_cast<uint32_t>(text.size()), out);
  out->insert(out->end(), text.begin(), text.end());
}

void append_shape(const std::vector<int32_t>& shape, std::vector<uint8_t>* out) {
  append_u32(static_cast<uint32_t>(shape.size()), out);
  for (const int32_t dimension : shape) append_u32(static_cast<uint32_t>(dimension), out);
}

size_t padding_to_multiple_of_4(size_t size) { return (4 - size % 4) % 4; }

}  // namespace

std::vector<uint8_t> serialize_model_file(const ModelFile& model) {
  std::vector<uint8_t> header;
  append_string(model.architecture, &header);
  append_shape(model.input_shape, &header);
  append_u32(static_cast<uint32_t>(model.num_classes), &header);
  append_string(model.metadata_json, &header);
  append_u32(static_cast<uint32_t>(model.tensors.size()), &header);
  size_t payload_size = 0;
  for (const ModelTensor& tensor : model.tensors) {
    append_string(tensor.name, &header);
    append_shape(tensor.shape, &header);
    payload_size += 4 * tensor.values.size();
  }
  header.resize(header.size() + padding_to_multiple_of_4(header.size()), 0);

  std::vector<uint8_t> bytes(std::begin(kMagic), std::end(kMagic));
  bytes.reserve(kFixedPartSize + header.size() + payload_size + kChecksumSize);
  append_u32(kModelFileVersion, &bytes);
  append_u32(static_cast<uint32_t>(header.size()), &bytes);
  bytes.insert(bytes.end(), header.begin(), header.end());
  for (const ModelTensor& tensor : model.tensors) {
    assert(tensor.values.size() == element_count(tensor.shape) && "serialize_model_file needs a valid model");
    for (const float value : tensor.values) {
      uint32_t bits;
      std::memcpy(&bits, &value, sizeof(bits));
      append_u32(bits, &bytes);
    }
  }
  append_u32(crc32(bytes), &bytes);
  return bytes;
}

Status save_model_file(const std::string& path, const ModelFile& model) {
  if (Status valid = validate_model_file(model); !valid.ok()) {
    return valid.with_context(path + ": refusing to save an invalid model");
  }
  return write_file_atomically(path, serialize_model_file(model));
}

// [SECTION] Reading

namespace {

uint32_t load_u32(const uint8_t* bytes) {
  return uint32_t{bytes[0]} | uint32_t{bytes[1]} << 8 | uint32_t{bytes[2]} << 16 | uint32_t{bytes[3]} << 24;
}

// Bounds-checked little-endian reads from the header. Each read either succeeds or leaves an error naming
// the field that ran past the end; nothing is read outside `bytes`.
class HeaderReader {
 public:
  explicit HeaderReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  size_t position() const { return position_; }

  Status read_u32(std::string_view field, uint32_t* value) {
    if (bytes_.size() - position_ < 4) return past_the_end(field);
    *value = load_u32(bytes_.data() + position_);
    position_ += 4;
    return Status();
  }

  Status read_i32(std::string_view field, int32_t* value) {
    uint32_t bits = 0;
    if (Status status = read_u32(field, &bits); !status.ok()) return status;
    *value = static_cast<int32_t>(bits);
    return Status();
  }

  Status read_string(std::string_view field, std::string* text) {
    uint32_t length = 0;
    if (Status status = read_u32(field, &length); !status.ok()) return status;
    if (Status status = check_string_length(field, length); !status.ok()) return status;
    if (bytes_.size() - position_ < length) return past_the_end(field);
    text->assign(reinterpret_cast<const char*>(bytes_.data() + position_), length);
    position_ += length;
    return Status();
  }

  // The rank is checked before the dimensions are read, so a hostile rank cannot make us loop for long.
  Status read_shape(const std::string& what, std::vector<int32_t>* shape) {
    uint32_t rank = 0;
    if (Status status = read_u32(what + " rank", &rank); !status.ok()) return status;
    if (Status status = check_rank(what, rank); !status.ok()) return status;
    shape->resize(rank);
    for (int32_t& dimension : *shape) {
      if (Status status = read_i32(what + " dimensions", &dimension); !status.ok()) return status;
    }
    return Status();
  }

 private:
  static Status past_the_end(std::string_view field) {
    return Status::error("corrupt header: " + std::string(field) + " runs past the end of the header");
  }

  std::span<const uint8_t> bytes_;
  size_t position_ = 0;
};

// The header fields, with every size checked against the limits, and the total number of payload floats.
// Tensor values are left empty.
Status parse_header(std::span<const uint8_t> header, ModelFile* model, uint64_t* payload_floats) {
  HeaderReader reader(header);
  Status status = reader.read_string("architecture string", &model->architecture);
  if (status.ok()) status = reader.read_shape("input shape", &model->input_shape);
  if (status.ok()) status = reader.read_i32("num_classes", &model->num_classes);
  if (status.ok()) status = reader.read_string("metadata", &model->metadata_json);
  uint32_t tensor_count = 0;
  if (status.ok()) status = reader.read_u32("tensor count", &tensor_count);
  if (!status.ok()) return status;
  if (tensor_count > kMaxTensorCount) {
    return Status::error(std::to_string(tensor_count) + " tensors, more than the limit of " +
                         std::to_string(kMaxTensorCount));
  }
  model->tensors.resize(tensor_count);
  *payload_floats = 0;
  for (ModelTensor& tensor : model->tensors) {
    if (status = reader.read_string("tensor name", &tensor.name); !status.ok()) return status;
    const std::string label = tensor_label(tensor.name);
    if (status = reader.read_shape(label, &tensor.shape); !status.ok()) return status;
    Result<uint64_t> count = count_elements(label, tensor.shape);
    if (!count.ok()) return count.status();
    *payload_floats += *count;
  }
  const size_t padding = padding_to_multiple_of_4(reader.position());
  if (header.size() != reader.position() + padding) {
    return Status::error("corrupt header: its length " + std::to_string(header.size()) +
                         " does not match its fields (" + std::to_string(reader.position()) + " bytes + " +
                         std::to_string(padding) + " of padding)");
  }
  for (size_t i = reader.position(); i < header.size(); ++i) {
    if (header[i] != 0) return Status::error("corrupt header: padding bytes are not zero");
  }
  return Status();
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08X", static_cast<unsigned>(value));
  return text;
}

}  // namespace

// The order of the checks decides which message a damaged file gets. A file shorter than its header
// declares is "truncated" (its checksum is missing, so nothing better can be said); one with bytes after
// the declared checksum, which is right, has "unexpected bytes"; otherwise a wrong checksum means
// "corrupt". The limits on sizes fire alone only when the checksum is right, that is for files a faulty or
// hostile writer produced as they are.
Result<ModelFile> parse_model_file(std::span<const uint8_t> bytes) {
  const size_t size = bytes.size();
  if (size == 0) return Status::error("not a QPlay model file (the file is empty)");
  const size_t magic_bytes = std::min(size, sizeof(kMagic));
  if (std::memcmp(bytes.data(), kMagic, magic_bytes) != 0) {
    return Status::error("not a QPlay model file (bad magic)");
  }
  if (size < kFixedPartSize + kChecksumSize) {
    return Status::error("truncated: file has " + std::to_string(size) +
                         " bytes, a model file has at least " +
                         std::to_string(kFixedPartSize + kChecksumSize));
  }
  const uint32_t version = load_u32(bytes.data() + 8);
  if (version > kModelFileVersion) {
    return Status::error("model file version " + std::to_string(version) +
                         " is newer than this QPlay understands (" + std::to_string(kModelFileVersion) + ")");
  }
  if (version == 0) return Status::error("corrupt: model file version 0 does not exist");
  const uint64_t header_size = load_u32(bytes.data() + 12);
  if (header_size > size - kFixedPartSize) {
    return Status::error("truncated: header needs " + std::to_string(header_size) + " bytes, file has " +
                         std::to_string(size - kFixedPartSize) + " after the first " +
                         std::to_string(kFixedPartSize));
  }
  const size_t header_end = kFixedPartSize + header_size;

  const uint32_t stored_checksum = load_u32(bytes.data() + size - kChecksumSize);
  const uint32_t computed_checksum = crc32(bytes.first(size - kChecksumSize));
  const bool checksum_matches = header_end + kChecksumSize <= size && stored_checksum == computed_checksum;
  const Status checksum_mismatch =
      Status::error("corrupt: checksum mismatch (stored " + hex32(stored_checksum) + ", computed " +
                    hex32(computed_checksum) + ")");

  ModelFile model;
  uint64_t payload_floats = 0;
  if (Status header = parse_header(bytes.subspan(kFixedPartSize, header_size), &model, &payload_floats);
      !header.ok()) {
    return checksum_matches ? header : checksum_mismatch;
  }
  const uint64_t needed_after_header = 4 * payload_floats + kChecksumSize;
  const uint64_t available_after_header = size - header_end;
  if (available_after_header < needed_after_header) {
    return Status::error("truncated: payload needs " + std::to_string(needed_after_header) +
                         " bytes including the checksum, file has " + std::to_string(available_after_header) +
                         " after the header");
  }
  if (available_after_header > needed_after_header) {
    // Only if the file up to the declared end checks out were bytes really appended; otherwise the header
    // itself is damaged and declares too little.
    const size_t declared_end = header_end + needed_after_header;
    const bool complete_before_extra = load_u32(bytes.data() + declared_end - kChecksumSize) ==
                                       crc32(bytes.first(declared_end - kChecksumSize));
    if (!complete_before_extra) return checksum_mismatch;
    return Status::error("corrupt: " + std::to_string(available_after_header - needed_after_header) +
                         " unexpected bytes after the checksum");
  }
  if (!checksum_matches) return checksum_mismatch;

  const uint8_t* payload = bytes.data() + header_end;
  for (ModelTensor& tensor : model.tensors) {
    tensor.values.resize(element_count(tensor.shape));
    for (float& value : tensor.values) {
      const uint32_t bits = load_u32(payload);
      std::memcpy(&value, &bits, sizeof(value));
      payload += 4;
    }
  }
  if (Status valid = validate_model_file(model); !valid.ok()) return valid;
  return model;
}

Result<ModelFile> load_model_file(const std::string& path) {
  Result<std::vector<uint8_t>> bytes = read_file_bytes(path, kMaxModelFileBytes, "a QPlay model file");
  if (!bytes.ok()) return bytes.status();
  Result<ModelFile> model = parse_model_file(*bytes);
  if (!model.ok()) return model.status().with_context(path);
  return model;
}

// [SECTION] JSON export

namespace {

// The double with the fewest significant digits that rounds to `value` as a float32, so the export holds
// "0.1" rather than 0.1f's exact expansion "0.100000001490116". The test is exactly what a JSON reader that
// wants float32 does (read a double, then round), and 9 digits always pass it.
double shortest_double_for_float(float value) {
  double candidate = value;
  char text[32];
  for (int precision = 6; precision <= 9; ++precision) {
    std::snprintf(text, sizeof(text), "%.*g", precision, static_cast<double>(value));
    candidate = std::strtod(text, nullptr);
    if (static_cast<float>(candidate) == value) break;
  }
  return candidate;
}

Json shape_to_json(const std::vector<int32_t>& shape) {
  Json::Array dimensions(shape.begin(), shape.end());
  return Json::array(std::move(dimensions));
}

}  // namespace

Json model_file_to_json(const ModelFile& model) {
  Json json = Json::object();
  json["format"] = "qplay-weights";
  json["version"] = kModelFileVersion;
  json["architecture"] = model.architecture;
  json["input_shape"] = shape_to_json(model.input_shape);
  json["num_classes"] = model.num_classes;
  if (model.metadata_json.empty()) {
    json["metadata"] = Json::object();
  } else if (Result<Json> metadata = parse_json(model.metadata_json); metadata.ok()) {
    json["metadata"] = std::move(*metadata);
  } else {
    json["metadata"] = model.metadata_json;
  }
  Json tensors = Json::array();
  for (const ModelTensor& tensor : model.tensors) {
    Json::Array values;
    values.reserve(tensor.values.size());
    for (const float value : tensor.values) values.emplace_back(shortest_double_for_float(value));
    Json entry = Json::object();
    entry["name"] = tensor.name;
    entry["shape"] = shape_to_json(tensor.shape);
    entry["values"] = Json::array(std::move(values));
    tensors.push_back(std::move(entry));
  }
  json["tensors"] = std::move(tensors);
  return json;
}

}  // namespace qplay
