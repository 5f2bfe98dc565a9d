/// @file row_selection.hpp
/// @brief Shape rules and input checks shared by the row-selection ops (slice.hpp, take.hpp):
/// NumPy slice clipping, row shapes, broadcasting an added block onto rows.
#pragma once

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "symbatch/ops/elemwise.hpp"

namespace symbatch {

namespace detail {

/// NumPy's clipping of `x[start:stop]` (step 1) on an axis of length `length`: negative bounds
/// count from the end, out-of-range bounds are clipped, and `stop < start` selects nothing.
/// Returns `0 <= first <= last <= length`.
inline std::pair<std::int64_t, std::int64_t> clip_slice(std::int64_t start, std::int64_t stop, std::int64_t length) {
  auto clip = [length](std::int64_t bound) {
    if (bound < 0) bound = bound < -length ? 0 : bound + length;
    return bound > length ? length : bound;
  };
  const std::int64_t first = clip(start);
  const std::int64_t last = clip(stop);
  return {first, last < first ? first : last};
}

/// `shape` without its first axis (the shape of one row).
inline Shape row_shape(const Shape& shape) {
  Shape row;
  for (int axis = 1; axis < shape.rank(); ++axis) row.push_back(shape[axis]);
  return row;
}

/// `shape` with its first axis set to `rows`.
inline Shape with_rows(const Shape& shape, std::int64_t rows) {
  Shape result = shape;
  result[0] = rows;
  return result;
}

/// True when `from` broadcasts to exactly `to` (NumPy rules, one direction only).
inline bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.rank() > to.rank()) return false;
  const int pad = to.rank() - from.rank();
  for (int axis = 0; axis < from.rank(); ++axis)
    if (from[axis] != 1 && from[axis] != to[axis + pad]) return false;
  return true;
}

/// Static form of `broadcasts_to` on types (unknown dimensions are accepted).
inline bool may_broadcast_to(const std::vector<std::int64_t>& from, const std::vector<std::int64_t>& to) {
  if (from.size() > to.size()) return false;
  const std::size_t pad = to.size() - from.size();
  for (std::size_t axis = 0; axis < from.size(); ++axis) {
    const std::int64_t source = from[axis], target = to[axis + pad];
    if (source != 1 && source != Type::unknown && target != Type::unknown && source != target) return false;
  }
  return true;
}

/// `target += source` with `source` broadcast to `target_shape` (checked by the caller).
template <class T>
void add_broadcast(T* target, const Shape& target_shape, const T* source, const Shape& source_shape) {
  const std::int64_t count = target_shape.size();
  if (source_shape.size() == count) {  // same elements in the same order
    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(target, count) += Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(source, count);
    return;
  }
  if (source_shape.size() == 1) {
    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(target, count) += source[0];
    return;
  }
  const std::array<std::array<std::int64_t, max_rank>, 1> strides{broadcast_strides(source_shape, target_shape)};
  broadcast_loop<1>(target_shape, strides, [&](std::int64_t run, const auto& offsets, const auto& inner) {
    T* t = target + offsets[1];
    const T* s = source + offsets[0];
    if (inner[0]) for (std::int64_t k = 0; k < run; ++k) t[k] += s[k];
    else for (std::int64_t k = 0; k < run; ++k) t[k] += *s;
  });
}

/// Checks the `(x, start, stop)` inputs shared by `slice` and `inc_slice`.
inline void check_slice_inputs(const std::string& op, std::span<const Variable> inputs) {
  const std::size_t count = inputs.size();
  if (inputs[0].rank() == 0) throw_invalid(op, "input 1/", count, " has rank 0, expected rank >= 1");
  for (std::size_t i = 1; i <= 2; ++i) {
    if (inputs[i].dtype() != DType::i64)
      throw_invalid(op, "input ", i + 1, "/", count, " has dtype ", dtype_name(inputs[i].dtype()), ", expected i64");
    if (inputs[i].rank() != 0) throw_invalid(op, "input ", i + 1, "/", count, " has shape ", inputs[i].type().shape_str(), ", expected ()");
  }
}

/// The value of an i64 scalar (a slice bound).
inline std::int64_t scalar_index(const Array& value) { return value.data<std::int64_t>()[0]; }

/// The static type of `x[start:stop]`: rows known only for constant bounds and a static length.
inline Type slice_type(std::span<const Variable> inputs) {
  Type type = inputs[0].type();
  const std::int64_t length = type.shape[0];
  type.shape[0] = Type::unknown;
  if (length != Type::unknown && inputs[1].is_constant() && inputs[2].is_constant()) {
    const auto [first, last] = clip_slice(scalar_index(inputs[1].constant_value()), scalar_index(inputs[2].constant_value()), length);
    type.shape[0] = last - first;
  }
  return type;
}

/// Checks an index vector input of `take` or `scatter_add`.
inline void check_index_input(const std::string& op, std::span<const Variable> inputs) {
  const std::size_t count = inputs.size();
  if (inputs[0].rank() == 0) throw_invalid(op, "input 1/", count, " has rank 0, expected rank >= 1");
  if (inputs[1].dtype() != DType::i64)
    throw_invalid(op, "input 2/", count, " has dtype ", dtype_name(inputs[1].dtype()), ", expected i64");
  if (inputs[1].rank() != 1) throw_invalid(op, "input 2/", count, " has rank ", inputs[1].rank(), ", expected rank 1");
}

/// Checks the `values` input (last) of `inc_slice` or `scatter_add` against the rows it adds to.
inline void check_values_input(const std::string& op, std::span<const Variable> inputs, const std::vector<std::int64_t>& rows) {
  const std::size_t count = inputs.size();
  const Variable& x = inputs[0];
  const Variable& values = inputs[count - 1];
  if (x.dtype() != DType::f64 && x.dtype() != DType::i64)
    throw_invalid(op, "input 1/", count, " has dtype ", dtype_name(x.dtype()), ", expected f64 or i64");
  if (values.dtype() != x.dtype())
    throw_invalid(op, "input ", count, "/", count, " has dtype ", dtype_name(values.dtype()), ", expected ", dtype_name(x.dtype()));
  if (!may_broadcast_to(values.type().shape, rows))
    throw_invalid(op, "input ", count, "/", count, " has shape ", values.type().shape_str(), ", expected a shape that broadcasts to ",
                  Type{x.dtype(), rows}.shape_str());
}

}  // namespace detail

}  // namespace symbatch
