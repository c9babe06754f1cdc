// IDX parsing and (optionally gzip-compressed) file reading; see idx_reader.h.
#include "core/engine/data/idx_reader.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <utility>

#include "core/engine/io/file_util.h"

#if QPLAY_HAVE_ZLIB
#include <zlib.h>
#endif

namespace qplay {

namespace {

constexpr uint8_t kIdxTypeUnsignedByte = 0x08;
constexpr int kMaxIdxDims = 4;
// Guards against gzip bombs and corrupt size fields; the largest IDX file in common use
// (EMNIST by-class training images) is about 550 MB.
constexpr size_t kMaxDecompressedBytes = size_t{1} << 30;
constexpr size_t kMaxDeflateRatio = 1032;

uint32_t read_big_endian_u32(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}

std::string hex_byte(uint8_t value) {
  char text[8];
  std::snprintf(text, sizeof(text), "0x%02x", value);
  return text;
}

// The element types the IDX format defines, so an unsupported one can be named.
const char* idx_type_name(uint8_t type) {
  switch (type) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "not an IDX type";
  }
}

std::string join_dims(const std::vector<uint32_t>& dims) {
  std::string text;
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? " x " : "") + std::to_string(dims[i]);
  return text;
}

bool starts_with_gzip_magic(std::span<const uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

#if QPLAY_HAVE_ZLIB
struct InflateStream {
  z_stream stream{};
  bool initialised = false;
  ~InflateStream() {
    if (initialised) inflateEnd(&stream);
  }
};

Result<std::vector<uint8_t>> gunzip(std::span<const uint8_t> compressed, std::string_view what) {
  const std::string path(what);
  const std::string context = path + ": corrupt gzip stream";
  InflateStream inflater;
  // 15 + 32: the largest window, and let zlib detect the gzip (or zlib) header itself.
  if (inflateInit2(&inflater.stream, 15 + 32) != Z_OK) return Status::error(path + ": cannot start zlib");
  inflater.initialised = true;
  z_stream& stream = inflater.stream;

  // The gzip trailer's last word is the uncompressed size (mod 2^32): a good first guess for an
  // intact file. A truncated file ends in arbitrary bytes, so the guess is capped by deflate's
  // largest possible expansion (1032:1) rather than trusted.
  const size_t n = compressed.size();
  const size_t trailer_size = n >= 4 ? (size_t{compressed[n - 1]} << 24 | size_t{compressed[n - 2]} << 16 |
                                        size_t{compressed[n - 3]} << 8 | size_t{compressed[n - 4]})
                                     : 0;
  const size_t max_expansion =
      n < kMaxDecompressedBytes / kMaxDeflateRatio ? n * kMaxDeflateRatio : kMaxDecompressedBytes;
  std::vector<uint8_t> output(
      std::clamp(std::min(trailer_size, max_expansion), size_t{1} << 16, kMaxDecompressedBytes));
  size_t produced = 0, consumed = 0;
  for (;;) {
    if (stream.avail_in == 0) {
      // zlib counts in uInt (32 bits); feed larger inputs piecewise.
      size_t piece = std::min<size_t>(n - consumed, std::numeric_limits<uInt>::max());
      stream.next_in = const_cast<Bytef*>(compressed.data() + consumed);
      stream.avail_in = static_cast<uInt>(piece);
      consumed += piece;
    }
    if (produced == output.size()) {
      if (output.size() >= kMaxDecompressedBytes) {
        return Status::error(path + ": decompresses to more than 1 GiB; refusing to read it");
      }
      output.resize(std::min(output.size() * 2, kMaxDecompressedBytes));
    }
    const size_t room = std::min<size_t>(output.size() - produced, std::numeric_limits<uInt>::max());
    stream.next_out = output.data() + produced;
    stream.avail_out = static_cast<uInt>(room);
    const int code = inflate(&stream, Z_NO_FLUSH);
    produced += room - stream.avail_out;
    const bool input_exhausted = stream.avail_in == 0 && consumed == n;
    if (code == Z_STREAM_END) {
      if (input_exhausted) break;
      inflateReset(&stream);  // another gzip member follows
      continue;
    }
    if (code == Z_DATA_ERROR) {
      return Status::error(context + " (" + (stream.msg ? stream.msg : "bad data") + ")");
    }
    if (code == Z_MEM_ERROR) return Status::error(path + ": out of memory while decompressing");
    if (code != Z_OK && code != Z_BUF_ERROR) {
      return Status::error(context + " (zlib error " + std::to_string(code) + ")");
    }
    // Output room left over but nothing more to read: the stream stopped before its end.
    if (input_exhausted && stream.avail_out > 0) {
      return Status::error(path + ": truncated gzip stream (ends after " + std::to_string(produced) +
                           " decompressed bytes; the download may be incomplete)");
    }
  }
  output.resize(produced);
  return output;
}
#endif

// The header checks of parse_idx: on success, array->dims is set and the header's size returned.
Result<size_t> parse_idx_header(std::span<const uint8_t> bytes, std::string_view what, IdxArray* array) {
  const std::string name(what);
  if (bytes.size() < 4) {
    return Status::error(name + ": file has " + std::to_string(bytes.size()) +
                         " bytes, too short for an IDX header (at least 4)");
  }
  if (bytes[0] != 0 || bytes[1] != 0) {
    char magic[16];
    std::snprintf(magic, sizeof(magic), "0x%08x", read_big_endian_u32(bytes.data()));
    std::string hint = starts_with_gzip_magic(bytes) ? "; it looks gzip-compressed, decompress it first" : "";
    return Status::error(name + ": not an IDX file (magic " + magic +
                         ", expected 0x000008NN such as 0x00000803)" + hint);
  }
  const uint8_t type = bytes[2];
  if (type != kIdxTypeUnsignedByte) {
    return Status::error(name + ": IDX element type " + hex_byte(type) + " (" + idx_type_name(type) +
                         ") is not supported; only 0x08 (unsigned byte) is");
  }
  const int num_dims = bytes[3];
  if (num_dims < 1 || num_dims > kMaxIdxDims) {
    return Status::error(name + ": IDX header declares " + std::to_string(num_dims) +
                         " dimensions; expected 1 to " + std::to_string(kMaxIdxDims));
  }
  const size_t header_size = 4 + 4 * static_cast<size_t>(num_dims);
  if (bytes.size() < header_size) {
    return Status::error(name + ": truncated IDX header (" + std::to_string(num_dims) + " dimensions need " +
                         std::to_string(header_size) + " bytes, file has " + std::to_string(bytes.size()) +
                         ")");
  }

  // size_t is 32 bits in WebAssembly: dims that pass this check describe an addressable payload.
  const size_t max_payload = std::numeric_limits<size_t>::max() - header_size;
  size_t payload_size = 1;
  bool too_large = false;
  for (int d = 0; d < num_dims; ++d) {
    const uint32_t dim = read_big_endian_u32(bytes.data() + 4 + 4 * d);
    array->dims.push_back(dim);
    if (dim != 0 && payload_size > max_payload / dim) too_large = true;
    if (!too_large) payload_size *= dim;
  }
  if (too_large) {
    return Status::error(name + ": IDX dimensions " + join_dims(array->dims) +
                         " are too large to address; the header is corrupt");
  }
  const size_t expected_size = header_size + payload_size;
  if (bytes.size() != expected_size) {
    const std::string problem = bytes.size() < expected_size ? "truncated"
                                                             : std::to_string(bytes.size() - expected_size) +
                                                                   " unexpected trailing bytes";
    return Status::error(name + ": expected " + std::to_string(expected_size) + " bytes, file has " +
                         std::to_string(bytes.size()) + " (a " + std::to_string(header_size) +
                         "-byte header and " + join_dims(array->dims) + " bytes; " + problem + ")");
  }
  return header_size;
}

}  // namespace

