/// @file logp_function.hpp
/// @brief `LogpFunction`: a model's log-probability and gradient, compiled, called with a flat
/// point. It lives here, not in model/, because `Model` only builds graphs: compiling them and
/// differentiating them is a layer above.
#pragma once

#include <Eigen/Core>
#include <map>
#include <string>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/model/model.hpp"

namespace symbatch {

/// @brief A compiled log-probability and gradient of a model, called with a flat point.
class LogpFunction {
 public:
  explicit LogpFunction(const Model& model, CompileOptions options = {})
      : model_(&model), function_(build(model, std::move(options))) {}
  /// @brief logp at a flat unconstrained point; writes the gradient into `gradient` when given.
  double operator()(const Eigen::VectorXd& point, Eigen::VectorXd* gradient = nullptr) {
    const auto& results = function_(model_->unflatten(point));
    if (gradient) {
      std::vector<Array> grads(results.begin() + 1, results.end());
      *gradient = model_->flatten(grads);
    }
    return results[0].item();
  }
  /// @brief logp at a point given by name (constrained-space names map to their value variables).
  double operator()(const std::map<std::string, Array>& point) {
    std::vector<Array> values;
    for (const FreeVariable& free : model_->free_variables()) {
      auto found = point.find(free.value.name());
      if (found == point.end()) throw_invalid("LogpFunction", "no value for '", free.value.name(), "'");
      values.push_back(found->second);
    }
    return function_(values)[0].item();
  }
  Function& function() { return function_; }

 private:
  static Function build(const Model& model, CompileOptions options) {
    const Variable logp = model.logp();
    const std::vector<Variable> values = model.value_variables();
    std::vector<Variable> outputs{logp};
    for (const Variable& g : grad(logp, values)) outputs.push_back(g);
    return compile(values, outputs, std::move(options));
  }
  const Model* model_;
  Function function_;
};

}  // namespace symbatch
