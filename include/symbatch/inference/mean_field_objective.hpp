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
struct MeanFieldObjective {
  std::vector<Variable> mu;          ///< shared means, one per free variable
  std::vector<Variable> rho;         ///< shared pre-softplus scales
  Variable loss;                     ///< @f$ -\big(\frac{1}{S}\sum_s \log p(\mu + \sigma\epsilon_s) + \sum \log\sigma\big) @f$ + const
  std::vector<Variable> parameters;  ///< the means then the scales (`mu` then `rho`): what to optimise
  Variable noise;                    ///< the standard-normal draws of one evaluation, shape (n_mc * P,), draw by draw
  std::vector<FreeVariable> free;    ///< the model's free variables

  /// @brief The approximation at parameter values `values` (in the order of `parameters`; for
  /// example averaged iterates): sds are @f$ \mathrm{softplus}(\rho) @f$.
  /// @throws std::invalid_argument for values of the wrong count or shapes.
  MeanField approximation_from(std::span<const Array> values) const {
    detail::check_parameter_values("MeanFieldObjective::approximation_from", parameters, values);
    std::vector<MeanField::Factor> factors;
    for (std::size_t i = 0; i < mu.size(); ++i) {
      Array sd = values[mu.size() + i].copy();
      for (std::int64_t k = 0; k < sd.size(); ++k) sd.data<double>()[k] = math::softplus(sd.flat<double>(k));
      factors.push_back({free[i].name, values[i].copy(), std::move(sd)});
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

/// @brief Builds the negative-ELBO graph of a mean-field approximation to `model`.
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
  const std::vector<Array> start = model.initial_point();
  MeanFieldObjective objective;
  objective.free = model.free_variables();
  Variable entropy = constant(0.5 * static_cast<double>(model.size()) * (1 + std::log(2 * std::numbers::pi)));
  std::vector<Variable> sds;
  for (std::size_t i = 0; i < start.size(); ++i) {
    const std::string& name = objective.free[i].name;
    objective.mu.push_back(shared(start[i], name + "_mu"));
    objective.rho.push_back(shared(Array::full<double>(start[i].shape(), detail::inverse_softplus(initial_sd)), name + "_rho"));
    sds.push_back(softplus(objective.rho.back()));
    entropy = entropy + sum(log(sds.back()));
  }
  objective.parameters = objective.mu;
  objective.parameters.insert(objective.parameters.end(), objective.rho.begin(), objective.rho.end());
  objective.noise = random::normal(random::rng("advi_rng"), 0.0, 1.0, {n_mc * model.size()}).value;
  const Variable logp = logp_estimate ? logp_estimate : model.logp();
  const std::vector<Variable> values = model.value_variables();
  Variable expected = constant(0.0);
  std::int64_t offset = 0;
  for (std::int64_t draw = 0; draw < n_mc; ++draw) {
    std::vector<std::pair<Variable, Variable>> point;
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::int64_t size = start[i].size();
      const std::vector<std::int64_t> shape(start[i].shape().begin(), start[i].shape().end());
      const Variable epsilon = reshape(slice(objective.noise, offset, offset + size), shape);
      point.emplace_back(values[i], objective.mu[i] + sds[i] * epsilon);
      offset += size;
    }
    expected = expected + replace(logp, point);
  }
  objective.loss = -(expected / static_cast<double>(n_mc) + entropy);
  objective.loss.set_name("loss");
  return objective;
}

}  // namespace symbatch
