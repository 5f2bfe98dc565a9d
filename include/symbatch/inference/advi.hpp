/// @file advi.hpp
/// @brief `fit`: mean-field ADVI, a Gaussian over the flattened unconstrained parameters fitted
/// by stochastic optimisation of a reparameterised (minibatch) ELBO.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/inference/callbacks.hpp"
#include "symbatch/inference/failure.hpp"
#include "symbatch/inference/mean_field.hpp"
#include "symbatch/inference/mean_field_objective.hpp"
#include "symbatch/inference/progress.hpp"
#include "symbatch/inference/psis_check.hpp"
#include "symbatch/inference/training.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/optim/optimizers.hpp"

namespace symbatch {

/// @brief Options of `fit`. The defaults are chosen to converge without tuning
/// (docs-notes/training.md): Adam at a constant 0.01, Polyak averaging after an automatic warm-up,
/// and the stopping rule of convergence.hpp, with a cap of 200,000 steps.
struct AdviOptions {
  std::int64_t max_iterations = 200000;   ///< optimizer steps at most in this call
  std::int64_t n_mc = 1;                  ///< reparameterised draws per ELBO estimate
  Optimizer optimizer = Adam{.learning_rate = 0.01};  ///< its `learning_rate` is the schedule's base rate
  std::uint64_t seed = 0;                 ///< seeds the minibatch draws and ADVI's own RNG (distinct streams)
  double initial_sd = std::log(2.0);      ///< initial sd of every factor (PyMC's: softplus(0))
  Progress progress = Progress::automatic;
  std::FILE* progress_stream = nullptr;   ///< where progress goes (stderr when null)
  Schedule schedule = ConstantRate{};     ///< the learning rate over the steps (schedules.hpp)
  AveragingOptions averaging = {};        ///< which iterates the returned approximation averages
  ConvergenceOptions convergence = {};    ///< the stopping rule
  /// A previous result's `state`: continue that run (same model and options) where it stopped.
  std::shared_ptr<const TrainingState> warm_start = nullptr;
  /// Variance reduction of the minibatch gradients (control_variate.hpp), on by default.
  ControlVariateOptions control_variate = {};
  /// Draws for a PSIS k-hat check of the result against the full-data posterior (`psis_check`;
  /// one full-data evaluation per draw); 0: no check.
  std::int64_t psis_draws = 0;
};

/// @brief The result of `fit`.
struct FitResult {
  MeanField approximation;           ///< from the averaged means and rho (the estimate to use)
  MeanField last_iterate;            ///< from the last iterate, for comparison
  std::vector<double> loss_history;  ///< the negative ELBO estimate at every iteration of this call
  bool stopped_early = false;        ///< a callback stopped the fit
  StopReason stop_reason = StopReason::cap_reached;
  bool converged = false;            ///< the stopping rule was met
  std::int64_t iterations = 0;       ///< steps over all runs continued into this one
  double passes = 0;                 ///< passes over the data over all runs: sum over steps of batch rows / N
  double max_rhat = 0;               ///< largest split R-hat of the last check (NaN before the first)
  double max_mcse_ratio = 0;         ///< largest MCSE over its bound at the last check (below 1 when met; see fit)
  std::shared_ptr<const TrainingState> state;  ///< pass as `AdviOptions::warm_start` to continue
  std::optional<PsisCheck> psis;     ///< Pareto k-hat of `approximation` when `psis_draws` > 0 (psis_check.hpp)
};

namespace detail {
/// The mean-field approximation with means and pre-softplus scales read from `flat` (all means,
/// then all rho, in the order of the model's free variables).
inline MeanField mean_field_from(const Model& model, const MeanFieldObjective& objective, const Eigen::VectorXd& flat) {
  std::vector<MeanField::Factor> factors;
  Eigen::Index k = 0, half = flat.size() / 2;
  for (std::size_t i = 0; i < objective.mu.size(); ++i) {
    Array mu = get_value(objective.mu[i]).copy(), sd = get_value(objective.rho[i]).copy();
    for (std::int64_t j = 0; j < mu.size(); ++j, ++k) {
      mu.data<double>()[j] = flat[k];
      const double rho = flat[half + k];
      sd.data<double>()[j] = rho > 30 ? rho : std::log1p(std::exp(rho));
    }
    factors.push_back({model.free_variables()[i].name, mu, sd});
  }
  return MeanField(model.free_variables(), std::move(factors));
}
}  // namespace detail

/// @brief Fits a mean-field ADVI approximation to `model`, one minibatch per step (all MC draws
/// of a step share it), until the stopping rule is met, a callback returns false, or
/// `options.max_iterations` steps ran.
///
/// Averaging: the means and the unconstrained scales rho are averaged (Polyak by default). They
/// are the optimizer's own coordinates, in which the minibatch noise of the iterates is additive
/// and symmetric around the optimum, so their average converges to the optimum; averaging the sds
/// instead would average a convex function of rho and be biased upwards by half the jitter's variance.
/// Stopping: see convergence.hpp; the MCSE of a mean must be below `mcse_tolerance` times its
/// fitted sd, and the relative error that the MCSE of a rho causes in the sd below `sd_tolerance` (@f$ \mathrm{MCSE}_\rho\, \sigma'(\rho)/\sigma(\rho) @f$).
/// @throws std::invalid_argument for bad options, a model without free variables, or a
/// `warm_start` from another problem.
/// @throws std::domain_error when a step fails: the loss is NaN, or a parameter check throws
/// (a scale blown up to infinity); the message names `fit`, the iteration and the parameters
/// that went NaN or infinite.
inline FitResult fit(const Model& model, AdviOptions options = {}, std::vector<Callback> callbacks = {}) {
  if (options.max_iterations < 0) throw_invalid("fit", "max_iterations is ", options.max_iterations, ", but must be nonnegative");
  detail::check_control_variate_options("fit", options.control_variate);
  if (options.psis_draws != 0 && options.psis_draws < 20) throw_invalid("fit", "psis_draws is ", options.psis_draws, ", but must be 0 (no check) or at least 20");
  detail::check_objective_arguments("fit", model, options.n_mc, options.initial_sd);
  const auto control_variate = detail::ControlVariate::for_model(model, options.control_variate);
  MeanFieldObjective objective = mean_field_objective(model, options.n_mc, options.initial_sd, control_variate ? control_variate->logp() : Variable{});
  TrainingProblem problem;
  problem.loss = objective.loss;
  problem.parameters = objective.mu;
  problem.control_variate = control_variate;
  problem.anchor_of = [](const Eigen::VectorXd& parameters, Eigen::VectorXd& anchor) { anchor = parameters.head(anchor.size()); };
  problem.parameters.insert(problem.parameters.end(), objective.rho.begin(), objective.rho.end());
  problem.mcse_bound = [convergence = options.convergence](const Eigen::VectorXd& average, const Eigen::VectorXd&, Eigen::VectorXd& bound) {
    const Eigen::Index half = average.size() / 2;
    for (Eigen::Index k = 0; k < half; ++k) {
      const double rho = average[half + k];
      const double sd = rho > 30 ? rho : std::log1p(std::exp(rho));
      bound[k] = convergence.mcse_tolerance * sd;
      bound[half + k] = convergence.sd_tolerance * sd * (1 + std::exp(-rho));  // relative sd error: MCSE * sigmoid(rho) / sd
    }
  };
  if (!model.observed_variables().empty()) problem.data_scale = model.observed_variables().front().scale;
  const TrainingOutcome outcome = detail::train(
      "fit", problem,
      {options.max_iterations, options.optimizer, options.schedule, options.averaging, options.convergence, options.seed, options.progress,
       options.progress_stream, options.warm_start, options.control_variate},
      callbacks);
  FitResult result{detail::mean_field_from(model, objective, outcome.average), detail::mean_field_from(model, objective, outcome.last),
                   outcome.loss_history};
  result.stop_reason = outcome.stop_reason;
  result.stopped_early = outcome.stop_reason == StopReason::callback;
  result.converged = outcome.stop_reason == StopReason::converged;
  result.iterations = outcome.state->iterations;
  result.passes = outcome.state->passes;
  result.max_rhat = outcome.max_rhat;
  result.max_mcse_ratio = outcome.max_mcse_ratio;
  result.state = outcome.state;
  if (options.psis_draws > 0) result.psis = psis_check(model, result.approximation, options.psis_draws, options.seed);
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
