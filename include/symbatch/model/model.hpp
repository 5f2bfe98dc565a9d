/// @file model.hpp
/// @brief `Model`: free and observed random variables and potentials, and the log-probability
/// graph in which each observed term is rescaled by its `total_size`. A graph builder only: the
/// compiled form is `LogpFunction` (inference/logp_function.hpp).
#pragma once

#include <Eigen/Core>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "symbatch/distributions/data_support.hpp"
#include "symbatch/model/batch_selection.hpp"
#include "symbatch/model/row_reduction.hpp"
#include "symbatch/model/total_size.hpp"
#include "symbatch/model/transform.hpp"
#include "symbatch/ops/reduce.hpp"

namespace symbatch {

/// @brief Options of `Model::free`.
struct FreeOptions {
  TransformKind transform = TransformKind::automatic;
  bool jacobian = true;                 ///< include @f$ \log|J| @f$ of the transform in logp
  std::vector<std::int64_t> shape = {};  ///< the variable's shape (a scalar when empty)
  std::optional<double> initial = {};    ///< initial value in the constrained space, inside the support (default: 1 for positive, the midpoint of an interval, else 0)
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
  /// unconstrained f64 input, the value variable).
  /// @throws std::invalid_argument for a duplicate name, a distribution without a log-density,
  /// a discrete distribution, or a negative shape entry.
  /// @throws std::domain_error for an initial value outside the distribution's support.
  Variable free(const std::string& name, const Distribution& distribution, FreeOptions options = {}) {
    if (!distribution.logp) throw_invalid("Model::free", "the distribution of '", name, "' is empty (it has no log-density)");
    if (distribution.dtype != DType::f64 || distribution.support == Support::nonnegative_integer || distribution.support == Support::binary)
      throw_invalid("Model::free", "'", name, "' has a discrete distribution (", distribution.name, "); free variables must be continuous");
    for (std::size_t i = 0; i < options.shape.size(); ++i)
      if (options.shape[i] < 0) throw_invalid("Model::free", "shape entry ", i + 1, " of '", name, "' is ", options.shape[i], ", but must be >= 0");
    FreeVariable variable;
    variable.name = name;
    variable.transform = Transform::for_distribution(distribution, options.transform);
    variable.shape = options.shape;
    variable.distribution = distribution;
    variable.jacobian = options.jacobian;
    // The default start lies inside the support whatever the transform: 1 for a positive
    // variable, the midpoint of an interval, 0 on the real line.
    const double start = options.initial ? *options.initial
                         : distribution.support == Support::positive ? 1.0
                         : distribution.support == Support::interval ? 0.5 * (distribution.lower + distribution.upper)
                                                                     : 0.0;
    check_initial(name, distribution, start);
    claim(name);
    variable.value = input(name + variable.transform.suffix(), DType::f64, options.shape);
    variable.constrained = variable.transform.backward(variable.value);
    variable.constrained.set_name(name);
    variable.initial_unconstrained = variable.transform.forward(start);
    free_.push_back(variable);
    return variable.constrained;
  }

  /// @brief Adds an observed random variable with data `data` and returns the data variable.
  /// @throws std::invalid_argument if the data are null or depend on a free variable, for the
  /// batching errors of `check_batching`, or for a bad `total_size`.
  Variable observed(const std::string& name, const Distribution& distribution, const Variable& data, TotalSize total_size = {}) {
    if (!data) throw_invalid("Model::observed", "the data of '", name, "' are a null variable");
    for (const FreeVariable& free : free_)
      if (depends_on(data, free.value))
        throw_invalid("Model::observed", "the data of '", name, "' depend on the free variable '", free.name, "'; observed data must be fixed");
    // Data outside the distribution's support are an error naming them (checked once per array).
    const Variable pointwise = distribution.logp(check_observed_data(name, distribution, data));
    const std::optional<BatchRows> batch = check_batching(name, data, pointwise, total_size);
    const Variable scale = total_size.scale(data, "Model::observed", name, batch);
    claim(name);
    observed_.push_back({name, distribution, data, total_size, scale, pointwise});
    return data;
  }

  /// @brief Adds a term to the log-probability as it is.
  /// @throws std::invalid_argument for a null term, a dtype other than f64, or a duplicate name.
  void potential(const std::string& name, const Variable& term) {
    if (!term) throw_invalid("Model::potential", "the term '", name, "' is a null variable");
    if (term.dtype() != DType::f64) throw_invalid("Model::potential", "'", name, "' has dtype ", dtype_name(term.dtype()), ", expected f64");
    claim(name);
    potentials_.push_back({name, term});
  }

