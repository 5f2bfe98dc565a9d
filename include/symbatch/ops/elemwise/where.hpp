/// @file where.hpp
/// @brief `where(condition, a, b)`: elementwise selection with NumPy broadcasting, and
/// `zeros_like(x)`, the fill gradients use.
#pragma once

#include "symbatch/ops/elemwise/kernel.hpp"

namespace symbatch {

Variable where(const Variable& condition, const Variable& a, const Variable& b);

/// @brief `where(condition, a, b)`: `a` where `condition` is true, `b` elsewhere (broadcast).
class Where final : public Op {
 public:
  std::string name() const override { return "where"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 3) throw_invalid(name(), "expected 3 inputs, got ", inputs.size());
    if (inputs[0].dtype() != DType::boolean)
      throw_invalid(name(), "input 1/3 has dtype ", dtype_name(inputs[0].dtype()), ", expected bool");
    if (inputs[1].dtype() != inputs[2].dtype() || !is_numeric(inputs[1].dtype()))
      throw_invalid(name(), "input 3/3 has dtype ", dtype_name(inputs[2].dtype()), ", expected ", dtype_name(inputs[1].dtype()));
    return {Type{inputs[1].dtype(), detail::broadcast_types(name(), inputs)}};
  }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    switch (in[1]->dtype()) {
      case DType::f64: run<double>(in, *out[0]); break;
      case DType::i64: run<std::int64_t>(in, *out[0]); break;
      case DType::boolean: run<bool>(in, *out[0]); break;
      case DType::f32: run<float>(in, *out[0]); break;
      default: break;
    }
  }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override {
    if (node.output(0).dtype() != DType::f64) return std::vector<InputGrad>(3);
    const Variable& g = output_grads[0];
    const Variable zero = constant(0.0);
    return {InputGrad::disconnected(), InputGrad::of(detail::unbroadcast(where(node.input(0), g, zero), node.input(1))),
            InputGrad::of(detail::unbroadcast(where(node.input(0), zero, g), node.input(2)))};
  }

 private:
  template <class T>
  void run(InputValues in, Array& result) const {
    const Shape shape = detail::broadcast_shapes<3>(name(), {&in[0]->shape(), &in[1]->shape(), &in[2]->shape()});
    result.ensure(dtype_of<T>(), shape);
    const bool* c = in[0]->data<bool>();
    const T* a = in[1]->data<T>();
    const T* b = in[2]->data<T>();
    T* o = result.data<T>();
    const std::array<std::array<std::int64_t, max_rank>, 3> strides{detail::broadcast_strides(in[0]->shape(), shape),
                                                                     detail::broadcast_strides(in[1]->shape(), shape),
                                                                     detail::broadcast_strides(in[2]->shape(), shape)};
    detail::broadcast_loop<3>(shape, strides, [&](std::int64_t count, const auto& offsets, const auto& inner) {
      for (std::int64_t k = 0; k < count; ++k)
        o[offsets[3] + k] = c[offsets[0] + k * inner[0]] ? a[offsets[1] + k * inner[1]] : b[offsets[2] + k * inner[2]];
    });
  }
};

inline Variable where(const Variable& condition, const Variable& a, const Variable& b) {
  detail::check_not_null("where", condition, 1, 3);
  detail::check_not_null("where", a, 2, 3);
  detail::check_not_null("where", b, 3, 3);
  const DType dtype = detail::promote(a.dtype(), b.dtype());
  return make_apply<Where>({cast(condition, DType::boolean), cast(a, dtype), cast(b, dtype)});
}

/// @brief A graph of zeros with the shape and dtype of `x`.
inline Variable zeros_like(const Variable& x) {
  detail::check_not_null("zeros_like", x, 1, 1);
  return broadcast_like(cast(constant(0.0), x.dtype()), x);
}

}  // namespace symbatch
