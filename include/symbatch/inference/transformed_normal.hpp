/// @file transformed_normal.hpp
/// @brief Mean and standard deviation of @f$ g(\mu + \sigma Z) @f$, @f$ Z \sim N(0, 1) @f$, for a
/// free variable's transform @f$ g @f$ (identity, exp, scaled logistic): the constrained moments of
/// one coordinate of a Gaussian approximation, without Monte Carlo.
///
/// - identity: @f$ \mu, \sigma @f$ (exact);
/// - log transform, @f$ g = \exp @f$: the log-normal moments
///   @f$ m = e^{\mu + \sigma^2/2} @f$, @f$ s = m \sqrt{e^{\sigma^2} - 1} @f$ (closed form);
/// - interval @f$ (a, b) @f$, @f$ g = a + (b - a)\,\mathrm{logistic} @f$: no closed form, so the
///   trapezoid rule in @f$ z @f$ (quadrature).
///
/// Why the trapezoid rule and not Gauss-Hermite: the logistic function has poles at
/// @f$ x = \pm i\pi @f$, i.e. at @f$ \mathrm{Im}\, z = \pm\pi/\sigma @f$, and a Gauss-Hermite rule of
/// n points converges like @f$ e^{-2\pi\sqrt n / \sigma} @f$: measured against mpmath, n = 300 (the
/// largest rule `gauss_hermite` builds) leaves relative errors of 1e-10 at @f$ \sigma = 4 @f$ and
/// 1e-4 at @f$ \sigma = 10 @f$. The trapezoid rule with step h on the real line converges like
/// @f$ e^{-2\pi a/h} @f$ for an integrand analytic in the strip @f$ |\mathrm{Im}\, z| < a @f$
/// (Trefethen and Weideman 2014, "The exponentially convergent trapezoidal rule", SIAM Review 56):
/// with @f$ h = \min(0.5, 0.4/\sigma) @f$ the pole term is @f$ e^{-2\pi^2/0.4} \approx 4\cdot10^{-22} @f$
/// and the Gaussian's own term (for @f$ z^2\varphi @f$, about @f$ (2\pi/h)^2 e^{-2\pi^2/h^2} @f$) below
/// 1e-30; nodes cover @f$ |z| \le 12 @f$, because for a mean far in the logistic's tail the mass
/// of @f$ g^2\varphi @f$ moves out to @f$ z \approx 2 @f$ and beyond (with 9, the case
/// @f$ \mu = -12, \sigma = 1 @f$ lost 3e-14 of its sd). Measured against mpmath for
/// @f$ \sigma \in [10^{-6}, 100] @f$: mean within 5e-16 and sd within 2.1e-15 relative (see
/// tests/inference/transformed_normal.test.cpp), with 49 nodes for @f$ \sigma \le 0.8 @f$ and
/// about @f$ 60\sigma @f$ above. For @f$ \sigma > 100 @f$ the node count is capped at 6,001 (the
/// step grows past @f$ 0.4/\sigma @f$ and the error with it: a logit-scale sd above 100 describes
/// a variable pinned at its bounds, not a fit).
/// The integrand is the difference @f$ \mathrm{logistic}(\mu + \sigma z) - \mathrm{logistic}(\mu) @f$,
/// computed without cancellation, so small @f$ \sigma @f$ keep their relative accuracy.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "symbatch/model/transform.hpp"

