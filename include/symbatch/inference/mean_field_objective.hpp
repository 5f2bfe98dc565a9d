/// @file mean_field_objective.hpp
/// @brief The negative ELBO of a mean-field Gaussian over a model, as a graph over shared
/// parameters (the means and pre-softplus scales), the objective `fit` minimises.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "symbatch/inference/gaussian_objective.hpp"
#include "symbatch/inference/mean_field.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/random/draws.hpp"

namespace symbatch {

/// @brief The graph `fit` optimises: the negative ELBO of a mean-field Gaussian over a model.
///
/// The parameters are flat, as in the other Gaussian families: one vector of the P means and one
/// of the P pre-softplus scales, in the order of the model's free variables (each variable's
/// entries in C order). A step then updates two vectors of P entries in a few fused loops,
/// however many free variables the model has.
struct MeanFieldObjective {
  Variable mu;                       ///< shared means, shape (P,)
  Variable rho;                      ///< shared pre-softplus scales, shape (P,): sds are softplus(rho)
  Variable loss;                     ///< @f$ -\big(\frac{1}{S}\sum_s \log p(\mu + \sigma\epsilon_s) + \sum \log\sigma\big) @f$ + const
  std::vector<Variable> parameters;  ///< {mu, rho}: what to optimise, in this order
  Variable noise;                    ///< the standard-normal draws of one evaluation, shape (n_mc * P,), draw by draw
  std::vector<FreeVariable> free;    ///< the model's free variables

  /// @brief The approximation at parameter values `values` (in the order of `parameters`; for
  /// example averaged iterates): sds are @f$ \mathrm{softplus}(\rho) @f$.
  /// @throws std::invalid_argument for values of the wrong count or shapes.
  MeanField approximation_from(std::span<const Array> values) const {
    detail::check_parameter_values("MeanFieldObjective::approximation_from", parameters, values);
    std::vector<MeanField::Factor> factors;
    std::int64_t offset = 0;
    for (const FreeVariable& variable : free) {
      const Shape shape(std::span<const std::int64_t>(variable.shape));
      Array mean = Array::empty(DType::f64, shape), sd = Array::empty(DType::f64, shape);
      for (std::int64_t k = 0; k < shape.size(); ++k, ++offset) {
        mean.data<double>()[k] = values[0].flat<double>(offset);
        sd.data<double>()[k] = math::softplus(values[1].flat<double>(offset));
      }
      factors.push_back({variable.name, std::move(mean), std::move(sd)});
    }
    return MeanField(free, std::move(factors));
  }
  /// @brief The approximation at the shared parameters' current values.
  MeanField approximation() const {
    std::vector<Array> values;
    for (const Variable& parameter : parameters) values.push_back(get_value(parameter));
    return approximation_from(values);
  }
};

/// @brief Builds the negative-ELBO graph of a mean-field approximation to `model`, starting at
/// the model's initial point with every sd equal to `initial_sd`.
///
/// The `n_mc` draws @f$ \epsilon_s @f$ come from one standard-normal node over an RNG of its
/// own; every draw's log-probability reuses the same minibatch node, so all draws of one call
/// see the same batch. The entropy term is exact: @f$ \sum_i \log\sigma_i + \frac{n}{2}(1 + \log 2\pi) @f$.
/// @throws std::invalid_argument `fit: n_mc is 0, but must be at least 1` or
///   `fit: the model has no free variables to fit`.
/// `logp`, when given, is used in place of `model.logp()` (a graph over the same value variables:
/// the control variate's estimator, control_variate.hpp).
/// @throws std::domain_error `fit: initial_sd is -1, but must be positive`.
inline MeanFieldObjective mean_field_objective(const Model& model, std::int64_t n_mc = 1, double initial_sd = std::log(2.0),
                                               const Variable& logp_estimate = {}) {
  detail::check_objective_arguments("fit", model, n_mc, initial_sd);
  const std::int64_t size = model.size();
  MeanFieldObjective objective;
  objective.free = model.free_variables();
  objective.mu = shared(detail::flat_initial_point(model), "mean_field_mu");
  objective.rho = shared(Array::full<double>(Shape{size}, detail::inverse_softplus(initial_sd)), "mean_field_rho");
  objective.parameters = {objective.mu, objective.rho};
  const Variable sd = softplus(objective.rho);
  const Variable entropy = sum(log(sd)) + 0.5 * static_cast<double>(size) * (1 + std::log(2 * std::numbers::pi));
  objective.noise = random::normal(random::rng("advi_rng"), 0.0, 1.0, {n_mc * size}).value;
  std::vector<Variable> draws;
  for (std::int64_t draw = 0; draw < n_mc; ++draw)
    draws.push_back(objective.mu + sd * slice(objective.noise, draw * size, (draw + 1) * size));
  const Variable expected = detail::expected_log_probability(model, draws, logp_estimate);
  objective.loss = -(expected + entropy);
  objective.loss.set_name("loss");
  return objective;
}

}  // namespace symbatch
