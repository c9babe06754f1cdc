// Fuzzes loading a model file (.qmodel): parse_model_file (core/engine/io/model_file.h), then
// model_from_file (core/engine/experiment/saved_model.h) with the reference kernels, then forward passes
// of the network on an all-zero sample of its input size: float, and with post-training quantized weights.
// A model file ends in a CRC-32 that random mutations almost never match, which would keep the fuzzer in
// front of the checksum. So each input runs twice when its checksum is wrong: as it is (the refusal
// paths), and with its last 4 bytes replaced by the CRC-32 of the rest, as a faulty or hostile writer
// would produce it (the header limits, validation, the architecture and the network).
// Properties: no crash, leak or out-of-bounds read; a refused file gets a message; an accepted file
// passes validate_model_file and serializes back to exactly the bytes it was read from; a network
// built from it holds exactly the file's tensors, its forward pass gives one logit per class, and its
// weights quantized by the file's settings (as eval and the slider do) are all finite.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/engine/deploy/post_training.h"
#include "core/engine/experiment/saved_model.h"
#include "core/engine/io/crc32.h"
#include "core/engine/io/model_file.h"
#include "core/engine/kernels/kernel_table.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace qplay;

constexpr size_t kChecksumSize = 4;

void check_network(const ModelFile& file, SavedModel& saved) {
  Network<float>& network = *saved.network;
  const ModelFile rebuilt = make_model_file(network, saved.experiment);
  FUZZ_CHECK(rebuilt.tensors.size() == file.tensors.size());
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    FUZZ_CHECK(rebuilt.tensors[i].name == file.tensors[i].name);
    FUZZ_CHECK(rebuilt.tensors[i].shape == file.tensors[i].shape);
    FUZZ_CHECK(rebuilt.tensors[i].values == file.tensors[i].values, "the network lost or changed weights");
  }
  const Architecture& architecture = network.architecture();
  const std::vector<float> zeros(static_cast<size_t>(architecture.input.size()), 0.0f);
  std::span<const float> logits = network.forward(zeros, 1);
  FUZZ_CHECK(logits.size() == static_cast<size_t>(architecture.num_classes));

  // The weights as `eval` and the slider quantize them, with the file's own settings (2 bits if it says
  // float): a grid has a finite scale whatever the weights, so every quantized weight is finite.
  const int bits = saved.experiment.weight_bits > 0 ? saved.experiment.weight_bits : 2;
  const std::vector<float> quantized =
      quantized_weights_view(network, make_quantization_setting(saved.experiment, bits, 0));
  FUZZ_CHECK(quantized.size() == network.parameter_count());
  for (float value : quantized) FUZZ_CHECK(std::isfinite(value), "a quantized weight is not finite");
  ForwardOptions<float> options;
  options.parameters = quantized;
  FUZZ_CHECK(network.forward(zeros, 1, options).size() == static_cast<size_t>(architecture.num_classes));
}

void load(std::span<const uint8_t> bytes) {
  Result<ModelFile> file = parse_model_file(bytes);
  if (!file.ok()) {
    FUZZ_CHECK(!file.status().message().empty());
    return;
  }
  FUZZ_CHECK(validate_model_file(*file).ok(), "parse_model_file accepted what validation refuses");
  const std::vector<uint8_t> written = serialize_model_file(*file);
  FUZZ_CHECK(std::equal(written.begin(), written.end(), bytes.begin(), bytes.end()),
             "an accepted file does not serialize back to its own bytes");

  Result<SavedModel> saved = model_from_file(*file, reference_kernel_table());
  if (!saved.ok()) {
    FUZZ_CHECK(!saved.status().message().empty());
    return;
  }
  check_network(*file, *saved);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  load(bytes);
  if (size < kChecksumSize) return 0;

  std::vector<uint8_t> patched(data, data + size);
  const uint32_t checksum = crc32(bytes.first(size - kChecksumSize));
  for (size_t i = 0; i < kChecksumSize; ++i) patched[size - kChecksumSize + i] = uint8_t(checksum >> (8 * i));
  if (!std::equal(patched.begin(), patched.end(), bytes.begin())) load(patched);
  return 0;
}
