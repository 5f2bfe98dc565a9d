/// @file kernel.hpp
/// @brief The machinery of elementwise ops: the `ElementwiseFunction` protocol a scalar function
/// follows, the `Elemwise<Fn>` op that runs it with NumPy broadcasting, the `ElemwiseKernel`
/// interface fusion reads, and the factories' dtype promotion.
///
/// Factories promote mixed dtypes the NumPy way before building the op (`i64 + f64` casts the
/// integer to `f64`; bool arithmetic becomes `i64`; floating functions cast integers to `f64`),
/// so every kernel sees inputs of one dtype. `f32` is storage only, and here symbatch departs
/// from NumPy: an f32 operand is read as f64 (a `cast` node widens it exactly) and the result
/// is f64 whatever the other operand (`f32 + f32`, `f32 + i64`, `exp(f32)` are all f64), so
/// arithmetic never rounds to single precision. The `Elemwise` op itself refuses f32 inputs
/// (`add: input 1/2 has dtype f32, expected f64 or i64`); only the factories widen them. A null (default-constructed) input throws
/// `std::invalid_argument`: `add: input 1/2 is a null variable`.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <concepts>
#include <string_view>
#include <vector>

#include "symbatch/ops/broadcast.hpp"
#include "symbatch/ops/elemwise/cast.hpp"
#include "symbatch/ops/elemwise/packet_math.hpp"
#include "symbatch/ops/scalar_math.hpp"

namespace symbatch {

/// @brief Which input dtypes an elementwise function accepts and what it returns.
enum class Domain {
  numeric,   ///< f64 or i64 in, same dtype out (add, mul, maximum, abs, ...)
  floating,  ///< f64 in, f64 out (div, exp, log, ...)
  compare,   ///< f64 or i64 in, bool out (lt, eq, ...)
  logical,   ///< bool in, bool out (logical_and, ...)
};

/// @brief The protocol of a scalar function that `Elemwise<Fn>` turns into an op.
///
/// `Fn` is a struct of static members:
/// - `name` (a `const char*` used in messages), `arity` (1 or 2), `domain` (a `Domain`);
/// - `apply(x...)`: the scalar function, for `double` (numeric and floating domains), for
///   `std::int64_t` (numeric and compare) or `bool` (logical); a template covers several;
/// - `grad(inputs, output, output_grad)`: one gradient graph per input (a null `Variable` where
///   disconnected), before un-broadcasting;
/// - optionally `array(x...)`: an Eigen array expression used on contiguous `f64` runs;
/// - optionally `cheap` (recomputing it in a fused loop costs a few cycles), `no_gradient` (a
///   reason string: the op has no gradient) and `scalar_divisor_by_reciprocal`.
template <class Fn>
concept ElementwiseFunction = requires(const std::vector<Variable>& inputs, const Variable& output) {
  { Fn::name } -> std::convertible_to<const char*>;
  { Fn::arity } -> std::convertible_to<int>;
  { Fn::domain } -> std::convertible_to<Domain>;
  { Fn::grad(inputs, output, output) } -> std::same_as<std::vector<Variable>>;
} && (Fn::arity == 1 || Fn::arity == 2);

namespace detail {

template <class Fn>
concept HasArrayForm1 = requires(const Eigen::Map<const Eigen::ArrayXd>& a) { Fn::array(a); };
template <class Fn>
concept HasArrayForm2 = requires(const Eigen::Map<const Eigen::ArrayXd>& a) { Fn::array(a, a); };

/// The gradient of `input` given the gradient `g` of a broadcast result: summed back to the
/// input's shape unless the types show no broadcasting can have happened.
inline Variable unbroadcast(const Variable& g, const Variable& input) {
  if (input.type().shape == g.type().shape && input.type().is_static()) return g;
  return sum_to(g, input);
}


}  // namespace detail

/// @brief The part of an elementwise op that fusion needs: its arity and an `f64` kernel over a
/// run of `count` elements, each argument read with stride 0 (broadcast scalar) or 1.
class ElemwiseKernel {
 public:
  virtual ~ElemwiseKernel() = default;
  virtual int kernel_arity() const = 0;
  /// True when the op maps f64 inputs to an f64 output (so it can join a fused loop).
  virtual bool fusable() const = 0;
  virtual void kernel_f64(const double* const* args, const std::int64_t* strides, double* out, std::int64_t count) const = 0;
  /// True when an element costs a few cycles (add, mul, ...), so recomputing it inside a fused
  /// loop is cheaper than reading a stored result; false for transcendental functions.
  virtual bool cheap() const { return false; }
};

/// @brief An elementwise op defined by a scalar function `Fn` (see `ElementwiseFunction`),
/// with NumPy broadcasting of its one or two inputs.
template <ElementwiseFunction Fn>
class Elemwise final : public Op, public ElemwiseKernel {
 public:
  static constexpr int arity = Fn::arity;

