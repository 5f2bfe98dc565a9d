/// @file batch_selection.hpp
/// @brief Batch selection: the random nodes that only choose which rows of fixed data a graph
/// reads (a minibatch draw, or the seed issue's hand-built slice bounds), found by one graph
/// query, and the full-data graph in which every such selection is its whole array.
///
/// A *data selection* is a `slice` (row bounds: inputs 2 and 3), a `take` (row indices: input 2)
/// or a minibatch `circular_window` (start: input 2) whose data input (input 1) is *fixed data*:
/// a shared or constant array, a graph input that is not a parameter (a `Model` passes its value
/// variables as the parameters), or a data selection of one of these. A random node *selects data* when
/// every path from it into a graph passes through the row input of a data selection; it may
/// then appear in a log-probability wherever the selected rows are used (mean, data or both).
///
/// Room for the next step: a gather of a free variable's entries by a minibatch draw (per-row
/// latent variables) is batch selection too. It plugs in at `selects_fixed_data`, by accepting a
/// free variable's value as the data input of a `take` (and `replace_batch_selections` then
/// gathering nothing, the whole vector being the full-data value).
#pragma once

#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "symbatch/minibatch/minibatch.hpp"

namespace symbatch {

/// @brief True for an op that selects rows of its first input by its other inputs.
inline bool is_data_selection(const ApplyNode& node) {
  const Op& op = node.op();
  return op_is<Slice>(op) || op_is<Take>(op) || op_is<detail::CircularWindow>(op);
}

/// @brief A shared or constant array, an input other than the `parameters`, or a data selection
/// of one of these (a view of fixed data).
inline bool is_fixed_data(const Variable& variable, std::span<const Variable> parameters = {}) {
  Variable current = variable;
  while (current) {
    if (current.is_shared() || current.is_constant()) return true;
    if (current.is_input()) return std::find(parameters.begin(), parameters.end(), current) == parameters.end();
    const ApplyNode* owner = current.owner();
    if (!owner || !is_data_selection(*owner)) return false;
    current = owner->input(0);
  }
  return false;
}

/// @brief A data selection whose data input is fixed data: its row inputs may be random.
inline bool selects_fixed_data(const ApplyNode& node, std::span<const Variable> parameters = {}) {
  return is_data_selection(node) && is_fixed_data(node.input(0), parameters);
}

/// @brief A selection of rows of fixed data driven by random nodes (a minibatch view, a random
/// slice): the selected rows, the whole array they come from, and the random nodes that decide
/// the rows.
struct BatchSelection {
  Variable selection;
  Variable array;
  std::vector<const ApplyNode*> sources;
};

/// @brief The batch selection `variable` is, if it is one (a data selection of fixed data whose
/// row inputs depend on a random node).
inline std::optional<BatchSelection> as_batch_selection(const Variable& variable, std::span<const Variable> parameters = {}) {
  const ApplyNode* owner = variable ? variable.owner() : nullptr;
  if (!owner || !selects_fixed_data(*owner, parameters)) return std::nullopt;
  const std::vector<Variable> rows(owner->inputs().begin() + 1, owner->inputs().end());
  std::vector<const ApplyNode*> sources;
  for (const Variable& ancestor : ancestors(rows)) {
    const ApplyNode* node = ancestor.owner();
    if (node && node->op().is_random() && std::find(sources.begin(), sources.end(), node) == sources.end()) sources.push_back(node);
  }
  if (sources.empty()) return std::nullopt;
  return BatchSelection{variable, owner->input(0), std::move(sources)};
}

/// @brief Every batch selection in the graphs of `outputs`.
inline std::vector<BatchSelection> batch_selections(std::span<const Variable> outputs, std::span<const Variable> parameters = {}) {
  std::vector<BatchSelection> result;
  for (const Variable& variable : ancestors(outputs))
    if (auto selection = as_batch_selection(variable, parameters)) result.push_back(std::move(*selection));
  return result;
}

/// @brief "the minibatch view 'X_batch'" or "the random selection 'slice(...)'", for messages.
inline std::string describe_selection(const BatchSelection& selection) {
  return (as_minibatch_view(selection.selection) ? "the minibatch view '" : "the random selection '") + selection.selection.label() + "'";
}

/// @brief The same graphs with every batch selection (minibatch views and hand-built random
/// slices or takes of fixed data) replaced by the whole array it selects from: the full data.
/// A selection of a selection becomes the innermost array that is not a batch selection.
inline std::vector<Variable> replace_batch_selections(std::span<const Variable> outputs, std::span<const Variable> parameters = {}) {
  std::vector<std::pair<Variable, Variable>> pairs;
  for (const BatchSelection& selection : batch_selections(outputs, parameters)) {
    Variable whole = selection.array;
    while (auto inner = as_batch_selection(whole, parameters)) whole = inner->array;
    pairs.emplace_back(selection.selection, whole);
  }
  return replace(outputs, pairs);
}

/// @brief The first random node reachable from `roots` other than through the row input of a
/// data selection of fixed data: a random node that does not (only) select data. Null if none.
/// One walk over the graph; the row inputs of data selections are not entered.
inline const ApplyNode* non_selecting_random_node(std::span<const Variable> roots, std::span<const Variable> parameters = {}) {
  std::vector<Variable> stack(roots.begin(), roots.end());
  std::unordered_set<const VariableNode*> seen;
  while (!stack.empty()) {
    const Variable variable = stack.back();
    stack.pop_back();
    if (!variable || !seen.insert(variable.get()).second) continue;
    const ApplyNode* owner = variable.owner();
    if (!owner) continue;
    if (owner->op().is_random()) return owner;
    const std::size_t entered = selects_fixed_data(*owner, parameters) ? 1 : owner->inputs().size();  // the data input only
    for (std::size_t i = 0; i < entered; ++i) stack.push_back(owner->input(i));
  }
  return nullptr;
}

}  // namespace symbatch
