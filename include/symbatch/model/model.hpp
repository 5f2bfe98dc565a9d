/// @file model.hpp
/// @brief `Model`: free and observed random variables and potentials, and the log-probability
/// graph in which each observed term is rescaled by its `total_size`.
#pragma once

#include <Eigen/Core>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/distributions/data_support.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/model/total_size.hpp"
#include "symbatch/model/transform.hpp"
#include "symbatch/ops/reduce.hpp"

namespace symbatch {

/// @brief Options of `Model::free`.
struct FreeOptions {
  TransformKind transform = TransformKind::automatic;
  bool jacobian = true;                 ///< include @f$ \log|J| @f$ of the transform in logp
  std::vector<std::int64_t> shape = {};  ///< the variable's shape (a scalar when empty)
  std::optional<double> initial = {};    ///< initial value in the constrained space (default: the transform of 0, or 1 for positive)
};

/// @brief A free random variable: its unconstrained value variable (an input of the logp
/// graph), its constrained value (a graph of the value variable) and its transform.
struct FreeVariable {
  std::string name;
  Variable value;
  Variable constrained;
  Transform transform;
  std::vector<std::int64_t> shape;
  Distribution distribution;
  bool jacobian = true;
  double initial_unconstrained = 0;
};

/// @brief An observed random variable: its distribution, its data and its `total_size`.
struct ObservedVariable {
  std::string name;
  Distribution distribution;
  Variable data;
  TotalSize total_size;
  Variable scale;      ///< total_size / batch shape, read at run time
  Variable pointwise;  ///< the unscaled elementwise log-likelihood
};

/// @brief Options of `Model::logp`.
struct LogpOptions {
  bool jacobian = true;  ///< include the Jacobians of transformed free variables
};

/// @brief A probabilistic model over minibatch views (or any data).
///
/// @f[ \log p = \sum_{\text{free}} \log p(x_i) + \log|J_i| + \sum_k s_k \sum \log p(y_k \mid \cdot) + \sum \text{potentials} @f]
/// with @f$ s_k @f$ the scale of observed term k's `total_size`.
class Model {
 public:
  /// @brief Adds a free random variable and returns its constrained value (a graph of a new
  /// unconstrained f64 input, the value variable). Throws for a duplicate name.
  Variable free(const std::string& name, const Distribution& distribution, FreeOptions options = {}) {
    claim(name);
    if (distribution.dtype != DType::f64) throw_invalid("Model::free", "'", name, "' has a discrete distribution (", distribution.name, "); free variables must be continuous");
    FreeVariable variable;
    variable.name = name;
    variable.transform = Transform::for_distribution(distribution, options.transform);
    variable.shape = options.shape;
    variable.distribution = distribution;
    variable.jacobian = options.jacobian;
    variable.value = input(name + variable.transform.suffix(), DType::f64, options.shape);
    variable.constrained = variable.transform.backward(variable.value);
    variable.constrained.set_name(name);
    const double start = options.initial ? *options.initial
                         : variable.transform.kind == TransformKind::log ? 1.0
                         : variable.transform.kind == TransformKind::interval ? 0.5 * (variable.transform.lower + variable.transform.upper)
                                                                              : 0.0;
    variable.initial_unconstrained = variable.transform.forward(start);
    free_.push_back(variable);
    return variable.constrained;
  }

  /// @brief Adds an observed random variable with data `data` and returns the data variable.
  /// @throws std::invalid_argument if the data depend on a free variable, if they are a
  /// minibatch view without `total_size` (say `TotalSize::unscaled()` to opt out), if the term
  /// mixes views of two `minibatch` calls, or for a bad `total_size`.
  Variable observed(const std::string& name, const Distribution& distribution, const Variable& data, TotalSize total_size = {}) {
    for (const FreeVariable& free : free_)
      if (depends_on(data, free.value))
        throw_invalid("Model::observed", "the data of '", name, "' depend on the free variable '", free.name, "'; observed data must be fixed");
    const Variable pointwise = distribution.logp(check_observed_data(name, distribution, data));  // data outside the support: an error naming them
    const Variable roots[] = {data, pointwise};
    const std::vector<MinibatchView> views = minibatch_views(roots);
    std::set<const ApplyNode*> sources;
    for (const MinibatchView& view : views) sources.insert(view.source);
    if (sources.size() > 1)
      throw_invalid("Model::observed", "'", name, "' mixes views of ", sources.size(),
                    " different minibatch calls, whose rows are not aligned; build all its views with one minibatch(batch_size, {...}) call");
    if (as_minibatch_view(data) && total_size.absent())
      throw_invalid("Model::observed", "the data of '", name, "' are a minibatch view but no total_size was given; pass the full data size, or TotalSize::unscaled() to use the batch unscaled");
    if (total_size.is_unscaled() || total_size.absent()) {
      // nothing to check
    }
    const Variable scale = total_size.scale(data, "Model::observed", name);
    claim(name);
    observed_.push_back({name, distribution, data, total_size, scale, pointwise});
    return data;
  }