  int kernel_arity() const override { return arity; }
  bool cheap() const override { return requires { Fn::cheap; }; }
  bool fusable() const override {
    return (Fn::domain == Domain::numeric || Fn::domain == Domain::floating) && !requires { Fn::no_gradient; };
  }
  void kernel_f64(const double* const* args, const std::int64_t* strides, double* out, std::int64_t count) const override {
    if constexpr (Fn::domain == Domain::numeric || Fn::domain == Domain::floating) {
      if constexpr (arity == 1) {
        const double* a = args[0];
        if constexpr (detail::HasPacketForm1<Fn>) {
          if (strides[0] == 1) {
            detail::packet_loop<Fn>(a, out, count);
            return;
          }
        }
        if constexpr (detail::HasArrayForm1<Fn>) {
          if (strides[0] == 1) {
            Eigen::Map<Eigen::ArrayXd>(out, count) = Fn::array(Eigen::Map<const Eigen::ArrayXd>(a, count));
            return;
          }
        }
        if (strides[0] == 1) for (std::int64_t k = 0; k < count; ++k) out[k] = Fn::apply(a[k]);
        else for (std::int64_t k = 0; k < count; ++k) out[k] = Fn::apply(a[0]);
      } else {
        const double* a = args[0];
        const double* b = args[1];
        if constexpr (requires { Fn::scalar_divisor_by_reciprocal; }) {
          if (strides[0] && !strides[1]) {
            const double inverse = 1.0 / b[0];
            for (std::int64_t k = 0; k < count; ++k) out[k] = a[k] * inverse;
            return;
          }
        }
        if constexpr (detail::HasPacketForm2<Fn>) {
          if (strides[0] && strides[1]) {
            detail::packet_loop<Fn>(a, b, out, count);
            return;
          }
        }
        if (strides[0] && strides[1]) for (std::int64_t k = 0; k < count; ++k) out[k] = Fn::apply(a[k], b[k]);
        else if (strides[0]) for (std::int64_t k = 0; k < count; ++k) out[k] = Fn::apply(a[k], b[0]);
        else if (strides[1]) for (std::int64_t k = 0; k < count; ++k) out[k] = Fn::apply(a[0], b[k]);
        else for (std::int64_t k = 0; k < count; ++k) out[k] = Fn::apply(a[0], b[0]);
      }
    }
  }

  std::string name() const override { return Fn::name; }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (static_cast<int>(inputs.size()) != arity) throw_invalid(name(), "expected ", arity, " inputs, got ", inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const DType dtype = inputs[i].dtype();
      const bool ok = Fn::domain == Domain::floating ? dtype == DType::f64
                      : Fn::domain == Domain::logical ? dtype == DType::boolean
                                                      : dtype == DType::f64 || dtype == DType::i64;
      if (!ok || dtype != inputs[0].dtype())
        throw_invalid(name(), "input ", i + 1, "/", inputs.size(), " has dtype ", dtype_name(dtype), ", expected ",
                      i > 0 && ok ? dtype_name(inputs[0].dtype()) : expected_dtypes());
    }
    return {Type{output_dtype(inputs[0].dtype()), detail::broadcast_types(name(), inputs)}};
  }

