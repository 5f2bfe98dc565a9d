/// @file elemwise.hpp
/// @brief Elementwise ops with NumPy broadcasting: arithmetic, transcendental functions,
/// comparisons, logical ops, `where` and `cast`, with their gradients.
///
/// Factories promote mixed dtypes the NumPy way before building the op (`i64 + f64` casts the
/// integer to `f64`; bool arithmetic becomes `i64`; floating functions cast integers to `f64`),
/// so every kernel sees inputs of one dtype. A null (default-constructed) input throws
/// `std::invalid_argument`: `add: input 1/2 is a null variable`.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <string_view>

#include "symbatch/ops/broadcast.hpp"
#include "symbatch/ops/scalar_math.hpp"

namespace symbatch {

/// @brief Which input dtypes an elementwise function accepts and what it returns.
enum class Domain {
  numeric,   ///< f64 or i64 in, same dtype out (add, mul, maximum, abs, ...)
  floating,  ///< f64 in, f64 out (div, exp, log, ...)
  compare,   ///< f64 or i64 in, bool out (lt, eq, ...)
  logical,   ///< bool in, bool out (logical_and, ...)
};

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

/// Throws `std::invalid_argument` when input `index` (of `count`) of `function` is a null
/// (default-constructed) variable: `add: input 1/2 is a null variable`.
inline void check_not_null(std::string_view function, const Variable& x, int index, int count) {
  if (!x) throw_invalid(function, "input ", index, "/", count, " is a null variable");
}

}  // namespace detail

/// @brief An elementwise op defined by a scalar function `Fn` of `Fn::arity` (1 or 2) inputs.
///
/// `Fn` supplies `name`, `arity`, `domain`, `apply(x...)` for each accepted element type,
/// optionally an Eigen array form `array(x...)` used on contiguous `f64` runs, and
/// `grad(inputs, output, output_grad)` returning one gradient per input (null if disconnected).
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

template <class Fn>
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
    if constexpr (arity == 1) {
      const Array& x = *in[0];
      result.ensure(dtype_of<U>(), x.shape());
      const T* a = x.data<T>();
      U* o = result.data<U>();
      const std::int64_t n = x.size();
      if constexpr (std::is_same_v<T, double> && detail::HasArrayForm1<Fn>) {
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
        for (std::int64_t k = 0; k < n; ++k) o[k] = Fn::apply(a[k], b[k]);
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

/// @brief `cast(x, dtype)`: converts elements (f64 to i64 truncates toward zero, as NumPy's
/// `astype`; anything to bool is `x != 0`). Gradient flows only from f64 to f64.
class Cast final : public Op {
 public:
  explicit Cast(DType dtype) : dtype_(dtype) {}
  std::string name() const override { return "cast"; }
  std::string describe() const override { return "cast{" + std::string(dtype_name(dtype_)) + "}"; }
  DType dtype() const { return dtype_; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 1) throw_invalid(name(), "expected 1 input, got ", inputs.size());
    if (!is_numeric(inputs[0].dtype()) || !is_numeric(dtype_))
      throw_invalid(name(), "cannot cast ", dtype_name(inputs[0].dtype()), " to ", dtype_name(dtype_));
    return {Type{dtype_, inputs[0].type().shape}};
  }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& x = *in[0];
    Array& result = *out[0];
    if (x.dtype() == dtype_) {
      result = x;
      return;
    }
    result.ensure(dtype_, x.shape());
    const std::int64_t n = x.size();
    switch (dtype_) {
      case DType::f64: convert<double>(x, result.data<double>(), n); break;
      case DType::i64: convert<std::int64_t>(x, result.data<std::int64_t>(), n); break;
      case DType::boolean: convert<bool>(x, result.data<bool>(), n); break;
      default: break;
    }
  }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override {
    if (dtype_ == DType::f64 && node.input(0).dtype() == DType::f64) return {InputGrad::of(output_grads[0])};
    return {InputGrad::disconnected()};
  }
  std::optional<int> view_of(int) const override { return 0; }
  bool equals(const Op& other) const override {
    auto* cast = dynamic_cast<const Cast*>(&other);
    return cast && cast->dtype_ == dtype_;
  }
  std::size_t hash() const override { return Op::hash() ^ static_cast<std::size_t>(dtype_); }

 private:
  template <class U>
  static void convert(const Array& x, U* out, std::int64_t n) {
    switch (x.dtype()) {
      case DType::f64: { const double* p = x.data<double>(); for (std::int64_t k = 0; k < n; ++k) out[k] = static_cast<U>(p[k]); break; }
      case DType::i64: { const std::int64_t* p = x.data<std::int64_t>(); for (std::int64_t k = 0; k < n; ++k) out[k] = static_cast<U>(p[k]); break; }
      case DType::boolean: { const bool* p = x.data<bool>(); for (std::int64_t k = 0; k < n; ++k) out[k] = static_cast<U>(p[k]); break; }
      default: break;
    }
  }
  DType dtype_;
};

