/// @file take.hpp
/// @brief Gather along axis 0, `take(x, indices)`, and its gradient partner `scatter_add`.
#pragma once

#include <algorithm>
#include <cstring>

#include "symbatch/ops/row_selection.hpp"

namespace symbatch {

namespace detail {
/// Copies rows `index[0..count)` of `source` (rows of `row_bytes` bytes) to consecutive rows of
/// `target`. Rows are scattered over the source: the copy is bound by memory latency, so the rows
/// `ahead` positions on are prefetched (every cache line of them, for rows up to 512 bytes).
inline void gather_rows(const std::byte* source, const std::int64_t* index, std::int64_t count, std::size_t row_bytes, std::byte* target) {
  constexpr std::int64_t ahead = 32;
  const std::size_t lines = std::min<std::size_t>((row_bytes + 63) / 64, 8);
  for (std::int64_t k = 0; k < count; ++k) {
    if (k + ahead < count) {
      const std::byte* next = source + static_cast<std::size_t>(index[k + ahead]) * row_bytes;
      for (std::size_t line = 0; line < lines; ++line) __builtin_prefetch(next + 64 * line);
    }
    std::memcpy(target + static_cast<std::size_t>(k) * row_bytes, source + static_cast<std::size_t>(index[k]) * row_bytes, row_bytes);
  }
}
}  // namespace detail

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
    detail::gather_rows(x.raw_data(), index, count, row_bytes, result.raw_data());
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
