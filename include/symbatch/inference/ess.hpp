/// @file ess.hpp
/// @brief Effective sample size of correlated draws and the Monte Carlo standard error of their
/// mean, as the R package `posterior` (1.4) computes `ess_basic`, `ess_bulk` and `mcse_mean`.
///
/// For @f$ M @f$ chains of @f$ N @f$ draws, with autocovariances @f$ \hat\gamma_{m,t} @f$ of chain
/// @f$ m @f$ at lag @f$ t @f$ (see autocovariance.hpp), @f$ W = \frac{N}{N-1} \overline{\hat\gamma_{\cdot,0}} @f$,
/// @f$ \widehat{\mathrm{var}}^+ = \frac{N-1}{N} W + \mathrm{var}_m(\bar\theta_m) @f$ and the
/// combined autocorrelations
/// @f$ \hat\rho_t = 1 - (W - \overline{\hat\gamma_{\cdot,t}}) / \widehat{\mathrm{var}}^+ @f$
/// (BDA3 eq. 11.7; Vehtari et al. 2021 eq. 10), the effective sample size is
/// @f[ \widehat{\mathrm{ESS}} = \frac{NM}{\hat\tau}, \quad
///     \hat\tau = -1 + 2 \sum_{t=0}^{2k+1} \hat\rho_t + \hat\rho_{2k+2}, @f]
/// where Geyer's (1992, "Practical Markov chain Monte Carlo", Statistical Science 7(4)) initial
/// positive sequence stops the sum at the first pair @f$ \hat\rho_{2k+2} + \hat\rho_{2k+3} < 0 @f$,
/// the pair sums are made monotone (initial monotone sequence), the last even term is added if
/// positive (it lowers the variance for antithetic chains), and @f$ \hat\tau @f$ is at least
/// @f$ 1 / \log_{10}(NM) @f$ (so ESS is at most @f$ NM \log_{10}(NM) @f$).
///
/// `ess_basic` applies this to the split chains, `ess_bulk` to the rank-normalized split chains
/// (Vehtari et al. 2021: it is defined for heavy tails and measures the efficiency of the bulk),
/// and `mcse_mean` is @f$ \mathrm{sd}(\theta) / \sqrt{\mathrm{ESS_{basic}}} @f$, the standard error of
/// the mean of all draws as an estimate of the stationary mean.
///
/// Cost, for S = N M draws: Geyer's sequence needs autocovariances up to its stopping lag
/// @f$ T @f$, a few autocorrelation times. They are computed directly while
/// @f$ T < 8 \lceil \log_2 N \rceil @f$, @f$ O(S\, T) @f$, and by FFT otherwise, @f$ O(S \log N) @f$ (see
/// autocovariance.hpp): @f$ O(S \min(T, \log N)) @f$ in all. `ess_bulk` adds a sort,
/// @f$ O(S \log S) @f$. With a reused `EssWorkspace` no call allocates.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "symbatch/core/error.hpp"
#include "symbatch/inference/autocovariance.hpp"
#include "symbatch/inference/rank_normalize.hpp"

