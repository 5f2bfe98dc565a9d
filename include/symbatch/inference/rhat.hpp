/// @file rhat.hpp
/// @brief Split R-hat: do several chains (or several windows of one iterate sequence) look like
/// draws from one stationary distribution?
///
/// For @f$ M @f$ chains of @f$ N @f$ draws with means @f$ \bar\theta_m @f$ and sample variances
/// @f$ s_m^2 @f$ (Gelman, Carlin, Stern, Dunson, Vehtari, Rubin 2013, *Bayesian Data Analysis*,
/// 3rd ed., section 11.4):
/// @f[ B = \frac{N}{M - 1} \sum_m (\bar\theta_m - \bar\theta)^2, \quad
///     W = \frac{1}{M} \sum_m s_m^2, \quad
///     \widehat{\mathrm{var}}^+ = \frac{N - 1}{N} W + \frac{B}{N}, \quad
///     \hat R = \sqrt{\widehat{\mathrm{var}}^+ / W}, @f]
/// computed after splitting every chain in halves so that a trend within a chain shows as
/// disagreement between its halves. @f$ \hat R \to 1 @f$ as the chains mix; values above 1.01
/// say that the between-chain spread still exceeds what the within-chain noise explains.
///
/// `rhat_basic` is that classic split-R-hat (posterior's `rhat_basic`). `rhat` is the
/// rank-normalized version of Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021,
/// Bayesian Analysis 16(2)) as posterior's `rhat` computes it: the maximum of the split-R-hat
/// of the rank-normalized draws ("bulk") and of the rank-normalized draws folded around their
/// median ("tail"). It exists for heavy-tailed marginals and detects chains that differ only
/// in scale.
///
/// Stochastic optimisation: Dhaka, Catalina, Welandawe, Andersen, Huggins, Vehtari (2020,
/// "Robust, accurate stochastic optimization for variational inference", NeurIPS) declare the
/// iterates stationary when the split-R-hat of the last @f$ W @f$ iterates of every parameter
/// is small; `rhat_of_windows` computes it per parameter for a matrix of iterates.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <limits>

#include "symbatch/core/error.hpp"
#include "symbatch/inference/rank_normalize.hpp"