/// @brief Converts `x` to `dtype` (no node when it already has that dtype; constants are
/// converted directly).
inline Variable cast(const Variable& x, DType dtype) {
  detail::check_not_null("cast", x, 1, 1);
  if (x.dtype() == dtype) return x;
  if (x.is_constant() && is_numeric(x.dtype()) && is_numeric(dtype)) {
    const Array& value = x.constant_value();
    Array converted = Array::empty(dtype, value.shape());
    for (std::int64_t k = 0; k < value.size(); ++k) {
      switch (dtype) {
        case DType::f64: converted.data<double>()[k] = value.flat<double>(k); break;
        case DType::i64: converted.data<std::int64_t>()[k] = value.flat<std::int64_t>(k); break;
        case DType::boolean: converted.data<bool>()[k] = value.flat<double>(k) != 0; break;
        default: break;
      }
    }
    return constant(std::move(converted));
  }
  return make_apply<Cast>({x}, dtype);
}

// ---------------------------------------------------------------------------------------------
// Factories (declared first: gradient rules are graphs built from them).

Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable neg(const Variable& x);
Variable exp(const Variable& x);
Variable log(const Variable& x);
Variable log1p(const Variable& x);
Variable expm1(const Variable& x);
Variable sqrt(const Variable& x);
Variable square(const Variable& x);
Variable abs(const Variable& x);
Variable sign(const Variable& x);
Variable pow(const Variable& a, const Variable& b);
Variable sigmoid(const Variable& x);
Variable softplus(const Variable& x);
Variable log_sigmoid(const Variable& x);
Variable lgamma(const Variable& x);
Variable digamma(const Variable& x);
Variable trigamma(const Variable& x);
Variable maximum(const Variable& a, const Variable& b);
Variable minimum(const Variable& a, const Variable& b);
Variable lt(const Variable& a, const Variable& b);
Variable le(const Variable& a, const Variable& b);
Variable gt(const Variable& a, const Variable& b);
Variable ge(const Variable& a, const Variable& b);
Variable eq(const Variable& a, const Variable& b);
Variable neq(const Variable& a, const Variable& b);
Variable where(const Variable& condition, const Variable& a, const Variable& b);
Variable zeros_like(const Variable& x);

