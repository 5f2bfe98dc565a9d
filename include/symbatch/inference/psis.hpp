/// @file psis.hpp
/// @brief Pareto-smoothed importance sampling (Vehtari, Simpson, Gelman, Yao, Gabry 2024,
/// "Pareto smoothed importance sampling", JMLR 25(72)) as the R package `loo` (2.5 and later)
/// computes it in `psis()`: the smoothed log-weights and the shape estimate @f$ \hat k @f$.
///
/// Given @f$ S @f$ draws @f$ \theta_s \sim q @f$ and log-ratios @f$ \log r_s = \log p(\theta_s) - \log q(\theta_s) @f$
/// (up to a constant), the @f$ M = \lceil \min(0.2 S, 3 \sqrt{S / r_{\text{eff}}}) \rceil @f$ largest
/// ratios are replaced by the expected order statistics of a generalized Pareto distribution
/// fitted to them,
/// @f$ w_{(S - M + j)} = u + F^{-1}_{\hat k, \hat\sigma}\big((j - 1/2) / M\big) @f$, @f$ j = 1..M @f$,
/// with @f$ u @f$ the largest ratio below the tail and @f$ F^{-1}_{k,\sigma}(p) = \sigma ((1-p)^{-k} - 1) / k @f$;
/// then every weight is truncated at the largest raw ratio. The fit is the profile-likelihood
/// quasi-Bayes estimate of Zhang and Stephens (2009, "A new and efficient estimation method for
/// the generalized Pareto distribution", Technometrics 51(3)) on a grid of
/// @f$ 30 + \lfloor\sqrt M\rfloor @f$ points, with loo's weakly informative prior pulling
/// @f$ \hat k @f$ towards 0.5: @f$ \hat k \leftarrow (M \hat k + 5) / (M + 10) @f$.
///
/// Reading @f$ \hat k @f$: the importance ratios have finite moments of order below @f$ 1/k @f$.
/// For @f$ k < 0.5 @f$ their variance is finite and the estimate converges at the usual rate;
/// for @f$ 0.5 \le k < 0.7 @f$ the smoothed estimate is still reliable in practice; above 0.7
/// the pre-asymptotic error decreases so slowly that no practical S makes it small (Vehtari et
/// al. 2024, section 3), and the approximation @f$ q @f$ is too far from @f$ p @f$ to trust
/// (Yao, Vehtari, Simpson, Gelman 2018, "Yes, but did it work?: Evaluating variational
/// inference", ICML). With few draws the threshold is lower: @f$ \min(1 - 1/\log_{10} S, 0.7) @f$
/// (0.5 at S = 100, 0.67 at S = 1000, 0.7 from S = 2155 on), because below it the sample is too
/// small for the tail fit to be accurate (`psis_khat_threshold`).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "symbatch/core/error.hpp"

