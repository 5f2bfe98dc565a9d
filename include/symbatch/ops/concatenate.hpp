/// @file concatenate.hpp
/// @brief `concatenate(xs, axis)`: arrays joined along an axis (a copy), with its gradient (each
/// input's piece of the output gradient).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "symbatch/ops/axis.hpp"
#include "symbatch/ops/elemwise.hpp"

namespace symbatch {

/// @brief `concatenate(xs, axis)`: the inputs joined along `axis`. They share dtype and rank and
/// agree on every other dimension (checked statically where known, and at run time).
class Concatenate final : public Op {
 public:
  /// `axis` is nonnegative (the factory resolves negative axes).
  explicit Concatenate(int axis) : axis_(axis) {}
  int axis() const { return axis_; }
  std::string name() const override { return "concatenate"; }
  OpParameters parameters() const override { return {{"axis", std::int64_t{axis_}}}; }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    const std::size_t count = inputs.size();
    if (count == 0) throw_invalid(name(), "expected at least 1 input, got 0");
    const Type& first = inputs[0].type();
    if (first.rank() == 0) throw_invalid(name(), "input 1/", count, " has rank 0, expected rank >= 1");
    const auto axis = static_cast<std::size_t>(detail::resolve_axis(name(), axis_, first.rank(), 1, count));
    Type type{first.dtype, first.shape};
    type.shape[axis] = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const Type& x = inputs[i].type();
      if (x.dtype != first.dtype) throw_invalid(name(), "input ", i + 1, "/", count, " has dtype ", dtype_name(x.dtype), ", expected ", dtype_name(first.dtype));
      if (x.rank() != first.rank()) throw_invalid(name(), "input ", i + 1, "/", count, " has rank ", x.rank(), ", expected rank ", first.rank());
      for (std::size_t a = 0; a < x.shape.size(); ++a) {
        std::int64_t& merged = type.shape[a];
        const std::int64_t dim = x.shape[a];
        if (a == axis) {
          merged = merged == Type::unknown || dim == Type::unknown ? Type::unknown : merged + dim;
        } else if (dim != Type::unknown) {
          if (merged != Type::unknown && merged != dim) {
            Type expected = type;
            expected.shape[axis] = Type::unknown;
            throw_invalid(name(), "input ", i + 1, "/", count, " has shape ", x.shape_str(), ", expected ", expected.shape_str());
          }
          merged = dim;
        }
      }
    }
    return {type};
  }

  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& first = *in[0];
    Shape shape = first.shape();
    shape[axis_] = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
      const Shape& other = in[i]->shape();
      bool ok = other.rank() == shape.rank();
      for (int a = 0; ok && a < shape.rank(); ++a) ok = a == axis_ || other[a] == shape[a];
      if (!ok) {
        Type expected = Type::of(first);
        expected.shape[static_cast<std::size_t>(axis_)] = Type::unknown;
        throw_invalid(name(), "input ", i + 1, "/", in.size(), " has shape ", other.str(), ", expected ", expected.shape_str());
      }
      shape[axis_] += other[axis_];
    }
    Array& result = *out[0];
    result.ensure(first.dtype(), shape);
    const auto [outer, axis_length, inner] = detail::split_axis(shape, axis_);
    const std::size_t element = dtype_size(first.dtype());
    std::byte* target = result.raw_data();
    for (std::int64_t o = 0; o < outer; ++o)
      for (const Array* x : in) {
        const std::size_t chunk = static_cast<std::size_t>(x->shape()[axis_] * inner) * element;
        if (chunk == 0) continue;
        std::memcpy(target, x->raw_data() + static_cast<std::size_t>(o) * chunk, chunk);
        target += chunk;
      }
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;

 private:
  int axis_;
};

