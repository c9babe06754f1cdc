// The QPlay model file (.qmodel): a trained network's architecture string, input shape, class count,
// free-form JSON metadata and named float32 tensors, in one checksummed binary file; plus the documented
// JSON export of the same content.
// For: saving and loading the data, refusing damaged or hostile files with a clear message. Not for:
// checking that the tensors fit the architecture (the network module does that), or quantized weights.
//
// Binary layout, version 1. Every integer and float is little-endian whatever the host; u32 and i32 are
// 4 bytes, a "string" is a u32 byte count followed by that many UTF-8 bytes (no terminator).
//
//   offset     size   field
//   0          8      magic "QPLAYMDL"
//   8          4      u32 format version = 1
//   12         4      u32 header length H, in bytes, of the header that follows
//   16         H      header:
//                       string       architecture, e.g. "mlp:256,256"
//                       u32          input rank R, then R x i32 input dimensions
//                       i32          num_classes
//                       string       metadata: JSON text (data set, training settings), or empty
//                       u32          tensor count T
//                       T times:     string name, u32 rank r, r x i32 dimensions
//                       0-3 zero bytes, so that H is a multiple of 4: the payload then starts 4-byte
//                       aligned, and a browser can view it as a Float32Array without copying
//   16+H       4N     payload: every tensor's values as float32, in header order, each row-major;
//                     N is the sum over tensors of the product of their dimensions
//   16+H+4N    4      u32 CRC-32 (zlib's) of every byte before it
//
// Limits a file must respect, so that a corrupt or hostile one cannot make the loader allocate absurd
// amounts: strings up to 1 MiB, ranks up to 8, dimensions >= 1, at most 256 Mi (2^28) elements per tensor,
// at most 4096 tensors. Every value must be finite, num_classes >= 1, and metadata empty or valid JSON.
// Nothing may follow the checksum.
//
// JSON export ("qplay-weights", version 1), for notebooks and other tools; model_file_to_json builds it:
//   {
//     "format": "qplay-weights",
//     "version": 1,
//     "architecture": "mlp:256,256",
//     "input_shape": [28, 28, 1],
//     "num_classes": 10,
//     "metadata": { ... },                 the metadata JSON, parsed; {} when the model has none
//     "tensors": [
//       { "name": "dense1.weight", "shape": [256, 784], "values": [0.0132, -0.25, ...] },
//       ...
//     ]
//   }
// "values" is flat and row-major. Each value is written with the fewest digits that, read as a double and
// rounded to float32 (JavaScript's Math.fround, numpy.float32), give back the stored float exactly.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/io/json.h"

namespace qplay {

struct ModelTensor {
  std::string name;            // e.g. "dense1.weight"
  std::vector<int32_t> shape;  // e.g. [256, 784]; rank 0 is a scalar
  std::vector<float> values;   // product(shape) values, row-major
};

struct ModelFile {
  std::string architecture;          // e.g. "mlp:256,256"; the network module parses it
  std::vector<int32_t> input_shape;  // e.g. [28, 28, 1]
  int32_t num_classes = 0;
  std::string metadata_json;  // free-form JSON text: data set, training settings; may be empty
  std::vector<ModelTensor> tensors;
};

inline constexpr uint32_t kModelFileVersion = 1;

// Whether `model` respects the limits above (everything parse_model_file would check, plus that each
// tensor holds product(shape) values). save_model_file calls it, so it never writes a file that loading
// would refuse.
Status validate_model_file(const ModelFile& model);

// The bytes of the file. `model` must be valid (see validate_model_file).
std::vector<uint8_t> serialize_model_file(const ModelFile& model);

// Reads the bytes of a model file. Never reads out of bounds, whatever the bytes. Errors name the problem:
// "not a QPlay model file (bad magic)", "model file version 7 is newer than this QPlay understands (1)",
// "truncated: payload needs 804 bytes including the checksum, file has 100 after the header",
// "corrupt: checksum mismatch ...", "corrupt: 3 unexpected bytes after the checksum",
// "tensor 'dense1.weight' holds NaN or infinity", "tensor 'conv1.weight' has rank 9, more than 8", ...
Result<ModelFile> parse_model_file(std::span<const uint8_t> bytes);

// Validates, then writes atomically (see write_file_atomically).
Status save_model_file(const std::string& path, const ModelFile& model);
// Errors start with the path: "runs/a.qmodel: corrupt: checksum mismatch ...".
Result<ModelFile> load_model_file(const std::string& path);
// The largest model file read: kMaxArchitectureParameters floats are 8 MB, metadata strings at most 1 MiB
// each.
inline constexpr size_t kMaxModelFileBytes = size_t{64} << 20;

// The JSON export described above. Metadata that is not valid JSON (only possible for a ModelFile built in
// memory, as loading refuses it) is exported as a JSON string, so nothing is lost.
Json model_file_to_json(const ModelFile& model);

}  // namespace qplay
