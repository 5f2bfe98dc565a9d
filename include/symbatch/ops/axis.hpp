/// @file axis.hpp
/// @brief Axis arguments of ops, in one place: resolving negative axes with a clear error, and
/// splitting a shape around an axis.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include <string_view>
#include <utility>

#include "symbatch/core/shape.hpp"

namespace symbatch::detail {

/// Text of a requested shape, which may hold -1: `(2, -1)`, `(5,)`, `()`.
inline std::string dims_text(const std::vector<std::int64_t>& dims) {
  std::string text = "(";
  for (std::size_t axis = 0; axis < dims.size(); ++axis) text += (axis ? ", " : "") + std::to_string(dims[axis]);
  return text + (dims.size() == 1 ? ",)" : ")");
}

/// `axis` checked against `rank` (negative counts from the end) and made nonnegative; throws
/// `std::invalid_argument`: `dim: axis 2 is out of range for input 1/1 of rank 2`.
inline int resolve_axis(std::string_view op, int axis, int rank, std::size_t input = 1, std::size_t count = 1) {
  const int resolved = axis < 0 ? axis + rank : axis;
  if (resolved < 0 || resolved >= rank) throw_invalid(op, "axis ", axis, " is out of range for input ", input, "/", count, " of rank ", rank);
  return resolved;
}

/// `resolve_axis` for an optional axis (none means every axis).
inline std::optional<int> resolve_axis(std::string_view op, std::optional<int> axis, int rank) {
  if (!axis) return std::nullopt;
  return resolve_axis(op, *axis, rank);
}

/// Splits `shape` around `axis` into (outer, length, inner) element counts; all axes when `axis`
/// is empty.
inline std::array<std::int64_t, 3> split_axis(const Shape& shape, std::optional<int> axis) {
  if (!axis) return {1, shape.size(), 1};
  std::int64_t outer = 1, inner = 1;
  for (int i = 0; i < *axis; ++i) outer *= shape[i];
  for (int i = *axis + 1; i < shape.rank(); ++i) inner *= shape[i];
  return {outer, shape[*axis], inner};
}

/// `shape` without `axis` (a scalar shape when `axis` is empty: every axis reduced).
inline Shape reduced_shape(const Shape& shape, std::optional<int> axis) {
  Shape out;
  if (axis)
    for (int i = 0; i < shape.rank(); ++i)
      if (i != *axis) out.push_back(shape[i]);
  return out;
}

}  // namespace symbatch::detail