  void perform(InputValues in, OutputValues out, Scratch&) const override {
    switch (in[0]->dtype()) {
      case DType::f64: run<double>(in, *out[0]); break;
      case DType::i64: if constexpr (Fn::domain == Domain::numeric || Fn::domain == Domain::compare) run<std::int64_t>(in, *out[0]); break;
      case DType::boolean: if constexpr (Fn::domain == Domain::logical) run<bool>(in, *out[0]); break;
      default: break;
    }
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override {
    std::vector<InputGrad> result(node.inputs().size());
    if (Fn::domain == Domain::compare || Fn::domain == Domain::logical || node.output(0).dtype() != DType::f64) return result;
    if constexpr (requires { Fn::no_gradient; })
      return std::vector<InputGrad>(node.inputs().size(), InputGrad::undefined(Fn::no_gradient));
    const std::vector<Variable> grads = Fn::grad(node.inputs(), node.output(0), output_grads[0]);
    for (std::size_t i = 0; i < grads.size(); ++i)
      if (grads[i]) result[i] = InputGrad::of(detail::unbroadcast(grads[i], node.input(i)));
    return result;
  }

 private:
  static DType output_dtype(DType input) {
    if constexpr (Fn::domain == Domain::compare || Fn::domain == Domain::logical) return DType::boolean;
    else return input;
  }
  static const char* expected_dtypes() {
    switch (Fn::domain) {
      case Domain::floating: return "f64";
      case Domain::logical: return "bool";
      default: return "f64 or i64";
    }
  }

  template <class T>
  void run(InputValues in, Array& result) const {
    using U = std::conditional_t<Fn::domain == Domain::compare || Fn::domain == Domain::logical, bool, T>;
    // Scalars (a small model's gradient chains are mostly these): the function itself, without
    // the array machinery.
    if (in[0]->rank() == 0 && (arity == 1 || in[arity - 1]->rank() == 0)) {
      const Array& x = *in[0];
      const Array& y = *in[arity - 1];
      result.ensure(dtype_of<U>(), x.shape());
      if constexpr (arity == 1) result.data<U>()[0] = Fn::apply(x.data<T>()[0]);
      else result.data<U>()[0] = Fn::apply(x.data<T>()[0], y.data<T>()[0]);
      return;
    }
    if constexpr (arity == 1) {
      const Array& x = *in[0];
      result.ensure(dtype_of<U>(), x.shape());
      const T* a = x.data<T>();
      U* o = result.data<U>();
      const std::int64_t n = x.size();
      if constexpr (std::is_same_v<T, double> && detail::HasPacketForm1<Fn>) {
        detail::packet_loop<Fn>(a, o, n);
      } else if constexpr (std::is_same_v<T, double> && detail::HasArrayForm1<Fn>) {
        Eigen::Map<Eigen::ArrayXd>(o, n) = Fn::array(Eigen::Map<const Eigen::ArrayXd>(a, n));
      } else {
        for (std::int64_t k = 0; k < n; ++k) o[k] = Fn::apply(a[k]);
      }
    } else {
      const Array& x = *in[0];
      const Array& y = *in[1];
      const Shape shape = x.shape() == y.shape() ? x.shape() : detail::broadcast_shapes<2>(name(), {&x.shape(), &y.shape()});
      result.ensure(dtype_of<U>(), shape);
      const T* a = x.data<T>();
      const T* b = y.data<T>();
      U* o = result.data<U>();
      const std::int64_t n = result.size();
      if constexpr (std::is_same_v<T, double> && detail::HasArrayForm2<Fn>) {
        using Map = Eigen::Map<const Eigen::ArrayXd>;
        if (x.shape() == y.shape()) {
          Eigen::Map<Eigen::ArrayXd>(o, n) = Fn::array(Map(a, n), Map(b, n));
          return;
        }
        if constexpr (requires { Fn::scalar_divisor_by_reciprocal; }) {
          if (y.size() == 1 && x.size() == n) {
            Eigen::Map<Eigen::ArrayXd>(o, n) = Map(a, n) * (1.0 / *b);
            return;
          }
        }
        if (y.size() == 1) {
          Eigen::Map<Eigen::ArrayXd>(o, n) = Fn::array(Map(a, n), Eigen::ArrayXd::Constant(n, *b));
          return;
        }
        if (x.size() == 1) {
          Eigen::Map<Eigen::ArrayXd>(o, n) = Fn::array(Eigen::ArrayXd::Constant(n, *a), Map(b, n));
          return;
        }
      }
      if (x.shape() == y.shape()) {
        if constexpr (std::is_same_v<T, double> && detail::HasPacketForm2<Fn>) detail::packet_loop<Fn>(a, b, o, n);
        else for (std::int64_t k = 0; k < n; ++k) o[k] = Fn::apply(a[k], b[k]);
        return;
      }
      const std::array<std::array<std::int64_t, max_rank>, 2> strides{detail::broadcast_strides(x.shape(), shape),
                                                                       detail::broadcast_strides(y.shape(), shape)};
      detail::broadcast_loop<2>(shape, strides, [&](std::int64_t count, const auto& offsets, const auto& inner) {
        const T* pa = a + offsets[0];
        const T* pb = b + offsets[1];
        U* po = o + offsets[2];
        if (inner[0] && inner[1]) for (std::int64_t k = 0; k < count; ++k) po[k] = Fn::apply(pa[k], pb[k]);
        else if (inner[0]) for (std::int64_t k = 0; k < count; ++k) po[k] = Fn::apply(pa[k], *pb);
        else if (inner[1]) for (std::int64_t k = 0; k < count; ++k) po[k] = Fn::apply(*pa, pb[k]);
        else for (std::int64_t k = 0; k < count; ++k) po[k] = Fn::apply(*pa, *pb);
      });
    }
  }
};

namespace detail {

/// The common dtype of two operands; any floating operand (f64, or f32 read as f64) gives f64.
inline DType promote(DType a, DType b) {
  if (is_floating(a) || is_floating(b)) return DType::f64;
  if (a == DType::i64 || b == DType::i64) return DType::i64;
  return DType::boolean;
}
/// dtype for numeric ops: bool arithmetic is done in i64.
inline DType numeric_dtype(DType a, DType b) {
  const DType dtype = promote(a, b);
  return dtype == DType::boolean ? DType::i64 : dtype;
}

template <class Fn>
Variable binary(const Variable& a, const Variable& b) {
  check_not_null(Fn::name, a, 1, 2);
  check_not_null(Fn::name, b, 2, 2);
  DType dtype = numeric_dtype(a.dtype(), b.dtype());
  if constexpr (Fn::domain == Domain::floating) dtype = DType::f64;
  if constexpr (Fn::domain == Domain::logical) dtype = DType::boolean;
  if (!is_numeric(a.dtype())) throw_invalid(Fn::name, "input 1/2 has dtype ", dtype_name(a.dtype()), ", expected a numeric dtype");
  if (!is_numeric(b.dtype())) throw_invalid(Fn::name, "input 2/2 has dtype ", dtype_name(b.dtype()), ", expected a numeric dtype");
  return make_apply<Elemwise<Fn>>({cast(a, dtype), cast(b, dtype)});
}
template <class Fn>
Variable unary(const Variable& x) {
  check_not_null(Fn::name, x, 1, 1);
  if (!is_numeric(x.dtype())) throw_invalid(Fn::name, "input 1/1 has dtype ", dtype_name(x.dtype()), ", expected a numeric dtype");
  DType dtype = x.dtype() == DType::boolean ? DType::i64 : x.dtype() == DType::f32 ? DType::f64 : x.dtype();
  if constexpr (Fn::domain == Domain::floating) dtype = DType::f64;
  if constexpr (Fn::domain == Domain::logical) dtype = DType::boolean;
  return make_apply<Elemwise<Fn>>({cast(x, dtype)});
}

}  // namespace detail

/// @brief Applies a user's elementwise function `Fn` (see `ElementwiseFunction`) to one input,
/// with the dtype promotion of the built-in functions.
template <ElementwiseFunction Fn>
  requires(Fn::arity == 1)
Variable elemwise(const Variable& x) {
  return detail::unary<Fn>(x);
}
/// @brief Applies a user's elementwise function `Fn` of two inputs, with NumPy broadcasting.
template <ElementwiseFunction Fn>
  requires(Fn::arity == 2)
Variable elemwise(const Variable& a, const Variable& b) {
  return detail::binary<Fn>(a, b);
}

}  // namespace symbatch
