/// @file npy.hpp
/// @brief NumPy `.npy` files: `load_npy` (into memory), `map_npy` (memory-mapped, zero-copy)
/// and `save_npy`.
///
/// Files of format versions 1.0, 2.0 and 3.0 are read when their data are little-endian and in
/// C order (a Fortran-order file whose array has at most one axis longer than 1 is read too:
/// its bytes are the same). Element types:
///
/// | file dtype        | `load_npy`                      | `map_npy`                  |
/// |-------------------|---------------------------------|----------------------------|
/// | `<f8` float64     | f64                             | f64, zero-copy             |
/// | `<i8` int64       | i64                             | i64, zero-copy             |
/// | `\|b1` bool       | bool (each byte checked 0 or 1) | bool, zero-copy (checked)  |
/// | `<i4` int32       | i64, widened on load            | refused (no zero-copy view)|
/// | `<f4` float32     | f32, or f64 with `NpyOptions::convert_f32_to_f64` | f32, zero-copy |
///
/// f32 is a storage dtype: ops read f32 data as f64 (see `core/dtype.hpp`), so a model over a
/// mapped float32 file needs no converted copy and reads half the bytes. Everything else
/// (big-endian, Fortran order, other dtypes, structured dtypes) is refused with a message saying
/// how to convert the file in NumPy.
///
/// **Mapped files.** `map_npy` maps the file read-only and returns an array that borrows the
/// mapping: slices and minibatch windows of it are views into the file's pages, and the mapping
/// stays until the last array or view that uses it is gone. Pages are read from disk on first
/// touch, so a minibatch over a file larger than memory reads only the rows it uses. A mapped
/// array is read-only (`Array::borrow`): nothing in symbatch writes into it. **If the file is
/// truncated or replaced in place (opened for writing, not renamed over) while it is mapped,
/// reading the lost pages raises SIGBUS** and kills the process: do not rewrite a file that a
/// running program maps. `save_npy` writes a new file and renames it over the old one, so
/// saving over a mapped path is safe: the mapping keeps the old contents.
///
/// Every error is a `std::invalid_argument` naming the function, the file and what is wrong:
/// `map_npy: data.npy: truncated data: shape (1000, 3) of '<f8' needs 24000 bytes after the
/// 128-byte header, but the file has only 8000`.
#pragma once

#include <bit>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "symbatch/core/array.hpp"
#include "symbatch/io/mapped_file.hpp"
#include "symbatch/io/npy_header.hpp"

namespace symbatch {

static_assert(std::endian::native == std::endian::little, "symbatch reads and writes .npy files on little-endian machines only");

/// @brief Options of `load_npy`.
struct NpyOptions {
  /// Read a float32 file as float64 (a converted copy in memory). Without it a float32 file is
  /// read as an f32 array (storage only: ops read it as f64).
  bool convert_f32_to_f64 = false;
};

namespace detail {

/// The symbatch dtype that stores a file's elements directly, if any.
inline std::optional<DType> npy_direct_dtype(NpyElement element) {
  switch (element) {
    case NpyElement::float64: return DType::f64;
    case NpyElement::int64: return DType::i64;
    case NpyElement::boolean: return DType::boolean;
    case NpyElement::float32: return DType::f32;
    case NpyElement::int32: break;
  }
  return std::nullopt;
}

/// A byte other than 0 or 1 is not a C++ bool (reading it would be undefined behaviour).
inline void check_npy_bools(const std::byte* data, std::uint64_t count, std::string_view function, const std::string& path) {
  for (std::uint64_t k = 0; k < count; ++k)
    if (static_cast<unsigned char>(data[k]) > 1)
      throw_invalid(function, path, ": element ", k, " of the bool data is the byte ", static_cast<int>(data[k]), ", but a bool must be 0 or 1");
}

/// Reads `Source` elements in blocks and converts each to `Target` (int32 to int64, float32 to
/// float64), so the file is never held twice in memory.
template <class Source, class Target>
Array load_npy_converted(const InputFile& file, const NpyHeader& header, std::string_view function) {
  Array result = Array::empty(dtype_of<Target>(), header.shape);
  Target* target = result.data<Target>();
  std::vector<Source> block(std::size_t{1} << 16);
  const auto count = static_cast<std::uint64_t>(header.shape.size());
  for (std::uint64_t done = 0; done < count;) {
    const std::size_t now = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), count - done));
    file.read_at(header.data_offset + done * sizeof(Source), reinterpret_cast<std::byte*>(block.data()), now * sizeof(Source), function);
    for (std::size_t k = 0; k < now; ++k) target[done + k] = static_cast<Target>(block[k]);
    done += now;
  }
  return result;
}

/// Writes all `bytes` to `descriptor`, looping over short writes; false (errno set) on failure.
inline bool write_all(int descriptor, const std::byte* data, std::size_t bytes) {
  while (bytes > 0) {
    const ::ssize_t written = ::write(descriptor, data, bytes);
    if (written < 0 && errno == EINTR) continue;
    if (written == 0) errno = EIO;  // no progress and no reason given
    if (written <= 0) return false;
    data += written;
    bytes -= static_cast<std::size_t>(written);
  }
  return true;
}

}  // namespace detail

