/// @file callbacks.hpp
/// @brief What a training loop shows its callbacks after each step (`FitState`), the callback
/// type, and the callbacks symbatch offers.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "symbatch/core/error.hpp"
#include "symbatch/graph/variable.hpp"

namespace symbatch {

/// @brief What a callback sees after each iteration.
class FitState {
 public:
  /// `parameters` are the shared variables the loop optimises, in the order `parameters()` joins
  /// them; `average` (null: none) is the running average of those parameters, begun at iteration
  /// `averaging_start` (-1: not yet).
  FitState(std::int64_t iteration, const std::vector<double>& losses, const std::vector<Variable>& parameters,
           const Eigen::VectorXd* average = nullptr, std::int64_t averaging_start = -1)
      : iteration_(iteration), losses_(losses), parameters_(parameters), average_(average), averaging_start_(averaging_start) {}
  /// The iteration just done (0-based).
  std::int64_t iteration() const { return iteration_; }
  /// Every loss so far; the last is this iteration's.
  const std::vector<double>& losses() const { return losses_; }
  /// The current parameters, flattened in order (for `fit`: all means, then all pre-softplus
  /// scales `rho`; for `find_map`: the unconstrained values).
  Eigen::VectorXd parameters() const {
    std::int64_t size = 0;
    for (const Variable& parameter : parameters_) size += get_value(parameter).size();
    Eigen::VectorXd flat(size);
    std::int64_t k = 0;
    for (const Variable& parameter : parameters_) {
      const Array& value = get_value(parameter);
      for (std::int64_t j = 0; j < value.size(); ++j) flat[k++] = value.flat<double>(j);
    }
    return flat;
  }
  /// The iteration at which iterate averaging began (over all runs continued by warm starts), or
  /// -1 while the warm-up lasts.
  std::int64_t averaging_start() const { return averaging_start_; }
  /// The averaged parameters so far, flattened like `parameters()`: what `fit` and `find_map`
  /// return if the loop stops now. Before averaging begins, the current parameters.
  Eigen::VectorXd averaged() const { return average_ && averaging_start_ >= 0 ? *average_ : parameters(); }

 private:
  std::int64_t iteration_;
  const std::vector<double>& losses_;
  const std::vector<Variable>& parameters_;
  const Eigen::VectorXd* average_;
  std::int64_t averaging_start_;
};

/// @brief A callback run after every iteration; returning false stops the fit.
using Callback = std::function<bool(const FitState&)>;

/// @brief Stops the fit when the parameters stop moving: every `every` iterations, compares
/// them with those of the previous check and stops when
/// @f$ \|\theta - \theta_{prev}\|_\infty / \|\theta_{prev}\|_\infty < @f$ `tolerance`.
class CheckParametersConvergence {
 public:
  explicit CheckParametersConvergence(std::int64_t every = 100, double tolerance = 1e-3) : every_(every), tolerance_(tolerance) {
    if (every < 1) throw_invalid("CheckParametersConvergence", "every is ", every, ", but must be at least 1");
    check_positive("CheckParametersConvergence", "tolerance", tolerance);
  }
  bool operator()(const FitState& state) {
    if ((state.iteration() + 1) % every_ != 0) return true;
    Eigen::VectorXd current = state.parameters();
    const bool first = previous_.size() == 0;
    const double change = first ? INFINITY : (current - previous_).lpNorm<Eigen::Infinity>() / std::max(previous_.lpNorm<Eigen::Infinity>(), 1e-300);
    previous_ = std::move(current);
    return !(change < tolerance_);
  }

 private:
  std::int64_t every_;
  double tolerance_;
  Eigen::VectorXd previous_;
};

}  // namespace symbatch
