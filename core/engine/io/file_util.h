// Whole-file reads and crash-safe whole-file writes, for QPlay's model, experiment and report files.
// For: files read or written in one go, with errors as messages that start with the path
// ("runs/a.qmodel: no such file"). Not for: streaming large data sets, directory walks, or file locking:
// two processes saving the same path at once each write a complete file, and the last rename wins.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/base/status.h"

namespace qplay {

// The whole content of the file at `path`, refused past `max_bytes` (a device like /dev/zero or a pipe never
// ends; the caller knows how large its kind of file can be). Errors: "<path>: no such file", "<path>: is a
// directory, not a file", "<path>: cannot open (Permission denied)", "<path>: read error after 4096 bytes
// (...)", "<path>: more than 16777216 bytes, larger than <what> can be".
Result<std::vector<uint8_t>> read_file_bytes(const std::string& path, size_t max_bytes,
                                             std::string_view what);

// read_file_bytes as text; the bytes are not checked for valid UTF-8.
Result<std::string> read_text_file(const std::string& path, size_t max_bytes, std::string_view what);

// Replaces the file at `path` with `bytes`, so that after a crash or power cut the path holds either the
// old content or the new, never a mix: the bytes go to "<path>.tmp-<pid>-<n>" in the same directory, are
// flushed to disk (fsync where the platform has it), and the temporary file is then renamed over `path`.
// On failure the temporary file is removed and `path` is untouched. The directory must exist.
// It first removes what interrupted saves to the same path left (orphaned_temporaries).
Status write_file_atomically(const std::string& path, std::span<const uint8_t> bytes);
Status write_text_file_atomically(const std::string& path, std::string_view text);
// The temporary files "<path>.tmp-<pid>-<n>" of saves that were killed before they finished: those whose
// process is gone (a live process may still be writing its own). Empty where processes cannot be asked.
std::vector<std::string> orphaned_temporaries(const std::string& path);

}  // namespace qplay
