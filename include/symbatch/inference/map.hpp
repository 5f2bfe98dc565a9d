/// @file map.hpp
/// @brief MAP estimation by stochastic optimisation of a model's (minibatch) log-probability.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/inference/callbacks.hpp"
#include "symbatch/inference/failure.hpp"
#include "symbatch/inference/progress.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/optim/optimizers.hpp"

namespace symbatch {

/// @brief Options of `find_map`.
struct MapOptions {
  std::int64_t max_iterations = 1000;  ///< optimizer steps at most (a callback may stop earlier)
  Optimizer optimizer = Adam{};
  std::uint64_t seed = 0;  ///< reseeds the model's RNGs (the minibatch draws)
  Progress progress = Progress::automatic;
  std::FILE* progress_stream = nullptr;  ///< where progress goes (stderr when null)
};

/// @brief The result of `find_map`: the estimate in the constrained space, by name, and the
/// loss (minus the scaled logp) at every iteration.
struct MapResult {
  std::map<std::string, Array> point;
  std::vector<double> loss_history;
  bool stopped_early = false;  ///< a callback stopped the optimisation
};

/// @brief Maximises `model.logp()` with the optimizer, one minibatch per iteration, from the
/// model's initial point, for at most `options.max_iterations` steps. All per-iteration work is
/// one compiled call (loss, gradients and updates together). Callbacks run after every step (they
/// see the unconstrained values); one returning false stops the optimisation.
/// @throws std::invalid_argument for bad options or a model without free variables.
/// @throws std::domain_error when a step fails (a NaN loss, or a parameter check that throws),
/// naming `find_map`, the iteration and the parameters that went NaN or infinite.
inline MapResult find_map(const Model& model, MapOptions options = {}, std::vector<Callback> callbacks = {}) {
  if (options.max_iterations < 0) throw_invalid("find_map", "max_iterations is ", options.max_iterations, ", but must be nonnegative");
  if (model.free_variables().empty()) throw_invalid("find_map", "the model has no free variables to optimise");
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
  detail::ProgressPrinter progress("find_map", options.progress, options.progress_stream, options.max_iterations);
  MapResult result;
  result.loss_history.reserve(static_cast<std::size_t>(options.max_iterations));
  std::int64_t done = 0;
  for (; done < options.max_iterations && !result.stopped_early; ++done) {
    double value;
    try {
      value = detail::run_step("find_map", [&] { return step()[0].item(); }, done, parameters);
    } catch (...) {
      progress.interrupt();
      throw;
    }
    result.loss_history.push_back(value);
    const FitState state(done, result.loss_history, parameters);
    for (Callback& callback : callbacks)
      if (!callback(state)) result.stopped_early = true;
    progress.update(done + 1, result.loss_history);
  }
  progress.finish(done, result.loss_history, result.stopped_early ? ", stopped early by a callback" : "");
  // Constrained values: evaluate each free variable's constrained graph at the estimate.
  std::vector<Variable> constrained;
  for (const FreeVariable& free : model.free_variables()) constrained.push_back(replace(free.constrained, replacements));
  Function read = compile({}, constrained);
  const auto& estimates = read();
  for (std::size_t i = 0; i < constrained.size(); ++i) result.point[model.free_variables()[i].name] = estimates[i].copy();
  return result;
}

}  // namespace symbatch
