/// @file low_rank.hpp
/// @brief `LowRank`: a Gaussian with covariance @f$ D^2 + U U^T @f$ (a positive diagonal plus
/// a rank-k factor) over a model's unconstrained parameters (NumPyro's
/// AutoLowRankMultivariateNormal): O(P k) memory, correlations along k directions.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "symbatch/inference/gaussian_approximation.hpp"

namespace symbatch {

/// @brief @f$ N(\mu, \mathrm{diag}(d^2) + U U^T) @f$ over the flattened unconstrained
/// parameters; sampling, moments, covariance and entropy (by the matrix determinant lemma) are
/// `GaussianApproximation`'s.
class LowRank : public GaussianApproximation {
 public:
  /// @brief The approximation over `free` with mean `mean`, diagonal sds `diagonal` and factor
  /// `factor` (P x k, k >= 1).
  /// @throws std::invalid_argument `LowRank::LowRank: the factor has 0 columns, but the rank must be at least 1`,
  ///   or sizes that disagree with the free variables.
  /// @throws std::domain_error `LowRank::LowRank: sd[0] is 0, but must be positive`.
  LowRank(std::vector<FreeVariable> free, Eigen::VectorXd mean, Eigen::VectorXd diagonal, Eigen::MatrixXd factor)
      : GaussianApproximation("LowRank", std::move(free), std::move(mean), checked(diagonal, factor), factor) {}

  /// @brief The diagonal sds @f$ d @f$ (the covariance's diagonal part is @f$ d^2 @f$).
  const Eigen::VectorXd& diagonal_sd() const { return diagonal(); }
  /// @brief The P x k factor @f$ U @f$.
  const Eigen::MatrixXd& low_rank_factor() const { return factor(); }
  /// @brief The rank k.
  std::int64_t rank() const { return factor().cols(); }

 private:
  // The determinant lemma divides by d: a zero diagonal entry is refused here, unlike MeanField.
  // (The factor is copied, not moved, into the base: it is read here in the same call.)
  static Eigen::VectorXd checked(const Eigen::VectorXd& diagonal, const Eigen::MatrixXd& factor) {
    if (factor.cols() < 1) throw_invalid("LowRank::LowRank", "the factor has ", factor.cols(), " columns, but the rank must be at least 1");
    if (diagonal.size() != factor.rows())
      throw_invalid("LowRank::LowRank", "the diagonal has ", diagonal.size(), " entries and the factor ", factor.rows(), " rows; they must agree");
    for (Eigen::Index i = 0; i < diagonal.size(); ++i)
      if (!(diagonal[i] > 0)) throw_domain("LowRank::LowRank", "sd[", i, "] is ", detail::format_number(diagonal[i]), ", but must be positive");
    return diagonal;
  }
};

}  // namespace symbatch