  /// @brief The scalar log-probability graph over the value variables.
  ///
  /// With a row reduction set (`set_row_reduction`), the observed terms that read minibatch views
  /// are evaluated in chunks of rows (model/row_reduction.hpp): the same value up to rounding,
  /// bit-identical for any thread count (and process count in the exact mode).
  /// @throws std::invalid_argument if the graph contains a random node that does not only
  /// select rows of data (see model/batch_selection.hpp), or, with a row reduction, if a term
  /// that reads the batch cannot be split into chunks of rows.
  Variable logp(LogpOptions options = {}) const {
    Variable total = prior_terms(options);
    for (const ObservedVariable& observed : observed_) total = total + observed.scale * sum(observed.pointwise);
    for (const auto& [name, term] : potentials_) total = total + sum(term);
    check_random_nodes(total, value_variables());
    if (reduction_) total = reduced_logp(options, false);
    total.set_name("logp");
    return total;
  }

  /// @brief The log-probability with every batch selection (minibatch views, random slices of
  /// data) replaced by its whole array and every observed scale set to 1: the full-data
  /// log-probability. The terms that read minibatch views are evaluated over the whole arrays in
  /// chunks of rows (model/row_reduction.hpp), so no intermediate of N rows is formed and a
  /// mapped file larger than memory can be evaluated: with the model's row reduction when one is
  /// set (shared out like a batch), else in chunks of 1024 rows on this thread. A model whose
  /// batched terms cannot be split (a term that mixes rows, a potential or a hand-built random
  /// slice that reads the batch) is evaluated in one piece instead (without a row reduction; with
  /// one, `logp` refuses it anyway).
  Variable full_data_logp(LogpOptions options = {}) const {
    if (reduction_) return reduced_logp(options, true);
    if (reads_batches()) {
      try {
        return reduced_logp(options, true, RowReduction{}, nullptr);
      } catch (const std::invalid_argument&) {
        // not splittable into chunks of rows: the one-piece graph below gives the same value
      }
    }
    Variable total = prior_terms(options);
    for (const ObservedVariable& observed : observed_) total = total + sum(observed.pointwise);
    for (const auto& [name, term] : potentials_) total = total + sum(term);
    return replace_batch_selections(std::span<const Variable>(&total, 1), value_variables())[0];
  }

  /// @brief Evaluates the observed terms that read minibatch views in chunks of
  /// `reduction.chunk_rows` rows, over `reduction.threads` threads and across the processes of
  /// `reduction.communicator` (symbatch/mpi), with a fixed order of addition (see
  /// model/row_reduction.hpp). Affects the graphs `logp` and `full_data_logp` build afterwards.
  /// @throws std::invalid_argument for `chunk_rows < 1` or `threads` outside [1, 1024].
  void set_row_reduction(RowReduction reduction) {
    detail::check_row_reduction("Model::set_row_reduction", reduction);
    pool_ = reduction.threads > 1 ? std::make_shared<ThreadPool>(reduction.threads) : nullptr;
    reduction_ = std::move(reduction);
  }
  /// @brief The row reduction set by `set_row_reduction`, if any.
  const std::optional<RowReduction>& row_reduction() const { return reduction_; }

  /// @brief The data scale of the first observed term (total_size / batch rows, null without
  /// observed terms), which training loops count passes over the data with. In a sharded
  /// reduction the processes' shards and batches differ, so it is the processes' stood-for rows
  /// over their batch rows, the same on every process.
  Variable data_scale() const {
    if (observed_.empty()) return {};
    const ObservedVariable& first = observed_.front();
    if (!reduction_ || !reduction_->sharded || !reduction_->communicator) return first.scale;
    const Variable rows = first.data.rank() == 0 ? constant(1.0) : cast(dim(first.data, 0), DType::f64);
    const Variable stood_for = make_apply<detail::ProcessSum>({first.scale * rows}, *reduction_);
    const Variable batch_rows = make_apply<detail::ProcessSum>({rows}, *reduction_);
    return where(eq(batch_rows, constant(0.0)), constant(0.0), stood_for / batch_rows);
  }

  /// @brief True when the log-probability reads a batch (a minibatch view or a random slice).
  bool reads_batches() const {
    std::vector<Variable> roots;
    for (const ObservedVariable& observed : observed_) roots.push_back(observed.pointwise);
    for (const auto& [name, term] : potentials_) roots.push_back(term);
    const std::vector<Variable> values = value_variables();
    return !batch_selections(roots, values).empty();
  }