namespace detail {

using Grads = std::vector<Variable>;
using Inputs = std::vector<Variable>;

#define SYMBATCH_ELEMWISE_HEADER(NAME, ARITY, DOMAIN)          \
  static constexpr const char* name = #NAME;                   \
  static constexpr int arity = ARITY;                          \
  static constexpr Domain domain = Domain::DOMAIN;              \
  static Grads grad(const Inputs& x, const Variable& out, const Variable& g);

struct AddFn {
  SYMBATCH_ELEMWISE_HEADER(add, 2, numeric)
  static constexpr bool cheap = true;
  template <class T> static T apply(T a, T b) { return a + b; }
  static auto array(const auto& a, const auto& b) { return a + b; }
};
struct SubFn {
  SYMBATCH_ELEMWISE_HEADER(sub, 2, numeric)
  static constexpr bool cheap = true;
  template <class T> static T apply(T a, T b) { return a - b; }
  static auto array(const auto& a, const auto& b) { return a - b; }
};
struct MulFn {
  SYMBATCH_ELEMWISE_HEADER(mul, 2, numeric)
  static constexpr bool cheap = true;
  template <class T> static T apply(T a, T b) { return a * b; }
  static auto array(const auto& a, const auto& b) { return a * b; }
};
struct DivFn {
  SYMBATCH_ELEMWISE_HEADER(div, 2, floating)
  static constexpr bool cheap = true;
  /// Division of an array by one scalar multiplies by its reciprocal (one division, not one
  /// per element; the result may differ from `a / b` in the last bit).
  static constexpr bool scalar_divisor_by_reciprocal = true;
  static double apply(double a, double b) { return a / b; }
  static auto array(const auto& a, const auto& b) { return a / b; }
};
struct PowFn {
  SYMBATCH_ELEMWISE_HEADER(pow, 2, floating)
  static double apply(double a, double b) { return std::pow(a, b); }
};
struct MaximumFn {
  SYMBATCH_ELEMWISE_HEADER(maximum, 2, numeric)
  static constexpr bool cheap = true;
  template <class T> static T apply(T a, T b) { return (a != a || a > b) ? a : b; }  // NaN propagates
};
struct MinimumFn {
  SYMBATCH_ELEMWISE_HEADER(minimum, 2, numeric)
  static constexpr bool cheap = true;
  template <class T> static T apply(T a, T b) { return (a != a || a < b) ? a : b; }
};
struct NegFn {
  SYMBATCH_ELEMWISE_HEADER(neg, 1, numeric)
  static constexpr bool cheap = true;
  template <class T> static T apply(T a) { return -a; }
};
struct AbsFn {
  SYMBATCH_ELEMWISE_HEADER(abs, 1, numeric)
  static constexpr bool cheap = true;
  template <class T> static T apply(T a) { return a < 0 ? -a : a; }
};
struct SignFn {
  SYMBATCH_ELEMWISE_HEADER(sign, 1, numeric)
  template <class T> static T apply(T a) { return a != a ? a : static_cast<T>((a > 0) - (a < 0)); }
};
struct SquareFn {
  SYMBATCH_ELEMWISE_HEADER(square, 1, numeric)
  static constexpr bool cheap = true;
  template <class T> static T apply(T a) { return a * a; }
};
struct ExpFn {
  SYMBATCH_ELEMWISE_HEADER(exp, 1, floating)
  static double apply(double a) { return std::exp(a); }
  static auto array(const auto& a) { return a.exp(); }
};
struct LogFn {
  SYMBATCH_ELEMWISE_HEADER(log, 1, floating)
  static double apply(double a) { return std::log(a); }
  static auto array(const auto& a) { return a.log(); }
};
struct Log1pFn {
  SYMBATCH_ELEMWISE_HEADER(log1p, 1, floating)
  static double apply(double a) { return std::log1p(a); }
};
struct Expm1Fn {
  SYMBATCH_ELEMWISE_HEADER(expm1, 1, floating)
  static double apply(double a) { return std::expm1(a); }
};
struct SqrtFn {
  SYMBATCH_ELEMWISE_HEADER(sqrt, 1, floating)
  static double apply(double a) { return std::sqrt(a); }
  static auto array(const auto& a) { return a.sqrt(); }
};
struct SigmoidFn {
  SYMBATCH_ELEMWISE_HEADER(sigmoid, 1, floating)
  static double apply(double a) { return math::sigmoid(a); }
};
struct SoftplusFn {
  SYMBATCH_ELEMWISE_HEADER(softplus, 1, floating)
  static double apply(double a) { return math::softplus(a); }
};
struct LogSigmoidFn {
  SYMBATCH_ELEMWISE_HEADER(log_sigmoid, 1, floating)
  static double apply(double a) { return math::log_sigmoid(a); }
};
struct LgammaFn {
  SYMBATCH_ELEMWISE_HEADER(lgamma, 1, floating)
  static double apply(double a) { return std::lgamma(a); }
};
struct DigammaFn {
  SYMBATCH_ELEMWISE_HEADER(digamma, 1, floating)
  static double apply(double a) { return math::digamma(a); }
};
struct TrigammaFn {
  SYMBATCH_ELEMWISE_HEADER(trigamma, 1, floating)
  static constexpr const char* no_gradient = "trigamma has no gradient in symbatch (it would need the tetragamma function)";
  static double apply(double a) { return math::trigamma(a); }
};
#define SYMBATCH_COMPARE(NAME, EXPR)                                   \
  struct NAME##Fn {                                                     \
    SYMBATCH_ELEMWISE_HEADER(NAME, 2, compare)                          \
    template <class T> static bool apply(T a, T b) { return EXPR; }     \
  };