namespace symbatch {

/// @brief Buffers reused by `ess_basic`, `ess_bulk` and `mcse_mean`.
struct EssWorkspace {
  RankWorkspace rank;                      ///< split and rank-normalized draws
  AutocovarianceWorkspace autocovariance;  ///< FFT buffers
  Eigen::MatrixXd centered;                ///< the chains minus their means
  Eigen::VectorXd chain_autocovariance;    ///< one chain's autocovariances (FFT path)
  Eigen::VectorXd mean_autocovariance;     ///< their mean over chains, per lag (FFT path)
  Eigen::VectorXd autocorrelation;         ///< Geyer's sequence of combined autocorrelations
};

namespace detail {

/// Lags up to which `ess_of_chains` computes autocovariances directly: @f$ 8 \lceil\log_2 n\rceil @f$,
/// where the direct sums cost about as much as the FFT of a chain.
inline std::int64_t direct_autocovariance_lags(std::int64_t n) {
  std::int64_t bits = 0;
  while ((std::int64_t{1} << bits) < n) ++bits;
  return 8 * bits;
}

/// The ESS formula of the file comment for the chains as given (posterior's `.ess`).
inline double ess_of_chains(const Eigen::Ref<const Eigen::MatrixXd>& chains, EssWorkspace& workspace) {
  const std::int64_t n = chains.rows(), m = chains.cols();
  if (std::abs(chains.maxCoeff() - chains.minCoeff()) < std::numeric_limits<double>::epsilon())
    return std::numeric_limits<double>::quiet_NaN();  // constant draws: 0/0 (posterior: NA)
  // Lags are needed in increasing order and Geyer's sequence usually stops after a few
  // autocorrelation times: compute them one by one directly, O(n m) each, and switch to the FFT
  // (all lags at once, O(n m log n)) if the sequence runs past the direct limit.
  workspace.centered.resize(n, m);
  for (std::int64_t c = 0; c < m; ++c) workspace.centered.col(c) = chains.col(c).array() - chains.col(c).mean();
  workspace.mean_autocovariance.resize(n);
  const std::int64_t direct_limit = direct_autocovariance_lags(n);
  bool all_lags_known = false;
  const auto gamma = [&](std::int64_t lag) {
    if (lag < direct_limit) {
      double sum = 0;
      for (std::int64_t c = 0; c < m; ++c)
        sum += workspace.centered.col(c).head(n - lag).dot(workspace.centered.col(c).tail(n - lag));
      return sum / static_cast<double>(n * m);
    }
    if (!all_lags_known) {
      workspace.chain_autocovariance.resize(n);
      workspace.mean_autocovariance.setZero();
      for (std::int64_t c = 0; c < m; ++c) {
        autocovariance(workspace.centered.col(c), workspace.chain_autocovariance, workspace.autocovariance);
        workspace.mean_autocovariance += workspace.chain_autocovariance;
      }
      workspace.mean_autocovariance /= static_cast<double>(m);
      all_lags_known = true;
    }
    return workspace.mean_autocovariance[lag];
  };
  const auto iterations = static_cast<double>(n);
  const double mean_variance = gamma(0) * iterations / (iterations - 1);
  double variance_plus = mean_variance * (iterations - 1) / iterations;
  if (m > 1) {  // plus the sample variance of the chain means
    double grand = 0, spread = 0;
    for (std::int64_t c = 0; c < m; ++c) grand += chains.col(c).mean();
    grand /= static_cast<double>(m);
    for (std::int64_t c = 0; c < m; ++c) spread += std::pow(chains.col(c).mean() - grand, 2);
    variance_plus += spread / static_cast<double>(m - 1);
  }
  const auto rho_at = [&](std::int64_t lag) { return 1 - (mean_variance - gamma(lag)) / variance_plus; };
  Eigen::VectorXd& rho = workspace.autocorrelation;
  rho.setZero(n);
  // Geyer's initial positive sequence: pairs (rho_t, rho_t+1), t even, while their sum is positive.
  std::int64_t t = 0;
  double rho_even = 1, rho_odd = rho_at(1);
  rho[0] = rho_even;
  rho[1] = rho_odd;
  while (t < n - 5 && !std::isnan(rho_even + rho_odd) && rho_even + rho_odd > 0) {
    t += 2;
    rho_even = rho_at(t);
    rho_odd = rho_at(t + 1);
    if (rho_even + rho_odd >= 0) {
      rho[t] = rho_even;
      rho[t + 1] = rho_odd;
    }
  }
  const std::int64_t max_t = t;
  if (rho_even > 0) rho[max_t] = rho_even;  // used by the improved estimate below
  // Geyer's initial monotone sequence: pair sums never increase.
  for (t = 2; t <= max_t - 2; t += 2) {
    if (rho[t] + rho[t + 1] > rho[t - 2] + rho[t - 1]) {
      rho[t] = (rho[t - 2] + rho[t - 1]) / 2;
      rho[t + 1] = rho[t];
    }
  }
  const double draws = static_cast<double>(n * m);
  // posterior sums rho[1:max_t] in R's 1-based indexing, which for max_t = 0 is rho[1] alone.
  const double sum = rho.head(std::max<std::int64_t>(max_t, 1)).sum();
  double tau = -1 + 2 * sum + rho[max_t];
  tau = std::max(tau, 1 / std::log10(draws));
  return draws / tau;
}

/// Throws unless `draws` has at least 6 iterations (3 per half) and a chain, all finite.
inline void check_ess_draws(std::string_view function, const Eigen::Ref<const Eigen::MatrixXd>& draws) {
  if (draws.cols() < 1) throw_invalid(function, "draws has 0 columns (chains), but needs at least 1");
  if (draws.rows() < 6)
    throw_invalid(function, "draws has ", draws.rows(), " rows (iterations), but needs at least 6");
  check_finite_draws(function, draws);
}

}  // namespace detail

/// @brief Basic ESS of the split chains (posterior's `ess_basic`, its default `split = TRUE`):
/// the ESS of the mean of `draws` (one row per iteration, one column per chain). NaN when all
/// draws are equal.
/// @throws std::invalid_argument `ess_basic: draws has 5 rows (iterations), but needs at least 6`.
/// @throws std::domain_error `ess_basic: draws(i, j) is nan, but must be finite`.
inline double ess_basic(const Eigen::Ref<const Eigen::MatrixXd>& draws, EssWorkspace& workspace) {
  detail::check_ess_draws("ess_basic", draws);
  split_chains(draws, workspace.rank.split);
  return detail::ess_of_chains(workspace.rank.split, workspace);
}

/// @brief Allocating convenience form of `ess_basic`.
inline double ess_basic(const Eigen::Ref<const Eigen::MatrixXd>& draws) {
  EssWorkspace workspace;
  return ess_basic(draws, workspace);
}

/// @brief Bulk ESS (posterior's `ess_bulk`; Vehtari et al. 2021): the ESS of the rank-normalized
/// split chains. NaN when all draws are equal.
/// @throws std::invalid_argument `ess_bulk: draws has 5 rows (iterations), but needs at least 6`.
/// @throws std::domain_error `ess_bulk: draws(i, j) is nan, but must be finite`.
inline double ess_bulk(const Eigen::Ref<const Eigen::MatrixXd>& draws, EssWorkspace& workspace) {
  detail::check_ess_draws("ess_bulk", draws);
  split_chains(draws, workspace.rank.split);
  rank_normalize(workspace.rank.split, workspace.rank.transformed, workspace.rank.sorted);
  return detail::ess_of_chains(workspace.rank.transformed, workspace);
}

/// @brief Allocating convenience form of `ess_bulk`.
inline double ess_bulk(const Eigen::Ref<const Eigen::MatrixXd>& draws) {
  EssWorkspace workspace;
  return ess_bulk(draws, workspace);
}

/// @brief Monte Carlo standard error of the mean of all draws (posterior's `mcse_mean`):
/// @f$ \mathrm{sd}(\theta) / \sqrt{\mathrm{ESS_{basic}}} @f$, sd over all draws pooled (denominator
/// S - 1). This is the error of the averaged estimate that a stopping rule compares with the
/// posterior sd. NaN when all draws are equal.
/// @throws std::invalid_argument `mcse_mean: draws has 5 rows (iterations), but needs at least 6`.
/// @throws std::domain_error `mcse_mean: draws(i, j) is nan, but must be finite`.
inline double mcse_mean(const Eigen::Ref<const Eigen::MatrixXd>& draws, EssWorkspace& workspace) {
  detail::check_ess_draws("mcse_mean", draws);
  const double mean = draws.mean();
  const double sd = std::sqrt((draws.array() - mean).square().sum() / static_cast<double>(draws.size() - 1));
  split_chains(draws, workspace.rank.split);
  return sd / std::sqrt(detail::ess_of_chains(workspace.rank.split, workspace));
}

/// @brief Allocating convenience form of `mcse_mean`.
inline double mcse_mean(const Eigen::Ref<const Eigen::MatrixXd>& draws) {
  EssWorkspace workspace;
  return mcse_mean(draws, workspace);
}

}  // namespace symbatch
