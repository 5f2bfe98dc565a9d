/// @file rank_normalize.hpp
/// @brief The draw transformations behind the rank-normalized R-hat and bulk ESS (Vehtari,
/// Gelman, Simpson, Carpenter, Bürkner 2021, "Rank-normalization, folding, and localization: an
/// improved R-hat for assessing convergence of MCMC", Bayesian Analysis 16(2)), as the R package
/// `posterior` (1.x) computes them: splitting chains in halves, folding around the median,
/// and replacing draws by normal scores of their pooled ranks.
///
/// Draws are a matrix with one row per iteration and one column per chain (posterior's
/// `as.matrix` layout); a window of one iterate sequence is a chain like any other.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "symbatch/core/error.hpp"

namespace symbatch {

/// @brief Buffers reused across calls by the rank-based diagnostics. Grows on demand; once it has
/// seen the largest draws matrix, calls allocate nothing.
struct RankWorkspace {
  Eigen::MatrixXd split;            ///< the split chains
  Eigen::MatrixXd folded;           ///< draws folded around their median
  Eigen::MatrixXd transformed;      ///< rank-normalized draws
  std::vector<std::pair<double, std::int64_t>> sorted;  ///< pooled draws with their flat indices, sorted
  std::vector<double> pooled;       ///< scratch copy for the median
};

/// @brief Standard normal quantile @f$ \Phi^{-1}(p) @f$ by Wichura's algorithm AS 241 (PPND16,
/// Applied Statistics 37(3), 1988), relative accuracy about 1e-16. R's `qnorm` uses the same
/// rational approximations; it refines only far tails (@f$ p < e^{-729} @f$) that rank
/// normalization, whose @f$ p \ge 0.6/S @f$, never reaches. Returns -inf at 0, +inf at 1, NaN
/// outside [0, 1].
inline double normal_quantile(double p) {
  if (!(p >= 0 && p <= 1)) return std::numeric_limits<double>::quiet_NaN();
  if (p == 0) return -std::numeric_limits<double>::infinity();
  if (p == 1) return std::numeric_limits<double>::infinity();
  const double q = p - 0.5;
  if (std::abs(q) <= 0.425) {
    const double r = 0.180625 - q * q;
    return q *
           (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r + 67265.770927008700853) * r +
                45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r +
             133.14166789178437745) * r + 3.387132872796366608) /
           (((((((r * 5226.495278852854561 + 28729.085735721942674) * r + 39307.89580009271061) * r +
                21213.794301586595867) * r + 5394.1960214247511077) * r + 687.1870074920579083) * r +
             42.313330701600911252) * r + 1.0);
  }
  double r = std::sqrt(-std::log(q < 0 ? p : 1 - p));
  double value;
  if (r <= 5) {
    r -= 1.6;
    value = (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r + 0.24178072517745061177) * r +
                 1.27045825245236838258) * r + 3.64784832476320460504) * r + 5.7694972214606914055) * r +
              4.6303378461565452959) * r + 1.42343711074968357734) /
            (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r +
                 0.14810397642748007459) * r + 0.68976733498510000455) * r + 1.6763848301838038494) * r +
              2.05319162663775882187) * r + 1.0);
  } else {
    r -= 5;
    value = (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) * r +
                 0.026532189526576123093) * r + 0.29656057182850489123) * r + 1.7848265399172913358) * r +
              5.4637849111641143699) * r + 6.6579046435011037772) /
            (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r +
                 7.868691311456132591e-4) * r + 0.0148753612908506148525) * r + 0.13692988092273580531) * r +
              0.59983220655588793769) * r + 1.0);
  }
  return q < 0 ? -value : value;
}

/// @brief Throws `std::domain_error` naming the first non-finite draw:
/// `<function>: draws(i, j) is nan, but must be finite`. The rank-based diagnostics are undefined
/// for such draws (posterior returns NA), and a non-finite iterate is a failure `fit` reports
/// itself.
inline void check_finite_draws(std::string_view function, const Eigen::Ref<const Eigen::MatrixXd>& draws) {
  if (draws.allFinite()) return;
  for (Eigen::Index j = 0; j < draws.cols(); ++j)
    for (Eigen::Index i = 0; i < draws.rows(); ++i)
      if (!std::isfinite(draws(i, j)))
        throw_domain(function, "draws(", i, ", ", j, ") is ", detail::format_number(draws(i, j)),
                     ", but must be finite");
}