namespace symbatch {

/// @brief Which R-hat `rhat_of_windows` computes.
enum class RhatKind {
  rank_normalized,  ///< `rhat`: max of bulk and tail rank-normalized split-R-hat (Vehtari et al. 2021)
  basic,            ///< `rhat_basic`: the classic split-R-hat of BDA3
};

namespace detail {

/// Draws are constant (to within the machine epsilon, posterior's `is_constant`): R-hat is
/// undefined (0/0), returned as NaN as posterior returns NA.
inline bool draws_are_constant(const Eigen::Ref<const Eigen::MatrixXd>& draws) {
  return std::abs(draws.maxCoeff() - draws.minCoeff()) < std::numeric_limits<double>::epsilon();
}

/// The R-hat formula of the file comment over the columns of `chains` as given (no split).
inline double rhat_of_chains(const Eigen::Ref<const Eigen::MatrixXd>& chains) {
  if (draws_are_constant(chains)) return std::numeric_limits<double>::quiet_NaN();
  const auto iterations = static_cast<double>(chains.rows());
  const auto count = static_cast<double>(chains.cols());
  double mean_of_means = 0, within = 0;
  for (Eigen::Index m = 0; m < chains.cols(); ++m) mean_of_means += chains.col(m).mean();
  mean_of_means /= count;
  double between = 0;
  for (Eigen::Index m = 0; m < chains.cols(); ++m) {
    const double mean = chains.col(m).mean();
    between += (mean - mean_of_means) * (mean - mean_of_means);
    within += (chains.col(m).array() - mean).square().sum() / (iterations - 1);
  }
  between *= iterations / (count - 1);
  within /= count;
  return std::sqrt((between / within + iterations - 1) / iterations);
}

/// Throws unless `draws` has at least 4 iterations (two per half, for a variance) and a chain.
inline void check_rhat_draws(std::string_view function, const Eigen::Ref<const Eigen::MatrixXd>& draws) {
  if (draws.cols() < 1) throw_invalid(function, "draws has 0 columns (chains), but needs at least 1");
  if (draws.rows() < 4)
    throw_invalid(function, "draws has ", draws.rows(), " rows (iterations), but needs at least 4");
  check_finite_draws(function, draws);
}

}  // namespace detail

/// @brief The classic split-R-hat (BDA3; posterior's `rhat_basic`) of `draws`, a matrix with
/// one row per iteration and one column per chain. NaN when all draws are equal.
/// @throws std::invalid_argument `rhat_basic: draws has 3 rows (iterations), but needs at least 4`
///   (or 0 columns).
/// @throws std::domain_error `rhat_basic: draws(i, j) is nan, but must be finite`.
inline double rhat_basic(const Eigen::Ref<const Eigen::MatrixXd>& draws, RankWorkspace& workspace) {
  detail::check_rhat_draws("rhat_basic", draws);
  split_chains(draws, workspace.split);
  return detail::rhat_of_chains(workspace.split);
}

/// @brief Allocating convenience form of `rhat_basic`.
inline double rhat_basic(const Eigen::Ref<const Eigen::MatrixXd>& draws) {
  RankWorkspace workspace;
  return rhat_basic(draws, workspace);
}

/// @brief Rank-normalized split-R-hat (Vehtari et al. 2021; posterior's `rhat`):
/// @f$ \max(\hat R_{\text{bulk}}, \hat R_{\text{tail}}) @f$, where bulk is the split-R-hat of the
/// rank-normalized split chains and tail that of the draws folded around their median, then split
/// and rank-normalized. NaN when all draws are equal (or all folded draws are: the bulk alone then
/// cannot vouch for the tails). Cost: two sorts of the draws, O(S log S).
/// @throws std::invalid_argument `rhat: draws has 3 rows (iterations), but needs at least 4`.
/// @throws std::domain_error `rhat: draws(i, j) is inf, but must be finite`.
inline double rhat(const Eigen::Ref<const Eigen::MatrixXd>& draws, RankWorkspace& workspace) {
  detail::check_rhat_draws("rhat", draws);
  split_chains(draws, workspace.split);
  rank_normalize(workspace.split, workspace.transformed, workspace.sorted);
  const double bulk = detail::rhat_of_chains(workspace.transformed);
  // posterior folds around the median of the unsplit draws (the middle iteration of an odd
  // chain counts), then splits.
  fold_draws(draws, workspace.folded, workspace.pooled);
  split_chains(workspace.folded, workspace.split);
  rank_normalize(workspace.split, workspace.transformed, workspace.sorted);
  const double tail = detail::rhat_of_chains(workspace.transformed);
  if (std::isnan(bulk) || std::isnan(tail)) return std::numeric_limits<double>::quiet_NaN();
  return std::max(bulk, tail);
}

/// @brief Allocating convenience form of `rhat`.
inline double rhat(const Eigen::Ref<const Eigen::MatrixXd>& draws) {
  RankWorkspace workspace;
  return rhat(draws, workspace);
}

/// @brief Split-R-hat of the last iterates of an optimisation, per parameter (Dhaka et al. 2020).
///
/// `iterates` has one row per iteration (oldest first) and one column per parameter. Of each
/// column, the last `windows * floor(window_length / windows)` values are cut into `windows`
/// consecutive windows, which are treated as chains (each split in halves again, so
/// `windows = 1` is the single-sequence split-R-hat that compares the first and second half of
/// the window). `out[p]` receives the R-hat of parameter p of the given `kind`. The windows are
/// read in place (no copy of the iterates).
/// @throws std::invalid_argument `rhat_of_windows: windows is 0, but must be at least 1`;
///   `rhat_of_windows: window_length is 500, but iterates has only 400 rows`;
///   `rhat_of_windows: window_length 6 gives windows of 3 iterations, but each needs at least 4`;
///   `rhat_of_windows: out has length 2, but iterates has 3 columns (parameters)`.
/// @throws std::domain_error as `rhat`/`rhat_basic` for a non-finite iterate in the windows.
inline void rhat_of_windows(const Eigen::Ref<const Eigen::MatrixXd>& iterates, std::int64_t window_length,
                            std::int64_t windows, RhatKind kind, Eigen::Ref<Eigen::VectorXd> out,
                            RankWorkspace& workspace) {
  constexpr std::string_view function = "rhat_of_windows";
  if (windows < 1) throw_invalid(function, "windows is ", windows, ", but must be at least 1");
  if (window_length > iterates.rows())
    throw_invalid(function, "window_length is ", window_length, ", but iterates has only ", iterates.rows(), " rows");
  const std::int64_t chain_length = window_length / windows;
  if (chain_length < 4)
    throw_invalid(function, "window_length ", window_length, " gives windows of ", chain_length,
                  " iterations, but each needs at least 4");
  if (out.size() != iterates.cols())
    throw_invalid(function, "out has length ", out.size(), ", but iterates has ", iterates.cols(), " columns (parameters)");
  const std::int64_t first = iterates.rows() - chain_length * windows;
  for (Eigen::Index p = 0; p < iterates.cols(); ++p) {
    // Consecutive windows of one column are the columns of a contiguous (chain_length x windows)
    // block: a Ref<const MatrixXd> has unit inner stride.
    const Eigen::Map<const Eigen::MatrixXd> chains(iterates.data() + p * iterates.outerStride() + first, chain_length, windows);
    out[p] = kind == RhatKind::basic ? rhat_basic(chains, workspace) : rhat(chains, workspace);
  }
}

}  // namespace symbatch
