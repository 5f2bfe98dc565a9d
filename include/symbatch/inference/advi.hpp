/// @file advi.hpp
/// @brief `fit`: mean-field ADVI, a Gaussian over the flattened unconstrained parameters fitted
/// by stochastic optimisation of a reparameterised (minibatch) ELBO.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/inference/callbacks.hpp"
#include "symbatch/inference/failure.hpp"
#include "symbatch/inference/mean_field.hpp"
#include "symbatch/inference/mean_field_objective.hpp"
#include "symbatch/inference/progress.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/optim/optimizers.hpp"

namespace symbatch {

/// @brief Options of `fit`.
struct AdviOptions {
  std::int64_t max_iterations = 10000;    ///< optimizer steps at most (a callback may stop the fit earlier)
  std::int64_t n_mc = 1;                  ///< reparameterised draws per ELBO estimate
  Optimizer optimizer = AdagradWindow{};  ///< PyMC's default for ADVI
  std::uint64_t seed = 0;                 ///< seeds the minibatch draws and ADVI's own RNG (distinct streams)
  double initial_sd = std::log(2.0);      ///< initial sd of every factor (PyMC's: softplus(0))
  Progress progress = Progress::automatic;
  std::FILE* progress_stream = nullptr;   ///< where progress goes (stderr when null)
};

/// @brief The result of `fit`.
struct FitResult {
  MeanField approximation;
  std::vector<double> loss_history;  ///< the negative ELBO estimate at every iteration
  bool stopped_early = false;        ///< a callback stopped the fit
};

/// @brief Fits a mean-field ADVI approximation to `model` with at most
/// `options.max_iterations` optimizer steps, one minibatch per step (all MC draws of a step
/// share it). Callbacks run after every step; one returning false stops the fit.
/// @throws std::invalid_argument for bad options or a model without free variables.
/// @throws std::domain_error when a step fails: the loss is NaN, or a parameter check throws
/// (a scale blown up to infinity); the message names `fit`, the iteration and the parameters
/// that went NaN or infinite.
inline FitResult fit(const Model& model, AdviOptions options = {}, std::vector<Callback> callbacks = {}) {
  if (options.max_iterations < 0) throw_invalid("fit", "max_iterations is ", options.max_iterations, ", but must be nonnegative");
  MeanFieldObjective objective = mean_field_objective(model, options.n_mc, options.initial_sd);
  std::vector<Variable> parameters = objective.mu;
  parameters.insert(parameters.end(), objective.rho.begin(), objective.rho.end());
  Function step = compile({}, {objective.loss}, {.updates = updates(options.optimizer, objective.loss, parameters), .seed = options.seed});

  detail::ProgressPrinter progress("fit", options.progress, options.progress_stream, options.max_iterations);
  FitResult result{MeanField({}, {}), {}, false};
  result.loss_history.reserve(static_cast<std::size_t>(options.max_iterations));
  std::int64_t done = 0;
  for (; done < options.max_iterations && !result.stopped_early; ++done) {
    double loss;
    try {
      loss = detail::run_step("fit", [&] { return step()[0].item(); }, done, parameters);
    } catch (...) {
      progress.interrupt();
      throw;
    }
    result.loss_history.push_back(loss);
    const FitState state(done, result.loss_history, parameters);
    for (Callback& callback : callbacks)
      if (!callback(state)) result.stopped_early = true;
    progress.update(done + 1, result.loss_history);
  }
  progress.finish(done, result.loss_history, result.stopped_early ? ", stopped early by a callback" : "");
  std::vector<MeanField::Factor> factors;
  for (std::size_t i = 0; i < objective.mu.size(); ++i) {
    Array sd = get_value(objective.rho[i]).copy();
    for (std::int64_t k = 0; k < sd.size(); ++k) {
      const double rho = sd.flat<double>(k);
      sd.data<double>()[k] = rho > 30 ? rho : std::log1p(std::exp(rho));
    }
    factors.push_back({model.free_variables()[i].name, get_value(objective.mu[i]).copy(), sd});
  }
  result.approximation = MeanField(model.free_variables(), std::move(factors));
  return result;
}

/// @brief `fit` with the iteration cap as an argument: the spelling of symbatch 0.1, kept so that
/// code written for it still compiles. Prefer `AdviOptions::max_iterations`.
[[deprecated("pass the cap as AdviOptions::max_iterations: fit(model, {.max_iterations = n, ...})")]]
inline FitResult fit(const Model& model, std::int64_t iterations, AdviOptions options = {}, std::vector<Callback> callbacks = {}) {
  options.max_iterations = iterations;
  return fit(model, std::move(options), std::move(callbacks));
}

}  // namespace symbatch
