// The references the examples judge their fits against: the exact posterior, computed from the
// full data in closed form where the model is Gaussian (the noise and group-level scales are
// known), and the full-data Laplace approximation (Newton's method to the mode, sds from the
// inverse Hessian) for the logistic regression, whose posterior at a million rows is Gaussian to
// within a small fraction of its sd. A fit is judged in units of this reference's posterior sd,
// never against the coefficients the data were generated from: with N = 1,000,000 the posterior
// sd is about 0.001, so a gate of 0.05 around the truth would hide an estimate 50 sds off.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "symbatch/core/array.hpp"

namespace example {

/// A Gaussian posterior's means and marginal sds, over the parameters in the order the example
/// prints them.
struct Posterior {
  Eigen::VectorXd mean;
  Eigen::VectorXd sd;
};

namespace detail {

inline Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> rows_of(const symbatch::Array& x) {
  return {x.data<double>(), x.shape()[0], x.shape()[1]};
}

inline Eigen::Map<const Eigen::VectorXd> vector_of(const symbatch::Array& y) { return {y.data<double>(), y.size()}; }

/// Mean and marginal sds of the Gaussian with this precision and `precision * mean = shift`.
inline Posterior gaussian_from_precision(const Eigen::MatrixXd& precision, const Eigen::VectorXd& shift) {
  const Eigen::LLT<Eigen::MatrixXd> factor(precision);
  if (factor.info() != Eigen::Success) throw std::runtime_error("reference: the posterior precision is not positive definite");
  const Eigen::MatrixXd covariance = factor.solve(Eigen::MatrixXd::Identity(precision.rows(), precision.cols()));
  return {factor.solve(shift), covariance.diagonal().cwiseSqrt()};
}

}  // namespace detail

/// y ~ Normal(X beta, noise_sd), beta ~ Normal(0, prior_sd) independently: the posterior is
/// Gaussian with precision X'X / noise_sd^2 + I / prior_sd^2 and mean precision^-1 X'y / noise_sd^2.
inline Posterior linear_regression_posterior(const symbatch::Array& x, const symbatch::Array& y, double noise_sd, double prior_sd) {
  const auto data = detail::rows_of(x);
  const auto features = data.cols();
  Eigen::MatrixXd precision = Eigen::MatrixXd::Zero(features, features);
  precision.selfadjointView<Eigen::Lower>().rankUpdate(data.transpose(), 1.0 / (noise_sd * noise_sd));
  precision = precision.selfadjointView<Eigen::Lower>();
  precision.diagonal().array() += 1.0 / (prior_sd * prior_sd);
  return detail::gaussian_from_precision(precision, data.transpose() * detail::vector_of(y) / (noise_sd * noise_sd));
}

/// y ~ BernoulliLogit(X beta), beta ~ Normal(0, prior_sd): the full-data mode by Newton's method
/// (to a step below 1e-12 relative) and the Laplace sds from the inverse Hessian at the mode.
inline Posterior logistic_regression_laplace(const symbatch::Array& x, const symbatch::Array& y, double prior_sd) {
  const auto data = detail::rows_of(x);
  const auto outcome = detail::vector_of(y);
  const auto features = data.cols();
  Eigen::VectorXd beta = Eigen::VectorXd::Zero(features);
  Eigen::MatrixXd hessian(features, features);
  for (int iteration = 0; iteration < 100; ++iteration) {
    const Eigen::ArrayXd eta = (data * beta).array();
    const Eigen::ArrayXd p = 1.0 / (1.0 + (-eta).exp());
    const Eigen::VectorXd gradient = data.transpose() * (outcome.array() - p).matrix() - beta / (prior_sd * prior_sd);
    hessian.setZero();
    const Eigen::MatrixXd weighted = data.array().colwise() * (p * (1 - p)).sqrt();
    hessian.selfadjointView<Eigen::Lower>().rankUpdate(weighted.transpose());
    hessian = hessian.selfadjointView<Eigen::Lower>();
    hessian.diagonal().array() += 1.0 / (prior_sd * prior_sd);
    const Eigen::VectorXd step = hessian.llt().solve(gradient);
    beta += step;
    if (step.norm() <= 1e-12 * (1 + beta.norm())) break;
  }
  return detail::gaussian_from_precision(hessian, hessian * beta);
}

/// Varying intercepts with known scales: y_i ~ Normal(a[g_i] + x_i . beta, noise_sd),
/// a_k ~ Normal(mu_a, intercept_sd), mu_a ~ Normal(0, mu_prior_sd), beta ~ Normal(0, beta_prior_sd).
/// Jointly Gaussian in theta = (mu_a, a_1..a_K, beta_1..beta_D); returned in that order.
inline Posterior varying_intercepts_posterior(const symbatch::Array& x, const std::vector<std::int64_t>& group, const symbatch::Array& y,
                                              std::int64_t groups, double noise_sd, double intercept_sd, double mu_prior_sd,
                                              double beta_prior_sd) {
  const auto data = detail::rows_of(x);
  const auto outcome = detail::vector_of(y);
  const std::int64_t features = data.cols(), size = 1 + groups + features;
  const double noise = 1.0 / (noise_sd * noise_sd), tie = 1.0 / (intercept_sd * intercept_sd);
  Eigen::MatrixXd precision = Eigen::MatrixXd::Zero(size, size);
  Eigen::VectorXd shift = Eigen::VectorXd::Zero(size);
  // Priors: (a_k - mu_a)^2 tie / 2 for each group, mu_a^2 / (2 mu_prior_sd^2), beta^2 / (2 beta_prior_sd^2).
  precision(0, 0) = 1.0 / (mu_prior_sd * mu_prior_sd) + tie * static_cast<double>(groups);
  for (std::int64_t k = 1; k <= groups; ++k) {
    precision(k, k) += tie;
    precision(0, k) = precision(k, 0) = -tie;
  }
  const auto beta = Eigen::seqN(1 + groups, features);
  precision(beta, beta).diagonal().array() += 1.0 / (beta_prior_sd * beta_prior_sd);
  // Likelihood: each row adds J_i' J_i noise with J_i = (0, e_{g_i}, x_i).
  precision(beta, beta).selfadjointView<Eigen::Lower>().rankUpdate(data.transpose(), noise);
  precision(beta, beta) = precision(beta, beta).selfadjointView<Eigen::Lower>();
  shift(beta) = data.transpose() * outcome * noise;
  for (Eigen::Index i = 0; i < data.rows(); ++i) {
    const std::int64_t k = 1 + group[static_cast<std::size_t>(i)];
    precision(k, k) += noise;
    precision(k, beta) += data.row(i) * noise;
    shift(k) += outcome(i) * noise;
  }
  for (std::int64_t k = 1; k <= groups; ++k) precision(beta, k) = precision(k, beta).transpose();
  return detail::gaussian_from_precision(precision, shift);
}

/// Prints `name[j]  fitted mean  fitted sd  posterior mean  posterior sd  error/sd` for the
/// entries `first, first + 1, ...` of the reference and returns the largest |error| / sd over
/// all `mean.size()` entries (printing at most `shown` rows).
inline double compare(const char* name, const symbatch::Array& mean, const symbatch::Array& sd, const Posterior& reference,
                      Eigen::Index first, std::int64_t shown = 1 << 30) {
  double worst = 0;
  for (std::int64_t j = 0; j < mean.size(); ++j) {
    const double m = mean.flat<double>(j), s = sd.flat<double>(j);
    const double exact = reference.mean(first + j), exact_sd = reference.sd(first + j);
    const double error = (m - exact) / exact_sd;
    if (j < shown) std::printf("%s[%2lld] %10.4f %10.4f %10.4f %10.4f %8.2f\n", name, static_cast<long long>(j), m, s, exact, exact_sd, error);
    worst = std::max(worst, std::abs(error));
  }
  return worst;
}

/// The header of `compare`'s table.
inline void print_comparison_header() {
  std::printf("%-9s %10s %10s %10s %10s %8s\n", "", "mean", "sd", "exact", "exact sd", "err/sd");
}

}  // namespace example
