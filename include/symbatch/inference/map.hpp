/// @file map.hpp
/// @brief MAP estimation by stochastic optimisation of a model's (minibatch) log-probability.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/inference/callbacks.hpp"
#include "symbatch/inference/failure.hpp"
#include "symbatch/inference/progress.hpp"
#include "symbatch/inference/training.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/optim/optimizers.hpp"

namespace symbatch {

/// @brief Options of `find_map`. The defaults converge without tuning (docs-notes/training.md):
/// Adam at a constant 0.01, Polyak averaging after an automatic warm-up, the stopping rule of
/// convergence.hpp, and a cap of 200,000 steps.
struct MapOptions {
  std::int64_t max_iterations = 200000;  ///< optimizer steps at most in this call
  Optimizer optimizer = Adam{.learning_rate = 0.01};  ///< its `learning_rate` is the schedule's base rate
  std::uint64_t seed = 0;  ///< reseeds the model's RNGs (the minibatch draws)
  Progress progress = Progress::automatic;
  std::FILE* progress_stream = nullptr;  ///< where progress goes (stderr when null)
  Schedule schedule = ConstantRate{};    ///< the learning rate over the steps (schedules.hpp)
  AveragingOptions averaging = {};       ///< which iterates the returned point averages
  ConvergenceOptions convergence = {};   ///< the stopping rule
  /// A previous result's `state`: continue that run (same model and options) where it stopped.
  std::shared_ptr<const TrainingState> warm_start = nullptr;
  /// Variance reduction of the minibatch gradients (control_variate.hpp), on by default.
  ControlVariateOptions control_variate = {};
};

/// @brief The result of `find_map`: the estimate in the constrained space, by name, and the
/// loss (minus the scaled logp) at every iteration.
struct MapResult {
  std::map<std::string, Array> point;       ///< the averaged estimate, constrained (the one to use)
  std::map<std::string, Array> last_point;  ///< the last iterate, constrained
  std::vector<double> loss_history;         ///< this call's losses
  bool stopped_early = false;               ///< a callback stopped the optimisation
  StopReason stop_reason = StopReason::cap_reached;
  bool converged = false;       ///< the stopping rule was met
  std::int64_t iterations = 0;  ///< steps over all runs continued into this one
  double passes = 0;            ///< passes over the data over all runs
  double max_rhat = 0;          ///< largest split R-hat at the last check
  double max_mcse_ratio = 0;    ///< largest MCSE / (mcse_tolerance * gradient-noise sd) at the last check (below 1 when met)
  std::shared_ptr<const TrainingState> state;  ///< pass as `MapOptions::warm_start` to continue
};

/// @brief Maximises `model.logp()` with the optimizer, one minibatch per iteration, from the
/// model's initial point, until the stopping rule is met, a callback returns false, or
/// `options.max_iterations` steps ran. All per-iteration work is one compiled call (loss,
/// gradients and updates together). Callbacks run after every step (they see the unconstrained
/// values).
///
/// Averaging: the unconstrained values are averaged (the optimizer's coordinates). Stopping: a
/// point estimate has no fitted sd, so the loop estimates one from the minibatch gradient noise
/// (Fisher's identity: the N/B-scaled minibatch gradient has variance about N/B times the
/// information, `TrainingProblem::track_gradient_noise`), and the MCSE of each averaged coordinate
/// must be below `mcse_tolerance` times it. The estimate assumes a well-specified model and
/// independent rows in a batch; without minibatches the gradient has no noise, the bound is
/// infinite and the rule reduces to the R-hat test.
/// @throws std::invalid_argument for bad options, a model without free variables or a `warm_start`
/// from another problem.
/// @throws std::domain_error when a step fails (a NaN loss, or a parameter check that throws),
/// naming `find_map`, the iteration and the parameters that went NaN or infinite.
inline MapResult find_map(const Model& model, MapOptions options = {}, std::vector<Callback> callbacks = {}) {
  if (options.max_iterations < 0) throw_invalid("find_map", "max_iterations is ", options.max_iterations, ", but must be nonnegative");
  if (model.free_variables().empty()) throw_invalid("find_map", "the model has no free variables to optimise");
  detail::check_control_variate_options("find_map", options.control_variate);
  const auto control_variate = detail::ControlVariate::for_model(model, options.control_variate);
  const std::vector<Variable> values = model.value_variables();
  const std::vector<Array> start = model.initial_point();
  TrainingProblem problem;
  std::vector<std::pair<Variable, Variable>> replacements;
  for (std::size_t i = 0; i < values.size(); ++i) {
    problem.parameters.push_back(shared(start[i], values[i].name()));
    replacements.emplace_back(values[i], problem.parameters.back());
  }
  problem.loss = -replace(control_variate ? control_variate->logp() : model.logp(), replacements);
  problem.track_gradient_noise = true;
  if (control_variate) {
    problem.control_variate = control_variate;
    problem.anchor_of = [](const Eigen::VectorXd& parameters, Eigen::VectorXd& anchor) { anchor = parameters; };
    problem.noise_gradients = control_variate->batch_gradient_at_anchor();
  }
  problem.mcse_bound = [tolerance = options.convergence.mcse_tolerance](const Eigen::VectorXd&, const Eigen::VectorXd& fisher_sd,
                                                                         Eigen::VectorXd& bound) { bound = tolerance * fisher_sd; };
  problem.data_scale = model.data_scale();
  const TrainingOutcome outcome = detail::train(
      "find_map", problem,
      {options.max_iterations, options.optimizer, options.schedule, options.averaging, options.convergence, options.seed, detail::progress_on_this_process(model, options.progress),
       options.progress_stream, options.warm_start, options.control_variate},
      callbacks);
  // Constrained values: evaluate each free variable's constrained graph at the estimate.
  std::vector<Variable> constrained;
  for (const FreeVariable& free : model.free_variables()) constrained.push_back(replace(free.constrained, replacements));
  Function read = compile({}, constrained);
  MapResult result;
  for (auto [flat, point] : {std::pair{&outcome.last, &result.last_point}, std::pair{&outcome.average, &result.point}}) {
    std::vector<Array> unflattened = model.unflatten(*flat);
    for (std::size_t i = 0; i < values.size(); ++i) set_value(problem.parameters[i], unflattened[i]);
    const auto& estimates = read();
    for (std::size_t i = 0; i < constrained.size(); ++i) (*point)[model.free_variables()[i].name] = estimates[i].copy();
  }
  result.loss_history = outcome.loss_history;
  result.stop_reason = outcome.stop_reason;
  result.stopped_early = outcome.stop_reason == StopReason::callback;
  result.converged = outcome.stop_reason == StopReason::converged;
  result.iterations = outcome.state->iterations;
  result.passes = outcome.state->passes;
  result.max_rhat = outcome.max_rhat;
  result.max_mcse_ratio = outcome.max_mcse_ratio;
  result.state = outcome.state;
  return result;
}

}  // namespace symbatch
