/// @file low_rank_objective.hpp
/// @brief The negative ELBO of a low-rank-plus-diagonal Gaussian @f$ N(\mu, D^2 + U U^T) @f$
/// over a model, as a graph over shared parameters.
///
/// Parametrisation: @f$ D = \mathrm{diag}(\mathrm{softplus}(\rho)) @f$ (as the mean-field family),
/// @f$ U @f$ a free P x k matrix. Draws @f$ z_s = \mu + d \odot \epsilon_s + U\eta_s @f$ with
/// @f$ (\epsilon_s, \eta_s) @f$ one row of a standard-normal (n_mc, P + k) matrix. Exact entropy by
/// the matrix determinant lemma, built in the graph:
/// @f$ \frac12\log\det(D^2 + UU^T) = \sum_i \log d_i + \frac12 \log\det(I_k + W^T W) @f$,
/// @f$ W = D^{-1}U @f$ (a k x k log-determinant, `log_det_spd`), plus @f$ \frac P2(1 + \log 2\pi) @f$.
///
/// Start: @f$ d = \mathrm{initial\_sd} @f$ and @f$ U_{ij} = 0.1\,\mathrm{initial\_sd}\, n_{ij}/\sqrt k @f$
/// with fixed pseudo-random normals @f$ n_{ij} @f$ (as Pyro's AutoLowRankMultivariateNormal): at
/// @f$ U = 0 @f$ the ELBO's gradient in @f$ U @f$ vanishes (a saddle, since @f$ \eta @f$ enters only
/// through @f$ U\eta @f$), so a zero start would never leave it under exact gradients.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <optional>
#include <span>
#include <vector>

#include "symbatch/inference/gaussian_objective.hpp"
#include "symbatch/inference/low_rank.hpp"
#include "symbatch/ops/blas.hpp"
#include "symbatch/ops/linalg.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/random/draws.hpp"

namespace symbatch {

/// @brief The graph a low-rank fit optimises (see the file comment).
struct LowRankObjective {
  Variable mu;                       ///< shared mean, shape (P,)
  Variable rho;                      ///< shared pre-softplus diagonal sds, shape (P,)
  Variable factor;                   ///< shared factor U, shape (P, k)
  Variable noise;                    ///< the standard-normal draws of one evaluation, shape (n_mc, P + k)
  Variable loss;                     ///< negative ELBO (see the file comment)
  std::vector<Variable> parameters;  ///< {mu, rho, factor}: what to optimise, in this order
  std::vector<FreeVariable> free;    ///< the model's free variables

  /// @brief The approximation at parameter values `values` (in the order of `parameters`).
  /// @throws std::invalid_argument for values of the wrong count or shapes.
  LowRank approximation_from(std::span<const Array> values) const {
    detail::check_parameter_values("LowRankObjective::approximation_from", parameters, values);
    return LowRank(free, to_eigen_vector(values[0]), detail::softplus_values(values[1]), to_eigen_matrix(values[2]));
  }
  /// @brief The approximation at the shared parameters' current values.
  LowRank approximation() const {
    std::vector<Array> values;
    for (const Variable& parameter : parameters) values.push_back(get_value(parameter));
    return approximation_from(values);
  }
};

/// @brief Builds the negative-ELBO graph of a rank-`rank` plus diagonal Gaussian approximation
/// to `model` (see the file comment); without `rank`, NumPyro's default
/// @f$ k = \mathrm{round}(\sqrt P) @f$.
/// @throws std::invalid_argument `low_rank_objective: rank is 0, but must be in [1, 3] (the number of unconstrained parameters)`,
///   `n_mc` below 1, or a model without free variables.
/// @throws std::domain_error `low_rank_objective: initial_sd is 0, but must be positive`.
/// `logp_estimate`, when given, replaces `model.logp()` (see `mean_field_objective`).
inline LowRankObjective low_rank_objective(const Model& model, std::optional<std::int64_t> rank = std::nullopt, std::int64_t n_mc = 1,
                                           double initial_sd = std::log(2.0), const Variable& logp_estimate = {}) {
  detail::check_objective_arguments("low_rank_objective", model, n_mc, initial_sd);
  const std::int64_t size = model.size();
  const std::int64_t k = rank ? *rank : std::max<std::int64_t>(1, std::llround(std::sqrt(static_cast<double>(size))));
  if (k < 1 || k > size)
    throw_invalid("low_rank_objective", "rank is ", k, ", but must be in [1, ", size, "] (the number of unconstrained parameters)");
  LowRankObjective objective;
  objective.free = model.free_variables();
  objective.mu = shared(detail::flat_initial_point(model), "low_rank_mu");
  objective.rho = shared(Array::full<double>(Shape{size}, detail::inverse_softplus(initial_sd)), "low_rank_rho");
  Array start = Array::empty(DType::f64, Shape{size, k});
  PhiloxStream stream(seed_rng_state(0, 0));
  for (std::int64_t i = 0; i < start.size(); ++i)
    start.data<double>()[i] = 0.1 * initial_sd * stream.normal() / std::sqrt(static_cast<double>(k));
  objective.factor = shared(start, "low_rank_factor");
  objective.parameters = {objective.mu, objective.rho, objective.factor};

  const Variable diagonal = softplus(objective.rho);
  objective.noise = random::normal(random::rng("advi_rng"), 0.0, 1.0, {n_mc, size + k}).value;
  std::vector<Variable> draws;
  for (std::int64_t draw = 0; draw < n_mc; ++draw) {
    const Variable row = detail::noise_row(objective.noise, draw, size + k);
    draws.push_back(objective.mu + diagonal * slice(row, 0, size) + matmul(objective.factor, slice(row, size, size + k)));
  }
  const Variable whitened = objective.factor / reshape(diagonal, {size, 1});
  const Variable capacitance = constant(to_array(Eigen::MatrixXd::Identity(k, k))) + matmul_transpose_a(whitened, whitened);
  const Variable entropy = sum(log(diagonal)) + 0.5 * log_det_spd(capacitance) + 0.5 * static_cast<double>(size) * (1 + std::log(2 * std::numbers::pi));
  objective.loss = -(detail::expected_log_probability(model, draws, logp_estimate) + entropy);
  objective.loss.set_name("loss");
  return objective;
}

}  // namespace symbatch
