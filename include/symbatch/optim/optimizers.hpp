/// @file optimizers.hpp
/// @brief First-order optimizers as `compile` updates on shared parameters: SGD, momentum
/// (classical and Nesterov), Adam and PyMC's windowed Adagrad.
/// Each returns the updates that take one step downhill on `loss`; optimizer state (moments,
/// step count) lives in shared variables of its own. The learning rate is read from a shared f64
/// scalar (`learning_rate_variable`), so a schedule (schedules.hpp) changes it between calls with
/// `set_value` and nothing recompiles; the three-argument forms make one holding the options'
/// `learning_rate`.
#pragma once

#include <cmath>
#include <string>
#include <variant>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"

namespace symbatch {

/// @brief Plain gradient descent: @f$ \theta \leftarrow \theta - \eta \nabla L @f$.
struct Sgd {
  double learning_rate = 0.001;
};

/// @brief Gradient descent with momentum: @f$ v \leftarrow \mu v - \eta \nabla L @f$, then
/// @f$ \theta \leftarrow \theta + v @f$, or with `nesterov`
/// @f$ \theta \leftarrow \theta + \mu v - \eta \nabla L @f$ (the look-ahead form Lasagne and PyMC use).
struct Momentum {
  double learning_rate = 0.001;
  double momentum = 0.9;
  bool nesterov = false;
};

/// @brief Adagrad over a sliding window of the last `window` squared gradients (PyMC's
/// `adagrad_window`): @f$ \theta \leftarrow \theta - \eta\, g / \sqrt{\sum_{w} g_w^2 + \epsilon} @f$.
/// The window starts filled with zeros.
struct AdagradWindow {
  double learning_rate = 0.001;
  double epsilon = 0.1;
  std::int64_t window = 10;
};

/// @brief Adam (Kingma and Ba, 2015) with bias-corrected moments.
struct Adam {
  double learning_rate = 0.001;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
};

namespace detail {
inline void check_parameters(const char* function, const std::vector<Variable>& parameters) {
  for (std::size_t i = 0; i < parameters.size(); ++i)
    if (!parameters[i].is_shared() || parameters[i].dtype() != DType::f64)
      throw_invalid(function, "parameter ", i + 1, " ('", parameters[i].label(), "') must be an f64 shared variable");
}
inline void check_rate_variable(const char* function, const Variable& rate) {
  if (!rate || !rate.is_shared() || rate.dtype() != DType::f64 || get_value(rate).shape() != Shape{})
    throw_invalid(function, "the learning rate must be an f64 scalar shared variable");
}
}  // namespace detail

/// @brief A shared f64 scalar holding `value`, named `learning_rate`: the run-time rate that the
/// four-argument `updates` read.
/// @throws std::domain_error `learning_rate_variable: Learning rate is -1, but must be positive`.
namespace detail {
inline const char* optimizer_name(const Sgd&) { return "sgd"; }
inline const char* optimizer_name(const Momentum&) { return "momentum"; }
inline const char* optimizer_name(const AdagradWindow&) { return "adagrad_window"; }
inline const char* optimizer_name(const Adam&) { return "adam"; }
}  // namespace detail

inline Variable learning_rate_variable(double value) {
  check_positive("learning_rate_variable", "Learning rate", value);
  return shared(Array::scalar(value), "learning_rate");
}

/// @brief Updates for one SGD step on `loss` for each shared parameter.
inline std::vector<Update> updates(const Sgd& options, const Variable& loss, const std::vector<Variable>& parameters,
                                   const Variable& learning_rate) {
  detail::check_parameters("sgd", parameters);
  check_positive("sgd", "Learning rate", options.learning_rate);
  detail::check_rate_variable("sgd", learning_rate);
  const std::vector<Variable> grads = grad(loss, parameters);
  std::vector<Update> result;
  for (std::size_t i = 0; i < parameters.size(); ++i) result.push_back({parameters[i], parameters[i] - learning_rate * grads[i]});
  return result;
}

/// @brief Updates for one momentum (or Nesterov momentum) step on `loss`.
inline std::vector<Update> updates(const Momentum& options, const Variable& loss, const std::vector<Variable>& parameters,
                                   const Variable& learning_rate) {
  detail::check_parameters("momentum", parameters);
  check_positive("momentum", "Learning rate", options.learning_rate);
  detail::check_rate_variable("momentum", learning_rate);
  check_bounded("momentum", "Momentum", options.momentum, 0, 1);
  const std::vector<Variable> grads = grad(loss, parameters);
  std::vector<Update> result;
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const Variable velocity = shared(Array::zeros(DType::f64, get_value(parameters[i]).shape()), parameters[i].name() + "_velocity");
    const Variable step = -learning_rate * grads[i];
    const Variable next_velocity = options.momentum * velocity + step;
    result.push_back({velocity, next_velocity});
    result.push_back({parameters[i], parameters[i] + (options.nesterov ? options.momentum * next_velocity + step : next_velocity)});
  }
  return result;
}

