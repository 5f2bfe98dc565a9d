/// @file math.hpp
/// @brief The catalogue of elementwise functions (arithmetic, transcendental functions,
/// comparisons, logical ops) with their gradient rules, their factories and the operators on
/// variables, as PyTensor's `tensor/math`.
///
/// Integer arithmetic is checked: an i64 result that overflows throws `std::domain_error`
/// naming the op (`add: integer overflow in 9223372036854775807 + 1`) instead of wrapping.
#pragma once

#include <cmath>
#include <cstdint>

#include "symbatch/ops/elemwise/kernel.hpp"
#include "symbatch/ops/elemwise/where.hpp"

namespace symbatch {

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

namespace detail {

/// `a op b` for i64 with overflow detection (`op` is `+`, `-` or `*`).
template <char Symbol>
std::int64_t checked_integer(const char* function, std::int64_t a, std::int64_t b) {
  std::int64_t result;
  const bool overflow = Symbol == '+' ? __builtin_add_overflow(a, b, &result)
                        : Symbol == '-' ? __builtin_sub_overflow(a, b, &result)
                                        : __builtin_mul_overflow(a, b, &result);
  if (overflow) throw_domain(function, "integer overflow in ", a, " ", Symbol, " ", b);
  return result;
}


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
  static double apply(double a, double b) { return a + b; }
  static std::int64_t apply(std::int64_t a, std::int64_t b) { return checked_integer<'+'>(name, a, b); }
  static auto array(const auto& a, const auto& b) { return a + b; }
};
struct SubFn {
  SYMBATCH_ELEMWISE_HEADER(sub, 2, numeric)
  static constexpr bool cheap = true;
  static double apply(double a, double b) { return a - b; }
  static std::int64_t apply(std::int64_t a, std::int64_t b) { return checked_integer<'-'>(name, a, b); }
  static auto array(const auto& a, const auto& b) { return a - b; }
};
struct MulFn {
  SYMBATCH_ELEMWISE_HEADER(mul, 2, numeric)
  static constexpr bool cheap = true;
  static double apply(double a, double b) { return a * b; }
  static std::int64_t apply(std::int64_t a, std::int64_t b) { return checked_integer<'*'>(name, a, b); }
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
  static double apply(double a) { return -a; }
  static std::int64_t apply(std::int64_t a) { return checked_integer<'-'>(name, 0, a); }
};
struct AbsFn {
  SYMBATCH_ELEMWISE_HEADER(abs, 1, numeric)
  static constexpr bool cheap = true;
  static double apply(double a) { return a < 0 ? -a : a; }
  static std::int64_t apply(std::int64_t a) { return a < 0 ? checked_integer<'-'>(name, 0, a) : a; }
};
struct SignFn {
  SYMBATCH_ELEMWISE_HEADER(sign, 1, numeric)
  template <class T> static T apply(T a) { return a != a ? a : static_cast<T>((a > 0) - (a < 0)); }
};
struct SquareFn {
  SYMBATCH_ELEMWISE_HEADER(square, 1, numeric)
  static constexpr bool cheap = true;
  static double apply(double a) { return a * a; }
  static std::int64_t apply(std::int64_t a) { return checked_integer<'*'>(name, a, a); }
};
struct ExpFn {
  SYMBATCH_ELEMWISE_HEADER(exp, 1, floating)
  static double apply(double a) { return std::exp(a); }
  static auto packet(const auto& a) { return detail::packet::exp(a); }
};
struct LogFn {
  SYMBATCH_ELEMWISE_HEADER(log, 1, floating)
  static double apply(double a) { return std::log(a); }
  static auto packet(const auto& a) { return detail::packet::log(a); }
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
  static auto packet(const auto& a) { return detail::packet::sqrt(a); }
};
struct SigmoidFn {
  SYMBATCH_ELEMWISE_HEADER(sigmoid, 1, floating)
  static double apply(double a) { return math::sigmoid(a); }
  static auto packet(const auto& a) { return detail::packet::sigmoid(a); }
};
struct SoftplusFn {
  SYMBATCH_ELEMWISE_HEADER(softplus, 1, floating)
  static double apply(double a) { return math::softplus(a); }
  static auto packet(const auto& a) { return detail::packet::softplus(a); }
};
struct LogSigmoidFn {
  SYMBATCH_ELEMWISE_HEADER(log_sigmoid, 1, floating)
  static double apply(double a) { return math::log_sigmoid(a); }
  static auto packet(const auto& a) { return detail::packet::log_sigmoid(a); }
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
// (g * 2) * x rather than g * (2 * x): the same bits (doubling is exact), and where g is one
// value broadcast over the loop (a scaled sum's gradient) the product g * 2 is taken once.
inline Grads SquareFn::grad(const Inputs& x, const Variable&, const Variable& g) { return {mul(mul(g, constant(2.0)), x[0])}; }
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
