/// @file optimizers.hpp
/// @brief First-order optimizers as `compile` updates on shared parameters: SGD and Adam.
/// Each returns the updates that take one step downhill on `loss`; optimizer state (moments,
/// step count) lives in shared variables of its own.
#pragma once

#include <cmath>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"

namespace symbatch {

/// @brief Plain gradient descent: @f$ \theta \leftarrow \theta - \eta \nabla L @f$.
struct Sgd {
  double learning_rate = 0.001;
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
}  // namespace detail

/// @brief Updates for one SGD step on `loss` for each shared parameter.
inline std::vector<Update> updates(const Sgd& options, const Variable& loss, const std::vector<Variable>& parameters) {
  detail::check_parameters("sgd", parameters);
  check_positive("sgd", "Learning rate", options.learning_rate);
  const std::vector<Variable> grads = grad(loss, parameters);
  std::vector<Update> result;
  for (std::size_t i = 0; i < parameters.size(); ++i) result.push_back({parameters[i], parameters[i] - options.learning_rate * grads[i]});
  return result;
}

/// @brief Updates for one Adam step on `loss` for each shared parameter:
/// @f$ m \leftarrow \beta_1 m + (1-\beta_1) g @f$, @f$ v \leftarrow \beta_2 v + (1-\beta_2) g^2 @f$,
/// @f$ \theta \leftarrow \theta - \eta\,\hat m / (\sqrt{\hat v} + \epsilon) @f$ with
/// @f$ \hat m = m / (1 - \beta_1^t) @f$, @f$ \hat v = v / (1 - \beta_2^t) @f$.
inline std::vector<Update> updates(const Adam& options, const Variable& loss, const std::vector<Variable>& parameters) {
  detail::check_parameters("adam", parameters);
  check_positive("adam", "Learning rate", options.learning_rate);
  check_bounded("adam", "beta1", options.beta1, 0, 1);
  check_bounded("adam", "beta2", options.beta2, 0, 1);
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
    const Variable delta = options.learning_rate * (next_m / correction1) / (sqrt(next_v / correction2) + options.epsilon);
    result.push_back({m, next_m});
    result.push_back({v, next_v});
    result.push_back({parameters[i], parameters[i] - delta});
  }
  return result;
}

}  // namespace symbatch
