/// @file transpose.hpp
/// @brief `transpose(x, permutation)`: axes permuted, as a copy in C order, with its gradient.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>
#include <array>

#include "symbatch/ops/axis.hpp"
#include "symbatch/ops/elemwise.hpp"

namespace symbatch {

namespace detail {

/// `permutation` checked as a permutation of the axes of `x` (negative entries count from the
/// end; empty means reversed axes) and made nonnegative.
inline std::vector<int> resolve_permutation(std::vector<int> permutation, const Type& x) {
  const int rank = x.rank();
  if (permutation.empty())
    for (int axis = rank - 1; axis >= 0; --axis) permutation.push_back(axis);
  auto text = [&] {
    std::vector<std::int64_t> dims(permutation.begin(), permutation.end());
    return dims_text(dims);
  };
  if (static_cast<int>(permutation.size()) != rank)
    throw_invalid("transpose", "permutation ", text(), " has ", permutation.size(), " axes, expected ", rank, " for input 1/1 of shape ",
                  x.shape_str());
  std::vector<bool> seen(static_cast<std::size_t>(rank), false);
  for (int& axis : permutation) {
    const int resolved = axis < 0 ? axis + rank : axis;
    if (resolved < 0 || resolved >= rank || seen[static_cast<std::size_t>(resolved)])
      throw_invalid("transpose", "permutation ", text(), " is not a permutation of the axes of input 1/1 of shape ", x.shape_str());
    seen[static_cast<std::size_t>(resolved)] = true;
    axis = resolved;
  }
  return permutation;
}

}  // namespace detail

/// @brief `transpose(x, permutation)`: output axis `a` is input axis `permutation[a]`, so
/// @f$ y[i_0, \dots, i_{r-1}] = x[j] @f$ with @f$ j_{p_a} = i_a @f$. A copy in C order.
class Transpose final : public Op {
 public:
  /// `permutation` is a resolved permutation of the input's axes (see `transpose`).
  explicit Transpose(std::vector<int> permutation) : permutation_(std::move(permutation)) {}
  const std::vector<int>& permutation() const { return permutation_; }
  std::string name() const override { return "transpose"; }
  OpParameters parameters() const override { return {{"permutation", std::vector<std::int64_t>(permutation_.begin(), permutation_.end())}}; }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 1) throw_invalid(name(), "expected 1 input, got ", inputs.size());
    const Type& x = inputs[0].type();
    const std::vector<int> permutation = detail::resolve_permutation(permutation_, x);
    if (permutation != permutation_) throw_invalid(name(), "permutation ", describe(), " is not resolved; build the op with transpose(x, permutation)");
    Type type{x.dtype, {}};
    for (int axis : permutation_) type.shape.push_back(x.shape[static_cast<std::size_t>(axis)]);
    return {type};
  }

  void perform(InputValues in, OutputValues out, Scratch&) const override {
    switch (in[0]->dtype()) {
      case DType::f64: run<double>(*in[0], *out[0]); break;
      case DType::i64: run<std::int64_t>(*in[0], *out[0]); break;
      case DType::boolean: run<bool>(*in[0], *out[0]); break;
      case DType::rng: run<RngState>(*in[0], *out[0]); break;
      case DType::f32: run<float>(*in[0], *out[0]); break;
    }
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;

 private:
  template <class T>
  void run(const Array& x, Array& result) const {
    const int rank = x.rank();
    Shape shape;
    std::array<std::int64_t, max_rank> source_strides{};
    const auto strides = x.shape().strides();
    for (int axis = 0; axis < rank; ++axis) {
      shape.push_back(x.shape()[permutation_[static_cast<std::size_t>(axis)]]);
      source_strides[axis] = strides[permutation_[static_cast<std::size_t>(axis)]];
    }
    result.ensure(x.dtype(), shape);
    const std::int64_t total = shape.size();
    if (total == 0) return;
    const T* source = x.data<T>();
    T* target = result.data<T>();
    if (rank == 0) {
      *target = *source;
      return;
    }
    // Walk the output in C order; the innermost output axis is one strided run of the input.
    const std::int64_t run = shape[rank - 1];
    const std::int64_t stride = source_strides[rank - 1];
    std::array<std::int64_t, max_rank> index{};
    std::int64_t offset = 0;
    for (std::int64_t written = 0; written < total; written += run) {
      for (std::int64_t k = 0; k < run; ++k) target[written + k] = source[offset + k * stride];
      for (int axis = rank - 2; axis >= 0; --axis) {
        offset += source_strides[axis];
        if (++index[axis] < shape[axis]) break;
        offset -= source_strides[axis] * shape[axis];
        index[axis] = 0;
      }
    }
  }

  std::vector<int> permutation_;
};

/// @brief `x` with its axes permuted: output axis `a` is input axis `permutation[a]` (negative
/// entries count from the end); the default reverses the axes. A copy; `x` itself when the
/// permutation is the identity.
/// @throws std::invalid_argument if `permutation` is not a permutation of `x`'s axes.
inline Variable transpose(const Variable& x, std::vector<int> permutation = {}) {
  detail::check_not_null("transpose", x, 1, 1);
  std::vector<int> resolved = detail::resolve_permutation(std::move(permutation), x.type());
  bool identity = true;
  for (std::size_t axis = 0; axis < resolved.size(); ++axis) identity = identity && resolved[axis] == static_cast<int>(axis);
  if (identity) return x;
  return make_apply<Transpose>({x}, std::move(resolved));
}

inline std::vector<InputGrad> Transpose::grad(const ApplyNode&, std::span<const Variable> output_grads) const {
  std::vector<int> inverse(permutation_.size());
  for (std::size_t axis = 0; axis < permutation_.size(); ++axis) inverse[static_cast<std::size_t>(permutation_[axis])] = static_cast<int>(axis);
  return {InputGrad::of(transpose(output_grads[0], std::move(inverse)))};
}


}  // namespace symbatch
