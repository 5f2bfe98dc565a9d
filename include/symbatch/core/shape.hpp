/// @file shape.hpp
/// @brief Run-time array shapes, stored inline (no heap allocation).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

#include "symbatch/core/error.hpp"

namespace symbatch {

/// @brief Largest rank an array may have.
inline constexpr int max_rank = 6;

/// @brief The dimensions of an array, at most `max_rank` of them, stored inline.
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) : Shape(std::span<const std::int64_t>(dims.begin(), dims.size())) {}
  explicit Shape(std::span<const std::int64_t> dims) {
    if (dims.size() > static_cast<std::size_t>(max_rank))
      throw_invalid("Shape", "rank ", dims.size(), " exceeds the maximum rank ", max_rank);
    for (std::int64_t dim : dims) push_back(dim);
  }

  /// Number of dimensions.
  int rank() const { return rank_; }
  /// Product of the dimensions (1 for rank 0). Throws `std::invalid_argument` when the product
  /// does not fit in an `int64` (a shape with a zero dimension has size 0 whatever the others).
  std::int64_t size() const {
    std::int64_t total = 1;
    for (int axis = 0; axis < rank_; ++axis)
      if (__builtin_mul_overflow(total, dims_[axis], &total)) return size_on_overflow();
    return total;
  }
  std::int64_t operator[](int axis) const { return dims_[axis]; }
  std::int64_t& operator[](int axis) { return dims_[axis]; }
  const std::int64_t* begin() const { return dims_.data(); }
  const std::int64_t* end() const { return dims_.data() + rank_; }
  std::span<const std::int64_t> dims() const { return {dims_.data(), static_cast<std::size_t>(rank_)}; }

  /// Appends a dimension; throws if the rank would exceed `max_rank` or `dim < 0`.
  void push_back(std::int64_t dim) {
    if (rank_ == max_rank) throw_invalid("Shape", "rank exceeds the maximum rank ", max_rank);
    if (dim < 0) throw_invalid("Shape", "dimension ", rank_, " is ", dim, ", but must be nonnegative");
    dims_[rank_++] = dim;
  }

  /// Element strides of a C-ordered (row-major) array of this shape. They fit in an `int64`
  /// whenever `size()` does; with a zero dimension they wrap (unsigned, without undefined
  /// behaviour) but then no element is ever addressed.
  std::array<std::int64_t, max_rank> strides() const {
    std::array<std::int64_t, max_rank> result{};
    std::uint64_t stride = 1;
    for (int axis = rank_ - 1; axis >= 0; --axis) {
      result[axis] = static_cast<std::int64_t>(stride);
      stride *= static_cast<std::uint64_t>(dims_[axis]);
    }
    return result;
  }

  /// NumPy-style text: `()`, `(5,)`, `(3, 4)`.
  std::string str() const {
    std::string text = "(";
    for (int axis = 0; axis < rank_; ++axis) {
      if (axis > 0) text += ", ";
      text += std::to_string(dims_[axis]);
    }
    if (rank_ == 1) text += ",";
    return text + ")";
  }

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int axis = 0; axis < a.rank_; ++axis)  // a plain loop: std::equal calls memcmp, slow for a few dims
      if (a.dims_[axis] != b.dims_[axis]) return false;
    return true;
  }

 private:
  // Kept out of line so that `size` stays small enough to inline.
  [[gnu::cold, gnu::noinline]] std::int64_t size_on_overflow() const {
    if (std::find(begin(), end(), 0) != end()) return 0;
    throw_invalid("Shape", "the size of ", str(), " overflows a 64-bit integer");
  }

  std::array<std::int64_t, max_rank> dims_{};
  int rank_ = 0;
};

}  // namespace symbatch
