// An IntegerModel (integer_model.h) as an ONNX model in QDQ form, opset 13, IR version 7, written with
// io/protobuf_writer.h. The graph takes the flat float input "input" [N, features] (QPlay's NHWC order)
// and returns "logits" [N, classes]:
//  - weights are INT8 (symmetric grids) or UINT8 (asymmetric) initializers holding the codes, each behind
//    a DequantizeLinear with one scale per output channel (axis 0) or one for the tensor; float weights
//    (0 bits) stay float initializers;
//  - a quantized layer input is Clip(grid's range) -> QuantizeLinear -> DequantizeLinear, UINT8 for the
//    unsigned grids after a ReLU, INT8 for symmetric ones: Clip makes a b-bit grid of an 8-bit type;
//  - dense is Gemm(transB = 1) on the [outputs, inputs] weights; convolutions run in NCHW with the weights
//    permuted from QPlay's [outputs, ky, kx, in] to OIHW, behind Reshape + Transpose of the input, and a
//    Transpose back to NHWC before Flatten keeps QPlay's flatten order; float biases follow as an Add.
// The node list is in docs/formats.md.
#pragma once

#include <string>

#include "core/engine/deploy/integer_model.h"

namespace qplay {

// The serialized ModelProto. Refuses a max-pool with padding (QPlay's max-pool has none).
Result<std::string> onnx_model_bytes(const IntegerModel& model);

}  // namespace qplay