/// @brief Updates for one windowed-Adagrad step on `loss`: the newest squared gradient replaces
/// the oldest of the window's `window` slots (shared arrays of the parameter's shape).
inline std::vector<Update> updates(const AdagradWindow& options, const Variable& loss, const std::vector<Variable>& parameters,
                                   const Variable& learning_rate) {
  detail::check_parameters("adagrad_window", parameters);
  check_positive("adagrad_window", "Learning rate", options.learning_rate);
  detail::check_rate_variable("adagrad_window", learning_rate);
  check_positive("adagrad_window", "Epsilon", options.epsilon);
  if (options.window < 1) throw_invalid("adagrad_window", "Window is ", options.window, ", but must be at least 1");
  const std::vector<Variable> grads = grad(loss, parameters);
  // The slot the newest squared gradient goes to: 0, 1, ..., window - 1, 0, ...
  const Variable slot = shared(Array::scalar(0.0), "adagrad_window_slot");
  const double last = static_cast<double>(options.window - 1);
  std::vector<Update> result{{slot, where(eq(slot, constant(last)), constant(0.0), slot + 1.0)}};
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const Variable squared = square(grads[i]);
    Variable total = constant(0.0);
    for (std::int64_t w = 0; w < options.window; ++w) {
      const Variable held = shared(Array::zeros(DType::f64, get_value(parameters[i]).shape()),
                                   parameters[i].name() + "_adagrad_" + std::to_string(w));
      const Variable next = where(eq(slot, constant(static_cast<double>(w))), squared, held);
      result.push_back({held, next});
      total = total + next;
    }
    result.push_back({parameters[i], parameters[i] - learning_rate * grads[i] / sqrt(total + options.epsilon)});
  }
  return result;
}

/// @brief Updates for one Adam step on `loss` for each shared parameter:
/// @f$ m \leftarrow \beta_1 m + (1-\beta_1) g @f$, @f$ v \leftarrow \beta_2 v + (1-\beta_2) g^2 @f$,
/// @f$ \theta \leftarrow \theta - \eta\,\hat m / (\sqrt{\hat v} + \epsilon) @f$ with
/// @f$ \hat m = m / (1 - \beta_1^t) @f$, @f$ \hat v = v / (1 - \beta_2^t) @f$.
inline std::vector<Update> updates(const Adam& options, const Variable& loss, const std::vector<Variable>& parameters,
                                   const Variable& learning_rate) {
  detail::check_parameters("adam", parameters);
  check_positive("adam", "Learning rate", options.learning_rate);
  detail::check_rate_variable("adam", learning_rate);
  // The bias corrections divide by 1 - beta^t: a beta of 1 divides by zero.
  if (!(options.beta1 >= 0 && options.beta1 < 1))
    throw_domain("adam", "beta1 is ", detail::format_number(options.beta1), ", but must be in the interval [0, 1)");
  if (!(options.beta2 >= 0 && options.beta2 < 1))
    throw_domain("adam", "beta2 is ", detail::format_number(options.beta2), ", but must be in the interval [0, 1)");
  check_positive("adam", "Epsilon", options.epsilon);
  const std::vector<Variable> grads = grad(loss, parameters);
  const Variable step = shared(Array::scalar(0.0), "adam_step");
  const Variable next_step = step + 1.0;
  const Variable correction1 = 1.0 - pow(constant(options.beta1), next_step);
  const Variable correction2 = 1.0 - pow(constant(options.beta2), next_step);
  std::vector<Update> result{{step, next_step}};
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const Array zeros = Array::zeros(DType::f64, get_value(parameters[i]).shape());
    const Variable m = shared(zeros, parameters[i].name() + "_adam_m");
    const Variable v = shared(zeros.copy(), parameters[i].name() + "_adam_v");
    const Variable next_m = options.beta1 * m + (1 - options.beta1) * grads[i];
    const Variable next_v = options.beta2 * v + (1 - options.beta2) * square(grads[i]);
    const Variable delta = learning_rate * (next_m / correction1) / (sqrt(next_v / correction2) + options.epsilon);
    result.push_back({m, next_m});
    result.push_back({v, next_v});
    result.push_back({parameters[i], parameters[i] - delta});
  }
  return result;
}

/// @brief The updates of any optimizer with the rate held by a fresh shared scalar set to the
/// options' `learning_rate` (the rate the optimizer had before schedules existed).
template <class Options>
  requires requires(const Options& o) { o.learning_rate; }
std::vector<Update> updates(const Options& options, const Variable& loss, const std::vector<Variable>& parameters) {
  check_positive(detail::optimizer_name(options), "Learning rate", options.learning_rate);
  return updates(options, loss, parameters, shared(Array::scalar(options.learning_rate), "learning_rate"));
}

/// @brief Any of the optimizers, for options structs that let the user choose.
using Optimizer = std::variant<Sgd, Momentum, Adam, AdagradWindow>;

/// @brief Updates for one step of whichever optimizer `options` holds, reading the rate from
/// `learning_rate` (a shared f64 scalar).
inline std::vector<Update> updates(const Optimizer& options, const Variable& loss, const std::vector<Variable>& parameters,
                                   const Variable& learning_rate) {
  return std::visit([&](const auto& optimizer) { return updates(optimizer, loss, parameters, learning_rate); }, options);
}

/// @brief Updates for one step of whichever optimizer `options` holds, at its fixed `learning_rate`.
inline std::vector<Update> updates(const Optimizer& options, const Variable& loss, const std::vector<Variable>& parameters) {
  return std::visit([&](const auto& optimizer) { return updates(optimizer, loss, parameters); }, options);
}

/// @brief The base learning rate of whichever optimizer `options` holds.
inline double base_learning_rate(const Optimizer& options) {
  return std::visit([](const auto& optimizer) { return optimizer.learning_rate; }, options);
}

}  // namespace symbatch
