/// @file psis_check.hpp
/// @brief `psis_check`: is a fitted Gaussian approximation close enough to the full-data
/// posterior to trust? The Pareto k-hat of its importance ratios (Yao, Vehtari, Simpson, Gelman
/// 2018, "Yes, but did it work?: Evaluating variational inference").
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/inference/gaussian_approximation.hpp"
#include "symbatch/inference/psis.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/random/philox.hpp"

namespace symbatch {

/// @brief The result of `psis_check`.
struct PsisCheck {
  double khat = 0;          ///< shape of the generalized Pareto tail of the importance ratios
  double threshold = 0.7;   ///< `psis_khat_threshold(draws)`: at or above it, do not trust the approximation
  std::int64_t draws = 0;   ///< draws from the approximation used
  /// k-hat below the threshold: the approximation's tails cover the posterior's.
  bool reliable() const { return khat < threshold; }
};

/// @brief Draws `draws` points from `approximation` (in the unconstrained space, with `seed`)
/// and fits a generalized Pareto tail to their log importance ratios
/// @f$ \log p(\theta_s \mid \text{all data}) - \log q(\theta_s) @f$, the log-probability
/// evaluated on the full data (every minibatch view replaced by its whole array, Jacobians
/// included). Below 0.5 the ratios have finite variance; from 0.7 (`threshold`, lower with few
/// draws) the approximation is too far from the posterior to trust: typically sds too small, a
/// mean-field factorisation of strongly correlated parameters, or a fit that has not converged.
///
/// Cost: one full-data evaluation per draw (the data pass dominates for large data).
/// @throws std::invalid_argument `psis_check: draws is 5, but must be at least 20`, or an
///   approximation over another number of parameters than the model's.
/// @throws std::domain_error when the log-probability is NaN or +inf at a draw.
inline PsisCheck psis_check(const Model& model, const GaussianApproximation& approximation, std::int64_t draws = 1000, std::uint64_t seed = 0) {
  constexpr const char* function = "psis_check";
  if (draws < 20) throw_invalid(function, "draws is ", draws, ", but must be at least 20");
  if (approximation.size() != model.size())
    throw_invalid(function, "the approximation has ", approximation.size(), " parameters, but the model has ", model.size());
  const std::int64_t size = model.size();
  Function logp = compile(model.value_variables(), {model.full_data_logp()});
  // log q through the Cholesky factor of the covariance (diagonal for mean-field).
  const bool diagonal = approximation.family() == "MeanField";
  const Eigen::VectorXd sd = approximation.unconstrained_sd();
  Eigen::LLT<Eigen::MatrixXd> llt;
  if (!diagonal) llt.compute(approximation.covariance());
  const double log_det = diagonal ? 2 * sd.array().log().sum() : 2 * llt.matrixLLT().diagonal().array().log().sum();
  const double constant = -0.5 * (log_det + static_cast<double>(size) * std::log(2 * std::numbers::pi));

  PhiloxStream stream(seed_rng_state(seed, 0x7073697363686b));  // a stream of its own ("psischk")
  Eigen::VectorXd log_ratios(draws), epsilon(size), theta(size), smoothed(draws);
  for (std::int64_t s = 0; s < draws; ++s) {
    for (Eigen::Index i = 0; i < size; ++i) epsilon[i] = stream.normal();
    theta = approximation.unconstrained_mean() + (diagonal ? Eigen::VectorXd(sd.cwiseProduct(epsilon)) : Eigen::VectorXd(llt.matrixL() * epsilon));
    const std::vector<Array> point = model.unflatten(theta);
    const double log_p = logp(point)[0].item();
    if (std::isnan(log_p) || log_p == std::numeric_limits<double>::infinity())
      throw_domain(function, "the full-data log-probability is ", log_p, " at draw ", s);
    log_ratios[s] = log_p - (constant - 0.5 * epsilon.squaredNorm());
  }
  return {psis(log_ratios, smoothed).pareto_k, psis_khat_threshold(draws), draws};
}

}  // namespace symbatch
