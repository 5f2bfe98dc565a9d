/// @file mapped_file.hpp
/// @brief POSIX file access for the loaders: an open file descriptor, exact reads, and a
/// read-only memory mapping that lives as long as any array borrowing it.
///
/// Every error is a `std::invalid_argument` whose message starts with the calling function's
/// name and names the file: `load_npy: cannot open data.npy: No such file or directory`.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "symbatch/core/error.hpp"

namespace symbatch::detail {

/// The text of an errno value (thread-safe, unlike `strerror`).
inline std::string errno_text(int error) { return std::generic_category().message(error); }

/// An open, regular file for reading; closed on destruction.
class InputFile {
 public:
  /// @throws std::invalid_argument when the file cannot be opened or is not a regular file.
  InputFile(const std::string& path, std::string_view function) : path_(path) {
    descriptor_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (descriptor_ < 0) throw_invalid(function, "cannot open ", path, ": ", errno_text(errno));
    struct stat status {};
    if (::fstat(descriptor_, &status) != 0) {
      const int error = errno;
      ::close(descriptor_);
      throw_invalid(function, "cannot read ", path, ": ", errno_text(error));
    }
    if (!S_ISREG(status.st_mode)) {
      ::close(descriptor_);
      throw_invalid(function, "cannot read ", path, ": ", S_ISDIR(status.st_mode) ? "it is a directory" : "it is not a regular file");
    }
    size_ = static_cast<std::uint64_t>(status.st_size);
  }
  ~InputFile() { ::close(descriptor_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  int descriptor() const { return descriptor_; }
  std::uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  /// Reads `bytes` bytes at `offset` into `target`, looping over short reads.
  /// @throws std::invalid_argument on a read error, or when the file ends first (it shrank
  /// after it was opened).
  void read_at(std::uint64_t offset, std::byte* target, std::size_t bytes, std::string_view function) const {
    while (bytes > 0) {
      const ::ssize_t got = ::pread(descriptor_, target, bytes, static_cast<::off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw_invalid(function, "cannot read ", path_, ": ", errno_text(errno));
      if (got == 0) throw_invalid(function, path_, ": the file ended at byte ", offset, " while it was being read (was it truncated?)");
      target += got;
      offset += static_cast<std::uint64_t>(got);
      bytes -= static_cast<std::size_t>(got);
    }
  }

 private:
  std::string path_;
  int descriptor_ = -1;
  std::uint64_t size_ = 0;
};

/// A whole file mapped read-only (`PROT_READ`, `MAP_SHARED`); unmapped when destroyed. Arrays
/// that borrow its bytes hold it through a `std::shared_ptr`, so it outlives every view.
/// A file truncated by someone else while mapped raises SIGBUS on access to the lost pages.
class MappedFile {
 public:
  /// @throws std::invalid_argument as `InputFile` does, or when `mmap` fails (the errno text).
  static std::shared_ptr<const MappedFile> open(const std::string& path, std::string_view function) {
    const InputFile file(path, function);
    auto mapped = std::shared_ptr<MappedFile>(new MappedFile());
    mapped->size_ = static_cast<std::size_t>(file.size());
    if (mapped->size_ == 0) return mapped;  // mmap refuses length 0; there is nothing to map
    void* address = ::mmap(nullptr, mapped->size_, PROT_READ, MAP_SHARED, file.descriptor(), 0);
    if (address == MAP_FAILED) throw_invalid(function, "cannot map ", path, " into memory: ", errno_text(errno));
    mapped->data_ = static_cast<const std::byte*>(address);
    return mapped;  // the mapping stays valid after the descriptor is closed
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  /// First byte of the file (page-aligned); null for an empty file.
  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  MappedFile() = default;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace symbatch::detail
