/// @file continuous.hpp
/// @brief Continuous distributions: Normal, HalfNormal, LogNormal, StudentT, Cauchy, HalfCauchy,
/// Laplace, Exponential, Gamma, InverseGamma, Beta, Uniform.
#pragma once

#include <cmath>
#include <numbers>

#include "symbatch/distributions/distribution.hpp"

namespace symbatch {

namespace detail {
inline const double half_log_two_pi = 0.5 * std::log(2 * std::numbers::pi);
inline const double log_pi = std::log(std::numbers::pi);
}

/// @brief @f$ \log p(x) = -\frac{1}{2}\left(\frac{x-\mu}{\sigma}\right)^2 - \log\sigma - \frac{1}{2}\log 2\pi @f$
/// @throws std::domain_error if `sigma` is not positive (now for constants, at call time otherwise).
inline Distribution Normal(Param mu, Param sigma) {
  const Variable m = detail::checked("normal", "Location parameter", mu, detail::CheckParameter::Rule::finite);
  const Variable s = detail::checked("normal", "Scale parameter", sigma, detail::CheckParameter::Rule::positive);
  return {"normal", Support::real, 0, 0, DType::f64, [m, s](const Variable& x) {
            const Variable z = (x - m) / s;
            // The terms that do not depend on x together: one per-element pass fewer when s is a scalar.
            return -0.5 * square(z) - (log(s) + detail::half_log_two_pi);
          }};
}

/// @brief @f$ \log p(x) = \log 2 - \frac{1}{2}\log 2\pi - \log\sigma - \frac{x^2}{2\sigma^2} @f$ for @f$ x \ge 0 @f$, `-inf` below.
inline Distribution HalfNormal(Param sigma) {
  const Variable s = detail::checked("half_normal", "Scale parameter", sigma, detail::CheckParameter::Rule::positive);
  return {"half_normal", Support::positive, 0, 0, DType::f64, [s](const Variable& x) {
            const Variable z = x / s;
            return detail::in_support(ge(x, constant(0.0)), std::log(2.0) - detail::half_log_two_pi - log(s) - 0.5 * square(z));
          }};
}

/// @brief Log of a Normal(`mu`, `sigma`) variable:
/// @f$ \log p(x) = -\log x - \log\sigma - \frac{1}{2}\log 2\pi - \frac{(\log x - \mu)^2}{2\sigma^2} @f$ for @f$ x > 0 @f$,
/// `-inf` for @f$ x \le 0 @f$ (0 is outside the support of observed data).
inline Distribution LogNormal(Param mu, Param sigma) {
  const Variable m = detail::checked("lognormal", "Location parameter", mu, detail::CheckParameter::Rule::finite);
  const Variable s = detail::checked("lognormal", "Scale parameter", sigma, detail::CheckParameter::Rule::positive);
  return {.name = "lognormal", .support = Support::positive, .logp = [m, s](const Variable& x) {
            const Variable log_x = detail::log_of(x);
            const Variable z = (log_x - m) / s;
            return detail::in_support(gt(x, constant(0.0)), -0.5 * square(z) - log_x - (log(s) + detail::half_log_two_pi));
          }, .zero_excluded = true};
}

/// @brief Student's t with `nu` degrees of freedom, location `mu`, scale `sigma`:
/// @f$ \log\Gamma(\frac{\nu+1}{2}) - \log\Gamma(\frac{\nu}{2}) - \frac{1}{2}\log\nu\pi - \log\sigma
/// - \frac{\nu+1}{2}\log(1 + z^2/\nu) @f$ with @f$ z = (x-\mu)/\sigma @f$.
inline Distribution StudentT(Param nu, Param mu, Param sigma) {
  const Variable n = detail::checked("student_t", "Degrees of freedom", nu, detail::CheckParameter::Rule::positive);
  const Variable m = detail::checked("student_t", "Location parameter", mu, detail::CheckParameter::Rule::finite);
  const Variable s = detail::checked("student_t", "Scale parameter", sigma, detail::CheckParameter::Rule::positive);
  return {"student_t", Support::real, 0, 0, DType::f64, [n, m, s](const Variable& x) {
            const Variable z = (x - m) / s;
            const Variable half_n1 = 0.5 * (n + 1.0);
            return detail::lgamma_ratio(0.5 * n, constant(0.5)) - 0.5 * (log(n) + detail::log_pi) - log(s) - half_n1 * log1p(square(z) / n);
          }};
}

/// @brief Cauchy with location `alpha` and scale `beta`: @f$ -\log\pi - \log\beta - \log(1 + z^2) @f$.
inline Distribution Cauchy(Param alpha, Param beta) {
  const Variable a = detail::checked("cauchy", "Location parameter", alpha, detail::CheckParameter::Rule::finite);
  const Variable b = detail::checked("cauchy", "Scale parameter", beta, detail::CheckParameter::Rule::positive);
  return {"cauchy", Support::real, 0, 0, DType::f64,
          [a, b](const Variable& x) { return -detail::log_pi - log(b) - log1p(square((x - a) / b)); }};
}

/// @brief Half-Cauchy with scale `beta`: @f$ \log 2 - \log\pi - \log\beta - \log(1 + (x/\beta)^2) @f$ for @f$ x \ge 0 @f$,
/// `-inf` below.
inline Distribution HalfCauchy(Param beta) {
  const Variable b = detail::checked("half_cauchy", "Scale parameter", beta, detail::CheckParameter::Rule::positive);
  return {"half_cauchy", Support::positive, 0, 0, DType::f64, [b](const Variable& x) {
            return detail::in_support(ge(x, constant(0.0)), std::log(2.0) - detail::log_pi - log(b) - log1p(square(x / b)));
          }};
}

/// @brief Laplace with location `mu` and scale `b`: @f$ -\log 2b - |x - \mu| / b @f$.
inline Distribution Laplace(Param mu, Param b) {
  const Variable m = detail::checked("laplace", "Location parameter", mu, detail::CheckParameter::Rule::finite);
  const Variable s = detail::checked("laplace", "Scale parameter", b, detail::CheckParameter::Rule::positive);
  return {"laplace", Support::real, 0, 0, DType::f64,
          [m, s](const Variable& x) { return -std::log(2.0) - log(s) - abs(x - m) / s; }};
}

/// @brief @f$ \log p(x) = \log\lambda - \lambda x @f$ for @f$ x \ge 0 @f$, `-inf` below.
inline Distribution Exponential(Param lam) {
  const Variable rate = detail::checked("exponential", "Rate parameter", lam, detail::CheckParameter::Rule::positive);
  return {"exponential", Support::positive, 0, 0, DType::f64,
          [rate](const Variable& x) { return detail::in_support(ge(x, constant(0.0)), log(rate) - rate * x); }};
}

/// @brief Gamma with shape `alpha` and rate `beta`:
/// @f$ \alpha\log\beta - \log\Gamma(\alpha) + (\alpha - 1)\log x - \beta x @f$ for @f$ x \ge 0 @f$, `-inf` below.
inline Distribution Gamma(Param alpha, Param beta) {
  const Variable a = detail::checked("gamma", "Shape parameter", alpha, detail::CheckParameter::Rule::positive);
  const Variable b = detail::checked("gamma", "Rate parameter", beta, detail::CheckParameter::Rule::positive);
  return {"gamma", Support::positive, 0, 0, DType::f64, [a, b](const Variable& x) {
            return detail::in_support(ge(x, constant(0.0)), a * log(b) - lgamma(a) + detail::xlogy(a - 1.0, x) - b * x);
          }};
}

/// @brief Inverse gamma with shape `alpha` and scale `beta`:
/// @f$ \alpha\log\beta - \log\Gamma(\alpha) - (\alpha + 1)\log x - \beta / x @f$ for @f$ x > 0 @f$,
/// `-inf` for @f$ x \le 0 @f$ (0 is outside the support of observed data).
inline Distribution InverseGamma(Param alpha, Param beta) {
  const Variable a = detail::checked("inverse_gamma", "Shape parameter", alpha, detail::CheckParameter::Rule::positive);
  const Variable b = detail::checked("inverse_gamma", "Scale parameter", beta, detail::CheckParameter::Rule::positive);
  return {.name = "inverse_gamma", .support = Support::positive, .logp = [a, b](const Variable& x) {
            return detail::in_support(gt(x, constant(0.0)), a * log(b) - lgamma(a) - (a + 1.0) * detail::log_of(x) - b / x);
          }, .zero_excluded = true};
}

/// @brief Beta with shapes `alpha`, `beta`:
/// @f$ \log\Gamma(\alpha+\beta) - \log\Gamma(\alpha) - \log\Gamma(\beta) + (\alpha-1)\log x + (\beta-1)\log(1-x) @f$ on [0, 1],
/// `-inf` outside. For a free variable `x = sigmoid(u)` both logarithms are taken as
/// `log_sigmoid(u)` and `log_sigmoid(-u)` (see `log_of`), exact for any finite `u`.
inline Distribution Beta(Param alpha, Param beta) {
  const Variable a = detail::checked("beta", "Alpha parameter", alpha, detail::CheckParameter::Rule::positive);
  const Variable b = detail::checked("beta", "Beta parameter", beta, detail::CheckParameter::Rule::positive);
  return {"beta", Support::interval, 0, 1, DType::f64, [a, b](const Variable& x) {
            const Variable inside = logical_and(ge(x, constant(0.0)), le(x, constant(1.0)));
            const Variable log_norm = lgamma(a + b) - lgamma(a) - lgamma(b);
            return detail::in_support(inside, log_norm + detail::xlogy(a - 1.0, x) + detail::xlog1my(b - 1.0, x));
          }};
}

/// @brief @f$ \log p(x) = -\log(b - a) @f$ on @f$ [a, b] @f$ (constant bounds), `-inf` outside.
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
