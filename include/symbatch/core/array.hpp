/// @file array.hpp
/// @brief `Array`: an n-d array value in C order with shared ownership and an offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "symbatch/core/dtype.hpp"
#include "symbatch/core/error.hpp"
#include "symbatch/core/shape.hpp"

namespace symbatch {

namespace detail {

/// A 64-byte aligned block of memory, owned by the arrays that view it; or a borrowed block
/// that something else owns (a file mapping), kept alive by `keep_alive` and never written.
class Buffer {
 public:
  explicit Buffer(std::size_t bytes)
      : bytes_(bytes), data_(static_cast<std::byte*>(::operator new(bytes == 0 ? 1 : bytes, std::align_val_t{64}))) {}
  Buffer(const std::byte* data, std::size_t bytes, std::shared_ptr<const void> keep_alive)
      : bytes_(bytes), data_(const_cast<std::byte*>(data)), keep_alive_(std::move(keep_alive)), borrowed_(true) {}
  ~Buffer() {
    if (!borrowed_) ::operator delete(data_, std::align_val_t{64});
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  std::byte* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  bool borrowed() const { return borrowed_; }

 private:
  std::size_t bytes_;
  std::byte* data_;
  std::shared_ptr<const void> keep_alive_;  // the owner of borrowed memory
  bool borrowed_ = false;
};

}  // namespace detail

/// @brief An n-d array of `f64`, `i64`, `bool`, `rng` or `f32` elements in C (row-major) order.
///
/// The elements live in a shared, reference-counted buffer; the array holds a pointer to it, an
/// offset (in elements) and a shape. Copying an `Array` copies the reference, not the elements,
/// so a contiguous slice along axis 0 (`slice_rows`) is a zero-copy view. Writers call `ensure`
/// first, which reuses the buffer only when this array is its sole owner (copy on write).
class Array {
 public:
  /// An empty rank-0 `f64` array with no buffer.
  Array() = default;

  /// A new, uninitialised array.
  static Array empty(DType dtype, const Shape& shape) {
    Array result;
    result.ensure(dtype, shape);
    return result;
  }
  /// A new array of zeros (false for bool, zero key and counter for rng).
  static Array zeros(DType dtype, const Shape& shape) {
    Array result = empty(dtype, shape);
    std::memset(result.raw_data(), 0, result.bytes());
    return result;
  }
  /// A new array with every element equal to `value`.
  template <class T>
  static Array full(const Shape& shape, T value) {
    Array result = empty(dtype_of<T>(), shape);
    std::fill_n(result.data<T>(), result.size(), value);
    return result;
  }
  /// A rank-0 array holding `value`.
  template <class T>
  static Array scalar(T value) { return full<T>(Shape{}, value); }
  /// An array of the given shape holding a copy of `values` (C order).
  template <class T>
  static Array from(std::span<const T> values, const Shape& shape) {
    if (static_cast<std::int64_t>(values.size()) != shape.size())
      throw_invalid("Array::from", "got ", values.size(), " values for shape ", shape.str(), " of size ", shape.size());
    Array result = empty(dtype_of<T>(), shape);
    std::copy(values.begin(), values.end(), result.data<T>());
    return result;
  }
  template <class T>
  static Array from(const std::vector<T>& values, const Shape& shape) { return from(std::span<const T>(values), shape); }
  /// A vector holding a copy of `values`.
  template <class T>
  static Array from(const std::vector<T>& values) {
    return from(std::span<const T>(values), Shape{static_cast<std::int64_t>(values.size())});
  }
  static Array from(std::initializer_list<double> values) { return from(std::vector<double>(values)); }
  /// `std::vector<bool>` has no contiguous storage to view, so its bits are copied one by one.
  static Array from(const std::vector<bool>& values, const Shape& shape) {
    if (static_cast<std::int64_t>(values.size()) != shape.size())
      throw_invalid("Array::from", "got ", values.size(), " values for shape ", shape.str(), " of size ", shape.size());
    Array result = empty(DType::boolean, shape);
    std::copy(values.begin(), values.end(), result.data<bool>());
    return result;
  }
  static Array from(const std::vector<bool>& values) { return from(values, Shape{static_cast<std::int64_t>(values.size())}); }
  /// @brief An array over `data`, memory it does not own, kept alive by `keep_alive` for as
  /// long as this array or any view of it exists (e.g. a file mapping, see `map_npy`).
  ///
  /// A borrowed array is read-only: it is never `unique`, so `ensure` always allocates a buffer
  /// of its own instead of writing into the borrowed one, and the non-const `data`/`raw_data`
  /// throw (read through a `const Array&`, or write into a `copy()`).
  /// @throws std::invalid_argument when `data` is null for a non-empty shape or is not aligned
  /// for the dtype: "Array::borrow: data at 0x... is not aligned to 8 bytes for dtype f64".
  static Array borrow(DType dtype, const Shape& shape, const std::byte* data, std::shared_ptr<const void> keep_alive) {
    const std::size_t alignment = dtype == DType::rng ? alignof(RngState) : dtype_size(dtype);
    if (data == nullptr && shape.size() > 0) throw_invalid("Array::borrow", "data is null for shape ", shape.str());
    if (reinterpret_cast<std::uintptr_t>(data) % alignment != 0)
      throw_invalid("Array::borrow", "data at ", static_cast<const void*>(data), " is not aligned to ", alignment, " bytes for dtype ",
                    dtype_name(dtype));
    Array result;
    result.dtype_ = dtype;
    result.shape_ = shape;
    result.buffer_ = std::make_shared<detail::Buffer>(data, result.bytes(), std::move(keep_alive));
    return result;
  }
  /// `0, 1, ..., n-1` as a vector of dtype `T`.
  template <class T = double>
  static Array arange(std::int64_t n) {
    Array result = empty(dtype_of<T>(), Shape{n});
    for (std::int64_t i = 0; i < n; ++i) result.data<T>()[i] = static_cast<T>(i);
    return result;
  }

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  /// Number of elements.
  std::int64_t size() const { return shape_.size(); }
  /// Number of bytes of the elements this array views.
  std::size_t bytes() const { return static_cast<std::size_t>(size()) * dtype_size(dtype_); }
  /// Offset of the first element in the buffer, in elements.
  std::int64_t offset() const { return offset_; }
  /// True when the array has a buffer (it may still have zero elements).
  bool has_buffer() const { return buffer_ != nullptr; }