bool gzip_supported() {
#if QPLAY_HAVE_ZLIB
  return true;
#else
  return false;
#endif
}

Result<IdxArray> parse_idx(std::span<const uint8_t> bytes, std::string_view what) {
  IdxArray array;
  Result<size_t> header_size = parse_idx_header(bytes, what, &array);
  if (!header_size.ok()) return header_size.status();
  array.data.assign(bytes.begin() + *header_size, bytes.end());
  return array;
}

Result<IdxArray> parse_idx(std::vector<uint8_t>&& bytes, std::string_view what) {
  IdxArray array;
  Result<size_t> header_size = parse_idx_header(bytes, what, &array);
  if (!header_size.ok()) return header_size.status();
  // Shifting the payload down in place keeps one copy of it alive, not two (47 MB for the
  // Fashion-MNIST training images).
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(*header_size));
  array.data = std::move(bytes);
  return array;
}

Result<std::vector<uint8_t>> inflate_if_gzip(std::vector<uint8_t>&& bytes, std::string_view what) {
  if (!starts_with_gzip_magic(bytes)) return std::move(bytes);
#if QPLAY_HAVE_ZLIB
  return gunzip(bytes, what);
#else
  const std::string name(what);
  return Status::error(
      name + ": the file is gzip-compressed and this build has no zlib; decompress it first (gunzip -k " +
      name + ")");
#endif
}

Result<std::vector<uint8_t>> read_file_maybe_gzip(const std::string& path) {
  Result<std::vector<uint8_t>> bytes = read_file_bytes(path, kMaxDecompressedBytes, "an IDX file");
  if (!bytes.ok()) return bytes;
  return inflate_if_gzip(std::move(bytes).value(), path);
}

Result<IdxArray> read_idx_file(const std::string& path) {
  Result<std::vector<uint8_t>> bytes = read_file_maybe_gzip(path);
  if (!bytes.ok()) return bytes.status();
  return parse_idx(std::move(bytes).value(), path);
}

}  // namespace qplay
