/// @file mean_field_objective.hpp
/// @brief The negative ELBO of a mean-field Gaussian over a model, as a graph over shared
/// parameters (the means and pre-softplus scales), the objective `fit` minimises.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "symbatch/model/model.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/ops/reshape.hpp"
#include "symbatch/ops/subtensor.hpp"
#include "symbatch/random/draws.hpp"

namespace symbatch {

/// @brief The graph `fit` optimises: the negative ELBO of a mean-field Gaussian over a model.
struct MeanFieldObjective {
  std::vector<Variable> mu;   ///< shared means, one per free variable
  std::vector<Variable> rho;  ///< shared pre-softplus scales
  Variable loss;              ///< @f$ -\big(\frac{1}{S}\sum_s \log p(\mu + \sigma\epsilon_s) + \sum \log\sigma\big) @f$ + const
};

/// @brief Builds the negative-ELBO graph of a mean-field approximation to `model`.
///
/// The `n_mc` draws @f$ \epsilon_s @f$ come from one standard-normal node over an RNG of its
/// own; every draw's log-probability reuses the same minibatch node, so all draws of one call
/// see the same batch. The entropy term is exact: @f$ \sum_i \log\sigma_i + \frac{n}{2}(1 + \log 2\pi) @f$.
inline MeanFieldObjective mean_field_objective(const Model& model, std::int64_t n_mc = 1, double initial_sd = std::log(2.0)) {
  if (n_mc < 1) throw_invalid("fit", "n_mc is ", n_mc, ", but must be at least 1");
  check_positive("fit", "initial_sd", initial_sd);
  if (model.free_variables().empty()) throw_invalid("fit", "the model has no free variables to fit");
  const Variable logp = model.logp();
  const std::vector<Array> start = model.initial_point();
  const double rho0 = initial_sd > 30 ? initial_sd : std::log(std::expm1(initial_sd));  // softplus^-1
  MeanFieldObjective objective;
  Variable entropy = constant(0.5 * static_cast<double>(model.size()) * (1 + std::log(2 * std::numbers::pi)));
  std::vector<Variable> sds;
  for (std::size_t i = 0; i < start.size(); ++i) {
    const std::string& name = model.free_variables()[i].name;
    objective.mu.push_back(shared(start[i], name + "_mu"));
    objective.rho.push_back(shared(Array::full<double>(start[i].shape(), rho0), name + "_rho"));
    sds.push_back(softplus(objective.rho.back()));
    entropy = entropy + sum(log(sds.back()));
  }
  const Variable noise = random::normal(random::rng("advi_rng"), 0.0, 1.0, {n_mc * model.size()}).value;
  const std::vector<Variable> values = model.value_variables();
  Variable expected = constant(0.0);
  std::int64_t offset = 0;
  for (std::int64_t draw = 0; draw < n_mc; ++draw) {
    std::vector<std::pair<Variable, Variable>> point;
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::int64_t size = start[i].size();
      const std::vector<std::int64_t> shape(start[i].shape().begin(), start[i].shape().end());
      const Variable epsilon = reshape(slice(noise, offset, offset + size), shape);
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
