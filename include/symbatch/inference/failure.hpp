/// @file failure.hpp
/// @brief How a training loop reports a step that went wrong: one message format for `fit` and
/// `find_map`, naming the loop, the iteration and the parameters that are no longer finite.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "symbatch/graph/variable.hpp"

namespace symbatch::detail {

/// The free variables behind flat parameters: each one's name and number of coordinates, in
/// the order of the flat vector (empty when the parameters are not flat).
using CoordinateBlocks = std::vector<std::pair<std::string, std::int64_t>>;

/// The names of the shared parameters holding a non-finite value, quoted and joined. A flat
/// parameter whose first axis runs over the P coordinates of `blocks` (a Gaussian family's means,
/// scales or factor rows) is followed by the free variables whose coordinates went non-finite:
/// `'mean_field_mu' (x, y)`.
inline std::string nonfinite_names(const std::vector<Variable>& parameters, const CoordinateBlocks& blocks = {}) {
  std::int64_t coordinates = 0;
  for (const auto& block : blocks) coordinates += block.second;
  const auto finite_between = [](const Array& value, std::int64_t begin, std::int64_t end) {
    for (std::int64_t k = begin; k < end; ++k)
      if (!std::isfinite(value.flat<double>(k))) return false;
    return true;
  };
  std::string names;
  for (const Variable& parameter : parameters) {
    const Array& value = get_value(parameter);
    if (finite_between(value, 0, value.size())) continue;
    std::string owners;
    if (coordinates > 0 && value.rank() >= 1 && value.shape()[0] == coordinates) {
      const std::int64_t per_coordinate = value.size() / coordinates;
      std::int64_t start = 0;
      for (const auto& [name, size] : blocks) {
        if (!finite_between(value, start * per_coordinate, (start + size) * per_coordinate)) owners += (owners.empty() ? " (" : ", ") + name;
        start += size;
      }
      if (!owners.empty()) owners += ")";
    }
    names += (names.empty() ? "'" : ", '") + parameter.name() + "'" + owners;
  }
  return names;
}

/// Throws `std::domain_error` for a training step that failed: `what` says how (`the loss is
/// NaN`, or the message of the error the step threw) and the message names the parameters that
/// went NaN or infinite, or says that all are finite (then the model itself is at fault there):
/// `fit: the loss is NaN at iteration 12; parameters that went NaN or infinite: 'mean_field_mu' (x)`.
[[noreturn]] inline void throw_step_failure(const char* function, const std::string& what, std::int64_t iteration,
                                            const std::vector<Variable>& parameters, const CoordinateBlocks& blocks = {}) {
  const std::string names = nonfinite_names(parameters, blocks);
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
double run_step(const char* function, Step&& step, std::int64_t iteration, const std::vector<Variable>& parameters,
                const CoordinateBlocks& blocks = {}) {
  double loss;
  try {
    loss = step();
  } catch (const std::domain_error& error) {
    const std::string names = nonfinite_names(parameters, blocks);
    throw_domain(function, "the step failed at iteration ", iteration, " (", error.what(), ")",
                 names.empty() ? std::string("; every parameter is finite") : "; parameters that went NaN or infinite: " + names);
  }
  // An infinite loss is a failure too: the log-probability is -inf (or +inf) at the parameters.
  if (std::isnan(loss)) throw_step_failure(function, "the loss is NaN", iteration, parameters, blocks);
  if (std::isinf(loss)) throw_step_failure(function, loss > 0 ? "the loss is inf" : "the loss is -inf", iteration, parameters, blocks);
  return loss;
}

}  // namespace symbatch::detail
