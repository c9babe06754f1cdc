// File reads and atomic writes over <cstdio>, which every target has (native and Emscripten's virtual file
// system); the POSIX calls that make a write durable (fsync) are used only where <unistd.h> exists.
#include "core/engine/io/file_util.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <system_error>

#if __has_include(<unistd.h>) && __has_include(<fcntl.h>)
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#define QPLAY_HAVE_POSIX_FILES 1
#else
#define QPLAY_HAVE_POSIX_FILES 0
#endif

namespace qplay {

namespace {

// The text for an errno value; std::strerror is not thread-safe, this is.
std::string describe_errno(int error_number) { return std::generic_category().message(error_number); }

// Unique among the temporary files of concurrent writers: the process id tells processes apart, the
// counter tells apart the writes of one process (threads included).
std::string temporary_suffix() {
  static std::atomic<uint64_t> counter{0};
#if QPLAY_HAVE_POSIX_FILES
  const uint64_t process = static_cast<uint64_t>(getpid());
#else
  const uint64_t process = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
  return ".tmp-" + std::to_string(process) + "-" + std::to_string(counter.fetch_add(1));
}

// fflush only hands the bytes to the operating system; fsync makes it put them on the disk before the
// rename makes them visible under the real name. Without it a power cut can leave an empty file behind.
bool flush_to_disk(std::FILE* file) {
  if (std::fflush(file) != 0) return false;
#if QPLAY_HAVE_POSIX_FILES
  if (fsync(fileno(file)) != 0) return false;
#endif
  return true;
}

// Makes the rename itself durable. Best effort: some file systems refuse to open or sync a directory, and
// the new file is complete either way.
void sync_parent_directory(const std::string& path) {
#if QPLAY_HAVE_POSIX_FILES
  const size_t slash = path.find_last_of('/');
  const std::string directory = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int descriptor = open(directory.c_str(), O_RDONLY);
  if (descriptor < 0) return;
  fsync(descriptor);
  close(descriptor);
#else
  (void)path;
#endif
}

}  // namespace

Result<std::vector<uint8_t>> read_file_bytes(const std::string& path, size_t max_bytes,
                                             std::string_view what) {
  std::error_code status_error;
  const std::filesystem::file_status status = std::filesystem::status(path, status_error);
  if (status.type() == std::filesystem::file_type::not_found) return Status::error(path + ": no such file");
  if (status.type() == std::filesystem::file_type::directory) {
    return Status::error(path + ": is a directory, not a file");
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return Status::error(path + ": cannot open (" + describe_errno(errno) + ")");
  // Read in chunks until a short read rather than trusting a size taken beforehand: pipes and /proc files
  // have none, and a file may grow meanwhile. The chunk lives on the heap because a WebAssembly stack is
  // small. A regular file's size is reserved up front: growing by doubling would leave up to twice the
  // bytes allocated, and an IDX payload lives on in this vector.
  constexpr size_t kChunkSize = size_t{1} << 16;
  std::vector<uint8_t> bytes;
  std::error_code size_error;
  const uintmax_t file_size = std::filesystem::file_size(path, size_error);
  if (!size_error && status.type() == std::filesystem::file_type::regular)
    bytes.reserve(static_cast<size_t>(std::min<uintmax_t>(file_size, max_bytes)) + kChunkSize);
  size_t size = 0;
  while (true) {
    bytes.resize(size + kChunkSize);
    const size_t count = std::fread(bytes.data() + size, 1, kChunkSize, file.get());
    size += count;
    if (size > max_bytes) {
      return Status::error(path + ": more than " + std::to_string(max_bytes) + " bytes, larger than " +
                           std::string(what) + " can be");
    }
    if (count < kChunkSize) break;
  }
  bytes.resize(size);
  if (std::ferror(file.get()) != 0) {
    return Status::error(path + ": read error after " + std::to_string(size) + " bytes (" +
                         describe_errno(errno) + ")");
  }
  return bytes;
}

Result<std::string> read_text_file(const std::string& path, size_t max_bytes, std::string_view what) {
  Result<std::vector<uint8_t>> bytes = read_file_bytes(path, max_bytes, what);
  if (!bytes.ok()) return bytes.status();
  return std::string(bytes->begin(), bytes->end());
}

std::vector<std::string> orphaned_temporaries(const std::string& path) {
  std::vector<std::string> orphans;
#if QPLAY_HAVE_POSIX_FILES && !defined(__EMSCRIPTEN__)
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp-";
  std::error_code error;
  const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    // "<pid>-<counter>": the writer's process id decides whether it may still be writing.
    char* end = nullptr;
    const long process = std::strtol(name.c_str() + prefix.size(), &end, 10);
    if (end == name.c_str() + prefix.size() || *end != '-' || process <= 0) continue;
    if (kill(static_cast<pid_t>(process), 0) == 0 || errno != ESRCH) continue;
    orphans.push_back((target.has_parent_path() ? directory / name : fs::path(name)).string());
  }
#else
  (void)path;
#endif
  return orphans;
}

Status write_file_atomically(const std::string& path, std::span<const uint8_t> bytes) {
  for (const std::string& orphan : orphaned_temporaries(path)) std::remove(orphan.c_str());
  const std::string temporary_path = path + temporary_suffix();
  // "x": fail rather than write into a file that already exists under the temporary name.
  std::FILE* file = std::fopen(temporary_path.c_str(), "wbx");
  if (file == nullptr) {
    return Status::error(path + ": cannot create " + temporary_path + " (" + describe_errno(errno) + ")");
  }
  bool written = bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  written = written && flush_to_disk(file);
  const int write_errno = errno;
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    const int reported_errno = written ? errno : write_errno;
    std::remove(temporary_path.c_str());
    return Status::error(path + ": write failed (" + describe_errno(reported_errno) + ")");
  }
  if (std::rename(temporary_path.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    std::remove(temporary_path.c_str());
    return Status::error(path + ": cannot replace the file (" + describe_errno(rename_errno) + ")");
  }
  sync_parent_directory(path);
  return Status();
}

Status write_text_file_atomically(const std::string& path, std::string_view text) {
  return write_file_atomically(
      path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace qplay
