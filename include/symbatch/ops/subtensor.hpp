/// @file subtensor.hpp
/// @brief Row selection along axis 0: basic slicing `x[start:stop]` with symbolic bounds (a
/// zero-copy view), gather `take(x, indices)`, and their gradient partners `inc_slice` and
/// `scatter_add`.
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

/// @brief `x[start:stop]` along axis 0, with NumPy's clipping of the bounds; a zero-copy view.
///
/// Inputs: `x` (rank >= 1, any dtype), `start` and `stop` (i64 scalars, read at run time).
/// Output: `x`'s dtype, shape `(rows, x.shape[1:]...)`; the row count is static only when both
/// bounds are constants and `x`'s leading dimension is static.
class Slice final : public Op {
 public:
  std::string name() const override { return "slice"; }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 3) throw_invalid(name(), "expected 3 inputs, got ", inputs.size());
    detail::check_slice_inputs(name(), inputs);
    return {detail::slice_type(inputs)};
  }

  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& x = *in[0];
    const auto [first, last] = detail::clip_slice(detail::scalar_index(*in[1]), detail::scalar_index(*in[2]), x.shape()[0]);
    *out[0] = x.slice_rows(first, last);
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;
  std::optional<int> view_of(int) const override { return 0; }
};

/// @brief A copy of `x` with `values` added to rows `start:stop` (clipped as `Slice` does);
/// the gradient partner of `Slice`.
///
/// `values` has `x`'s dtype (f64 or i64) and must broadcast (NumPy rules) to the selected rows'
/// shape `(rows, x.shape[1:]...)`; otherwise `perform` throws `std::invalid_argument`.
class IncSlice final : public Op {
 public:
  std::string name() const override { return "inc_slice"; }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 4) throw_invalid(name(), "expected 4 inputs, got ", inputs.size());
    detail::check_slice_inputs(name(), inputs);
    detail::check_values_input(name(), inputs, detail::slice_type(inputs).shape);
    return {inputs[0].type()};
  }

  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& x = *in[0];
    const Array& values = *in[3];
    const auto [first, last] = detail::clip_slice(detail::scalar_index(*in[1]), detail::scalar_index(*in[2]), x.shape()[0]);
    const Shape rows = detail::with_rows(x.shape(), last - first);
    if (!detail::broadcasts_to(values.shape(), rows))
      throw_invalid(name(), "input 4/4 has shape ", values.shape().str(), ", expected a shape that broadcasts to ", rows.str(),
                    " (rows ", first, ":", last, " of ", x.shape().str(), ")");
    Array& result = *out[0];
    result.ensure(x.dtype(), x.shape());
    if (x.bytes() > 0) std::memcpy(result.raw_data(), x.raw_data(), x.bytes());
    const std::int64_t row_size = detail::row_shape(x.shape()).size();
    if (x.dtype() == DType::f64)
      detail::add_broadcast(result.data<double>() + first * row_size, rows, values.data<double>(), values.shape());
    else
      detail::add_broadcast(result.data<std::int64_t>() + first * row_size, rows, values.data<std::int64_t>(), values.shape());
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;
};

/// @brief Gather along axis 0: row `k` of the output is row `indices[k]` of `x`.
///
/// Inputs: `x` (rank >= 1, any dtype) and `indices` (an i64 vector). Output shape
/// `(len(indices), x.shape[1:]...)`. Each row is one `memcpy`. An index outside `[0, N)` throws
/// `std::invalid_argument`: `take: index 12 is out of range for axis 0 of size 10`.
class Take final : public Op {
 public:
  std::string name() const override { return "take"; }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 2) throw_invalid(name(), "expected 2 inputs, got ", inputs.size());
    detail::check_index_input(name(), inputs);
    Type type = inputs[0].type();
    type.shape[0] = inputs[1].type().shape[0];
    return {type};
  }

  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& x = *in[0];
    const Array& indices = *in[1];
    const std::int64_t length = x.shape()[0];
    const std::int64_t count = indices.shape()[0];
    const std::int64_t* index = indices.data<std::int64_t>();
    for (std::int64_t k = 0; k < count; ++k)
      if (index[k] < 0 || index[k] >= length)
        throw_invalid(name(), "index ", index[k], " is out of range for axis 0 of size ", length);
    Array& result = *out[0];
    result.ensure(x.dtype(), detail::with_rows(x.shape(), count));
    const std::size_t row_bytes = static_cast<std::size_t>(detail::row_shape(x.shape()).size()) * dtype_size(x.dtype());
    if (row_bytes == 0) return;
    const std::byte* source = x.raw_data();
    std::byte* target = result.raw_data();
    for (std::int64_t k = 0; k < count; ++k)
      std::memcpy(target + static_cast<std::size_t>(k) * row_bytes, source + static_cast<std::size_t>(index[k]) * row_bytes, row_bytes);
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;
};