SYMBATCH_COMPARE(lt, a < b)
SYMBATCH_COMPARE(le, a <= b)
SYMBATCH_COMPARE(gt, a > b)
SYMBATCH_COMPARE(ge, a >= b)
SYMBATCH_COMPARE(eq, a == b)
SYMBATCH_COMPARE(neq, a != b)
#undef SYMBATCH_COMPARE
struct LogicalAndFn {
  SYMBATCH_ELEMWISE_HEADER(logical_and, 2, logical)
  static bool apply(bool a, bool b) { return a && b; }
};
struct LogicalOrFn {
  SYMBATCH_ELEMWISE_HEADER(logical_or, 2, logical)
  static bool apply(bool a, bool b) { return a || b; }
};
struct LogicalNotFn {
  SYMBATCH_ELEMWISE_HEADER(logical_not, 1, logical)
  static bool apply(bool a) { return !a; }
};
#undef SYMBATCH_ELEMWISE_HEADER

inline DType promote(DType a, DType b) {
  if (a == DType::f64 || b == DType::f64) return DType::f64;
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
  DType dtype = x.dtype() == DType::boolean ? DType::i64 : x.dtype();
  if constexpr (Fn::domain == Domain::floating) dtype = DType::f64;
  if constexpr (Fn::domain == Domain::logical) dtype = DType::boolean;
  return make_apply<Elemwise<Fn>>({cast(x, dtype)});
}

}  // namespace detail