namespace symbatch {

/// @brief How a constrained moment was computed.
enum class MomentMethod {
  exact,        ///< untransformed: the Gaussian's own mean and sd
  closed_form,  ///< log transform: log-normal moments
  quadrature,   ///< interval transform: the trapezoid rule (relative error below ~1e-14)
};

/// @brief The method's name, for printing: `exact`, `closed_form`, `quadrature`.
inline const char* moment_method_name(MomentMethod method) {
  switch (method) {
    case MomentMethod::exact: return "exact";
    case MomentMethod::closed_form: return "closed_form";
    default: return "quadrature";
  }
}

/// @brief Mean, standard deviation and method of a transformed normal coordinate.
struct TransformedMoments {
  double mean;
  double sd;
  MomentMethod method;
};

/// @brief The method `transformed_normal_moments` uses for `kind`.
inline MomentMethod moment_method(TransformKind kind) {
  switch (kind) {
    case TransformKind::log: return MomentMethod::closed_form;
    case TransformKind::interval: return MomentMethod::quadrature;
    default: return MomentMethod::exact;
  }
}

/// @brief The constrained value of an unconstrained number `z` under `transform` (the numeric
/// twin of `Transform::backward`, which builds the same map as a graph).
inline double constrained_value(const Transform& transform, double z) {
  switch (transform.kind) {
    case TransformKind::log: return std::exp(z);
    case TransformKind::interval: return transform.lower + (transform.upper - transform.lower) / (1 + std::exp(-z));
    default: return z;
  }
}

namespace detail {

inline double logistic(double x) { return 1 / (1 + std::exp(-x)); }

/// logistic(mu + t) - logistic(mu) without cancellation: expm1(t) logistic(mu) logistic(-mu - t),
/// exact algebra in which t enters only through expm1 (never rounded into mu + t first, which
/// would cost small t its relative accuracy); for |t| beyond 700 (expm1 overflows) the plain
/// difference, which is then not small relative to its terms unless both saturate.
inline double logistic_shift(double mu, double t) {
  if (std::abs(t) > 700) return logistic(mu + t) - logistic(mu);
  return std::expm1(t) * logistic(mu) * logistic(-mu - t);
}

/// Mean and variance of logistic(mu + sigma Z) by the trapezoid rule (see the file comment).
inline void logistic_normal_moments(double mu, double sigma, double& mean, double& variance) {
  constexpr double z_max = 12;
  constexpr std::int64_t max_half_nodes = 3000;
  const double step = std::max(std::min(0.5, 0.4 / sigma), z_max / static_cast<double>(max_half_nodes));
  const auto half_nodes = static_cast<std::int64_t>(std::ceil(z_max / step));
  // West's weighted update of the centred integrand g = logistic(mu + sigma z) - logistic(mu).
  double total_weight = 0, running_mean = 0, sum_of_squares = 0;
  for (std::int64_t i = -half_nodes; i <= half_nodes; ++i) {
    const double z = static_cast<double>(i) * step;
    const double weight = std::exp(-0.5 * z * z);
    const double value = logistic_shift(mu, sigma * z);
    total_weight += weight;
    const double delta = value - running_mean;
    running_mean += delta * weight / total_weight;
    sum_of_squares += weight * delta * (value - running_mean);
  }
  mean = logistic(mu) + running_mean;
  variance = sum_of_squares / total_weight;
}

}  // namespace detail

/// @brief Mean and sd of `constrained_value(transform, mu + sigma Z)`, @f$ Z \sim N(0, 1) @f$,
/// with the method used (see the file comment for the formulas and the accuracy).
/// @throws std::domain_error `transformed_normal_moments: sigma is -1, but must be nonnegative`
///   (or mu/sigma not finite).
inline TransformedMoments transformed_normal_moments(const Transform& transform, double mu, double sigma) {
  check_finite("transformed_normal_moments", "mu", mu);
  check_finite("transformed_normal_moments", "sigma", sigma);
  check_nonnegative("transformed_normal_moments", "sigma", sigma);
  const MomentMethod method = moment_method(transform.kind);
  switch (transform.kind) {
    case TransformKind::log: {
      const double mean = std::exp(mu + 0.5 * sigma * sigma);
      return {mean, mean * std::sqrt(std::expm1(sigma * sigma)), method};
    }
    case TransformKind::interval: {
      double mean = 0, variance = 0;
      detail::logistic_normal_moments(mu, sigma, mean, variance);
      const double width = transform.upper - transform.lower;
      return {transform.lower + width * mean, width * std::sqrt(variance), method};
    }
    default: return {mu, sigma, method};
  }
}

}  // namespace symbatch
