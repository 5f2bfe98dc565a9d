/// @file slice.hpp
/// @brief Basic slicing `x[start:stop]` along axis 0 with symbolic bounds (a zero-copy view),
/// and its gradient partner `inc_slice`.
#pragma once

#include "symbatch/ops/row_selection.hpp"

namespace symbatch {

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

}  // namespace symbatch
