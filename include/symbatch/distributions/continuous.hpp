/// @file continuous.hpp
/// @brief Continuous distributions: Normal, HalfNormal, Exponential, Uniform.
#pragma once

#include <cmath>
#include <numbers>

#include "symbatch/distributions/distribution.hpp"

namespace symbatch {

namespace detail {
inline const double half_log_two_pi = 0.5 * std::log(2 * std::numbers::pi);
}

/// @brief @f$ \log p(x) = -\frac{1}{2}\left(\frac{x-\mu}{\sigma}\right)^2 - \log\sigma - \frac{1}{2}\log 2\pi @f$
/// @throws std::domain_error if `sigma` is not positive (now for constants, at call time otherwise).
inline Distribution Normal(Param mu, Param sigma) {
  const Variable m = detail::checked("normal", "Location parameter", mu, detail::CheckParameter::Rule::finite);
  const Variable s = detail::checked("normal", "Scale parameter", sigma, detail::CheckParameter::Rule::positive);
  return {"normal", Support::real, 0, 0, DType::f64, [m, s](const Variable& x) {
            const Variable z = (x - m) / s;
            return -0.5 * square(z) - log(s) - detail::half_log_two_pi;
          }};
}

/// @brief @f$ \log p(x) = \log 2 - \frac{1}{2}\log 2\pi - \log\sigma - \frac{x^2}{2\sigma^2} @f$ for @f$ x \ge 0 @f$.
inline Distribution HalfNormal(Param sigma) {
  const Variable s = detail::checked("half_normal", "Scale parameter", sigma, detail::CheckParameter::Rule::positive);
  return {"half_normal", Support::positive, 0, 0, DType::f64, [s](const Variable& x) {
            const Variable z = x / s;
            return detail::in_support(ge(x, constant(0.0)), std::log(2.0) - detail::half_log_two_pi - log(s) - 0.5 * square(z));
          }};
}

/// @brief @f$ \log p(x) = \log\lambda - \lambda x @f$ for @f$ x \ge 0 @f$.
inline Distribution Exponential(Param lam) {
  const Variable rate = detail::checked("exponential", "Rate parameter", lam, detail::CheckParameter::Rule::positive);
  return {"exponential", Support::positive, 0, 0, DType::f64,
          [rate](const Variable& x) { return detail::in_support(ge(x, constant(0.0)), log(rate) - rate * x); }};
}

/// @brief @f$ \log p(x) = -\log(b - a) @f$ on @f$ [a, b] @f$ (constant bounds).
inline Distribution Uniform(double lower, double upper) {
  check_finite("uniform", "Lower bound", lower);
  check_finite("uniform", "Upper bound", upper);
  if (!(lower < upper))
    throw_domain("uniform", "Lower bound is ", detail::format_number(lower), ", but must be below the upper bound ", detail::format_number(upper));
  return {"uniform", Support::interval, lower, upper, DType::f64, [lower, upper](const Variable& x) {
            const Variable inside = logical_and(ge(x, constant(lower)), le(x, constant(upper)));
            return detail::in_support(inside, broadcast_like(constant(-std::log(upper - lower)), x));
          }};
}

}  // namespace symbatch
