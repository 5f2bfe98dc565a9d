/// @file shape.hpp
/// @brief Shape ops: `shape_of` and `dim` (run-time shapes as i64 values), `reshape` and
/// `reshape_like` (views), `transpose` and `concatenate` (copies), with their gradients.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "symbatch/ops/elemwise.hpp"

namespace symbatch {

namespace detail {

/// Text of a requested shape, which may hold -1: `(2, -1)`, `(5,)`, `()`.
inline std::string dims_text(const std::vector<std::int64_t>& dims) {
  std::string text = "(";
  for (std::size_t axis = 0; axis < dims.size(); ++axis) text += (axis ? ", " : "") + std::to_string(dims[axis]);
  return text + (dims.size() == 1 ? ",)" : ")");
}

/// `axis` checked against `rank` (negative counts from the end) and made nonnegative.
inline int resolve_axis(const std::string& op, int axis, int rank, std::size_t input, std::size_t count) {
  const int resolved = axis < 0 ? axis + rank : axis;
  if (resolved < 0 || resolved >= rank) throw_invalid(op, "axis ", axis, " is out of range for input ", input, "/", count, " of rank ", rank);
  return resolved;
}

/// Checks a requested reshape target: entries >= 0 except at most one -1.
inline void check_reshape_target(const std::vector<std::int64_t>& dims) {
  if (dims.size() > static_cast<std::size_t>(max_rank))
    throw_invalid("reshape", "shape ", dims_text(dims), " has rank ", dims.size(), ", more than the maximum rank ", max_rank);
  int inferred = 0;
  for (std::int64_t dim : dims) {
    if (dim == -1) ++inferred;
    else if (dim < 0) throw_invalid("reshape", "shape ", dims_text(dims), " has dimension ", dim, ", expected >= 0 or -1");
  }
  if (inferred > 1) throw_invalid("reshape", "shape ", dims_text(dims), " has more than one -1");
}

/// The shape `dims` (with its -1 inferred) that holds `size` elements; throws naming the input
/// shape `from` when there is none (NumPy also refuses to infer -1 next to a zero dimension).
inline Shape resolve_reshape(const std::vector<std::int64_t>& dims, std::int64_t size, const std::string& from) {
  std::int64_t known = 1;
  int inferred = -1;
  for (std::size_t axis = 0; axis < dims.size(); ++axis) {
    if (dims[axis] == -1) inferred = static_cast<int>(axis);
    else known *= dims[axis];
  }
  const bool ok = inferred < 0 ? known == size : known != 0 && size % known == 0;
  if (!ok) throw_invalid("reshape", "input 1/1 has shape ", from, " of size ", size, ", which cannot be reshaped into ", dims_text(dims));
  Shape shape;
  for (std::int64_t dim : dims) shape.push_back(dim == -1 ? size / known : dim);
  return shape;
}

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

/// Elements before and after `axis` of `shape` (the outer and inner extents of a split).
inline std::pair<std::int64_t, std::int64_t> outer_inner(const Shape& shape, int axis) {
  std::int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= shape[i];
  for (int i = axis + 1; i < shape.rank(); ++i) inner *= shape[i];
  return {outer, inner};
}

inline std::size_t combine_hash(std::size_t seed, std::int64_t value) {
  return seed * 1000003u ^ std::hash<std::int64_t>{}(value);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Run-time shapes.

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
  std::string describe() const override { return "dim{axis=" + std::to_string(axis_) + "}"; }
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
  bool equals(const Op& other) const override {
    auto* op = dynamic_cast<const Dim*>(&other);
    return op && op->axis_ == axis_;
  }
  std::size_t hash() const override { return detail::combine_hash(Op::hash(), axis_); }

 private:
  int axis_;
};

/// @brief The run-time shape of `x` as an i64 vector.
inline Variable shape_of(const Variable& x) { return make_apply<ShapeOf>({x}); }

/// @brief The run-time length of `x` along `axis` (negative counts from the end) as an i64
/// scalar.
/// @throws std::invalid_argument if `axis` is out of range: `dim: axis 2 is out of range for
/// input 1/1 of rank 2`.
inline Variable dim(const Variable& x, int axis) { return make_apply<Dim>({x}, detail::resolve_axis("dim", axis, x.rank(), 1, 1)); }

// ---------------------------------------------------------------------------------------------
// Reshaping (views: arrays are C-contiguous, so a reshape never moves elements).

/// @brief `reshape(x, shape)`: the elements of `x` in C order under `shape`, where at most one
/// entry is -1 and is inferred (NumPy semantics). A zero-copy view.
class Reshape final : public Op {
 public:
  /// `shape` is checked by `reshape` (entries >= 0 except at most one -1).
  explicit Reshape(std::vector<std::int64_t> shape) : shape_(std::move(shape)) {}
  const std::vector<std::int64_t>& shape() const { return shape_; }
  std::string name() const override { return "reshape"; }
  std::string describe() const override { return "reshape{" + detail::dims_text(shape_) + "}"; }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 1) throw_invalid(name(), "expected 1 input, got ", inputs.size());
    detail::check_reshape_target(shape_);
    const Type& x = inputs[0].type();
    if (x.is_static()) {
      const Shape resolved = detail::resolve_reshape(shape_, Shape(std::span<const std::int64_t>(x.shape)).size(), x.shape_str());
      return {Type{x.dtype, std::vector<std::int64_t>(resolved.begin(), resolved.end())}};
    }
    std::vector<std::int64_t> shape = shape_;
    for (std::int64_t& dim : shape)
      if (dim == -1) dim = Type::unknown;
    return {Type{x.dtype, shape}};
  }

  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& x = *in[0];
    *out[0] = x.reshaped(detail::resolve_reshape(shape_, x.size(), x.shape().str()));
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;
  std::optional<int> view_of(int) const override { return 0; }
  bool equals(const Op& other) const override {
    auto* op = dynamic_cast<const Reshape*>(&other);
    return op && op->shape_ == shape_;
  }
  std::size_t hash() const override {
    std::size_t seed = Op::hash();
    for (std::int64_t dim : shape_) seed = detail::combine_hash(seed, dim);
    return seed;
  }