  /// Typed pointer to the first element; throws if `T` does not match the dtype.
  template <class T>
  T* data() {
    check_dtype<T>();
    return reinterpret_cast<T*>(raw_data());
  }
  template <class T>
  const T* data() const {
    check_dtype<T>();
    return reinterpret_cast<const T*>(raw_data());
  }
  std::byte* raw_data() {
    if (borrowed()) throw_borrowed();
    return buffer_ ? buffer_->data() + offset_ * dtype_size(dtype_) : nullptr;
  }
  const std::byte* raw_data() const { return buffer_ ? buffer_->data() + offset_ * dtype_size(dtype_) : nullptr; }

  /// Start of the whole underlying buffer and its size in bytes (for aliasing checks).
  const std::byte* buffer_begin() const { return buffer_ ? buffer_->data() : nullptr; }
  std::size_t buffer_bytes() const { return buffer_ ? buffer_->bytes() : 0; }
  /// True when both arrays view the same buffer.
  bool shares_buffer(const Array& other) const { return buffer_ && buffer_ == other.buffer_; }
  /// True when this array is the sole owner of its buffer (so it may be written in place);
  /// never for borrowed memory.
  bool unique() const { return buffer_ && !buffer_->borrowed() && buffer_.use_count() == 1; }
  /// True when the elements are borrowed, read-only memory (`borrow`, `map_npy`).
  bool borrowed() const { return buffer_ && buffer_->borrowed(); }

  /// Element at a flat (C-order) index, converted to `T`.
  template <class T>
  T flat(std::int64_t index) const {
    if (!buffer_) throw_invalid("Array::flat", "array has no buffer");
    switch (dtype_) {
      case DType::f64: return static_cast<T>(reinterpret_cast<const double*>(raw_data())[index]);
      case DType::i64: return static_cast<T>(reinterpret_cast<const std::int64_t*>(raw_data())[index]);
      case DType::boolean: return static_cast<T>(reinterpret_cast<const bool*>(raw_data())[index]);
      case DType::f32: return static_cast<T>(reinterpret_cast<const float*>(raw_data())[index]);
      case DType::rng: break;
    }
    throw_invalid("Array::flat", "rng arrays hold no numbers");
  }
  /// Element at a multi-index, converted to `T`; bounds-checked.
  template <class T = double, class... Index>
  T at(Index... index) const {
    const std::int64_t indices[] = {static_cast<std::int64_t>(index)..., 0};
    constexpr int count = sizeof...(Index);
    if (count != rank()) throw_invalid("Array::at", "got ", count, " indices for an array of rank ", rank());
    const auto strides = shape_.strides();
    std::int64_t flat_index = 0;
    for (int axis = 0; axis < count; ++axis) {
      if (indices[axis] < 0 || indices[axis] >= shape_[axis])
        throw_invalid("Array::at", "index ", indices[axis], " is out of range for axis ", axis, " of size ", shape_[axis]);
      flat_index += indices[axis] * strides[axis];
    }
    return flat<T>(flat_index);
  }
  /// The single element of a size-1 array, converted to `T`.
  template <class T = double>
  T item() const {
    if (size() != 1) throw_invalid("Array::item", "array of shape ", shape_.str(), " has ", size(), " elements, expected 1");
    return flat<T>(0);
  }
  /// All elements in C order, converted to `T`.
  template <class T = double>
  std::vector<T> to_vector() const {
    std::vector<T> values(static_cast<std::size_t>(size()));
    for (std::int64_t i = 0; i < size(); ++i) values[static_cast<std::size_t>(i)] = flat<T>(i);
    return values;
  }