/// @brief Splits every chain into its first and second halves, doubling the chains:
/// `out` is @f$ \lfloor n/2 \rfloor \times 2c @f$, columns @f$ 0..c-1 @f$ the first halves, @f$ c..2c-1 @f$
/// the second halves. With an odd number of iterations the middle one is dropped (posterior's
/// `split_chains`). Splitting lets R-hat see a trend within a chain as disagreement between chains.
inline void split_chains(const Eigen::Ref<const Eigen::MatrixXd>& draws, Eigen::MatrixXd& out) {
  const Eigen::Index half = draws.rows() / 2, chains = draws.cols();
  out.resize(half, 2 * chains);
  out.leftCols(chains) = draws.topRows(half);
  out.rightCols(chains) = draws.bottomRows(half);
}

/// @brief Replaces every draw by its distance from the median of all draws,
/// @f$ |x - \operatorname{median}(x)| @f$ (posterior's `fold_draws`): R-hat of folded draws
/// detects chains that differ in scale rather than location (the "tail" R-hat).
/// @throws std::invalid_argument `fold_draws: draws is empty, but its median is needed`.
inline void fold_draws(const Eigen::Ref<const Eigen::MatrixXd>& draws, Eigen::MatrixXd& out,
                       std::vector<double>& scratch) {
  if (draws.size() == 0) throw_invalid("fold_draws", "draws is empty, but its median is needed");
  const auto count = static_cast<std::size_t>(draws.size());
  scratch.resize(count);
  Eigen::Map<Eigen::MatrixXd>(scratch.data(), draws.rows(), draws.cols()) = draws;
  const auto middle = scratch.begin() + static_cast<std::ptrdiff_t>(count / 2);
  std::nth_element(scratch.begin(), middle, scratch.end());
  double median = *middle;
  if (count % 2 == 0) median = (median + *std::max_element(scratch.begin(), middle)) / 2;
  out = (draws.array() - median).abs().matrix();
}

/// @brief Rank-normalizes draws (Vehtari et al. 2021, eq. 14): every draw becomes
/// @f$ z = \Phi^{-1}\big((r - 3/8) / (S + 1/4)\big) @f$, where @f$ r @f$ is its rank among all
/// @f$ S @f$ pooled draws (ties get their average rank) — Blom's normal scores. The result is
/// insensitive to the marginal's shape, so R-hat and ESS computed on it exist for heavy tails.
/// Sorting dominates: O(S log S).
inline void rank_normalize(const Eigen::Ref<const Eigen::MatrixXd>& draws, Eigen::MatrixXd& out,
                           std::vector<std::pair<double, std::int64_t>>& sorted) {
  const std::int64_t count = draws.size();
  out.resize(draws.rows(), draws.cols());
  // Sorting (value, column-major index) pairs held contiguously is several times faster than
  // sorting indices that look their values up through the matrix.
  sorted.resize(static_cast<std::size_t>(count));
  for (Eigen::Index j = 0, flat = 0; j < draws.cols(); ++j)
    for (Eigen::Index i = 0; i < draws.rows(); ++i, ++flat) sorted[static_cast<std::size_t>(flat)] = {draws(i, j), flat};
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const double denominator = static_cast<double>(count) + 0.25;
  double* target = out.data();
  for (std::int64_t first = 0; first < count;) {
    std::int64_t last = first + 1;  // [first, last) is one group of tied draws
    while (last < count && sorted[static_cast<std::size_t>(last)].first == sorted[static_cast<std::size_t>(first)].first)
      ++last;
    const double average_rank = 0.5 * static_cast<double>(first + 1 + last);
    const double score = normal_quantile((average_rank - 0.375) / denominator);
    for (std::int64_t k = first; k < last; ++k) target[sorted[static_cast<std::size_t>(k)].second] = score;
    first = last;
  }
}

}  // namespace symbatch
