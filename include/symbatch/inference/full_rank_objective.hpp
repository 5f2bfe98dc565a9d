/// @file full_rank_objective.hpp
/// @brief The negative ELBO of a full-rank Gaussian @f$ N(\mu, L L^T) @f$ over a model, as a
/// graph over shared parameters.
///
/// Parametrisation: @f$ L = \mathrm{diag}(\mathrm{softplus}(\rho)) + \mathrm{tril}_{-1}(O) @f$, the
/// strictly lower triangle of a shared P x P matrix @f$ O @f$ (its diagonal and upper triangle are
/// masked out and get zero gradient). Softplus rather than exp for the diagonal: it is the
/// mean-field family's parametrisation, so a full-rank fit with @f$ O = 0 @f$ is exactly the
/// mean-field one and both start from the same point; and it grows linearly, so one large
/// optimizer step on @f$ \rho @f$ cannot blow a scale up exponentially (for small scales it
/// behaves like exp anyway). Reparameterised draws @f$ z_s = \mu + L\epsilon_s @f$; exact entropy
/// @f$ \sum_i \log L_{ii} + \frac P2(1 + \log 2\pi) @f$.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>
#include <vector>

#include "symbatch/inference/full_rank.hpp"
#include "symbatch/inference/gaussian_objective.hpp"
#include "symbatch/ops/blas.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/random/draws.hpp"

namespace symbatch {

/// @brief The largest number of unconstrained parameters `full_rank_objective` accepts: its
/// P x P factor, gradient and optimizer moments take about 5 P^2 doubles (160 MB at P = 2000).
inline constexpr std::int64_t full_rank_max_parameters = 2000;

/// @brief The graph a full-rank fit optimises (see the file comment).
struct FullRankObjective {
  Variable mu;                       ///< shared mean, shape (P,)
  Variable rho;                      ///< shared pre-softplus diagonal of L, shape (P,)
  Variable off_diagonal;             ///< shared P x P matrix whose strictly lower triangle is L's
  Variable noise;                    ///< the standard-normal draws of one evaluation, shape (n_mc, P)
  Variable loss;                     ///< @f$ -\big(\frac1S\sum_s \log p(\mu + L\epsilon_s) + \sum_i \log L_{ii}\big) @f$ + const
  std::vector<Variable> parameters;  ///< {mu, rho, off_diagonal}: what to optimise, in this order
  std::vector<FreeVariable> free;    ///< the model's free variables

  /// @brief The approximation at parameter values `values` (in the order of `parameters`; for
  /// example averaged iterates). The upper triangle and diagonal of `off_diagonal` are ignored.
  /// @throws std::invalid_argument for values of the wrong count or shapes.
  FullRank approximation_from(std::span<const Array> values) const {
    detail::check_parameter_values("FullRankObjective::approximation_from", parameters, values);
    const Eigen::Index size = values[0].size();
    Eigen::MatrixXd cholesky = Eigen::MatrixXd::Zero(size, size);
    cholesky.diagonal() = detail::softplus_values(values[1]);
    for (Eigen::Index i = 0; i < size; ++i)
      for (Eigen::Index j = 0; j < i; ++j) cholesky(i, j) = values[2].flat<double>(i * size + j);
    return FullRank(free, to_eigen_vector(values[0]), std::move(cholesky));
  }
  /// @brief The approximation at the shared parameters' current values.
  FullRank approximation() const {
    std::vector<Array> values;
    for (const Variable& parameter : parameters) values.push_back(get_value(parameter));
    return approximation_from(values);
  }
};

/// @brief Builds the negative-ELBO graph of a full-rank Gaussian approximation to `model`,
/// starting at the model's initial point with @f$ L = \mathrm{initial\_sd}\, I @f$. The `n_mc`
/// draws come from one standard-normal node over an RNG of its own and share the step's one
/// minibatch.
/// @throws std::invalid_argument `full_rank_objective: n_mc is 0, but must be at least 1`, a model
///   without free variables, or `full_rank_objective: the model has 2001 unconstrained parameters,
///   more than the 2000 a full-rank Gaussian allows (its P x P factor, gradient and optimizer
///   moments take O(P^2) memory); use the low-rank family (LowRankFamily) instead`.
/// @throws std::domain_error `full_rank_objective: initial_sd is 0, but must be positive`.
/// `logp_estimate`, when given, replaces `model.logp()` (see `mean_field_objective`).
inline FullRankObjective full_rank_objective(const Model& model, std::int64_t n_mc = 1, double initial_sd = std::log(2.0),
                                             const Variable& logp_estimate = {}) {
  detail::check_objective_arguments("full_rank_objective", model, n_mc, initial_sd);
  const std::int64_t size = model.size();
  if (size > full_rank_max_parameters)
    throw_invalid("full_rank_objective", "the model has ", size, " unconstrained parameters, more than the ", full_rank_max_parameters,
                  " a full-rank Gaussian allows (its P x P factor, gradient and optimizer moments take O(P^2) memory); "
                  "use the low-rank family (LowRankFamily) instead");
  FullRankObjective objective;
  objective.free = model.free_variables();
  objective.mu = shared(detail::flat_initial_point(model), "full_rank_mu");
  objective.rho = shared(Array::full<double>(Shape{size}, detail::inverse_softplus(initial_sd)), "full_rank_rho");
  objective.off_diagonal = shared(Array::zeros(DType::f64, Shape{size, size}), "full_rank_off_diagonal");
  objective.parameters = {objective.mu, objective.rho, objective.off_diagonal};
  Array mask = Array::zeros(DType::f64, Shape{size, size});
  for (std::int64_t i = 0; i < size; ++i)
    for (std::int64_t j = 0; j < i; ++j) mask.data<double>()[i * size + j] = 1;
  const Variable lower = objective.off_diagonal * constant(mask);
  const Variable diagonal = softplus(objective.rho);
  objective.noise = random::normal(random::rng("advi_rng"), 0.0, 1.0, {n_mc, size}).value;
  std::vector<Variable> draws;
  for (std::int64_t draw = 0; draw < n_mc; ++draw) {
    const Variable epsilon = detail::noise_row(objective.noise, draw, size);
    draws.push_back(objective.mu + diagonal * epsilon + matmul(lower, epsilon));
  }
  const Variable entropy = sum(log(diagonal)) + 0.5 * static_cast<double>(size) * (1 + std::log(2 * std::numbers::pi));
  objective.loss = -(detail::expected_log_probability(model, draws, logp_estimate) + entropy);
  objective.loss.set_name("loss");
  return objective;
}

}  // namespace symbatch
