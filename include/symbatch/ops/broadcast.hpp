/// @file broadcast.hpp
/// @brief NumPy broadcasting: static and run-time shape rules, the strided loop used by every
/// elementwise kernel, and the two ops gradients need to undo broadcasting (`sum_to`,
/// `broadcast_like`).
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "symbatch/graph/apply.hpp"

namespace symbatch {

namespace detail {

/// Static broadcast of input types: throws `op: input i/n has shape ..., which does not
/// broadcast with ...` when two known dimensions differ and neither is 1.
inline std::vector<std::int64_t> broadcast_types(const std::string& op, std::span<const Variable> inputs) {
  int rank = 0;
  for (const Variable& input : inputs) rank = std::max(rank, input.rank());
  std::vector<std::int64_t> shape(static_cast<std::size_t>(rank), 1);
  std::vector<bool> known(static_cast<std::size_t>(rank), true);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto& dims = inputs[i].type().shape;
    const int pad = rank - static_cast<int>(dims.size());
    for (std::size_t axis = 0; axis < dims.size(); ++axis) {
      const std::size_t out_axis = axis + static_cast<std::size_t>(pad);
      const std::int64_t dim = dims[axis];
      if (dim == 1) continue;
      if (dim == Type::unknown) {
        if (shape[out_axis] == 1) known[out_axis] = false;
        continue;
      }
      if (shape[out_axis] != 1 && known[out_axis] && shape[out_axis] != dim) {
        std::string others;
        for (std::size_t j = 0; j < i; ++j) others += (j ? " and " : "") + inputs[j].type().shape_str();
        throw_invalid(op, "input ", i + 1, "/", inputs.size(), " has shape ", inputs[i].type().shape_str(),
                      ", which does not broadcast with ", others);
      }
      shape[out_axis] = dim;
      known[out_axis] = true;
    }
  }
  for (std::size_t axis = 0; axis < shape.size(); ++axis)
    if (!known[axis]) shape[axis] = Type::unknown;
  return shape;
}

/// Run-time broadcast of `count` shapes; throws naming the op and the shapes.
template <std::size_t N>
Shape broadcast_shapes(const std::string& op, const std::array<const Shape*, N>& shapes, std::size_t count = N) {
  int rank = 0;
  for (std::size_t i = 0; i < count; ++i) rank = std::max(rank, shapes[i]->rank());
  Shape out;
  for (int axis = 0; axis < rank; ++axis) out.push_back(1);
  for (std::size_t i = 0; i < count; ++i) {
    const int pad = rank - shapes[i]->rank();
    for (int axis = 0; axis < shapes[i]->rank(); ++axis) {
      const std::int64_t dim = (*shapes[i])[axis];
      std::int64_t& target = out[axis + pad];
      if (dim == target || dim == 1) continue;
      if (target != 1) {
        std::string all;
        for (std::size_t j = 0; j < count; ++j) all += (j ? " and " : "") + shapes[j]->str();
        throw_invalid(op, "shapes ", all, " do not broadcast");
      }
      target = dim;
    }
  }
  return out;
}

/// Element strides of `shape` broadcast to `out` (0 on broadcast axes), aligned to out's rank.
inline std::array<std::int64_t, max_rank> broadcast_strides(const Shape& shape, const Shape& out) {
  std::array<std::int64_t, max_rank> result{};
  const auto own = shape.strides();
  const int pad = out.rank() - shape.rank();
  for (int axis = 0; axis < shape.rank(); ++axis) result[axis + pad] = shape[axis] == 1 ? 0 : own[axis];
  return result;
}

/// Runs `kernel(count, offsets, inner_strides)` over every contiguous run of the output, with
/// `offsets[i]` the element offset of input i at the run's start and `inner_strides[i]` its
/// stride along the run (0 or 1 after merging axes). The output run starts at `offsets[N]`.
template <std::size_t N, class Kernel>
void broadcast_loop(const Shape& out, const std::array<std::array<std::int64_t, max_rank>, N>& strides, Kernel&& kernel) {
  const std::int64_t total = out.size();
  if (total == 0) return;
  // Merge axes from the innermost outwards while every input keeps a uniform stride.
  int rank = out.rank();
  std::array<std::int64_t, max_rank> dims{};
  std::array<std::array<std::int64_t, max_rank>, N + 1> s{};
  for (int axis = 0; axis < rank; ++axis) dims[axis] = out[axis];
  const auto out_strides = out.strides();
  for (std::size_t i = 0; i < N; ++i) s[i] = strides[i];
  s[N] = out_strides;
  int merged = rank;  // number of axes after merging (kept in dims[0..merged))
  if (rank == 0) {
    std::array<std::int64_t, N + 1> offsets{};
    std::array<std::int64_t, N> inner{};
    kernel(std::int64_t{1}, offsets, inner);
    return;
  }
  while (merged >= 2) {
    const int a = merged - 2, b = merged - 1;
    bool mergeable = true;
    for (std::size_t i = 0; i <= N && mergeable; ++i) mergeable = s[i][a] == s[i][b] * dims[b];
    if (!mergeable) break;
    dims[a] *= dims[b];
    for (std::size_t i = 0; i <= N; ++i) s[i][a] = s[i][b];
    --merged;
  }
  const int inner_axis = merged - 1;
  const std::int64_t run = dims[inner_axis];
  std::array<std::int64_t, N> inner{};
  for (std::size_t i = 0; i < N; ++i) inner[i] = s[i][inner_axis];
  std::array<std::int64_t, max_rank> index{};
  std::array<std::int64_t, N + 1> offsets{};
  const std::int64_t runs = total / run;
  for (std::int64_t r = 0; r < runs; ++r) {
    kernel(run, offsets, inner);
    for (int axis = inner_axis - 1; axis >= 0; --axis) {
      ++index[axis];
      for (std::size_t i = 0; i <= N; ++i) offsets[i] += s[i][axis];
      if (index[axis] < dims[axis]) break;
      for (std::size_t i = 0; i <= N; ++i) offsets[i] -= s[i][axis] * dims[axis];
      index[axis] = 0;
    }
  }
}

}  // namespace detail

