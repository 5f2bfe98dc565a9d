/// @file npy_header.hpp
/// @brief The header of a NumPy `.npy` file: reading and checking it, and writing one.
///
/// The format (numpy.org/doc/stable/reference/generated/numpy.lib.format.html): the magic
/// string `\x93NUMPY`, a major and a minor version byte, the header length (2 bytes little-endian
/// in version 1.0, 4 bytes in 2.0 and 3.0), then the header: a Python dict literal such as
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }` padded with spaces and ended by
/// a newline so that the data start at a multiple of 64 bytes. Version 3.0 differs from 2.0
/// only in allowing UTF-8 in the header. The data follow, `prod(shape) * itemsize` bytes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "symbatch/core/error.hpp"
#include "symbatch/core/shape.hpp"

namespace symbatch::detail {

/// The element types symbatch can read from a file, before any conversion.
enum class NpyElement { float64, int64, int32, boolean, float32 };

/// What an `.npy` header says, checked against the file's size.
struct NpyHeader {
  int major_version = 1;
  std::string descr;  ///< NumPy's dtype string as written, e.g. `<f8`
  NpyElement element = NpyElement::float64;
  std::size_t item_size = 8;
  Shape shape;
  std::uint64_t data_offset = 0;  ///< bytes before the data (preamble and header)
  std::uint64_t data_bytes = 0;   ///< `prod(shape) * item_size`
};

inline constexpr char npy_magic[] = "\x93NUMPY";
inline constexpr std::size_t npy_magic_size = 6;
inline constexpr std::size_t npy_alignment = 64;

/// Reads the Python literal of an `.npy` header: a flat dict of strings, booleans and tuples
/// of integers. Each `expect_*` throws with the position and what was expected.
class NpyDictReader {
 public:
  NpyDictReader(std::string_view text, std::string_view function, const std::string& path)
      : text_(text), function_(function), path_(path) {}

  [[noreturn]] void fail(std::string_view what) const {
    const std::string_view shown = text_.substr(0, 200);
    throw_invalid(function_, path_, ": malformed header: ", what, " at character ", position_ + 1, " of the header \"", shown,
                  shown.size() < text_.size() ? "..." : "", "\"");
  }
  void skip_spaces() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\t' || text_[position_] == '\n')) ++position_;
  }
  bool take(char symbol) {
    skip_spaces();
    if (position_ < text_.size() && text_[position_] == symbol) return ++position_, true;
    return false;
  }
  char peek() {
    skip_spaces();
    return position_ < text_.size() ? text_[position_] : '\0';
  }
  void expect(char symbol) {
    if (!take(symbol)) fail(std::string("expected '") + symbol + "'");
  }
  std::string expect_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const std::size_t end = text_.find(quote, ++position_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string value(text_.substr(position_, end - position_));
    position_ = end + 1;
    return value;
  }
  bool expect_bool() {
    skip_spaces();
    const std::string_view rest = text_.substr(position_);
    if (rest.starts_with("True")) return position_ += 4, true;
    if (rest.starts_with("False")) return position_ += 5, false;
    fail("expected True or False");
  }
  Shape expect_shape() {
    expect('(');
    std::int64_t dims[max_rank];
    int rank = 0;
    while (!take(')')) {
      skip_spaces();
      std::int64_t dim = 0;
      const std::size_t start = position_;
      for (; position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9'; ++position_)
        if (__builtin_mul_overflow(dim, 10, &dim) || __builtin_add_overflow(dim, text_[position_] - '0', &dim))
          throw_invalid(function_, path_, ": the header's shape has a dimension too large for a 64-bit integer");
      if (position_ == start) fail("expected a nonnegative integer in the shape");
      take('L');  // Python 2 long literals, written by old NumPy
      if (rank == max_rank) throw_invalid(function_, path_, ": the array has more than ", max_rank, " dimensions, symbatch's maximum rank");
      dims[rank++] = dim;
      if (!take(',')) {
        expect(')');
        break;
      }
    }
    return Shape(std::span<const std::int64_t>(dims, static_cast<std::size_t>(rank)));
  }
  bool at_end() {
    skip_spaces();
    return position_ == text_.size();
  }

 private:
  std::string_view text_;
  std::string_view function_;
  const std::string& path_;
  std::size_t position_ = 0;
};

/// NumPy's name for the type code of a dtype string (`i2` is `int16`), for messages.
inline std::string numpy_type_name(std::string_view code) {
  std::size_t item_size = 0;
  for (char digit : code.substr(1)) item_size = item_size * 10 + static_cast<std::size_t>(digit - '0');
  const std::string bits = std::to_string(item_size * 8);
  switch (code.empty() ? '\0' : code[0]) {
    case 'f': return "float" + bits;
    case 'i': return "int" + bits;
    case 'u': return "uint" + bits;
    case 'c': return "complex" + bits;
    case 'b': return "bool";
    case 'U': return "unicode string";
    case 'S': return "byte string";
    case 'O': return "Python object";
    case 'M': return "datetime64";
    case 'm': return "timedelta64";
    default: return "not a NumPy dtype symbatch knows";
  }
}

[[noreturn]] inline void throw_unsupported_dtype(std::string_view function, const std::string& path, std::string_view descr, std::string_view name) {
  throw_invalid(function, path, ": unsupported dtype '", descr, "' (", name, "); symbatch reads float64, float32, int64, int32 (widened to int64) and bool");
}

/// The element type of a dtype string such as `<f8` and its size in bytes.
/// @throws std::invalid_argument for a dtype symbatch does not read (named), or big-endian data.
inline NpyElement npy_element(const std::string& descr, std::size_t& item_size, std::string_view function, const std::string& path) {
  const char order = descr.empty() ? '\0' : descr[0];
  const bool has_order = order == '<' || order == '>' || order == '|' || order == '=';
  const std::string_view code = std::string_view(descr).substr(has_order ? 1 : 0);
  // A type letter and a byte count of 1 to 3 digits; anything else (`<M8[ns]`) is not a number type.
  const bool sized = code.size() >= 2 && code.size() <= 4 && code.find_first_not_of("0123456789", 1) == std::string_view::npos;
  if (!sized) throw_unsupported_dtype(function, path, descr, code.empty() ? "empty" : numpy_type_name(code.substr(0, 1)));
  NpyElement element;
  if (code == "f8") element = NpyElement::float64;
  else if (code == "i8") element = NpyElement::int64;
  else if (code == "i4") element = NpyElement::int32;
  else if (code == "b1") element = NpyElement::boolean;
  else if (code == "f4") element = NpyElement::float32;
  else throw_unsupported_dtype(function, path, descr, numpy_type_name(code));
  item_size = static_cast<std::size_t>(code[1] - '0');
  if (order == '>' && item_size > 1)
    throw_invalid(function, path, ": big-endian data ('", descr, "') are not supported; convert the file in NumPy: np.save(path, a.astype('<",
                  code, "'))");
  return element;
}

/// Reads and checks the preamble and header of an `.npy` file of `file_size` bytes through
/// `read_at(offset, target, bytes)`, and checks that the data fill the rest of the file exactly.
template <class ReadAt>
NpyHeader read_npy_header(std::uint64_t file_size, const std::string& path, std::string_view function, ReadAt&& read_at) {
  char preamble[12] = {};
  read_at(0, reinterpret_cast<std::byte*>(preamble), static_cast<std::size_t>(std::min<std::uint64_t>(file_size, 12)));
  const std::size_t magic_bytes = static_cast<std::size_t>(std::min<std::uint64_t>(file_size, npy_magic_size));
  if (std::memcmp(preamble, npy_magic, magic_bytes) != 0 || file_size == 0)
    throw_invalid(function, path, ": not a NumPy .npy file (it does not start with the magic string \\x93NUMPY)");
  if (file_size < 8) throw_invalid(function, path, ": truncated header: the file has only ", file_size, " bytes");
  NpyHeader header;
  header.major_version = static_cast<unsigned char>(preamble[6]);
  const int minor_version = static_cast<unsigned char>(preamble[7]);
  if (header.major_version < 1 || header.major_version > 3 || minor_version != 0)
    throw_invalid(function, path, ": unsupported .npy format version ", header.major_version, ".", minor_version,
                  " (symbatch reads 1.0, 2.0 and 3.0)");
  const std::uint64_t length_bytes = header.major_version == 1 ? 2 : 4;
  if (file_size < 8 + length_bytes)
    throw_invalid(function, path, ": truncated header: the file has only ", file_size, " bytes, fewer than the ", 8 + length_bytes,
                  "-byte preamble of format ", header.major_version, ".0");
  std::uint64_t header_length = 0;
  for (std::uint64_t k = 0; k < length_bytes; ++k) header_length |= std::uint64_t{static_cast<unsigned char>(preamble[8 + k])} << (8 * k);
  header.data_offset = 8 + length_bytes + header_length;
  if (header.data_offset > file_size)
    throw_invalid(function, path, ": truncated header: the header should end at byte ", header.data_offset, ", but the file has only ",
                  file_size, " bytes");
  std::string text(static_cast<std::size_t>(header_length), '\0');
  read_at(8 + length_bytes, reinterpret_cast<std::byte*>(text.data()), text.size());

  NpyDictReader reader(text, function, path);
  bool seen_descr = false, seen_order = false, seen_shape = false, fortran_order = false;
  reader.expect('{');
  while (!reader.take('}')) {
    const std::string key = reader.expect_string();
    reader.expect(':');
    if (key == "descr" && reader.peek() == '[')
      throw_invalid(function, path, ": unsupported dtype: a structured dtype (a list of fields); symbatch reads float64, float32, ",
                    "int64, int32 (widened to int64) and bool");
    if (key == "descr") header.descr = reader.expect_string(), seen_descr = true;
    else if (key == "fortran_order") fortran_order = reader.expect_bool(), seen_order = true;
    else if (key == "shape") header.shape = reader.expect_shape(), seen_shape = true;
    else reader.fail("unexpected key '" + key + "'");
    if (!reader.take(',')) {
      reader.expect('}');
      break;
    }
  }
  if (!reader.at_end()) reader.fail("unexpected text after the dict");
  if (!seen_descr || !seen_order || !seen_shape)
    throw_invalid(function, path, ": malformed header: it lacks the key '", !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape", "'");

  header.element = npy_element(header.descr, header.item_size, function, path);
  // Fortran and C order lay out the same bytes when at most one axis is longer than 1.
  int long_axes = 0;
  for (std::int64_t dim : header.shape) long_axes += dim > 1;
  if (fortran_order && long_axes > 1)
    throw_invalid(function, path, ": the array is stored in Fortran (column-major) order, which is not supported; convert the file in ",
                  "NumPy: np.save(path, np.ascontiguousarray(a))");
  std::uint64_t elements = 1;
  for (std::int64_t dim : header.shape)
    if (__builtin_mul_overflow(elements, static_cast<std::uint64_t>(dim), &elements) || elements > (std::uint64_t{1} << 62))
      throw_invalid(function, path, ": the header's shape ", header.shape.str(), " is too large");
  header.data_bytes = elements * header.item_size;
  const std::uint64_t present = file_size - header.data_offset;
  if (present < header.data_bytes)
    throw_invalid(function, path, ": truncated data: shape ", header.shape.str(), " of '", header.descr, "' needs ", header.data_bytes,
                  " bytes after the ", header.data_offset, "-byte header, but the file has only ", present);
  if (present > header.data_bytes)
    throw_invalid(function, path, ": the header does not match the file's size: shape ", header.shape.str(), " of '", header.descr,
                  "' needs ", header.data_bytes, " bytes after the ", header.data_offset, "-byte header, but the file has ", present);
  return header;
}

/// The preamble and padded header around a header dict: format 1.0, or 2.0 when the header is
/// longer than 1.0's 2-byte length field allows. The data then start at a multiple of 64.
inline std::string npy_wrap_header(std::string_view dict) {
  const auto padding = [&](std::size_t prefix) { return npy_alignment - (prefix + dict.size() + 1) % npy_alignment; };
  const bool version_1 = dict.size() + 1 + padding(npy_magic_size + 4) <= 0xffff;
  const std::size_t prefix = npy_magic_size + 2 + (version_1 ? 2 : 4);
  const std::uint64_t header_length = dict.size() + 1 + padding(prefix);
  std::string bytes(npy_magic, npy_magic_size);
  bytes += static_cast<char>(version_1 ? 1 : 2);
  bytes += '\0';
  for (std::size_t k = 0; k < prefix - npy_magic_size - 2; ++k) bytes += static_cast<char>((header_length >> (8 * k)) & 0xff);
  bytes += dict;
  bytes.append(padding(prefix), ' ');
  bytes += '\n';
  return bytes;
}

/// The bytes NumPy writes before the data of a C-order array of `shape` and dtype `descr`.
/// Like NumPy (1.24 and later), the dict is followed by spaces that leave room for the first
/// dimension to grow to 21 digits in place, so the bytes equal NumPy's own.
inline std::string npy_preamble_and_header(std::string_view descr, const Shape& shape) {
  std::string dict = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': " + shape.str() + ", }";
  if (shape.rank() > 0) dict.append(21 - std::min<std::size_t>(21, std::to_string(shape[0]).size()), ' ');
  return npy_wrap_header(dict);
}

}  // namespace symbatch::detail
