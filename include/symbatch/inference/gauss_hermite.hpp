/// @file gauss_hermite.hpp
/// @brief Gauss-Hermite quadrature, and expectations of functions of a normal variable with it.
///
/// The n-point rule integrates @f$ \int_{-\infty}^{\infty} f(x) e^{-x^2} dx \approx \sum_i w_i f(x_i) @f$
/// exactly for polynomials of degree up to @f$ 2n - 1 @f$. Nodes: the eigenvalues of the Jacobi
/// matrix of the Hermite recurrence (Golub and Welsch 1969, "Calculation of Gauss quadrature
/// rules", Math. Comp. 23), diagonal 0 and off-diagonal @f$ \sqrt{j/2} @f$, found with Eigen's
/// `SelfAdjointEigenSolver::computeFromTridiagonal` and then polished by Newton's method on the orthonormal recurrence
/// @f$ \tilde H_{j+1}(x) = x \sqrt{2/(j+1)}\, \tilde H_j(x) - \sqrt{j/(j+1)}\, \tilde H_{j-1}(x) @f$,
/// @f$ \tilde H_0 = \pi^{-1/4} @f$. Weights: @f$ w_i = 2 / \tilde H_n'(x_i)^2 @f$ with
/// @f$ \tilde H_n' = \sqrt{2n}\, \tilde H_{n-1} @f$ (Press et al., *Numerical Recipes*, 3rd ed., 4.6),
/// accurate relative to themselves even where they are as small as 1e-40 (eigenvector-based
/// weights are accurate only relative to the largest). The rule is symmetrized exactly.
/// Measured against 40-digit mpmath values up to n = 100: nodes within 1e-14 and weights within
/// 1e-13 relative (see the test).
///
/// For @f$ Z \sim N(0, 1) @f$: @f$ E[f(\mu + \sigma Z)] \approx \sum_i \frac{w_i}{\sqrt\pi} f(\mu + \sigma \sqrt2\, x_i) @f$.
/// The error for a function analytic in a strip @f$ |\mathrm{Im}\, z| < d @f$ around the real line
/// decays like @f$ e^{-2 d' \sqrt{2n}} @f$ with @f$ d' = d / (\sigma\sqrt2) @f$: fast for entire
/// functions (exp), slower for the logistic function (poles at @f$ \pm i\pi @f$) when @f$ \sigma @f$ is
/// large. Measured for the logistic-normal variance: 1e-15 at @f$ \sigma = 1.5 @f$ with n = 100;
/// at @f$ \sigma = 3 @f$, 1e-7 with n = 100, 3e-11 with n = 200, 4e-14 with n = 300.
#pragma once

#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <type_traits>

#include "symbatch/core/error.hpp"