/// @brief `sum_to(x, like)`: sums `x` over the axes along which `like` was broadcast to reach
/// `x`'s shape, giving `like`'s shape at run time. A zero-copy view when the shapes are equal.
/// Gradients use it to undo broadcasting.
class SumTo final : public Op {
 public:
  std::string name() const override { return "sum_to"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 2) throw_invalid(name(), "expected 2 inputs, got ", inputs.size());
    if (inputs[1].rank() > inputs[0].rank())
      throw_invalid(name(), "input 2/2 has rank ", inputs[1].rank(), ", expected at most ", inputs[0].rank());
    // A gradient partner: it sums gradients (f64) or counts (i64); f32 data are read as f64 by the
    // arithmetic ops instead, so an f32 input here is a mistake, refused while building the graph.
    if (inputs[0].dtype() == DType::f32) throw_invalid(name(), "input 1/2 has dtype f32, expected f64 or i64");
    return {Type{inputs[0].dtype(), inputs[1].type().shape}};
  }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& x = *in[0];
    const Shape& target = in[1]->shape();
    if (x.shape() == target) {
      *out[0] = x;
      return;
    }
    const Shape check = detail::broadcast_shapes<2>(name(), {&x.shape(), &target});
    if (!(check == x.shape()))
      throw_invalid(name(), "shape ", target.str(), " does not broadcast to ", x.shape().str());
    Array& result = *out[0];
    result.ensure(x.dtype(), target);
    if (x.dtype() == DType::f64) accumulate<double>(x, result);
    else if (x.dtype() == DType::i64) accumulate<std::int64_t>(x, result);
    else throw_invalid(name(), "input 1/2 has dtype ", dtype_name(x.dtype()), ", expected f64 or i64");
  }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;
  std::optional<int> view_of(int) const override { return 0; }

 private:
  template <class T>
  static void accumulate(const Array& x, Array& result) {
    T* target = result.data<T>();
    std::fill_n(target, result.size(), T{0});
    const T* source = x.data<T>();
    // Iterate over x (the broadcast shape) with result's strides zeroed on broadcast axes.
    const std::array<std::array<std::int64_t, max_rank>, 1> strides{detail::broadcast_strides(result.shape(), x.shape())};
    detail::broadcast_loop<1>(x.shape(), strides, [&](std::int64_t count, const auto& offsets, const auto& inner) {
      T* t = target + offsets[0];
      const T* s = source + offsets[1];
      if (inner[0] == 0) {
        if constexpr (std::is_same_v<T, double>) {
          *t += Eigen::Map<const Eigen::ArrayXd>(s, count).sum();  // SIMD partial sums, not one chain of adds
        } else {
          T sum{0};
          for (std::int64_t k = 0; k < count; ++k) sum += s[k];
          *t += sum;
        }
      } else {
        for (std::int64_t k = 0; k < count; ++k) t[k] += s[k];
      }
    });
  }
};

/// @brief `broadcast_like(x, like)`: `x` broadcast to `like`'s shape at run time (a copy).
class BroadcastLike final : public Op {
 public:
  std::string name() const override { return "broadcast_like"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 2) throw_invalid(name(), "expected 2 inputs, got ", inputs.size());
    std::vector<std::int64_t> shape = detail::broadcast_types(name(), inputs);
    return {Type{inputs[0].dtype(), std::move(shape)}};
  }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& x = *in[0];
    const Shape shape = detail::broadcast_shapes<2>(name(), {&x.shape(), &in[1]->shape()});
    if (shape == x.shape()) {
      *out[0] = x;
      return;
    }
    Array& result = *out[0];
    result.ensure(x.dtype(), shape);
    const std::size_t width = dtype_size(x.dtype());
    const std::array<std::array<std::int64_t, max_rank>, 1> strides{detail::broadcast_strides(x.shape(), shape)};
    const std::byte* source = x.raw_data();
    std::byte* target = result.raw_data();
    detail::broadcast_loop<1>(shape, strides, [&](std::int64_t count, const auto& offsets, const auto& inner) {
      for (std::int64_t k = 0; k < count; ++k)
        std::memcpy(target + (offsets[1] + k) * width, source + (offsets[0] + k * inner[0]) * width, width);
    });
  }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override {
    return {InputGrad::of(apply1(std::make_shared<const SumTo>(), {output_grads[0], node.input(0)})),
            InputGrad::disconnected()};
  }
  std::optional<int> view_of(int) const override { return 0; }
};

inline std::vector<InputGrad> SumTo::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  return {InputGrad::of(apply1(std::make_shared<const BroadcastLike>(), {output_grads[0], node.input(0)})),
          InputGrad::disconnected()};
}

/// @brief Sums `x` down to the shape of `like` (see `SumTo`).
inline Variable sum_to(const Variable& x, const Variable& like) { return make_apply<SumTo>({x, like}); }
/// @brief Broadcasts `x` to the shape of `x` and `like` broadcast together (see `BroadcastLike`).
inline Variable broadcast_like(const Variable& x, const Variable& like) { return make_apply<BroadcastLike>({x, like}); }

}  // namespace symbatch