 private:
  std::vector<std::int64_t> shape_;
};

/// @brief `reshape_like(x, like)`: the elements of `x` under `like`'s run-time shape (a view);
/// the gradient of `reshape`. Throws `std::invalid_argument` when the sizes differ.
class ReshapeLike final : public Op {
 public:
  std::string name() const override { return "reshape_like"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 2) throw_invalid(name(), "expected 2 inputs, got ", inputs.size());
    const Type& x = inputs[0].type();
    const Type& like = inputs[1].type();
    if (x.is_static() && like.is_static()) {
      const std::int64_t from = Shape(std::span<const std::int64_t>(x.shape)).size();
      const std::int64_t to = Shape(std::span<const std::int64_t>(like.shape)).size();
      if (from != to)
        throw_invalid(name(), "input 1/2 has shape ", x.shape_str(), " of size ", from, ", expected the size ", to, " of input 2/2 of shape ",
                      like.shape_str());
    }
    return {Type{x.dtype, like.shape}};
  }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& x = *in[0];
    const Shape& shape = in[1]->shape();
    if (x.size() != shape.size())
      throw_invalid(name(), "input 1/2 has shape ", x.shape().str(), " of size ", x.size(), ", expected the size ", shape.size(),
                    " of input 2/2 of shape ", shape.str());
    *out[0] = x.reshaped(shape);
  }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;
  std::optional<int> view_of(int) const override { return 0; }
};

/// @brief `x` under `shape`, at most one entry of which is -1 (inferred); a zero-copy view.
/// @throws std::invalid_argument for more than one -1, an entry below -1, or (when `x`'s shape
/// is static; otherwise at run time) a size mismatch:
/// `reshape: input 1/1 has shape (2, 3) of size 6, which cannot be reshaped into (4, -1)`.
inline Variable reshape(const Variable& x, std::vector<std::int64_t> shape) {
  detail::check_reshape_target(shape);
  return make_apply<Reshape>({x}, std::move(shape));
}

/// @brief `x` under the run-time shape of `like` (a view).
inline Variable reshape_like(const Variable& x, const Variable& like) { return make_apply<ReshapeLike>({x, like}); }

inline std::vector<InputGrad> Reshape::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  return {InputGrad::of(reshape_like(output_grads[0], node.input(0)))};
}
inline std::vector<InputGrad> ReshapeLike::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  return {InputGrad::of(reshape_like(output_grads[0], node.input(0))), InputGrad::disconnected()};
}

// ---------------------------------------------------------------------------------------------
// Transpose.

/// @brief `transpose(x, permutation)`: output axis `a` is input axis `permutation[a]`, so
/// @f$ y[i_0, \dots, i_{r-1}] = x[j] @f$ with @f$ j_{p_a} = i_a @f$. A copy in C order.
class Transpose final : public Op {
 public:
  /// `permutation` is a resolved permutation of the input's axes (see `transpose`).
  explicit Transpose(std::vector<int> permutation) : permutation_(std::move(permutation)) {}
  const std::vector<int>& permutation() const { return permutation_; }
  std::string name() const override { return "transpose"; }
  std::string describe() const override {
    return "transpose{" + detail::dims_text(std::vector<std::int64_t>(permutation_.begin(), permutation_.end())) + "}";
  }

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
    }
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;
  bool equals(const Op& other) const override {
    auto* op = dynamic_cast<const Transpose*>(&other);
    return op && op->permutation_ == permutation_;
  }
  std::size_t hash() const override {
    std::size_t seed = Op::hash();
    for (int axis : permutation_) seed = detail::combine_hash(seed, axis);
    return seed;
  }

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

// ---------------------------------------------------------------------------------------------
// Concatenation.

/// @brief `concatenate(xs, axis)`: the inputs joined along `axis`. They share dtype and rank and
/// agree on every other dimension (checked statically where known, and at run time).
class Concatenate final : public Op {
 public:
  /// `axis` is nonnegative (the factory resolves negative axes).
  explicit Concatenate(int axis) : axis_(axis) {}
  int axis() const { return axis_; }
  std::string name() const override { return "concatenate"; }
  std::string describe() const override { return "concatenate{axis=" + std::to_string(axis_) + "}"; }

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
    const auto [outer, inner] = detail::outer_inner(shape, axis_);
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
  bool equals(const Op& other) const override {
    auto* op = dynamic_cast<const Concatenate*>(&other);
    return op && op->axis_ == axis_;
  }
  std::size_t hash() const override { return detail::combine_hash(Op::hash(), axis_); }

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
  std::string describe() const override {
    return "concatenate_piece{axis=" + std::to_string(axis_) + ", index=" + std::to_string(index_) + "}";
  }
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
    const auto [outer, inner] = detail::outer_inner(shape, axis_);
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
  bool equals(const Op& other) const override {
    auto* op = dynamic_cast<const ConcatenatePiece*>(&other);
    return op && op->axis_ == axis_ && op->index_ == index_;
  }
  std::size_t hash() const override { return detail::combine_hash(detail::combine_hash(Op::hash(), axis_), index_); }

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