namespace symbatch {

/// @brief An n-point Gauss-Hermite rule for the weight @f$ e^{-x^2} @f$ (physicists' convention),
/// nodes ascending.
struct GaussHermiteRule {
  Eigen::VectorXd nodes;
  Eigen::VectorXd weights;
};

/// @brief Mean and variance of @f$ f(\mu + \sigma Z) @f$, @f$ Z \sim N(0, 1) @f$.
struct NormalExpectation {
  double mean;
  double variance;
};

/// @brief The largest supported number of points: beyond it @f$ \tilde H_n @f$ at the outer
/// nodes (about @f$ e^{x^2/2} @f$, @f$ x \approx \sqrt{2n} @f$) approaches the double range.
inline constexpr std::int64_t gauss_hermite_max_points = 300;

/// @brief The n-point Gauss-Hermite rule (see the file comment). Allocates its result; build it
/// once and reuse it. Cost O(n^2): tridiagonal QR for the eigenvalues, O(n) per Newton step.
/// @throws std::invalid_argument `gauss_hermite: points is 0, but must be in [1, 300]`.
inline GaussHermiteRule gauss_hermite(std::int64_t points) {
  if (points < 1 || points > gauss_hermite_max_points)
    throw_invalid("gauss_hermite", "points is ", points, ", but must be in [1, ", gauss_hermite_max_points, "]");
  const std::int64_t n = points;
  const Eigen::VectorXd diagonal = Eigen::VectorXd::Zero(n);
  Eigen::VectorXd off_diagonal(std::max<std::int64_t>(n - 1, 0));
  for (std::int64_t j = 1; j < n; ++j) off_diagonal[j - 1] = std::sqrt(static_cast<double>(j) / 2);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver;
  solver.computeFromTridiagonal(diagonal, off_diagonal, Eigen::EigenvaluesOnly);
  GaussHermiteRule rule{solver.eigenvalues(), Eigen::VectorXd(n)};
  const double h0 = std::pow(std::numbers::pi, -0.25);
  // Orthonormal H_n(x) and H_{n-1}(x) by the three-term recurrence.
  const auto evaluate = [&](double x, double& value, double& previous) {
    double current = h0, before = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      const double next = x * std::sqrt(2.0 / static_cast<double>(j + 1)) * current -
                          std::sqrt(static_cast<double>(j) / static_cast<double>(j + 1)) * before;
      before = current;
      current = next;
    }
    value = current;
    previous = before;
  };
  const double derivative_factor = std::sqrt(2.0 * static_cast<double>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    double x = rule.nodes[i], value = 0, previous = 0;
    for (int iteration = 0; iteration < 8; ++iteration) {
      evaluate(x, value, previous);
      const double step = value / (derivative_factor * previous);
      x -= step;
      if (std::abs(step) <= 1e-16 * std::max(1.0, std::abs(x))) break;
    }
    evaluate(x, value, previous);
    rule.nodes[i] = x;
    rule.weights[i] = 2 / std::pow(derivative_factor * previous, 2);
  }
  for (std::int64_t i = 0; i < n / 2; ++i) {  // exact symmetry: odd moments vanish
    const std::int64_t mirror = n - 1 - i;
    const double node = 0.5 * (rule.nodes[mirror] - rule.nodes[i]);
    const double weight = 0.5 * (rule.weights[i] + rule.weights[mirror]);
    rule.nodes[i] = -node;
    rule.nodes[mirror] = node;
    rule.weights[i] = rule.weights[mirror] = weight;
  }
  if (n % 2 == 1) rule.nodes[n / 2] = 0;
  return rule;
}

/// @brief @f$ E[f(\mu + \sigma Z)] @f$ and @f$ \mathrm{Var}[f(\mu + \sigma Z)] @f$ for
/// @f$ Z \sim N(0, 1) @f$ by the rule (see the file comment). The variance is accumulated by West's
/// weighted update (no cancellation of @f$ E[f^2] - E[f]^2 @f$, no buffer): nothing allocates, and
/// `f` is called once per node.
/// @throws std::domain_error `normal_expectation: sigma is -1, but must be nonnegative`
///   (or mu/sigma not finite).
template <class Function>
  requires std::is_invocable_r_v<double, Function&, double>
NormalExpectation normal_expectation(const GaussHermiteRule& rule, double mu, double sigma, Function&& function) {
  check_finite("normal_expectation", "mu", mu);
  check_finite("normal_expectation", "sigma", sigma);
  check_nonnegative("normal_expectation", "sigma", sigma);
  const double node_scale = sigma * std::numbers::sqrt2;
  double total_weight = 0, mean = 0, sum_of_squares = 0;
  for (Eigen::Index i = 0; i < rule.nodes.size(); ++i) {
    const double weight = rule.weights[i] / std::sqrt(std::numbers::pi);
    const double value = function(mu + node_scale * rule.nodes[i]);
    total_weight += weight;
    const double delta = value - mean;
    mean += delta * weight / total_weight;
    sum_of_squares += weight * delta * (value - mean);
  }
  return {mean, sum_of_squares / total_weight};
}

}  // namespace symbatch