  /// Rows `start..stop-1` along axis 0, as a zero-copy view (no bounds clipping: the caller
  /// passes `0 <= start <= stop <= shape[0]`).
  Array slice_rows(std::int64_t start, std::int64_t stop) const {
    if (rank() == 0) throw_invalid("Array::slice_rows", "cannot slice a rank-0 array");
    if (start < 0 || stop < start || stop > shape_[0])
      throw_invalid("Array::slice_rows", "rows [", start, ", ", stop, ") are out of range for ", shape_[0], " rows");
    Array view = *this;
    view.offset_ += start * (shape_[0] == 0 ? 0 : size() / shape_[0]);
    view.shape_[0] = stop - start;
    return view;
  }
  /// The same elements under another shape of equal size (a view).
  Array reshaped(const Shape& shape) const {
    if (shape.size() != size())
      throw_invalid("Array::reshaped", "cannot reshape ", shape_.str(), " into ", shape.str());
    Array view = *this;
    view.shape_ = shape;
    return view;
  }
  /// A deep copy with its own buffer.
  Array copy() const {
    if (!buffer_) return Array();  // nothing to copy (and no elements to read)
    Array result = empty(dtype_, shape_);
    if (bytes() > 0) std::memcpy(result.raw_data(), raw_data(), bytes());
    return result;
  }

  /// Makes this array a writable array of `dtype` and `shape`, reusing its buffer when it is
  /// the sole owner and the buffer is large enough, allocating otherwise. The elements are
  /// left unspecified. Throws `std::invalid_argument` when the elements would need 2^63 bytes
  /// or more (or their count overflows `int64`), before allocating anything.
  void ensure(DType dtype, const Shape& shape) {
    // The steady state of a compiled function: the same type again, in a buffer of its own.
    if (dtype == dtype_ && shape == shape_ && unique()) {
      offset_ = 0;
      return;
    }
    const std::size_t needed = byte_count(dtype, shape);
    // `unique` is false for borrowed (read-only, mapped) memory: never written, reallocated instead.
    if (!(unique() && buffer_->bytes() >= needed)) {
      buffer_ = std::make_shared<detail::Buffer>(needed);
    }
    offset_ = 0;
    dtype_ = dtype;
    shape_ = shape;
  }

  /// Drops the buffer reference (the array becomes empty).
  void reset() { *this = Array(); }

  /// Bytes that `shape` elements of `dtype` occupy; throws `std::invalid_argument` when that is
  /// 2^63 or more, so that no later `size * element size` can wrap around.
  static std::size_t byte_count(DType dtype, const Shape& shape) {
    const auto size = static_cast<std::uint64_t>(shape.size());
    if (size > static_cast<std::uint64_t>(INT64_MAX) / dtype_size(dtype))
      throw_invalid("Array", "shape ", shape.str(), " of ", dtype_name(dtype), " needs 2^63 bytes or more");
    return static_cast<std::size_t>(size * dtype_size(dtype));
  }

 private:
  template <class T>
  void check_dtype() const {
    if (dtype_of<T>() != dtype_) throw_dtype(dtype_of<T>());
  }
  // The throws of the accessors, out of line so that the accessors stay small enough to inline.
  [[noreturn, gnu::cold, gnu::noinline]] void throw_dtype(DType requested) const {
    throw_invalid("Array::data", "array has dtype ", dtype_name(dtype_), ", requested ", dtype_name(requested));
  }
  [[noreturn, gnu::cold, gnu::noinline]] static void throw_borrowed() {
    throw_invalid("Array::data", "the array borrows read-only memory (a mapped file): read it through a const Array, or write into a copy()");
  }

  std::shared_ptr<detail::Buffer> buffer_;
  std::int64_t offset_ = 0;
  Shape shape_;
  DType dtype_ = DType::f64;
};

}  // namespace symbatch
