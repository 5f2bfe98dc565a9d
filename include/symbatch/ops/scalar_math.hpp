/// @file scalar_math.hpp
/// @brief Numerically careful scalar functions used by elementwise ops and distributions.
#pragma once

#include <cmath>
#include <limits>
#include <numbers>

namespace symbatch::math {

/// @brief Logistic sigmoid @f$ 1 / (1 + e^{-x}) @f$, without overflow for large @f$ |x| @f$.
inline double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

/// @brief @f$ \log(1 + e^x) @f$, accurate for every @f$ x @f$.
inline double softplus(double x) {
  if (x > 0) return x + std::log1p(std::exp(-x));
  return std::log1p(std::exp(x));
}

/// @brief @f$ \log \sigma(x) = -\mathrm{softplus}(-x) @f$.
inline double log_sigmoid(double x) { return -softplus(-x); }

/// @brief The digamma function @f$ \psi(x) = \frac{d}{dx} \log \Gamma(x) @f$.
///
/// Reflection for negative arguments, recurrence up to @f$ x \ge 12 @f$, then the asymptotic
/// series; accurate to about 1e-15 relative away from the poles. NaN at poles.
inline double digamma(double x) {
  if (std::isnan(x)) return x;
  if (x <= 0 && std::floor(x) == x) return std::numeric_limits<double>::quiet_NaN();
  double result = 0;
  if (x < 0) {  // psi(1 - x) - psi(x) = pi cot(pi x)
    result -= std::numbers::pi / std::tan(std::numbers::pi * x);
    x = 1 - x;
  }
  while (x < 12) {
    result -= 1 / x;
    x += 1;
  }
  const double inv = 1 / x, inv2 = inv * inv;
  const double series =
      inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (1.0 / 240 - inv2 * (1.0 / 132 - inv2 * 691.0 / 32760)))));
  return result + std::log(x) - 0.5 * inv - series;
}

/// @brief The trigamma function @f$ \psi'(x) @f$ (recurrence, then the asymptotic series).
inline double trigamma(double x) {
  if (std::isnan(x)) return x;
  if (x <= 0 && std::floor(x) == x) return std::numeric_limits<double>::quiet_NaN();
  double result = 0;
  if (x < 0) {  // psi'(1 - x) + psi'(x) = pi^2 / sin^2(pi x)
    const double s = std::sin(std::numbers::pi * x);
    return -trigamma(1 - x) + std::numbers::pi * std::numbers::pi / (s * s);
  }
  while (x < 12) {
    result += 1 / (x * x);
    x += 1;
  }
  const double inv = 1 / x, inv2 = inv * inv;
  const double series =
      inv * (1 + inv * (0.5 + inv * (1.0 / 6 - inv2 * (1.0 / 30 - inv2 * (1.0 / 42 - inv2 * (1.0 / 30 - inv2 * 5.0 / 66))))));
  return result + series;
}

}  // namespace symbatch::math
