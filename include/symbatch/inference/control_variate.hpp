/// @file control_variate.hpp
/// @brief Minibatch log-probabilities with a control variate centred at an anchor point, the
/// variance reduction `fit` and `find_map` use by default on models that read minibatches.
///
/// A minibatch estimate of the log-probability @f$ \hat\ell_B(\theta) @f$ (each observed term
/// scaled by N/B) is unbiased, but its gradient's noise has variance about N/B times the Fisher
/// information, which dwarfs the posterior's curvature when N is large: the iterates of a
/// stochastic optimizer then wander over many posterior sds, and averaging needs about
/// `N / (B * T) / tolerance^2` passes to undo it. With an anchor `a` at which the full-data value
/// @f$ \ell(a) @f$ and gradient @f$ G = \nabla\ell(a) @f$ are known, the estimator
/// @f[ \tilde\ell_B(\theta) = \hat\ell_B(\theta) - \hat\ell_B(a) - \langle\nabla\hat\ell_B(a), \theta - a\rangle
///     + \ell(a) + \langle G, \theta - a\rangle @f]
/// (the minibatch draw shared by both evaluations) is still unbiased for @f$ \ell(\theta) @f$ and
/// its gradient is SVRG's (Johnson and Zhang 2013; the first-order Taylor control variate of
/// Quiroz et al. 2019 and of Baker et al. 2019 for stochastic-gradient MCMC): its noise shrinks
/// with @f$ |\theta - a| @f$, so near an anchor close to the optimum only the noise of ADVI's own
/// Monte Carlo draws is left. Terms that do not read the batch (priors, Jacobians) are
/// reproduced exactly.
///
/// The cost: each step also evaluates the batch's log-probability and gradient at the anchor
/// (about twice the work of a plain step), and each re-centring evaluates the full data once
/// (one pass over it, counted in the result's `passes`).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/model/batch_selection.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/reduce.hpp"

namespace symbatch {

/// @brief Options of the control variate of `fit` and `find_map` (see control_variate.hpp).
struct ControlVariateOptions {
  /// Use it when the model's log-probability reads minibatches (it has no effect otherwise).
  bool enabled = true;
  /// The longest stretch of steps between two re-centrings; 0: automatic, N/B (one pass of
  /// minibatch steps per full-data pass) clamped to [100, 10,000]. The first stretches are 100
  /// steps and double up to it, so that the anchor follows the iterates in from the start.
  std::int64_t refresh_every = 0;
};

namespace detail {

inline void check_control_variate_options(const char* function, const ControlVariateOptions& options) {
  if (options.refresh_every < 0)
    throw_invalid(function, "control_variate.refresh_every is ", options.refresh_every, ", but must be 0 (automatic) or positive");
}

/// The control-variate estimator of a model's log-probability, with its anchor as shared
/// variables and the full-data evaluation that re-centres it.
class ControlVariate {
 public:
  /// Null when `options` disable it or the model's log-probability reads no minibatch.
  static std::shared_ptr<ControlVariate> for_model(const Model& model, const ControlVariateOptions& options) {
    if (!options.enabled) return nullptr;
    if (!model.reads_batches()) return nullptr;
    return std::make_shared<ControlVariate>(model, model.logp(), model.value_variables());
  }

  ControlVariate(const Model& model, const Variable& logp, const std::vector<Variable>& values) : flat_anchor_(Eigen::VectorXd::Zero(model.size())) {
    const std::vector<Array> start = model.initial_point();
    std::vector<std::pair<Variable, Variable>> at_anchor;
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::string& name = values[i].name();
      anchor_.push_back(shared(Array::full<double>(start[i].shape(), 0.0), name + "_anchor"));
      full_gradient_.push_back(shared(Array::full<double>(start[i].shape(), 0.0), name + "_full_gradient"));
      at_anchor.emplace_back(values[i], anchor_.back());
    }
    full_logp_ = shared(Array::scalar(0.0), "full_logp_at_anchor");
    const Variable batch_at_anchor = replace(logp, at_anchor);
    batch_gradient_ = grad(batch_at_anchor, anchor_);
    Variable estimate = logp - batch_at_anchor + full_logp_;
    for (std::size_t i = 0; i < values.size(); ++i) estimate = estimate + sum((full_gradient_[i] - batch_gradient_[i]) * (values[i] - anchor_[i]));
    estimate.set_name("control_variate_logp");
    logp_ = estimate;

    const Variable full_at_anchor = replace(model.full_data_logp(), at_anchor);
    std::vector<Variable> outputs{full_at_anchor};
    for (const Variable& g : grad(full_at_anchor, anchor_)) outputs.push_back(g);
    full_ = std::make_unique<Function>(compile({}, outputs));
  }

  /// The estimator, a graph over the model's value variables (use it where `model.logp()` goes).
  const Variable& logp() const { return logp_; }
  /// The batch's (scaled) gradient at the anchor, one per value variable: minibatch gradient noise
  /// without the control variate, as `find_map` needs it for its stopping rule.
  const std::vector<Variable>& batch_gradient_at_anchor() const { return batch_gradient_; }
  /// The current anchor, flat in the order of the model's free variables.
  const Eigen::VectorXd& anchor() const { return flat_anchor_; }

  /// Moves the anchor to `flat` (unconstrained values in the order of the model's free
  /// variables) and evaluates the full data there. `function` and `iteration` name a failure.
  /// @throws std::domain_error when the full-data log-probability there is not finite.
  void recentre(const char* function, const Eigen::VectorXd& flat, std::int64_t iteration) {
    Eigen::Index k = 0;
    for (const Variable& anchor : anchor_) {
      Array value = get_value(anchor);  // shares the buffer: written in place
      for (std::int64_t j = 0; j < value.size(); ++j) value.data<double>()[j] = flat[k++];
    }
    const auto& results = (*full_)();
    const double full_logp = results[0].item();
    if (!std::isfinite(full_logp))
      throw_domain(function, "the full-data log-probability at the control variate's anchor is ", full_logp, " at iteration ", iteration,
                   " (set control_variate.enabled = false to train on plain minibatch gradients)");
    Array(get_value(full_logp_)).data<double>()[0] = full_logp;
    for (std::size_t i = 0; i < full_gradient_.size(); ++i) {
      Array target = get_value(full_gradient_[i]);
      for (std::int64_t j = 0; j < target.size(); ++j) target.data<double>()[j] = results[i + 1].flat<double>(j);
    }
    flat_anchor_ = flat;
  }

 private:
  std::vector<Variable> anchor_, full_gradient_, batch_gradient_;
  Variable full_logp_, logp_;
  std::unique_ptr<Function> full_;
  Eigen::VectorXd flat_anchor_;
};

}  // namespace detail

}  // namespace symbatch