/// @brief `concatenate_piece{axis, index}(g, x_0, ..., x_{n-1})`: the part of `g` (shaped like
/// `concatenate(xs, axis)`) that came from `x_index`, found from the run-time lengths of the
/// `x_k` along `axis`. The gradient of `Concatenate`; a zero-copy view when `axis` is 0.
class ConcatenatePiece final : public Op {
 public:
  ConcatenatePiece(int axis, int index) : axis_(axis), index_(index) {}
  std::string name() const override { return "concatenate_piece"; }
  OpParameters parameters() const override { return {{"axis", std::int64_t{axis_}}, {"index", std::int64_t{index_}}}; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (index_ < 0 || static_cast<std::size_t>(index_) + 1 >= inputs.size())
      throw_invalid(name(), "index ", index_, " is out of range for ", inputs.size() == 0 ? 0 : inputs.size() - 1, " pieces");
    const Type& g = inputs[0].type();
    const Type& piece = inputs[static_cast<std::size_t>(index_) + 1].type();
    if (g.rank() != piece.rank()) throw_invalid(name(), "input 1/", inputs.size(), " has rank ", g.rank(), ", expected rank ", piece.rank());
    detail::resolve_axis(name(), axis_, g.rank(), 1, inputs.size());
    return {Type{g.dtype, piece.shape}};
  }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& g = *in[0];
    std::int64_t start = 0;
    for (int k = 0; k < index_; ++k) start += in[static_cast<std::size_t>(k) + 1]->shape()[axis_];
    const std::int64_t length = in[static_cast<std::size_t>(index_) + 1]->shape()[axis_];
    if (start + length > g.shape()[axis_])
      throw_invalid(name(), "input 1/", in.size(), " has shape ", g.shape().str(), ", too short along axis ", axis_, " for rows ", start, ":",
                    start + length);
    if (axis_ == 0) {
      *out[0] = g.slice_rows(start, start + length);
      return;
    }
    Shape shape = g.shape();
    shape[axis_] = length;
    Array& result = *out[0];
    result.ensure(g.dtype(), shape);
    const auto [outer, axis_length, inner] = detail::split_axis(shape, axis_);
    const std::size_t element = dtype_size(g.dtype());
    const std::size_t chunk = static_cast<std::size_t>(length * inner) * element;
    const std::size_t stride = static_cast<std::size_t>(g.shape()[axis_] * inner) * element;
    const std::size_t skip = static_cast<std::size_t>(start * inner) * element;
    if (chunk == 0) return;
    for (std::int64_t o = 0; o < outer; ++o)
      std::memcpy(result.raw_data() + static_cast<std::size_t>(o) * chunk, g.raw_data() + static_cast<std::size_t>(o) * stride + skip, chunk);
  }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;
  std::optional<int> view_of(int) const override {
    if (axis_ == 0) return 0;
    return std::nullopt;
  }

 private:
  int axis_;
  int index_;
};

/// @brief `xs` joined along `axis` (negative counts from the end).
/// @throws std::invalid_argument for no inputs, a rank-0 input, an axis out of range, or inputs
/// whose dtype, rank or other dimensions differ (naming the input position:
/// `concatenate: input 2/2 has shape (2, 3), expected (?, 4)`, `?` marking the joined axis).
/// Dimensions known only at run time are checked when the function runs.
inline Variable concatenate(std::vector<Variable> xs, int axis = 0) {
  if (xs.empty()) throw_invalid("concatenate", "expected at least 1 input, got 0");
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (!xs[i]) throw_invalid("concatenate", "input ", i + 1, "/", xs.size(), " is a null variable");
  if (xs[0].rank() == 0) throw_invalid("concatenate", "input 1/", xs.size(), " has rank 0, expected rank >= 1");
  const int resolved = detail::resolve_axis("concatenate", axis, xs[0].rank(), 1, xs.size());
  return make_apply<Concatenate>(std::move(xs), resolved);
}

inline std::vector<InputGrad> Concatenate::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  std::vector<Variable> inputs{output_grads[0]};
  inputs.insert(inputs.end(), node.inputs().begin(), node.inputs().end());
  std::vector<InputGrad> result;
  for (std::size_t i = 0; i < node.inputs().size(); ++i) {
    if (node.input(i).dtype() != DType::f64) result.push_back(InputGrad::disconnected());
    else result.push_back(InputGrad::of(make_apply<ConcatenatePiece>(inputs, axis_, static_cast<int>(i))));
  }
  return result;
}

inline std::vector<InputGrad> ConcatenatePiece::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  // The piece's gradient sits at its place in a concatenation of zeros.
  std::vector<Variable> parts;
  for (std::size_t k = 1; k < node.inputs().size(); ++k)
    parts.push_back(static_cast<int>(k) - 1 == index_ ? output_grads[0] : zeros_like(node.input(k)));
  std::vector<InputGrad> result(node.inputs().size());
  result[0] = InputGrad::of(make_apply<Concatenate>(std::move(parts), axis_));
  return result;
}


}  // namespace symbatch
