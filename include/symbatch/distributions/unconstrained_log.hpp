/// @file unconstrained_log.hpp
/// @brief `log x` and `log(1 - x)` of a transformed value, taken in the unconstrained space.
///
/// A free variable on an interval is `x = a + (b - a) sigmoid(u)`. Once `|u|` passes about 37,
/// `sigmoid(u)` rounds to 1 (or, past about 745, to 0), so a density that takes `log1p(-x)` (or
/// `log x`) gets `-inf` and a NaN gradient, and well before that it loses digits. The helpers
/// here recognise, when the graph is built, a value made by the transform and emit
/// `log_sigmoid(u)` / `log_sigmoid(-u)` instead, so the value and the symbolic gradient are both
/// exact for any finite `u`. Likewise `log(exp(z))` of the log transform is `z`.
#pragma once

#include <cmath>
#include <limits>
#include <optional>

#include "symbatch/ops/elemwise.hpp"

namespace symbatch::detail {

/// The op of `x`'s owner when it is an `OpType`, else null.
template <class OpType>
const OpType* owner_op(const Variable& x) {
  return x && x.owner() ? op_as<OpType>(x.owner()->op()) : nullptr;
}

/// The value of a rank-0 f64 constant.
inline std::optional<double> scalar_constant(const Variable& x) {
  if (!x || !x.is_constant() || x.dtype() != DType::f64 || x.rank() != 0) return std::nullopt;
  return x.constant_value().item();
}

/// `x = offset + scale * sigmoid(argument)`, elementwise, with scalar `offset` and `scale`.
struct ScaledSigmoid {
  Variable argument;
  double offset = 0;
  double scale = 1;
};

/// Recognises `sigmoid(u)`, `c * sigmoid(u)` and `a + c * sigmoid(u)` (either operand order;
/// `a`, `c` rank-0 constants, so they broadcast nothing): the graphs `Transform::backward`
/// builds for an interval.
inline std::optional<ScaledSigmoid> as_scaled_sigmoid(const Variable& x) {
  if (owner_op<Elemwise<SigmoidFn>>(x)) return ScaledSigmoid{x.owner()->input(0), 0, 1};
  auto constant_and_other = [](const Variable& y) -> std::optional<std::pair<double, Variable>> {
    const Variable& first = y.owner()->input(0);
    const Variable& second = y.owner()->input(1);
    if (auto c = scalar_constant(first)) return std::pair{*c, second};
    if (auto c = scalar_constant(second)) return std::pair{*c, first};
    return std::nullopt;
  };
  if (owner_op<Elemwise<MulFn>>(x)) {
    const auto factor = constant_and_other(x);
    if (factor && owner_op<Elemwise<SigmoidFn>>(factor->second)) return ScaledSigmoid{factor->second.owner()->input(0), 0, factor->first};
  }
  if (owner_op<Elemwise<AddFn>>(x)) {
    const auto term = constant_and_other(x);
    if (!term) return std::nullopt;
    if (auto scaled = as_scaled_sigmoid(term->second)) {
      scaled->offset += term->first;
      return scaled;
    }
  }
  return std::nullopt;
}

/// True when every element of `x` lies in [0, 1] by construction (a scaled sigmoid inside the
/// unit interval), so a unit-interval check on it can never fail for a finite argument.
inline bool provably_in_unit_interval(const Variable& x) {
  const auto scaled = as_scaled_sigmoid(x);
  return scaled && scaled->scale > 0 && scaled->offset >= 0 && scaled->offset + scaled->scale <= 1;
}

/// @f$ \log x @f$, taken in the unconstrained space when `x` is a transformed value:
/// `log(exp(z)) = z`, `log(c sigmoid(u)) = log c + log_sigmoid(u)`; `log(x)` otherwise.
inline Variable log_of(const Variable& x) {
  if (owner_op<Elemwise<ExpFn>>(x)) return x.owner()->input(0);
  if (const auto scaled = as_scaled_sigmoid(x); scaled && scaled->offset == 0 && scaled->scale > 0) {
    const Variable log_sigma = log_sigmoid(scaled->argument);
    return scaled->scale == 1 ? log_sigma : std::log(scaled->scale) + log_sigma;
  }
  return log(x);
}

/// @f$ \log(1 - x) @f$, taken in the unconstrained space when `x = a + c sigmoid(u)` with
/// `a + c = 1` (an interval ending at 1; to a few ulps, as `upper - lower` rounds):
/// @f$ 1 - x = c\,\sigma(-u) @f$; `log1p(-x)` otherwise.
inline Variable log1m_of(const Variable& x) {
  const auto scaled = as_scaled_sigmoid(x);
  if (scaled && scaled->scale > 0 && std::abs(scaled->offset + scaled->scale - 1) <= 4 * std::numeric_limits<double>::epsilon()) {
    const Variable log_sigma = log_sigmoid(-scaled->argument);
    return scaled->scale == 1 ? log_sigma : std::log(scaled->scale) + log_sigma;
  }
  return log1p(-x);
}

}  // namespace symbatch::detail
