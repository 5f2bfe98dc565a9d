/// @file full_rank.hpp
/// @brief `FullRank`: a Gaussian with a dense covariance @f$ L L^T @f$ over a model's
/// unconstrained parameters (NumPyro's AutoMultivariateNormal, PyMC's FullRankADVI).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "symbatch/inference/gaussian_approximation.hpp"

namespace symbatch {

/// @brief @f$ N(\mu, L L^T) @f$ over the flattened unconstrained parameters, @f$ L @f$ lower
/// triangular with a positive diagonal; sampling, moments, covariance and entropy are
/// `GaussianApproximation`'s (entropy @f$ \sum_i \log L_{ii} + \frac P2(1 + \log 2\pi) @f$).
class FullRank : public GaussianApproximation {
 public:
  /// @brief The approximation over `free` with mean `mean` and Cholesky factor `cholesky_factor`.
  /// @throws std::invalid_argument when the sizes disagree with the free variables.
  /// @throws std::domain_error `FullRank::FullRank: the Cholesky factor's diagonal entry 1 is 0, but must be positive and finite`
  ///   or an entry above the diagonal.
  FullRank(std::vector<FreeVariable> free, Eigen::VectorXd mean, Eigen::MatrixXd cholesky_factor)
      : GaussianApproximation("FullRank", std::move(free), std::move(mean), Eigen::VectorXd(), std::move(cholesky_factor)) {}

  /// @brief The Cholesky factor @f$ L @f$ of the covariance.
  const Eigen::MatrixXd& cholesky_factor() const { return factor(); }
};

}  // namespace symbatch
