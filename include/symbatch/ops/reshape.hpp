/// @file reshape.hpp
/// @brief `reshape` and `reshape_like`: the elements of an array in C order under another shape, as
/// zero-copy views (arrays are C-contiguous, so a reshape never moves elements).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "symbatch/ops/axis.hpp"
#include "symbatch/ops/elemwise.hpp"

namespace symbatch {

namespace detail {

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
/// shape, the text `from()` returns (formatted only then), when there is none (NumPy also
/// refuses to infer -1 next to a zero dimension).
template <class From>
Shape resolve_reshape(const std::vector<std::int64_t>& dims, std::int64_t size, const From& from) {
  std::int64_t known = 1;
  int inferred = -1;
  for (std::size_t axis = 0; axis < dims.size(); ++axis) {
    if (dims[axis] == -1) inferred = static_cast<int>(axis);
    else if (__builtin_mul_overflow(known, dims[axis], &known))
      throw_invalid("reshape", "shape ", dims_text(dims), " has more elements than an array can hold");
  }
  const bool ok = inferred < 0 ? known == size : known != 0 && size % known == 0;
  if (!ok) throw_invalid("reshape", "input 1/1 has shape ", from(), " of size ", size, ", which cannot be reshaped into ", dims_text(dims));
  Shape shape;
  for (std::int64_t dim : dims) shape.push_back(dim == -1 ? size / known : dim);
  return shape;
}

}  // namespace detail

/// @brief `reshape(x, shape)`: the elements of `x` in C order under `shape`, where at most one
/// entry is -1 and is inferred (NumPy semantics). A zero-copy view.
class Reshape final : public Op {
 public:
  /// `shape` is checked by `reshape` (entries >= 0 except at most one -1).
  explicit Reshape(std::vector<std::int64_t> shape) : shape_(std::move(shape)) {}
  const std::vector<std::int64_t>& shape() const { return shape_; }
  std::string name() const override { return "reshape"; }
  OpParameters parameters() const override { return {{"shape", shape_}}; }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 1) throw_invalid(name(), "expected 1 input, got ", inputs.size());
    detail::check_reshape_target(shape_);
    const Type& x = inputs[0].type();
    if (x.is_static()) {
      const Shape resolved = detail::resolve_reshape(shape_, Shape(std::span<const std::int64_t>(x.shape)).size(), [&] { return x.shape_str(); });
      return {Type{x.dtype, std::vector<std::int64_t>(resolved.begin(), resolved.end())}};
    }
    std::vector<std::int64_t> shape = shape_;
    for (std::int64_t& dim : shape)
      if (dim == -1) dim = Type::unknown;
    return {Type{x.dtype, shape}};
  }

  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& x = *in[0];
    *out[0] = x.reshaped(detail::resolve_reshape(shape_, x.size(), [&] { return x.shape().str(); }));
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;
  std::optional<int> view_of(int) const override { return 0; }

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
  detail::check_not_null("reshape", x, 1, 1);
  detail::check_reshape_target(shape);
  return make_apply<Reshape>({x}, std::move(shape));
}

/// @brief `x` under the run-time shape of `like` (a view).
inline Variable reshape_like(const Variable& x, const Variable& like) {
  detail::check_not_null("reshape_like", x, 1, 2);
  detail::check_not_null("reshape_like", like, 2, 2);
  return make_apply<ReshapeLike>({x, like});
}

inline std::vector<InputGrad> Reshape::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  return {InputGrad::of(reshape_like(output_grads[0], node.input(0)))};
}
inline std::vector<InputGrad> ReshapeLike::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  return {InputGrad::of(reshape_like(output_grads[0], node.input(0))), InputGrad::disconnected()};
}


}  // namespace symbatch
