/// @file gaussian_objective.hpp
/// @brief What the negative-ELBO graphs of the Gaussian families share: argument checks, the
/// softplus parametrisation of scales, and the expected log-probability at flat draws.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "symbatch/model/model.hpp"
#include "symbatch/ops/reshape.hpp"
#include "symbatch/ops/scalar_math.hpp"
#include "symbatch/ops/subtensor.hpp"

namespace symbatch::detail {

/// The checks every family's objective makes, naming `function`.
inline void check_objective_arguments(const std::string& function, const Model& model, std::int64_t n_mc, double initial_sd) {
  if (n_mc < 1) throw_invalid(function, "n_mc is ", n_mc, ", but must be at least 1");
  check_positive(function, "initial_sd", initial_sd);
  if (model.free_variables().empty()) throw_invalid(function, "the model has no free variables to fit");
}

/// @f$ \mathrm{softplus}^{-1}(s) = \log(e^s - 1) @f$, the unconstrained scale of an sd `s`.
inline double inverse_softplus(double sd) { return sd > 30 ? sd : std::log(std::expm1(sd)); }

/// The model's initial point, flattened in the order of its free variables.
inline Array flat_initial_point(const Model& model) {
  std::vector<double> flat;
  for (const Array& start : model.initial_point())
    for (std::int64_t k = 0; k < start.size(); ++k) flat.push_back(start.flat<double>(k));
  return Array::from(flat);
}

/// @f$ \frac1S \sum_s \log p(z_s) @f$: each flat draw `z_s` (shape (P,)) cut into the model's
/// value variables and substituted into one log-probability graph (so every draw reuses the
/// model's one minibatch node): `logp_estimate` when given (a graph over the same value
/// variables, such as the control variate's estimator), else `model.logp()`.
inline Variable expected_log_probability(const Model& model, const std::vector<Variable>& flat_draws, const Variable& logp_estimate = {}) {
  const Variable logp = logp_estimate ? logp_estimate : model.logp();
  const std::vector<Variable> values = model.value_variables();
  const std::vector<FreeVariable>& free = model.free_variables();
  Variable total = constant(0.0);
  for (const Variable& z : flat_draws) {
    std::vector<std::pair<Variable, Variable>> point;
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
      std::int64_t size = 1;
      for (std::int64_t dim : free[i].shape) size *= dim;
      point.emplace_back(values[i], reshape(slice(z, offset, offset + size), free[i].shape));
      offset += size;
    }
    total = total + replace(logp, point);
  }
  return total / static_cast<double>(flat_draws.size());
}

/// Row `draw` of the (n_mc, width) noise matrix as a vector.
inline Variable noise_row(const Variable& noise, std::int64_t draw, std::int64_t width) {
  return reshape(slice(noise, draw, draw + 1), {width});
}

/// Checks that `values` are `count` f64 arrays of the shapes of `parameters`, naming `function`.
inline void check_parameter_values(const std::string& function, const std::vector<Variable>& parameters, std::span<const Array> values) {
  if (values.size() != parameters.size())
    throw_invalid(function, "got ", values.size(), " parameter values, expected ", parameters.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const Array& expected = get_value(parameters[i]);
    if (values[i].dtype() != DType::f64 || values[i].shape() != expected.shape())
      throw_invalid(function, "parameter value ", i, " ('", parameters[i].name(), "') has type ", Type::of(values[i]).str(), ", expected ",
                    Type::of(expected).str());
  }
}

/// The softplus of every entry of `rho`, as an Eigen vector.
inline Eigen::VectorXd softplus_values(const Array& rho) {
  Eigen::VectorXd sd(rho.size());
  for (std::int64_t k = 0; k < rho.size(); ++k) sd[k] = math::softplus(rho.flat<double>(k));
  return sd;
}

}  // namespace symbatch::detail