/// @name Elementwise arithmetic and functions (NumPy broadcasting; see `Elemwise`).
/// @{
inline Variable add(const Variable& a, const Variable& b) { return detail::binary<detail::AddFn>(a, b); }
inline Variable sub(const Variable& a, const Variable& b) { return detail::binary<detail::SubFn>(a, b); }
inline Variable mul(const Variable& a, const Variable& b) { return detail::binary<detail::MulFn>(a, b); }
/// True division: integers are converted to f64.
inline Variable div(const Variable& a, const Variable& b) { return detail::binary<detail::DivFn>(a, b); }
inline Variable pow(const Variable& a, const Variable& b) { return detail::binary<detail::PowFn>(a, b); }
/// Elementwise maximum; NaN propagates. Gradient goes to `a` where `a >= b`.
inline Variable maximum(const Variable& a, const Variable& b) { return detail::binary<detail::MaximumFn>(a, b); }
inline Variable minimum(const Variable& a, const Variable& b) { return detail::binary<detail::MinimumFn>(a, b); }
inline Variable neg(const Variable& x) { return detail::unary<detail::NegFn>(x); }
inline Variable abs(const Variable& x) { return detail::unary<detail::AbsFn>(x); }
inline Variable sign(const Variable& x) { return detail::unary<detail::SignFn>(x); }
inline Variable square(const Variable& x) { return detail::unary<detail::SquareFn>(x); }
inline Variable exp(const Variable& x) { return detail::unary<detail::ExpFn>(x); }
inline Variable log(const Variable& x) { return detail::unary<detail::LogFn>(x); }
inline Variable log1p(const Variable& x) { return detail::unary<detail::Log1pFn>(x); }
inline Variable expm1(const Variable& x) { return detail::unary<detail::Expm1Fn>(x); }
inline Variable sqrt(const Variable& x) { return detail::unary<detail::SqrtFn>(x); }
/// @f$ \sigma(x) = 1 / (1 + e^{-x}) @f$
inline Variable sigmoid(const Variable& x) { return detail::unary<detail::SigmoidFn>(x); }
/// @f$ \log(1 + e^x) @f$
inline Variable softplus(const Variable& x) { return detail::unary<detail::SoftplusFn>(x); }
/// @f$ \log \sigma(x) @f$
inline Variable log_sigmoid(const Variable& x) { return detail::unary<detail::LogSigmoidFn>(x); }
inline Variable lgamma(const Variable& x) { return detail::unary<detail::LgammaFn>(x); }
inline Variable digamma(const Variable& x) { return detail::unary<detail::DigammaFn>(x); }
/// Trigamma @f$ \psi'(x) @f$; it has no gradient.
inline Variable trigamma(const Variable& x) { return detail::unary<detail::TrigammaFn>(x); }
inline Variable lt(const Variable& a, const Variable& b) { return detail::binary<detail::ltFn>(a, b); }
inline Variable le(const Variable& a, const Variable& b) { return detail::binary<detail::leFn>(a, b); }
inline Variable gt(const Variable& a, const Variable& b) { return detail::binary<detail::gtFn>(a, b); }
inline Variable ge(const Variable& a, const Variable& b) { return detail::binary<detail::geFn>(a, b); }
inline Variable eq(const Variable& a, const Variable& b) { return detail::binary<detail::eqFn>(a, b); }
inline Variable neq(const Variable& a, const Variable& b) { return detail::binary<detail::neqFn>(a, b); }
inline Variable logical_and(const Variable& a, const Variable& b) { return detail::binary<detail::LogicalAndFn>(a, b); }
inline Variable logical_or(const Variable& a, const Variable& b) { return detail::binary<detail::LogicalOrFn>(a, b); }
inline Variable logical_not(const Variable& x) { return detail::unary<detail::LogicalNotFn>(x); }
/// @}

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

// ---------------------------------------------------------------------------------------------
// Gradient rules: d cost / d input = g * (d out / d input), before un-broadcasting.