/// @brief Reads an `.npy` file into a new array of its own (see the file comment for the dtypes:
/// int32 files are widened to i64, float32 files are read as f32, or as f64 with
/// `NpyOptions::convert_f32_to_f64`).
/// @throws std::invalid_argument naming the file when it cannot be opened (with the system's
/// reason), is not an `.npy` file, has a truncated or malformed header, truncated data, a header
/// whose shape does not match the file's size, big-endian data, Fortran order, or a dtype
/// symbatch does not read (named): `load_npy: x.npy: unsupported dtype '|i1' (int8); ...`.
inline Array load_npy(const std::string& path, NpyOptions options = {}) {
  constexpr std::string_view function = "load_npy";
  const detail::InputFile file(path, function);
  const auto read_at = [&](std::uint64_t offset, std::byte* target, std::size_t bytes) { file.read_at(offset, target, bytes, function); };
  const detail::NpyHeader header = detail::read_npy_header(file.size(), path, function, read_at);
  if (header.element == detail::NpyElement::float32 && options.convert_f32_to_f64)
    return detail::load_npy_converted<float, double>(file, header, function);
  if (const auto dtype = detail::npy_direct_dtype(header.element)) {
    Array result = Array::empty(*dtype, header.shape);
    read_at(header.data_offset, result.raw_data(), static_cast<std::size_t>(header.data_bytes));
    if (*dtype == DType::boolean) detail::check_npy_bools(result.raw_data(), header.data_bytes, function, path);
    return result;
  }
  return detail::load_npy_converted<std::int32_t, std::int64_t>(file, header, function);  // the only other element type
}

/// @brief Maps an `.npy` file read-only and returns an array that views it in place (zero
/// copy). The mapping lives as long as this array or any view of it. A bool file is read once
/// to check that every byte is 0 or 1.
///
/// @warning If the file is truncated while mapped, touching the lost pages raises SIGBUS.
/// A float32 file gives an f32 array viewing the mapping (ops read it as f64).
/// @throws std::invalid_argument for everything `load_npy` refuses, and for int32 files (they
/// cannot be viewed as i64 without a copy: use `load_npy`), or data that do not start at a
/// multiple of the element size.
inline Array map_npy(const std::string& path) {
  constexpr std::string_view function = "map_npy";
  const auto mapping = detail::MappedFile::open(path, function);
  const auto read_at = [&](std::uint64_t offset, std::byte* target, std::size_t bytes) {
    if (bytes > 0) std::memcpy(target, mapping->data() + offset, bytes);
  };
  const detail::NpyHeader header = detail::read_npy_header(mapping->size(), path, function, read_at);
  const auto dtype = detail::npy_direct_dtype(header.element);
  if (!dtype)  // int32, the only element type without a direct dtype
    throw_invalid(function, path, ": int32 data ('", header.descr, "') cannot be viewed in place, because symbatch stores integers as ",
                  "int64: use load_npy, which widens them, or convert the file in NumPy: np.save(path, a.astype('<i8'))");
  if (header.data_offset % header.item_size != 0)
    throw_invalid(function, path, ": the data start at byte ", header.data_offset, ", not a multiple of the ", header.item_size,
                  "-byte element size, so they cannot be viewed in place; use load_npy");
  const std::byte* data = mapping->data() + header.data_offset;
  if (*dtype == DType::boolean) detail::check_npy_bools(data, header.data_bytes, function, path);
  return Array::borrow(*dtype, header.shape, data, mapping);
}

/// @brief Writes `array` (f64, i64, bool or f32) as an `.npy` file, format 1.0, C order, with the
/// bytes NumPy itself writes. The file is written under a temporary name next to `path` and then
/// renamed over it, so a reader never sees half a file and an existing mapping of `path` keeps
/// its old contents.
/// @throws std::invalid_argument for an `rng` array, or when the file cannot be created,
/// written or renamed (with the system's reason): `save_npy: cannot create out/x.npy: No such
/// file or directory`.
inline void save_npy(const std::string& path, const Array& array) {
  constexpr std::string_view function = "save_npy";
  std::string_view descr;
  switch (array.dtype()) {
    case DType::f64: descr = "<f8"; break;
    case DType::i64: descr = "<i8"; break;
    case DType::boolean: descr = "|b1"; break;
    case DType::f32: descr = "<f4"; break;
    case DType::rng: throw_invalid(function, "array has dtype rng, which an .npy file cannot hold (f64, i64, bool and f32 can be saved)");
  }
  if (!array.has_buffer()) throw_invalid(function, "array has no buffer (a default-constructed Array holds no elements)");
  const std::string header = detail::npy_preamble_and_header(descr, array.shape());
  // One writer per process and thread: the temporary name cannot collide with another save.
  const std::string temporary = detail::concat(path, ".tmp-", ::getpid(), "-", std::hash<std::thread::id>{}(std::this_thread::get_id()));
  const int descriptor = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (descriptor < 0) throw_invalid(function, "cannot create ", path, ": ", detail::errno_text(errno));
  const bool written = detail::write_all(descriptor, reinterpret_cast<const std::byte*>(header.data()), header.size()) &&
                       (array.bytes() == 0 || detail::write_all(descriptor, array.raw_data(), array.bytes()));
  const int write_error = errno;
  const bool closed = ::close(descriptor) == 0;
  if (!written || !closed) {
    const int error = !written ? write_error : errno;
    ::unlink(temporary.c_str());
    throw_invalid(function, "cannot write ", path, ": ", detail::errno_text(error));
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    throw_invalid(function, "cannot replace ", path, ": ", detail::errno_text(error));
  }
}

}  // namespace symbatch