namespace symbatch {

/// @brief A generalized Pareto fit: shape k (the tail index) and scale sigma.
struct GeneralizedParetoFit {
  double k;
  double sigma;
};

/// @brief The result of `psis`: the shape estimate and the tail it was fitted to.
struct PsisResult {
  double pareto_k;           ///< k-hat; +inf when the tail was too short or constant to fit
  std::int64_t tail_length;  ///< M, the number of smoothed weights
};

/// @brief Buffers reused by `psis` across calls.
struct PsisWorkspace {
  std::vector<std::pair<double, std::int64_t>> sorted;  ///< (shifted log-ratio, index), sorted
  Eigen::VectorXd exceedances;      ///< tail ratios minus the cutoff
  Eigen::VectorXd theta;            ///< the Zhang-Stephens grid
  Eigen::VectorXd profile;          ///< profile log-likelihood on the grid
};

/// @brief Sample-size-dependent k-hat threshold @f$ \min(1 - 1/\log_{10} S, 0.7) @f$ of Vehtari et
/// al. (2024, section 3.2.4): above it the smoothed estimate is unreliable (see the file comment).
inline double psis_khat_threshold(std::int64_t draws) {
  return std::min(1 - 1 / std::log10(static_cast<double>(draws)), 0.7);
}

/// @brief Fits a generalized Pareto distribution to `exceedances` (sorted ascending, @f$ \ge 0 @f$)
/// by Zhang and Stephens (2009) with loo's weakly informative prior (`gpdfit(wip = TRUE,
/// min_grid_pts = 30)`): grid @f$ \theta_j = 1/x_{(n)} + (1 - \sqrt{m / (j - 1/2)}) / (3 x^*) @f$,
/// @f$ j = 1..m @f$, @f$ m = 30 + \lfloor\sqrt n\rfloor @f$, @f$ x^* @f$ the first quartile; profile
/// log-likelihood @f$ \ell(\theta) = n (\log(-\theta / k) - k - 1) @f$ with
/// @f$ k = \overline{\log(1 - \theta x)} @f$; posterior-mean @f$ \hat\theta @f$ over the grid;
/// @f$ \hat k = \overline{\log(1 - \hat\theta x)} @f$, @f$ \hat\sigma = -\hat k / \hat\theta @f$, then the prior
/// adjustment @f$ \hat k \leftarrow (n \hat k + 5) / (n + 10) @f$. A NaN k becomes +inf.
/// @throws std::invalid_argument `generalized_pareto_fit: exceedances has length 1, but needs at least 2`.
/// @throws std::domain_error `generalized_pareto_fit: exceedances[3] is 0.5, but must be at least
///   exceedances[2] = 0.75 (sorted ascending) and nonnegative`.
inline GeneralizedParetoFit generalized_pareto_fit(const Eigen::Ref<const Eigen::VectorXd>& exceedances,
                                                   PsisWorkspace& workspace) {
  constexpr std::string_view function = "generalized_pareto_fit";
  const std::int64_t n = exceedances.size();
  if (n < 2) throw_invalid(function, "exceedances has length ", n, ", but needs at least 2");
  for (std::int64_t i = 0; i < n; ++i) {
    const double previous = i == 0 ? 0.0 : exceedances[i - 1];
    if (!(exceedances[i] >= previous))
      throw_domain(function, "exceedances[", i, "] is ", detail::format_number(exceedances[i]), ", but must be at least ",
                   i == 0 ? std::string("0") : detail::concat("exceedances[", i - 1, "] = ", detail::format_number(previous)),
                   " (sorted ascending) and nonnegative");
  }
  const std::int64_t grid = 30 + static_cast<std::int64_t>(std::floor(std::sqrt(static_cast<double>(n))));
  constexpr double prior = 3;
  // R's x[floor(N / 4 + 0.5)], 1-based.
  const double first_quartile = exceedances[static_cast<std::int64_t>(std::floor(n / 4.0 + 0.5)) - 1];
  workspace.theta.resize(grid);
  workspace.profile.resize(grid);
  for (std::int64_t j = 0; j < grid; ++j) {
    const double theta = 1 / exceedances[n - 1] +
                         (1 - std::sqrt(static_cast<double>(grid) / (static_cast<double>(j) + 0.5))) / prior / first_quartile;
    double k = 0;
    for (std::int64_t i = 0; i < n; ++i) k += std::log1p(-theta * exceedances[i]);
    k /= static_cast<double>(n);
    workspace.theta[j] = theta;
    workspace.profile[j] = static_cast<double>(n) * (std::log(-theta / k) - k - 1);
  }
  const double top = workspace.profile.maxCoeff();
  const double log_normalizer = top + std::log((workspace.profile.array() - top).exp().sum());
  const double theta_hat = (workspace.theta.array() * (workspace.profile.array() - log_normalizer).exp()).sum();
  double k = 0;
  for (std::int64_t i = 0; i < n; ++i) k += std::log1p(-theta_hat * exceedances[i]);
  k /= static_cast<double>(n);
  const double sigma = -k / theta_hat;
  constexpr double prior_count = 10;  // the prior weighs like 10 observations of k = 0.5
  k = k * static_cast<double>(n) / (static_cast<double>(n) + prior_count) + prior_count * 0.5 / (static_cast<double>(n) + prior_count);
  if (std::isnan(k)) k = std::numeric_limits<double>::infinity();
  return {k, sigma};
}

/// @brief Pareto-smoothed importance sampling of `log_ratios` (see the file comment), writing the
/// smoothed, unnormalized log-weights to `smoothed_log_weights` (same length; normalize with a
/// log-sum-exp). `relative_efficiency` is loo's `r_eff` (1 for independent draws, as from a
/// variational approximation). With a tail of fewer than 5 draws, or a constant tail, nothing is
/// smoothed and k-hat is +inf (loo warns in both cases); the weights are still truncated. Should
/// the fit give a finite k with a scale that is not positive (loo would return NaN weights), the
/// tail is left unsmoothed. `log_ratios` and `smoothed_log_weights` may be the same vector.
/// @throws std::invalid_argument `psis: log_ratios has length 1, but needs at least 2`, or when
///   the output length differs.
/// @throws std::domain_error `psis: log_ratios[3] is nan, but must be finite` (as loo);
///   `psis: relative_efficiency is 0, but must be positive`.
inline PsisResult psis(const Eigen::Ref<const Eigen::VectorXd>& log_ratios, Eigen::Ref<Eigen::VectorXd> smoothed_log_weights,
                       PsisWorkspace& workspace, double relative_efficiency = 1.0) {
  constexpr std::string_view function = "psis";
  const std::int64_t draws = log_ratios.size();
  if (draws < 2) throw_invalid(function, "log_ratios has length ", draws, ", but needs at least 2");
  if (smoothed_log_weights.size() != draws)
    throw_invalid(function, "smoothed_log_weights has length ", smoothed_log_weights.size(), ", but log_ratios has length ", draws);
  check_positive(function, "relative_efficiency", relative_efficiency);
  for (std::int64_t s = 0; s < draws; ++s)
    if (!std::isfinite(log_ratios[s]))
      throw_domain(function, "log_ratios[", s, "] is ", detail::format_number(log_ratios[s]), ", but must be finite");
  const double largest = log_ratios.maxCoeff();
  const auto tail_length = static_cast<std::int64_t>(
      std::ceil(std::min(0.2 * static_cast<double>(draws), 3 * std::sqrt(static_cast<double>(draws) / relative_efficiency))));
  // Shift so that the largest log-ratio is 0: exp() of the tail cannot overflow.
  smoothed_log_weights = log_ratios.array() - largest;
  double pareto_k = std::numeric_limits<double>::infinity();
  if (tail_length >= 5 && tail_length < draws) {
    // Sorting (value, index) pairs lexicographically keeps tied ratios in index order, as R's
    // stable sort.int does (it decides which of them gets which smoothed value).
    auto& sorted = workspace.sorted;
    sorted.resize(static_cast<std::size_t>(draws));
    for (std::int64_t s = 0; s < draws; ++s) sorted[static_cast<std::size_t>(s)] = {smoothed_log_weights[s], s};
    std::sort(sorted.begin(), sorted.end());
    const std::int64_t first_tail = draws - tail_length;
    const double tail_min = sorted[static_cast<std::size_t>(first_tail)].first;
    if (std::abs(0.0 - tail_min) >= std::numeric_limits<double>::epsilon() / 100) {  // tail max is 0
      const double cutoff = sorted[static_cast<std::size_t>(first_tail - 1)].first;
      const double exp_cutoff = std::exp(cutoff);
      workspace.exceedances.resize(tail_length);
      for (std::int64_t j = 0; j < tail_length; ++j)
        workspace.exceedances[j] = std::exp(sorted[static_cast<std::size_t>(first_tail + j)].first) - exp_cutoff;
      const GeneralizedParetoFit fit = generalized_pareto_fit(workspace.exceedances, workspace);
      pareto_k = fit.k;
      if (std::isfinite(fit.k) && !std::isnan(fit.sigma) && fit.sigma > 0) {
        for (std::int64_t j = 0; j < tail_length; ++j) {
          const double p = (static_cast<double>(j) + 0.5) / static_cast<double>(tail_length);
          const double quantile = fit.sigma * std::expm1(-fit.k * std::log1p(-p)) / fit.k;
          smoothed_log_weights[sorted[static_cast<std::size_t>(first_tail + j)].second] = std::log(quantile + exp_cutoff);
        }
      }
    }
  }
  // Truncate at the largest raw ratio (0 after the shift), then undo the shift.
  smoothed_log_weights = smoothed_log_weights.array().min(0.0) + largest;
  return {pareto_k, tail_length};
}

/// @brief Allocating convenience form of `psis`.
inline PsisResult psis(const Eigen::Ref<const Eigen::VectorXd>& log_ratios, Eigen::Ref<Eigen::VectorXd> smoothed_log_weights,
                       double relative_efficiency = 1.0) {
  PsisWorkspace workspace;
  return psis(log_ratios, smoothed_log_weights, workspace, relative_efficiency);
}

}  // namespace symbatch
