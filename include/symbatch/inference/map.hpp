/// @file map.hpp
/// @brief MAP estimation by stochastic optimisation of a model's (minibatch) log-probability.
#pragma once

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "symbatch/model/model.hpp"
#include "symbatch/optim/optimizers.hpp"

namespace symbatch {

/// @brief Options of `find_map`.
struct MapOptions {
  std::int64_t iterations = 1000;
  Optimizer optimizer = Adam{};
  std::uint64_t seed = 0;  ///< reseeds the model's RNGs (the minibatch draws)
};

/// @brief The result of `find_map`: the estimate in the constrained space, by name, and the
/// loss (minus the scaled logp) at every iteration.
struct MapResult {
  std::map<std::string, Array> point;
  std::vector<double> loss_history;
};

/// @brief Maximises `model.logp()` with the optimizer, one minibatch per iteration, from the
/// model's initial point. All per-iteration work is one compiled call (loss, gradients and
/// updates together).
/// @throws std::domain_error when the loss becomes NaN, naming the parameters that are NaN.
inline MapResult find_map(const Model& model, MapOptions options = {}) {
  const std::vector<Variable> values = model.value_variables();
  const std::vector<Array> start = model.initial_point();
  std::vector<Variable> parameters;
  std::vector<std::pair<Variable, Variable>> replacements;
  for (std::size_t i = 0; i < values.size(); ++i) {
    parameters.push_back(shared(start[i], values[i].name()));
    replacements.emplace_back(values[i], parameters.back());
  }
  const Variable logp = model.logp();
  const Variable loss = -replace(logp, replacements);
  Function step = compile({}, {loss}, {.updates = updates(options.optimizer, loss, parameters), .seed = options.seed});
  MapResult result;
  result.loss_history.reserve(static_cast<std::size_t>(options.iterations));
  for (std::int64_t iteration = 0; iteration < options.iterations; ++iteration) {
    const double value = step()[0].item();
    if (std::isnan(value)) {
      std::string nan;
      for (const Variable& parameter : parameters) {
        const Array& current = get_value(parameter);
        for (std::int64_t k = 0; k < current.size(); ++k)
          if (std::isnan(current.flat<double>(k))) {
            nan += (nan.empty() ? "'" : ", '") + parameter.name() + "'";
            break;
          }
      }
      throw_domain("find_map", "the loss is NaN at iteration ", iteration, nan.empty() ? "" : "; NaN parameters: " + nan);
    }
    result.loss_history.push_back(value);
  }
  // Constrained values: evaluate each free variable's constrained graph at the estimate.
  std::vector<Variable> constrained;
  for (const FreeVariable& free : model.free_variables()) constrained.push_back(replace(free.constrained, replacements));
  Function read = compile({}, constrained);
  const auto& estimates = read();
  for (std::size_t i = 0; i < constrained.size(); ++i) result.point[model.free_variables()[i].name] = estimates[i].copy();
  return result;
}

}  // namespace symbatch
