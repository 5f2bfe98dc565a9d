/// @file type.hpp
/// @brief `Type`: the static description of a variable (dtype, rank, known dimensions).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "symbatch/core/array.hpp"

namespace symbatch {

/// @brief A variable's dtype and static shape. The rank is always known; a dimension is
/// `Type::unknown` when it is only known at run time.
struct Type {
  static constexpr std::int64_t unknown = -1;

  DType dtype = DType::f64;
  std::vector<std::int64_t> shape;  ///< one entry per axis, `unknown` where not static

  int rank() const { return static_cast<int>(shape.size()); }
  bool is_scalar() const { return shape.empty(); }
  /// True when every dimension is known.
  bool is_static() const {
    for (std::int64_t dim : shape) if (dim == unknown) return false;
    return true;
  }

  /// Text such as `f64(?, 16)`, `i64()`.
  std::string str() const { return std::string(dtype_name(dtype)) + shape_str(); }
  /// Shape text such as `(?, 16)`, `(5,)`, `()`.
  std::string shape_str() const {
    std::string text = "(";
    for (std::size_t axis = 0; axis < shape.size(); ++axis) {
      if (axis > 0) text += ", ";
      text += shape[axis] == unknown ? std::string("?") : std::to_string(shape[axis]);
    }
    if (shape.size() == 1) text += ",";
    return text + ")";
  }

  /// True when `value` has this dtype, this rank, and every known dimension.
  bool accepts(const Array& value) const {
    if (value.dtype() != dtype || value.rank() != rank()) return false;
    for (int axis = 0; axis < rank(); ++axis)
      if (shape[axis] != unknown && shape[axis] != value.shape()[axis]) return false;
    return true;
  }

  /// The exact type of an array value.
  static Type of(const Array& value) {
    return Type{value.dtype(), std::vector<std::int64_t>(value.shape().begin(), value.shape().end())};
  }

  friend bool operator==(const Type&, const Type&) = default;
};

}  // namespace symbatch
