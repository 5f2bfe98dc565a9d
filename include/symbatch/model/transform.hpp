/// @file transform.hpp
/// @brief Transforms from the real line to a distribution's support, with their log-Jacobians.
#pragma once

#include <cmath>
#include <string>

#include "symbatch/distributions/distribution.hpp"

namespace symbatch {

/// @brief Which transform a free variable uses.
enum class TransformKind {
  automatic,  ///< log for positive supports, log-odds interval for bounded ones, none otherwise
  none,       ///< the value variable is the variable itself
  log,        ///< @f$ x = e^z @f$, @f$ \log|J| = z @f$
  interval,   ///< @f$ x = a + (b - a)\sigma(z) @f$, @f$ \log|J| = \log(b-a) + \log\sigma(z) + \log\sigma(-z) @f$
};

/// @brief A transform with its bounds: maps an unconstrained value `z` to the support and back.
struct Transform {
  TransformKind kind = TransformKind::none;
  double lower = 0, upper = 0;

  /// The transform `automatic` picks for `distribution`.
  static Transform for_distribution(const Distribution& distribution, TransformKind requested) {
    if (requested == TransformKind::automatic) {
      switch (distribution.support) {
        case Support::positive: return {TransformKind::log};
        case Support::interval: return {TransformKind::interval, distribution.lower, distribution.upper};
        default: return {TransformKind::none};
      }
    }
    if (requested == TransformKind::interval) return {TransformKind::interval, distribution.lower, distribution.upper};
    return {requested};
  }
  /// Suffix of the value variable's name, as PyMC names them (`sigma_log__`).
  std::string suffix() const {
    switch (kind) {
      case TransformKind::log: return "_log__";
      case TransformKind::interval: return "_interval__";
      default: return "";
    }
  }
  /// The constrained value of `z` (a graph). The interval's is built as `sigmoid(z)`,
  /// `c * sigmoid(z)` or `a + c * sigmoid(z)` (no `0 +`, no `1 *`), the forms `log_of` and
  /// `log1m_of` recognise, so a density takes `log x` and `log(1 - x)` as log-sigmoids of `z`.
  Variable backward(const Variable& z) const {
    switch (kind) {
      case TransformKind::log: return exp(z);
      case TransformKind::interval: {
        const double width = upper - lower;
        const Variable scaled = width == 1 ? sigmoid(z) : width * sigmoid(z);
        return lower == 0 ? scaled : lower + scaled;
      }
      default: return z;
    }
  }
  /// @f$ \log |dx/dz| @f$, elementwise (a graph).
  Variable log_jacobian(const Variable& z) const {
    switch (kind) {
      case TransformKind::log: return z;
      case TransformKind::interval: return std::log(upper - lower) + log_sigmoid(z) + log_sigmoid(-z);
      default: return zeros_like(z);
    }
  }
  /// The unconstrained value of a constrained number (for initial points).
  double forward(double x) const {
    switch (kind) {
      case TransformKind::log: return std::log(x);
      case TransformKind::interval: {
        const double u = (x - lower) / (upper - lower);
        return std::log(u / (1 - u));
      }
      default: return x;
    }
  }
};

}  // namespace symbatch