namespace detail {
inline Grads AddFn::grad(const Inputs&, const Variable&, const Variable& g) { return {g, g}; }
inline Grads SubFn::grad(const Inputs&, const Variable&, const Variable& g) { return {g, neg(g)}; }
inline Grads MulFn::grad(const Inputs& x, const Variable&, const Variable& g) { return {mul(g, x[1]), mul(g, x[0])}; }
inline Grads DivFn::grad(const Inputs& x, const Variable& out, const Variable& g) {
  return {div(g, x[1]), neg(div(mul(g, out), x[1]))};
}
inline Grads PowFn::grad(const Inputs& x, const Variable& out, const Variable& g) {
  return {mul(g, mul(x[1], pow(x[0], sub(x[1], constant(1.0))))), mul(g, mul(out, log(x[0])))};
}
inline Grads MaximumFn::grad(const Inputs& x, const Variable&, const Variable& g) {
  const Variable zero = constant(0.0);
  const Variable first = ge(x[0], x[1]);
  return {where(first, g, zero), where(first, zero, g)};
}
inline Grads MinimumFn::grad(const Inputs& x, const Variable&, const Variable& g) {
  const Variable zero = constant(0.0);
  const Variable first = le(x[0], x[1]);
  return {where(first, g, zero), where(first, zero, g)};
}
inline Grads NegFn::grad(const Inputs&, const Variable&, const Variable& g) { return {neg(g)}; }
inline Grads AbsFn::grad(const Inputs& x, const Variable&, const Variable& g) { return {mul(g, sign(x[0]))}; }
inline Grads SignFn::grad(const Inputs& x, const Variable&, const Variable&) { return {zeros_like(x[0])}; }
inline Grads SquareFn::grad(const Inputs& x, const Variable&, const Variable& g) { return {mul(g, mul(constant(2.0), x[0]))}; }
inline Grads ExpFn::grad(const Inputs&, const Variable& out, const Variable& g) { return {mul(g, out)}; }
inline Grads LogFn::grad(const Inputs& x, const Variable&, const Variable& g) { return {div(g, x[0])}; }
inline Grads Log1pFn::grad(const Inputs& x, const Variable&, const Variable& g) { return {div(g, add(x[0], constant(1.0)))}; }
inline Grads Expm1Fn::grad(const Inputs&, const Variable& out, const Variable& g) { return {mul(g, add(out, constant(1.0)))}; }
inline Grads SqrtFn::grad(const Inputs&, const Variable& out, const Variable& g) { return {div(mul(g, constant(0.5)), out)}; }
inline Grads SigmoidFn::grad(const Inputs&, const Variable& out, const Variable& g) {
  return {mul(g, mul(out, sub(constant(1.0), out)))};
}
inline Grads SoftplusFn::grad(const Inputs& x, const Variable&, const Variable& g) { return {mul(g, sigmoid(x[0]))}; }
inline Grads LogSigmoidFn::grad(const Inputs& x, const Variable&, const Variable& g) { return {mul(g, sigmoid(neg(x[0])))}; }
inline Grads LgammaFn::grad(const Inputs& x, const Variable&, const Variable& g) { return {mul(g, digamma(x[0]))}; }
inline Grads DigammaFn::grad(const Inputs& x, const Variable&, const Variable& g) { return {mul(g, trigamma(x[0]))}; }
inline Grads TrigammaFn::grad(const Inputs&, const Variable&, const Variable&) { return {}; }
inline Grads ltFn::grad(const Inputs&, const Variable&, const Variable&) { return {{}, {}}; }
inline Grads leFn::grad(const Inputs&, const Variable&, const Variable&) { return {{}, {}}; }
inline Grads gtFn::grad(const Inputs&, const Variable&, const Variable&) { return {{}, {}}; }
inline Grads geFn::grad(const Inputs&, const Variable&, const Variable&) { return {{}, {}}; }
inline Grads eqFn::grad(const Inputs&, const Variable&, const Variable&) { return {{}, {}}; }
inline Grads neqFn::grad(const Inputs&, const Variable&, const Variable&) { return {{}, {}}; }
inline Grads LogicalAndFn::grad(const Inputs&, const Variable&, const Variable&) { return {{}, {}}; }
inline Grads LogicalOrFn::grad(const Inputs&, const Variable&, const Variable&) { return {{}, {}}; }
inline Grads LogicalNotFn::grad(const Inputs&, const Variable&, const Variable&) { return {{}}; }
}  // namespace detail

/// @name Operators on variables; a `double` operand becomes a constant.
/// @{
inline Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
inline Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
inline Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
inline Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
inline Variable operator-(const Variable& x) { return neg(x); }
inline Variable operator+(const Variable& a, double b) { return add(a, constant(b)); }
inline Variable operator-(const Variable& a, double b) { return sub(a, constant(b)); }
inline Variable operator*(const Variable& a, double b) { return mul(a, constant(b)); }
inline Variable operator/(const Variable& a, double b) { return div(a, constant(b)); }
inline Variable operator+(double a, const Variable& b) { return add(constant(a), b); }
inline Variable operator-(double a, const Variable& b) { return sub(constant(a), b); }
inline Variable operator*(double a, const Variable& b) { return mul(constant(a), b); }
inline Variable operator/(double a, const Variable& b) { return div(constant(a), b); }
/// @}

}  // namespace symbatch
