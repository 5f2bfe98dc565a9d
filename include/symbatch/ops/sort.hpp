/// @file sort.hpp
/// @brief `sort` and `argsort` along the last axis (ascending, NaN last, stable), and the
/// gradient of `sort` (the output gradient sent back through the permutation).
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>

#include "symbatch/ops/elemwise.hpp"

namespace symbatch {

namespace detail {

/// Orders rows of length `length` by value (NaN last, ties by position) into `order`.
template <class T>
void order_rows(const T* values, std::int64_t rows, std::int64_t length, std::int64_t* order) {
  for (std::int64_t r = 0; r < rows; ++r) {
    std::int64_t* row = order + r * length;
    const T* v = values + r * length;
    std::iota(row, row + length, std::int64_t{0});
    std::stable_sort(row, row + length, [v](std::int64_t a, std::int64_t b) {
      if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(v[b])) return !std::isnan(v[a]);
        if (std::isnan(v[a])) return false;
      }
      return v[a] < v[b];
    });
  }
}

inline std::int64_t last_axis_length(const Shape& shape) { return shape.rank() == 0 ? 1 : shape[shape.rank() - 1]; }

/// The gradient of sort: `out[r, order[r, k]] = g[r, k]`, with the order recomputed from `x`.
class SortGrad final : public Op {
 public:
  std::string name() const override { return "sort_grad"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override { return {inputs[1].type()}; }
  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    const Array& x = *in[0];
    const Array& g = *in[1];
    const std::int64_t length = last_axis_length(x.shape());
    const std::int64_t rows = length == 0 ? 0 : x.size() / length;
    scratch.indices.resize(static_cast<std::size_t>(x.size()));
    order_rows(x.data<double>(), rows, length, scratch.indices.data());
    Array& result = *out[0];
    result.ensure(DType::f64, x.shape());
    const double* source = g.data<double>();
    double* target = result.data<double>();
    for (std::int64_t k = 0; k < x.size(); ++k) target[(k / length) * length + scratch.indices[static_cast<std::size_t>(k)]] = source[k];
  }
};

}  // namespace detail

/// @brief Sorted copy of `x` along its last axis (ascending, NaN last), or its `argsort`.
class Sort final : public Op {
 public:
  explicit Sort(bool indices) : indices_(indices) {}
  std::string name() const override { return indices_ ? "argsort" : "sort"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 1) throw_invalid(name(), "expected 1 input, got ", inputs.size());
    const DType dtype = inputs[0].dtype();
    if (dtype != DType::f64 && dtype != DType::i64)
      throw_invalid(name(), "input 1/1 has dtype ", dtype_name(dtype), ", expected f64 or i64");
    if (inputs[0].rank() == 0) throw_invalid(name(), "input 1/1 has rank 0, expected rank >= 1");
    return {Type{indices_ ? DType::i64 : dtype, inputs[0].type().shape}};
  }
  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    const Array& x = *in[0];
    if (x.dtype() == DType::f64) run<double>(x, *out[0], scratch);
    else run<std::int64_t>(x, *out[0], scratch);
  }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override {
    if (indices_ || node.input(0).dtype() != DType::f64) return {InputGrad::disconnected()};
    return {InputGrad::of(make_apply<detail::SortGrad>({node.input(0), output_grads[0]}))};
  }

 private:
  template <class T>
  void run(const Array& x, Array& result, Scratch& scratch) const {
    const std::int64_t length = detail::last_axis_length(x.shape());
    const std::int64_t rows = length == 0 ? 0 : x.size() / length;
    std::vector<std::int64_t>& order = scratch.indices;
    order.resize(static_cast<std::size_t>(x.size()));
    detail::order_rows(x.data<T>(), rows, length, order.data());
    if (indices_) {
      result.ensure(DType::i64, x.shape());
      std::copy(order.begin(), order.end(), result.data<std::int64_t>());
      return;
    }
    result.ensure(x.dtype(), x.shape());
    const T* source = x.data<T>();
    T* target = result.data<T>();
    for (std::int64_t k = 0; k < x.size(); ++k) target[k] = source[(k / length) * length + order[static_cast<std::size_t>(k)]];
  }
  bool indices_;
};

/// @brief `x` sorted ascending along its last axis; NaN sorts last.
inline Variable sort(const Variable& x) { return make_apply<Sort>({x}, false); }
/// @brief The stable ordering (i64 positions) that sorts `x` along its last axis.
inline Variable argsort(const Variable& x) { return make_apply<Sort>({x}, true); }

}  // namespace symbatch
