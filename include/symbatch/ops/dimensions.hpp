/// @file dimensions.hpp
/// @brief Run-time shapes as values: `shape_of(x)` (the shape as an i64 vector) and `dim(x, axis)`
/// (one length as an i64 scalar), which `total_size` scaling reads. No gradient flows through them.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "symbatch/ops/axis.hpp"
#include "symbatch/ops/elemwise.hpp"

namespace symbatch {

/// @brief `shape_of(x)`: the run-time shape of `x` as an i64 vector of length `rank(x)`.
/// No gradient flows through it (disconnected).
class ShapeOf final : public Op {
 public:
  std::string name() const override { return "shape_of"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 1) throw_invalid(name(), "expected 1 input, got ", inputs.size());
    return {Type{DType::i64, {inputs[0].rank()}}};
  }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Shape& shape = in[0]->shape();
    out[0]->ensure(DType::i64, Shape{shape.rank()});
    std::copy(shape.begin(), shape.end(), out[0]->data<std::int64_t>());
  }
  std::vector<InputGrad> grad(const ApplyNode&, std::span<const Variable>) const override { return {InputGrad::disconnected()}; }
};

/// @brief `dim(x, axis)`: `x.shape[axis]` at run time, as an i64 scalar. This is what
/// `total_size` scaling reads (`dim(batch, 0)`). No gradient flows through it (disconnected).
class Dim final : public Op {
 public:
  /// `axis` is nonnegative (the factory resolves negative axes).
  explicit Dim(int axis) : axis_(axis) {}
  int axis() const { return axis_; }
  std::string name() const override { return "dim"; }
  OpParameters parameters() const override { return {{"axis", std::int64_t{axis_}}}; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 1) throw_invalid(name(), "expected 1 input, got ", inputs.size());
    detail::resolve_axis(name(), axis_, inputs[0].rank(), 1, 1);
    return {Type{DType::i64, {}}};
  }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    out[0]->ensure(DType::i64, Shape{});
    *out[0]->data<std::int64_t>() = in[0]->shape()[axis_];
  }
  std::vector<InputGrad> grad(const ApplyNode&, std::span<const Variable>) const override { return {InputGrad::disconnected()}; }

 private:
  int axis_;
};

/// @brief The run-time shape of `x` as an i64 vector.
inline Variable shape_of(const Variable& x) {
  detail::check_not_null("shape_of", x, 1, 1);
  return make_apply<ShapeOf>({x});
}

/// @brief The run-time length of `x` along `axis` (negative counts from the end) as an i64
/// scalar.
/// @throws std::invalid_argument if `axis` is out of range: `dim: axis 2 is out of range for
/// input 1/1 of rank 2`.
inline Variable dim(const Variable& x, int axis) {
  detail::check_not_null("dim", x, 1, 1);
  return make_apply<Dim>({x}, detail::resolve_axis("dim", axis, x.rank(), 1, 1));
}


}  // namespace symbatch
