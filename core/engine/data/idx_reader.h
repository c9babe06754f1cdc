// Reader for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), limited
// to what those files use: unsigned-byte elements. A header of big-endian words: the magic
// 0x0000 08 NN (element type 0x08 = uint8, NN = number of dimensions), then NN dimension sizes,
// then the payload in row-major order.
//
// parse_idx works on bytes already in memory, so the browser build can hand it fetched files.
// read_file_maybe_gzip inflates .gz files when the engine is built with zlib (QPLAY_HAVE_ZLIB);
// without it, a gzip file gives an error asking for it to be decompressed first.
// Not for interpreting the arrays as a data set: see fashion_mnist.h.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/base/status.h"

namespace qplay {

struct IdxArray {
  std::vector<uint32_t> dims;  // outermost first: {60000, 28, 28} for training images
  std::vector<uint8_t> data;   // [prod(dims)] row-major
};

// Parses a whole IDX file. `what` names it in error messages ("train-images: expected 47040016
// bytes, file has 1200"). Rejects other element types, 0 or more than 4 dimensions, and a payload
// that is not exactly the size the dimensions promise (truncated or with trailing bytes).
Result<IdxArray> parse_idx(std::span<const uint8_t> bytes, std::string_view what);
// The same, taking over the bytes: the payload is shifted down in place and becomes the array's
// data, so a large file is never held twice.
Result<IdxArray> parse_idx(std::vector<uint8_t>&& bytes, std::string_view what);

// `bytes` as they are, or inflated if they start with the gzip magic 1f 8b (concatenated gzip members
// are joined, as gunzip does); `what` names them in errors. Inflation stops with an error past 1 GiB
// (a gzip bomb or a corrupt stream). Without zlib, gzip bytes are an error asking to decompress them.
Result<std::vector<uint8_t>> inflate_if_gzip(std::vector<uint8_t>&& bytes, std::string_view what);

// The file's bytes through inflate_if_gzip, with the path as `what`.
Result<std::vector<uint8_t>> read_file_maybe_gzip(const std::string& path);

// read_file_maybe_gzip, then parse_idx (in place) with the path as `what`.
Result<IdxArray> read_idx_file(const std::string& path);

// Whether this build can read .gz files (the engine was compiled with QPLAY_HAVE_ZLIB).
bool gzip_supported();

}  // namespace qplay