  /// @brief Adds a term to the log-probability as it is.
  void potential(const std::string& name, const Variable& term) {
    if (term.dtype() != DType::f64) throw_invalid("Model::potential", "'", name, "' has dtype ", dtype_name(term.dtype()), ", expected f64");
    claim(name);
    potentials_.push_back({name, term});
  }

  /// @brief The scalar log-probability graph over the value variables.
  /// @throws std::invalid_argument if the graph contains a random variable other than the
  /// minibatch draws.
  Variable logp(LogpOptions options = {}) const {
    Variable total = constant(0.0);
    for (const FreeVariable& free : free_) {
      total = total + sum(free.distribution.logp(free.constrained));
      if (options.jacobian && free.jacobian && free.transform.kind != TransformKind::none) total = total + sum(free.transform.log_jacobian(free.value));
    }
    for (const ObservedVariable& observed : observed_) total = total + observed.scale * sum(observed.pointwise);
    for (const auto& [name, term] : potentials_) total = total + sum(term);
    // Random nodes that only select the observed data (minibatch draws, or slice bounds drawn
    // by hand as in pymc#6277) are batch selection; any other random node is an error.
    std::vector<Variable> data;
    for (const ObservedVariable& observed : observed_) data.push_back(observed.data);
    for (const Variable& variable : ancestors(std::span<const Variable>(&total, 1), data)) {
      const ApplyNode* node = variable.owner();
      if (node && variable.index() == 1 && node->op().is_random() && !is_minibatch_source(*node)) {
        std::string label = node->op().describe();
        if (!node->output(1).name().empty()) label += " '" + node->output(1).name() + "'";
        throw_invalid("Model::logp", "the log-probability depends on the random variable ", label,
                      "; only minibatch draws may appear in it");
      }
    }
    total.set_name("logp");
    return total;
  }

  /// @brief The log-probability with every minibatch view replaced by its whole array and every
  /// observed scale set to 1: the full-data log-probability.
  Variable full_data_logp(LogpOptions options = {}) const {
    Variable total = constant(0.0);
    for (const FreeVariable& free : free_) {
      total = total + sum(free.distribution.logp(free.constrained));
      if (options.jacobian && free.jacobian && free.transform.kind != TransformKind::none) total = total + sum(free.transform.log_jacobian(free.value));
    }
    for (const ObservedVariable& observed : observed_) total = total + sum(observed.pointwise);
    for (const auto& [name, term] : potentials_) total = total + sum(term);
    return replace_minibatch_views(std::span<const Variable>(&total, 1))[0];
  }

  /// @brief The unscaled elementwise log-likelihood of an observed variable (for LOO/WAIC).
  Variable pointwise_loglik(const std::string& name) const {
    for (const ObservedVariable& observed : observed_)
      if (observed.name == name) return observed.pointwise;
    throw_invalid("Model::pointwise_loglik", "no observed variable named '", name, "'");
  }

  /// @brief The value variables (unconstrained inputs of `logp`), in the order of `free`.
  std::vector<Variable> value_variables() const {
    std::vector<Variable> values;
    for (const FreeVariable& free : free_) values.push_back(free.value);
    return values;
  }
  const std::vector<FreeVariable>& free_variables() const { return free_; }
  const std::vector<ObservedVariable>& observed_variables() const { return observed_; }

  /// @brief The initial point: one array per value variable (unconstrained space).
  std::vector<Array> initial_point() const {
    std::vector<Array> point;
    for (const FreeVariable& free : free_) point.push_back(Array::full<double>(Shape(std::span<const std::int64_t>(free.shape)), free.initial_unconstrained));
    return point;
  }
  /// @brief Number of unconstrained scalars (the length of a flat point).
  std::int64_t size() const {
    std::int64_t total = 0;
    for (const FreeVariable& free : free_) total += Shape(std::span<const std::int64_t>(free.shape)).size();
    return total;
  }
  /// @brief Splits a flat vector into one array per value variable.
  std::vector<Array> unflatten(const Eigen::VectorXd& flat) const {
    if (flat.size() != size()) throw_invalid("Model::unflatten", "got ", flat.size(), " values, expected ", size());
    std::vector<Array> point;
    std::int64_t offset = 0;
    for (const FreeVariable& free : free_) {
      const Shape shape(std::span<const std::int64_t>(free.shape));
      point.push_back(Array::from(std::span<const double>(flat.data() + offset, static_cast<std::size_t>(shape.size())), shape));
      offset += shape.size();
    }
    return point;
  }
  /// @brief Joins one array per value variable into a flat vector.
  Eigen::VectorXd flatten(const std::vector<Array>& point) const {
    Eigen::VectorXd flat(size());
    std::int64_t offset = 0;
    for (const Array& value : point)
      for (std::int64_t k = 0; k < value.size(); ++k) flat[offset++] = value.flat<double>(k);
    return flat;
  }

 private:
  void claim(const std::string& name) {
    if (name.empty()) throw_invalid("Model", "a variable needs a name");
    if (!names_.insert(name).second) throw_invalid("Model", "the name '", name, "' is already used");
  }

  std::vector<FreeVariable> free_;
  std::vector<ObservedVariable> observed_;
  std::vector<std::pair<std::string, Variable>> potentials_;
  std::set<std::string> names_;
};

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