  /// @brief The unscaled log-likelihood of an observed variable, one term per element of the
  /// full data (for LOO/WAIC): batch selections are replaced by their whole arrays, so the
  /// terms come in the arrays' own row order (also under `shuffle_once`). A term that reads
  /// minibatch views and is a sum over rows is evaluated in chunks of rows (the row reduction's
  /// `chunk_rows` and threads, else 1024 rows on this thread): beside the result, the working
  /// memory is O(chunk), so mapped data larger than memory can be evaluated; such terms have no
  /// gradient (differentiate `full_data_logp` instead). Other terms are evaluated in one piece.
  Variable pointwise_loglik(const std::string& name) const {
    const ObservedVariable& observed = find_observed("Model::pointwise_loglik", name);
    const std::vector<Variable> values = value_variables();
    const std::vector<BatchSelection> selections = batch_selections(std::span<const Variable>(&observed.pointwise, 1), values);
    const bool views_only = std::all_of(selections.begin(), selections.end(),
                                        [](const BatchSelection& selection) { return as_minibatch_view(selection.selection).has_value(); });
    if (!selections.empty() && views_only) {
      try {
        return detail::chunked_pointwise({observed.name, observed.pointwise, {}}, reduction_ ? reduction_->chunk_rows : RowReduction{}.chunk_rows,
                                         reduction_ ? pool_ : nullptr);
      } catch (const std::invalid_argument&) {
        // not a sum over rows: the one-piece graph below gives the terms
      }
    }
    return replace_batch_selections(std::span<const Variable>(&observed.pointwise, 1), values)[0];
  }

  /// @brief The unscaled log-likelihood terms of the current batch only (one per element of the
  /// batched data): what the scaled observed term of `logp` sums.
  Variable batch_pointwise_loglik(const std::string& name) const { return find_observed("Model::batch_pointwise_loglik", name).pointwise; }

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

  const ObservedVariable& find_observed(const char* function, const std::string& name) const {
    for (const ObservedVariable& observed : observed_)
      if (observed.name == name) return observed;
    throw_invalid(function, "no observed variable named '", name, "'");
  }

  /// The free variables' prior log-densities and (when asked) the Jacobians of their transforms:
  /// the part of `logp` and `full_data_logp` that does not depend on the data.
  Variable prior_terms(const LogpOptions& options) const {
    Variable total = constant(0.0);
    for (const FreeVariable& free : free_) {
      total = total + sum(free.distribution.logp(free.constrained));
      if (options.jacobian && free.jacobian && free.transform.kind != TransformKind::none) total = total + sum(free.transform.log_jacobian(free.value));
    }
    return total;
  }

  /// Refuses an initial value outside the distribution's support (it would give a NaN or
  /// infinite initial point).
  static void check_initial(const std::string& name, const Distribution& distribution, double start) {
    const bool inside = distribution.support == Support::positive   ? start > 0 && std::isfinite(start)
                        : distribution.support == Support::interval ? start > distribution.lower && start < distribution.upper
                                                                    : std::isfinite(start);
    if (inside) return;
    const std::string support = distribution.support == Support::positive   ? "(0, inf)"
                                : distribution.support == Support::interval ? "(" + detail::format_number(distribution.lower) + ", " +
                                                                                   detail::format_number(distribution.upper) + ")"
                                                                            : "the finite reals";
    throw_domain("Model::free", "the initial value of '", name, "' is ", detail::format_number(start), ", outside the support ", support, " of ",
                 distribution.name);
  }

