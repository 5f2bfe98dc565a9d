/// @file advi.hpp
/// @brief `fit`: mean-field ADVI, a Gaussian over the flattened unconstrained parameters fitted
/// by stochastic optimisation of a reparameterised (minibatch) ELBO.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
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
#include "symbatch/inference/variational_objective.hpp"
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
  /// The Gaussian family to fit: `MeanFieldFamily{}`, `FullRankFamily{}` (at most
  /// `full_rank_max_parameters` coordinates) or `LowRankFamily{.rank = k}`.
  Family family = MeanFieldFamily{};
};

/// @brief The result of `fit`.
struct FitResult {
  GaussianApproximation approximation;  ///< from the averaged parameters (the estimate to use); `family()` names it
  GaussianApproximation last_iterate;   ///< from the last iterate, for comparison
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


/// @brief The largest full-rank or low-rank factor (entries) whose every entry the stopping rule's
/// record follows (1,000 records of it: 33 MB at the limit); beyond it the record follows the means
/// and diagonal scales only.
inline constexpr std::int64_t monitored_factor_entries = 4096;

/// @brief Fits a Gaussian ADVI approximation of `options.family` (mean-field by default) to
/// `model`, one minibatch per step (all MC draws of a step share it), until the stopping rule is
/// met, a callback returns false, or `options.max_iterations` steps ran.
///
/// Averaging: every parameter of the family is averaged (Polyak by default): the means, the
/// unconstrained diagonal scales rho and any off-diagonal or low-rank factor. They
/// are the optimizer's own coordinates, in which the minibatch noise of the iterates is additive
/// and symmetric around the optimum, so their average converges to the optimum; averaging the sds
/// instead would average a convex function of rho and be biased upwards by half the jitter's variance.
/// Stopping: see convergence.hpp; the MCSE of a mean must be below `mcse_tolerance` times its
/// fitted marginal sd, and the relative error that the MCSE of a rho causes in its diagonal scale below
/// `sd_tolerance` (@f$ \mathrm{MCSE}_\rho\, \sigma'(\rho)/\sigma(\rho) @f$). A factor's entries must have MCSE below half
/// `mcse_tolerance` times the fitted sd of their row (about 0.015 in each correlation); the record
/// follows them up to `monitored_factor_entries`.
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
  const VariationalObjective objective =
      variational_objective(model, options.family, options.n_mc, options.initial_sd, control_variate ? control_variate->logp() : Variable{});
  const Eigen::Index size = model.size();
  TrainingProblem problem;
  problem.loss = objective.loss;
  problem.parameters = objective.parameters;
  for (const FreeVariable& variable : model.free_variables())
    problem.coordinates.emplace_back(variable.name, Shape(std::span<const std::int64_t>(variable.shape)).size());
  // Every family's flat parameters start with the P means and the P diagonal rho; a full-rank or
  // low-rank factor (P x m, row i shaping coordinate i) follows. The record covers the factor too
  // while it has at most `monitored_factor_entries` entries (P <= 64 for full rank).
  const Eigen::Index factor_columns = objective.parameters.size() > 2 ? get_value(objective.parameters.back()).shape()[1] : 0;
  const Eigen::Index total = 2 * size + size * factor_columns;
  problem.monitored = size * factor_columns <= monitored_factor_entries ? total : 2 * size;
  problem.control_variate = control_variate;
  problem.anchor_of = [](const Eigen::VectorXd& parameters, Eigen::VectorXd& anchor) { anchor = parameters.head(anchor.size()); };
  problem.mcse_bound = [&objective, size, factor_columns, convergence = options.convergence](const Eigen::VectorXd& average, const Eigen::VectorXd&,
                                                                            Eigen::VectorXd& bound) {
    const Eigen::VectorXd sd = objective.approximation_from(detail::parameter_values(objective.parameters, average)).unconstrained_sd();
    bound.setConstant(std::numeric_limits<double>::infinity());
    for (Eigen::Index k = 0; k < size; ++k) {
      const double rho = average[size + k];
      bound[k] = convergence.mcse_tolerance * sd[k];
      // relative error of the diagonal scale softplus(rho): MCSE * sigmoid(rho) / softplus(rho)
      bound[size + k] = convergence.sd_tolerance * math::softplus(rho) * (1 + std::exp(-rho));
    }
    // An error d in factor entry (i, k) moves the correlations of coordinate i by about d / sd_i:
    // half the mean's tolerance keeps each fitted correlation's MCSE near 0.015.
    for (Eigen::Index k = 2 * size; k < bound.size(); ++k) bound[k] = 0.5 * convergence.mcse_tolerance * sd[(k - 2 * size) / factor_columns];
  };
  problem.data_scale = model.data_scale();
  const TrainingOutcome outcome = detail::train(
      "fit", problem,
      {options.max_iterations, options.optimizer, options.schedule, options.averaging, options.convergence, options.seed, detail::progress_on_this_process(model, options.progress),
       options.progress_stream, options.warm_start, options.control_variate},
      callbacks);
  FitResult result{.approximation = objective.approximation_from(detail::parameter_values(objective.parameters, outcome.average)),
                   .last_iterate = objective.approximation_from(detail::parameter_values(objective.parameters, outcome.last)),
                   .loss_history = outcome.loss_history,
                   .stopped_early = outcome.stop_reason == StopReason::callback,
                   .stop_reason = outcome.stop_reason,
                   .converged = outcome.stop_reason == StopReason::converged,
                   .iterations = outcome.state->iterations,
                   .passes = outcome.state->passes,
                   .max_rhat = outcome.max_rhat,
                   .max_mcse_ratio = outcome.max_mcse_ratio,
                   .state = outcome.state,
                   .psis = std::nullopt};
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
