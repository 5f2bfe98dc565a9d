/// @file training.hpp
/// @brief The training loop `fit` and `find_map` share, generic over "a loss + shared parameters":
/// learning-rate schedule, iterate averaging, the stopping rule, callbacks, progress, and the
/// whole run-time state (`TrainingState`) that a warm start continues from.
///
/// A family of approximations (mean-field, full-rank, ...) or a point estimate plugs in as a
/// `TrainingProblem`: its loss, its shared parameters, and how to scale the stopping rule's MCSE per
/// parameter. The loop returns flat vectors (averaged and last iterate); the caller builds its
/// approximation from them.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/inference/averaging.hpp"
#include "symbatch/inference/callbacks.hpp"
#include "symbatch/inference/control_variate.hpp"
#include "symbatch/inference/convergence.hpp"
#include "symbatch/inference/failure.hpp"
#include "symbatch/inference/progress.hpp"
#include "symbatch/optim/optimizers.hpp"
#include "symbatch/optim/schedules.hpp"

namespace symbatch {

/// @brief Everything a training run carries from one step to the next: shared-variable values
/// (parameters, optimizer moments and counters, RNG streams), the schedule, the average, the
/// iterate window and the counters. Pass a result's `state` as the options' `warm_start` to
/// continue: two runs of T/2 steps then equal one run of T steps bit for bit.
struct TrainingState {
  std::vector<Array> shared_values;  ///< update targets in update order, then the step's RNG states
  LearningRate learning_rate{ConstantRate{}, 1.0};
  IterateAverage average{AveragingKind::none, 0, 0};
  std::optional<IterateWindow> window;
  std::int64_t iterations = 0;       ///< steps done over all runs
  std::int64_t averaging_start = -1; ///< iteration at which averaging began (-1: not yet)
  double passes = 0;                 ///< passes over the data over all runs
  double scale_total = 0;            ///< sum of the data scale N/B over all steps
  Eigen::VectorXd gradient_total, gradient_squares;  ///< sums of the gradients and their squares (when tracked)
  std::int64_t gradient_count = 0;
  std::int64_t warmup_check_span = 0;  ///< the warm-up record is checked again once it spans this many steps
  Eigen::VectorXd anchor;              ///< the control variate's anchor (empty: none yet)
  std::int64_t next_recentre = 0;      ///< iteration at which the control variate is re-centred next
  std::int64_t recentre_interval = 0;  ///< the last stretch between re-centrings
};

/// @brief What the loop needs from a family or a point estimate.
struct TrainingProblem {
  Variable loss;                     ///< scalar to minimise
  std::vector<Variable> parameters;  ///< f64 shared variables, flattened in this order
  /// The free variables behind flat parameters (a Gaussian family's), named in failure messages.
  detail::CoordinateBlocks coordinates;
  /// Per-parameter bound on the MCSE of the average, from the current average (`bound` is
  /// preallocated with one entry per flat parameter). `fisher_sd` is the posterior sd implied by
  /// the minibatch gradient noise (see `track_gradient_noise`), infinite when not tracked.
  std::function<void(const Eigen::VectorXd& average, const Eigen::VectorXd& fisher_sd, Eigen::VectorXd& bound)> mcse_bound;
  /// Also output the gradients and track their variance across steps: with minibatches of a
  /// well-specified model, the N/B-scaled gradient has covariance about (N/B) times the Fisher
  /// information, so @f$ \mathrm{sd}_p \approx \sqrt{(N/B) / \mathrm{Var}(g_p)} @f$ (1/sqrt of the
  /// diagonal precision, which never exceeds the marginal posterior sd).
  bool track_gradient_noise = false;
  /// The control variate whose estimator the loss uses (null: none), and how its anchor is read
  /// from flat parameters (the means of a Gaussian family, the point itself for MAP).
  std::shared_ptr<detail::ControlVariate> control_variate;
  std::function<void(const Eigen::VectorXd& parameters, Eigen::VectorXd& anchor)> anchor_of;
  /// The gradients whose noise `track_gradient_noise` measures; empty: the loss's gradients. With a
  /// control variate, the batch's gradient at the anchor (the loss's own gradient has little noise).
  std::vector<Variable> noise_gradients;
  /// The stopping rule's record covers the first `monitored` flat parameters (0: all): a family's
  /// means and diagonal scales, not the P^2 entries of a full-rank factor.
  Eigen::Index monitored = 0;
  /// Scale of the first observed term (N / batch rows), to count passes over the data; null when
  /// the model has no observed term (every step then counts as one pass).
  Variable data_scale;
};

/// @brief Options of the loop, shared by `AdviOptions` and `MapOptions`.
struct TrainingSettings {
  std::int64_t max_iterations;
  Optimizer optimizer;
  Schedule schedule;
  AveragingOptions averaging;
  ConvergenceOptions convergence;
  std::uint64_t seed;
  Progress progress;
  std::FILE* progress_stream;
  std::shared_ptr<const TrainingState> warm_start;
  ControlVariateOptions control_variate;
};

/// @brief What the loop returns (`max_mcse_ratio`: the largest MCSE / bound, below 1 when met).
struct TrainingOutcome {
  Eigen::VectorXd average;  ///< the averaged estimate (the last iterate when averaging is off or never started)
  Eigen::VectorXd last;     ///< the last iterate
  std::vector<double> loss_history;
  StopReason stop_reason = StopReason::cap_reached;
  double max_rhat = std::numeric_limits<double>::quiet_NaN();       ///< at the last check
  double max_mcse_ratio = std::numeric_limits<double>::quiet_NaN(); ///< max MCSE_p / scale_p at the last check
  std::shared_ptr<const TrainingState> state;
};

namespace detail {

/// `progress`, or none on a process other than the root of a distributed model (mpi.hpp).
inline Progress progress_on_this_process(const Model& model, Progress progress) {
  return model.row_reduction() && !model.row_reduction()->is_root() ? Progress::none : progress;
}

/// Copies of the parameters' values with their entries read from `flat` (their flat order).
inline std::vector<Array> parameter_values(const std::vector<Variable>& parameters, const Eigen::VectorXd& flat) {
  std::vector<Array> values;
  Eigen::Index k = 0;
  for (const Variable& parameter : parameters) {
    Array value = get_value(parameter).copy();
    for (std::int64_t j = 0; j < value.size(); ++j) value.data<double>()[j] = flat[k++];
    values.push_back(std::move(value));
  }
  return values;
}

inline void flatten_into(const std::vector<Variable>& parameters, Eigen::VectorXd& flat) {
  Eigen::Index k = 0;
  for (const Variable& parameter : parameters) {
    const Array& value = get_value(parameter);
    const double* data = value.data<double>();
    for (std::int64_t j = 0; j < value.size(); ++j) flat[k++] = data[j];
  }
}

/// Runs the loop; `function` names it in messages (`fit`, `find_map`).
inline TrainingOutcome train(const char* function, const TrainingProblem& problem, const TrainingSettings& settings,
                             std::vector<Callback>& callbacks) {
  if (settings.max_iterations < 0) throw_invalid(function, "max_iterations is ", settings.max_iterations, ", but must be nonnegative");
  check_convergence_options(function, settings.convergence);
  check_control_variate_options(function, settings.control_variate);
  if (settings.averaging.warmup < -1) throw_invalid(function, "averaging.warmup is ", settings.averaging.warmup, ", but must be -1 (automatic) or nonnegative");
  if (settings.averaging.max_warmup < -1)
    throw_invalid(function, "averaging.max_warmup is ", settings.averaging.max_warmup, ", but must be -1 (no limit) or nonnegative");
  // Not learning_rate_variable: a bad rate is reported by the optimizer, under its own name.
  const Variable rate = shared(Array::scalar(base_learning_rate(settings.optimizer)), "learning_rate");
  const std::vector<Update> steps = updates(settings.optimizer, problem.loss, problem.parameters, rate);
  std::vector<Variable> outputs{problem.loss};
  if (problem.data_scale) outputs.push_back(problem.data_scale);
  const std::size_t first_gradient = outputs.size();
  if (problem.track_gradient_noise)
    for (const Variable& g : problem.noise_gradients.empty() ? grad(problem.loss, problem.parameters) : problem.noise_gradients) outputs.push_back(g);
  Function step = compile({}, outputs, {.updates = steps, .seed = settings.seed});

  Eigen::Index size = 0;
  for (const Variable& parameter : problem.parameters) size += get_value(parameter).size();
  const Eigen::Index monitored = problem.monitored > 0 ? std::min(problem.monitored, size) : size;
  auto state = std::make_shared<TrainingState>();
  if (settings.warm_start) {
    *state = *settings.warm_start;
    const std::size_t expected = steps.size() + step.rng_states().size();
    if (state->shared_values.size() != expected || state->average.value().size() != size)
      throw_invalid(function, "warm_start holds the state of another problem (", state->shared_values.size(), " arrays, ",
                    state->average.value().size(), " parameters), but this one has ", expected, " arrays and ", size, " parameters");
    std::size_t k = 0;
    for (const Update& update : steps) set_value(update.shared, state->shared_values[k++].copy());
    for (const Variable& rng : step.rng_states()) set_value(rng, state->shared_values[k++].copy());
  } else {
    state->learning_rate = LearningRate(settings.schedule, base_learning_rate(settings.optimizer));
    state->average = IterateAverage(settings.averaging.kind, settings.averaging.eta, size);
    // The record serves the stopping rule and the automatic warm-up (also without the rule).
    if (settings.convergence.enabled || settings.averaging.warmup < 0) state->window.emplace(monitored, settings.convergence.window);
    state->gradient_total = Eigen::VectorXd::Zero(problem.track_gradient_noise ? size : 0);
    state->gradient_squares = state->gradient_total;
  }

  Eigen::VectorXd current(size), anchor(problem.control_variate ? problem.control_variate->anchor().size() : 0), fisher_sd = Eigen::VectorXd::Constant(size, std::numeric_limits<double>::infinity()), bound(size);
  Array rate_buffer = get_value(rate);  // shares the variable's buffer: the rate is written in place
  detail::ProgressPrinter progress(function, settings.progress, settings.progress_stream, settings.max_iterations);
  TrainingOutcome outcome;
  outcome.loss_history.reserve(static_cast<std::size_t>(settings.max_iterations));
  const bool automatic_warmup = settings.averaging.warmup < 0;
  flatten_into(problem.parameters, current);
  if (problem.control_variate && state->anchor.size() > 0) problem.control_variate->recentre(function, state->anchor, state->iterations);
  std::int64_t done = 0;
  bool stop = false;
  for (; done < settings.max_iterations && !stop; ++done) {
    // (A warm start from a run without the control variate has no anchor yet: centre it first.)
    if (problem.control_variate && (state->anchor.size() == 0 || state->iterations >= state->next_recentre)) {
      // Re-centre at the average once there is one (closer to the optimum than any iterate).
      problem.anchor_of(state->average.count() > 0 ? state->average.value() : current, anchor);
      problem.control_variate->recentre(function, anchor, state->iterations);
      state->anchor = anchor;
      if (problem.data_scale) state->passes += 1;  // the full-data evaluation
      const std::int64_t automatic =
          state->iterations > 0 ? std::clamp<std::int64_t>(std::llround(state->scale_total / static_cast<double>(state->iterations)), 100, 10000) : 100;
      const std::int64_t longest = settings.control_variate.refresh_every > 0 ? settings.control_variate.refresh_every : automatic;
      state->recentre_interval = std::min(longest, state->recentre_interval == 0 ? 100 : 2 * state->recentre_interval);
      state->next_recentre = state->iterations + state->recentre_interval;
    }
    rate_buffer.data<double>()[0] = state->learning_rate.rate();
    double loss;
    try {
      loss = run_step(function, [&] {
        const auto& values = step();
        if (problem.data_scale) {
          const double data_scale = values[1].item();
          state->passes += data_scale > 0 ? 1 / data_scale : 0;
          state->scale_total += data_scale;
        }
        if (problem.track_gradient_noise) {
          Eigen::Index k = 0;
          for (std::size_t i = first_gradient; i < values.size(); ++i)
            for (std::int64_t j = 0; j < values[i].size(); ++j, ++k) {
              const double g = values[i].flat<double>(j);
              state->gradient_total[k] += g;
              state->gradient_squares[k] += g * g;
            }
          ++state->gradient_count;
        }
        return values[0].item();
      }, state->iterations, problem.parameters, problem.coordinates);
    } catch (...) {
      progress.interrupt();
      throw;
    }
    if (!problem.data_scale) state->passes += 1;
    state->learning_rate.advance(loss);
    outcome.loss_history.push_back(loss);
    flatten_into(problem.parameters, current);
    const std::int64_t t = state->iterations++;
    const std::int64_t warmup_limit = automatic_warmup ? settings.averaging.max_warmup : settings.averaging.warmup;
    if (warmup_limit >= 0 && t >= warmup_limit && state->averaging_start < 0) state->averaging_start = t;
    if (state->averaging_start >= 0 && settings.averaging.kind != AveragingKind::none) state->average.add(current);
    if (state->window) {
      IterateWindow& window = *state->window;
      window.push(current.head(monitored));
      const bool warming_up = automatic_warmup && state->averaging_start < 0;
      // A warm-up record that failed loses its older half and is checked again once it spans twice
      // what it spanned at the failed check: the spans grow geometrically, and the record keeps
      // covering a fixed fraction of the run (the warm-up is its other part).
      if (window.entries() >= settings.convergence.window / 2 && (t + 1) % settings.convergence.check_every == 0 &&
          (warming_up ? window.span() >= state->warmup_check_span : settings.convergence.enabled)) {
        const double worst = window.check(settings.convergence.chains);
        outcome.max_rhat = worst;
        if (warming_up) {
          if (worst < settings.convergence.warmup_rhat) state->averaging_start = t + 1;
          else {
            state->warmup_check_span = 2 * window.span();
            window.drop_older_half();
          }
        } else if (state->average.count() > 0) {
          const double factor = std::sqrt(static_cast<double>(window.span()) / state->average.effective_count());
          if (problem.track_gradient_noise && state->gradient_count > 1) {
            const double n = static_cast<double>(state->gradient_count);
            const double data_scale = problem.data_scale ? state->scale_total / static_cast<double>(state->iterations) : 1.0;
            for (Eigen::Index p = 0; p < size; ++p) {
              const double mean = state->gradient_total[p] / n;
              const double variance = (state->gradient_squares[p] - n * mean * mean) / (n - 1);
              fisher_sd[p] = variance > 0 ? std::sqrt(data_scale / variance) : std::numeric_limits<double>::infinity();
            }
          }
          problem.mcse_bound(state->average.value(), fisher_sd, bound);
          outcome.max_mcse_ratio = (window.record_mcse() * factor).cwiseQuotient(bound.head(monitored)).maxCoeff();
          if (worst < settings.convergence.rhat_threshold && outcome.max_mcse_ratio < 1) {
            outcome.stop_reason = StopReason::converged;
            stop = true;
          }
        }
      }
    }
    const bool averaging = state->averaging_start >= 0 && settings.averaging.kind != AveragingKind::none && state->average.count() > 0;
    const FitState view(t, outcome.loss_history, problem.parameters, averaging ? &state->average.value() : nullptr,
                        averaging ? state->averaging_start : -1);
    for (Callback& callback : callbacks)
      if (!callback(view)) {
        outcome.stop_reason = StopReason::callback;
        stop = true;
      }
    progress.update(done + 1, outcome.loss_history);
  }
  const char* notes[] = {"", ", converged", ", stopped early by a callback"};
  progress.finish(done, outcome.loss_history, notes[static_cast<int>(outcome.stop_reason)]);

  outcome.last = current;
  flatten_into(problem.parameters, outcome.last);
  if (settings.averaging.kind == AveragingKind::none) outcome.average = outcome.last;
  else if (state->average.count() > 0) outcome.average = state->average.value();
  else outcome.average = outcome.last;  // the warm-up never ended
  state->shared_values.clear();
  for (const Update& update : steps) state->shared_values.push_back(get_value(update.shared).copy());
  for (const Variable& rng : step.rng_states()) state->shared_values.push_back(get_value(rng).copy());
  outcome.state = std::move(state);
  return outcome;
}

}  // namespace detail

}  // namespace symbatch