  /// The batching rules of one observed term: its data and its log-likelihood may select rows
  /// with one random node only; a term whose distribution reads batched rows needs batched data
  /// (pymc#6277's misalignment otherwise); batched data need a total_size (or an explicit
  /// `TotalSize::unscaled()`). Returns the rows the scale reads when the data are batched.
  std::optional<BatchRows> check_batching(const std::string& name, const Variable& data, const Variable& pointwise,
                                          const TotalSize& total_size) const {
    const Variable roots[] = {data, pointwise};
    const std::vector<Variable> parameters = value_variables();
    const std::vector<BatchSelection> selections = batch_selections(roots, parameters);
    std::vector<const ApplyNode*> sources;
    bool all_minibatch = true;
    for (const BatchSelection& selection : selections)
      for (const ApplyNode* source : selection.sources)
        if (std::find(sources.begin(), sources.end(), source) == sources.end()) {
          sources.push_back(source);
          all_minibatch = all_minibatch && is_minibatch_source(*source);
        }
    if (sources.size() > 1 && all_minibatch)
      throw_invalid("Model::observed", "'", name, "' mixes views of ", sources.size(),
                    " different minibatch calls, whose rows are not aligned; build all its views with one minibatch(batch_size, {...}) call");
    if (sources.size() > 1)
      throw_invalid("Model::observed", "'", name, "' selects rows with ", sources.size(), " different random nodes (", sources[0]->op().describe(),
                    " and ", sources[1]->op().describe(), "), whose rows are not aligned; select all its rows with one random node");
    const std::vector<BatchSelection> data_selections = batch_selections(std::span<const Variable>(&data, 1), parameters);
    if (data_selections.empty() && !selections.empty())
      throw_invalid("Model::observed", "the distribution of '", name, "' depends on ", describe_selection(selections[0]),
                    ", but its data are not batched, so its rows are not aligned with the data's (pymc#6277); pass the matching batch of the data");
    if (data_selections.empty()) return std::nullopt;
    if (total_size.absent() && as_minibatch_view(data))
      throw_invalid("Model::observed", "the data of '", name, "' are a minibatch view but no total_size was given; pass the full data size, or TotalSize::unscaled() to use the batch unscaled");
    if (total_size.absent())
      throw_invalid("Model::observed", "the data of '", name, "' depend on ", describe_selection(data_selections[0]),
                    " but no total_size was given; pass the full data size, TotalSize::from_data(), or TotalSize::unscaled() to use the batch unscaled");
    const BatchSelection& rows = data_selections[0];
    return BatchRows{dim(rows.selection, 0), dim(rows.array, 0), rows.array.label()};
  }

  /// `logp` (or with `whole` the full-data log-probability) with the batched observed terms in
  /// one chunked node.
  Variable reduced_logp(const LogpOptions& options, bool whole) const { return reduced_logp(options, whole, *reduction_, pool_); }
  Variable reduced_logp(const LogpOptions& options, bool whole, const RowReduction& reduction, const std::shared_ptr<ThreadPool>& pool) const {
    const std::vector<Variable> values = value_variables();
    Variable total = prior_terms(options);
    std::vector<detail::ChunkedTerm> batched;
    for (const ObservedVariable& observed : observed_) {
      const std::vector<BatchSelection> selections = batch_selections(std::span<const Variable>(&observed.pointwise, 1), values);
      if (selections.empty()) {
        if (reduction.sharded && reduction.communicator)
          throw_invalid("Model::logp", "the observed term '", observed.name,
                        "' reads no minibatch; in a sharded reduction every observed term reads a minibatch of its process's shard");
        total = total + (whole ? sum(observed.pointwise) : observed.scale * sum(observed.pointwise));
        continue;
      }
      for (const BatchSelection& selection : selections)
        if (!as_minibatch_view(selection.selection))
          throw_invalid("Model::logp", "the observed term '", observed.name, "' reads ", describe_selection(selection),
                        "; a row reduction splits batches of minibatch views only");
      batched.push_back({observed.name, observed.pointwise, whole ? constant(1.0) : observed.scale});
    }
    for (const auto& [name, term] : potentials_) {
      const std::vector<BatchSelection> selections = batch_selections(std::span<const Variable>(&term, 1), values);
      if (!selections.empty())
        throw_invalid("Model::logp", "the potential '", name, "' reads ", describe_selection(selections[0]),
                      "; with a row reduction only observed terms (sums over rows) may read the batch");
      total = total + sum(term);
    }
    if (!batched.empty()) total = total + detail::chunked_observed_sum(batched, whole, reduction, pool);
    return total;
  }

  /// Random nodes that only select rows of data are batch selection; any other is an error.
  static void check_random_nodes(const Variable& total, const std::vector<Variable>& parameters) {
    const ApplyNode* node = non_selecting_random_node(std::span<const Variable>(&total, 1), parameters);
    if (!node) return;
    std::string label = node->op().describe();
    if (node->outputs().size() > 1 && !node->output(1).name().empty()) label += " '" + node->output(1).name() + "'";
    throw_invalid("Model::logp", "the log-probability depends on the random variable ", label,
                  "; only random nodes that select rows of data (minibatch draws, random slice bounds) may appear in it");
  }

  std::vector<FreeVariable> free_;
  std::vector<ObservedVariable> observed_;
  std::vector<std::pair<std::string, Variable>> potentials_;
  std::set<std::string> names_;
  std::optional<RowReduction> reduction_;
  std::shared_ptr<ThreadPool> pool_;
};

}  // namespace symbatch