/// @brief A copy of `x` with `values[k]` added to row `indices[k]` for every `k`; repeated
/// indices accumulate (NumPy's `np.add.at`). The gradient partner of `Take`.
///
/// `values` has `x`'s dtype (f64 or i64) and must broadcast to `(len(indices), x.shape[1:]...)`.
/// An index outside `[0, N)` throws `std::invalid_argument`:
/// `scatter_add: index 12 is out of range for axis 0 of size 10`.
class ScatterAdd final : public Op {
 public:
  std::string name() const override { return "scatter_add"; }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 3) throw_invalid(name(), "expected 3 inputs, got ", inputs.size());
    detail::check_index_input(name(), inputs);
    std::vector<std::int64_t> rows = inputs[0].type().shape;
    rows[0] = inputs[1].type().shape[0];
    detail::check_values_input(name(), inputs, rows);
    return {inputs[0].type()};
  }

  void perform(InputValues in, OutputValues out, Scratch&) const override {
    if (in[0]->dtype() == DType::f64) run<double>(in, *out[0]);
    else run<std::int64_t>(in, *out[0]);
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;

 private:
  template <class T>
  void run(InputValues in, Array& result) const {
    const Array& x = *in[0];
    const Array& indices = *in[1];
    const Array& values = *in[2];
    const std::int64_t length = x.shape()[0];
    const std::int64_t count = indices.shape()[0];
    const Shape row = detail::row_shape(x.shape());
    const Shape rows = detail::with_rows(x.shape(), count);
    if (!detail::broadcasts_to(values.shape(), rows))
      throw_invalid(name(), "input 3/3 has shape ", values.shape().str(), ", expected a shape that broadcasts to ", rows.str());
    const std::int64_t* index = indices.data<std::int64_t>();
    for (std::int64_t k = 0; k < count; ++k)
      if (index[k] < 0 || index[k] >= length)
        throw_invalid(name(), "index ", index[k], " is out of range for axis 0 of size ", length);
    result.ensure(x.dtype(), x.shape());
    if (x.bytes() > 0) std::memcpy(result.raw_data(), x.raw_data(), x.bytes());
    // The part of `values` added to one row, and how far it moves from one index to the next.
    const bool per_index = values.rank() == x.rank() && values.shape()[0] != 1;
    const Shape source_row = values.rank() == x.rank() ? detail::row_shape(values.shape()) : values.shape();
    const std::int64_t step = per_index ? source_row.size() : 0;
    const std::int64_t row_size = row.size();
    T* target = result.data<T>();
    const T* source = values.data<T>();
    for (std::int64_t k = 0; k < count; ++k) detail::add_broadcast(target + index[k] * row_size, row, source + k * step, source_row);
  }
};

/// @brief `x[start:stop]` along axis 0 as a zero-copy view; bounds are i64 scalars read at run
/// time and clipped as NumPy does (negative counts from the end, out of range is clipped,
/// `stop < start` gives no rows).
/// @throws std::invalid_argument if `x` has rank 0 or a bound is not an i64 scalar (the message
/// names the input position: `slice: input 1/3 has rank 0, expected rank >= 1`).
inline Variable slice(const Variable& x, const Variable& start, const Variable& stop) { return make_apply<Slice>({x, start, stop}); }
/// @brief `slice` with constant bounds.
inline Variable slice(const Variable& x, std::int64_t start, std::int64_t stop) {
  return slice(x, constant(Array::scalar(start)), constant(Array::scalar(stop)));
}
inline Variable slice(const Variable& x, const Variable& start, std::int64_t stop) { return slice(x, start, constant(Array::scalar(stop))); }
inline Variable slice(const Variable& x, std::int64_t start, const Variable& stop) { return slice(x, constant(Array::scalar(start)), stop); }

/// @brief A copy of `x` with `values` added to rows `start:stop` (see `IncSlice`).
/// @throws std::invalid_argument on a rank-0 `x`, non-i64-scalar bounds, a dtype mismatch, or
/// `values` whose static shape cannot broadcast to the selected rows.
inline Variable inc_slice(const Variable& x, const Variable& start, const Variable& stop, const Variable& values) {
  return make_apply<IncSlice>({x, start, stop, values});
}
/// @brief `inc_slice` with constant bounds.
inline Variable inc_slice(const Variable& x, std::int64_t start, std::int64_t stop, const Variable& values) {
  return inc_slice(x, constant(Array::scalar(start)), constant(Array::scalar(stop)), values);
}

/// @brief Rows `indices[0], indices[1], ...` of `x` (see `Take`).
/// @throws std::invalid_argument on a rank-0 `x` or indices that are not an i64 vector; at run
/// time, on an index outside `[0, x.shape[0])`.
inline Variable take(const Variable& x, const Variable& indices) { return make_apply<Take>({x, indices}); }

/// @brief A copy of `x` with `values[k]` added to row `indices[k]`, duplicates accumulating
/// (see `ScatterAdd`).
inline Variable scatter_add(const Variable& x, const Variable& indices, const Variable& values) {
  return make_apply<ScatterAdd>({x, indices, values});
}

// ---------------------------------------------------------------------------------------------
// Gradients. Integer bounds and indices are disconnected.

inline std::vector<InputGrad> Slice::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  const Variable& x = node.input(0);
  if (x.dtype() != DType::f64) return std::vector<InputGrad>(3);
  return {InputGrad::of(inc_slice(zeros_like(x), node.input(1), node.input(2), output_grads[0])), InputGrad::disconnected(),
          InputGrad::disconnected()};
}

inline std::vector<InputGrad> IncSlice::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  if (node.input(0).dtype() != DType::f64) return std::vector<InputGrad>(4);
  const Variable& g = output_grads[0];
  const Variable rows = slice(g, node.input(1), node.input(2));
  return {InputGrad::of(g), InputGrad::disconnected(), InputGrad::disconnected(),
          InputGrad::of(detail::unbroadcast(rows, node.input(3)))};
}

inline std::vector<InputGrad> Take::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  const Variable& x = node.input(0);
  if (x.dtype() != DType::f64) return std::vector<InputGrad>(2);
  return {InputGrad::of(scatter_add(zeros_like(x), node.input(1), output_grads[0])), InputGrad::disconnected()};
}

inline std::vector<InputGrad> ScatterAdd::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  if (node.input(0).dtype() != DType::f64) return std::vector<InputGrad>(3);
  const Variable& g = output_grads[0];
  return {InputGrad::of(g), InputGrad::disconnected(), InputGrad::of(detail::unbroadcast(take(g, node.input(1)), node.input(2)))};
}

}  // namespace symbatch
