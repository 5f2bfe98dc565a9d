/// @file failure.hpp
/// @brief How a training loop reports a step that went wrong: one message format for `fit` and
/// `find_map`, naming the loop, the iteration and the parameters that are no longer finite.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "symbatch/graph/variable.hpp"

namespace symbatch::detail {

/// The names of the shared parameters holding a non-finite value, quoted and joined.
inline std::string nonfinite_names(const std::vector<Variable>& parameters) {
  std::string names;
  for (const Variable& parameter : parameters) {
    const Array& value = get_value(parameter);
    for (std::int64_t k = 0; k < value.size(); ++k)
      if (!std::isfinite(value.flat<double>(k))) {
        names += (names.empty() ? "'" : ", '") + parameter.name() + "'";
        break;
      }
  }
  return names;
}

/// Throws `std::domain_error` for a training step that failed: `what` says how (`the loss is
/// NaN`, or the message of the error the step threw) and the message names the parameters that
/// went NaN or infinite, or says that all are finite (then the model itself is at fault there):
/// `fit: the loss is NaN at iteration 12; parameters that went NaN or infinite: 'x_mu'`.
[[noreturn]] inline void throw_step_failure(const char* function, const std::string& what, std::int64_t iteration,
                                            const std::vector<Variable>& parameters) {
  const std::string names = nonfinite_names(parameters);
  const bool nan = what.find("NaN") != std::string::npos;
  throw_domain(function, what, " at iteration ", iteration,
               names.empty() ? std::string("; every parameter is finite, so the model's log-probability is ") + (nan ? "NaN" : "infinite") + " there"
                             : "; parameters that went NaN or infinite: " + names);
}

/// Runs one training step; a `std::domain_error` it throws (a parameter check such as
/// `normal: Scale parameter is inf` after a step blew a scale up) is reported as a failed step of
/// `function` at `iteration`, naming the parameters; so is a loss that is NaN or infinite.
/// Returns the step's loss.
template <class Step>
double run_step(const char* function, Step&& step, std::int64_t iteration, const std::vector<Variable>& parameters) {
  double loss;
  try {
    loss = step();
  } catch (const std::domain_error& error) {
    const std::string names = nonfinite_names(parameters);
    throw_domain(function, "the step failed at iteration ", iteration, " (", error.what(), ")",
                 names.empty() ? std::string("; every parameter is finite") : "; parameters that went NaN or infinite: " + names);
  }
  // An infinite loss is a failure too: the log-probability is -inf (or +inf) at the parameters.
  if (std::isnan(loss)) throw_step_failure(function, "the loss is NaN", iteration, parameters);
  if (std::isinf(loss)) throw_step_failure(function, loss > 0 ? "the loss is inf" : "the loss is -inf", iteration, parameters);
  return loss;
}

}  // namespace symbatch::detail
