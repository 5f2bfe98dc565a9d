/// @file walk.hpp
/// @brief One traversal primitive (`walk`) and the graph queries built on it.
#pragma once

#include <span>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "symbatch/graph/apply.hpp"

namespace symbatch {

/// @brief Visits every variable reachable from `roots` through `expand`, each once, children
/// before the variables that reach them (post-order), without recursion.
///
/// `expand(variable)` returns the variables to visit from `variable` (for ancestors, the inputs
/// of its owner). Returns the variables in visiting order.
template <class Expand>
std::vector<Variable> walk(std::span<const Variable> roots, Expand&& expand) {
  std::vector<Variable> order;
  std::unordered_set<const VariableNode*> seen;
  struct Frame {
    Variable variable;
    std::vector<Variable> children;
    std::size_t next = 0;
  };
  std::vector<Frame> stack;
  for (const Variable& root : roots) {
    if (!root || !seen.insert(root.get()).second) continue;
    stack.push_back({root, expand(root)});
    while (!stack.empty()) {
      Frame& top = stack.back();
      if (top.next < top.children.size()) {
        Variable child = top.children[top.next++];
        if (child && seen.insert(child.get()).second) {
          std::vector<Variable> grandchildren = expand(child);
          stack.push_back({std::move(child), std::move(grandchildren)});
        }
      } else {
        order.push_back(std::move(top.variable));
        stack.pop_back();
      }
    }
  }
  return order;
}

/// @brief Every variable that `roots` depend on, roots included, inputs first. The walk stops
/// at `blockers` (they are included, their ancestors are not).
inline std::vector<Variable> ancestors(std::span<const Variable> roots, std::span<const Variable> blockers = {}) {
  std::unordered_set<const VariableNode*> blocked;
  for (const Variable& blocker : blockers) blocked.insert(blocker.get());
  return walk(roots, [&](const Variable& variable) {
    if (!variable.owner() || blocked.count(variable.get())) return std::vector<Variable>{};
    return variable.owner()->inputs();
  });
}
inline std::vector<Variable> ancestors(std::initializer_list<Variable> roots) {
  return ancestors(std::span<const Variable>(roots.begin(), roots.size()));
}

/// @brief The applies that compute `outputs`, each after the applies computing its inputs.
inline std::vector<ApplyNode*> toposort(std::span<const Variable> outputs) {
  std::vector<ApplyNode*> order;
  std::unordered_set<const ApplyNode*> seen;
  for (const Variable& variable : ancestors(outputs))
    if (variable.owner() && seen.insert(variable.owner()).second) order.push_back(variable.owner());
  return order;
}

/// @brief The variables without owner (inputs, constants, shared variables) that `outputs`
/// depend on.
inline std::vector<Variable> graph_inputs(std::span<const Variable> outputs) {
  std::vector<Variable> result;
  for (const Variable& variable : ancestors(outputs))
    if (!variable.owner()) result.push_back(variable);
  return result;
}

/// @brief True when `variable` is `target` or depends on it.
inline bool depends_on(const Variable& variable, const Variable& target) {
  for (const Variable& ancestor : ancestors({variable}))
    if (ancestor == target) return true;
  return false;
}

namespace detail {

/// Applies `node`'s op to `inputs` (a copy of `node` over new inputs), keeps its output names,
/// and records each old output's replacement in `mapped`.
inline void reapply(const ApplyNode& node, std::vector<Variable> inputs, std::unordered_map<const VariableNode*, Variable>& mapped) {
  auto rebuilt = ApplyNode::make(node.op_ptr(), std::move(inputs));
  for (std::size_t i = 0; i < node.num_outputs(); ++i) {
    Variable output = rebuilt->output(i);
    output.set_name(node.output(i).name());
    mapped[node.output(i).get()] = output;
  }
}

/// Rebuilds the graph of `outputs` bottom-up with `replacements` substituted. When
/// `copy_all` is false, applies whose inputs are unchanged are reused.
inline std::vector<Variable> rebuild(std::span<const Variable> outputs,
                                     const std::vector<std::pair<Variable, Variable>>& replacements, bool copy_all) {
  std::unordered_map<const VariableNode*, Variable> mapped;
  std::vector<Variable> blockers;
  for (std::size_t i = 0; i < replacements.size(); ++i) {
    const auto& [old_variable, new_variable] = replacements[i];
    if (!old_variable || !new_variable)
      throw_invalid("replace", "replacement ", i + 1, "/", replacements.size(), " has a null ", !old_variable ? "variable to replace" : "replacement");
    if (old_variable.rank() != new_variable.rank() || old_variable.dtype() != new_variable.dtype())
      throw_invalid("replace", "cannot replace '", old_variable.label(), "' of type ", old_variable.type().str(), " by '",
                    new_variable.label(), "' of type ", new_variable.type().str());
    mapped[old_variable.get()] = new_variable;
    blockers.push_back(old_variable);
  }
  for (const Variable& variable : ancestors(outputs, blockers)) {
    if (mapped.count(variable.get()) || !variable.owner()) continue;
    ApplyNode* owner = variable.owner();
    std::vector<Variable> inputs;
    bool changed = copy_all;
    for (const Variable& input : owner->inputs()) {
      auto found = mapped.find(input.get());
      inputs.push_back(found == mapped.end() ? input : found->second);
      changed = changed || found != mapped.end();
    }
    if (changed) reapply(*owner, std::move(inputs), mapped);
  }
  std::vector<Variable> result;
  for (const Variable& output : outputs) {
    auto found = mapped.find(output.get());
    result.push_back(found == mapped.end() ? output : found->second);
  }
  return result;
}

}  // namespace detail

/// @brief New graphs for `outputs` with each `old` variable replaced by its `new` partner.
/// Subgraphs that do not depend on a replaced variable are shared with the original; types are
/// inferred afresh, so a replacement may change static dimensions (not dtype or rank).
inline std::vector<Variable> replace(std::span<const Variable> outputs,
                                     const std::vector<std::pair<Variable, Variable>>& replacements) {
  return detail::rebuild(outputs, replacements, false);
}
inline Variable replace(const Variable& output, const std::vector<std::pair<Variable, Variable>>& replacements) {
  return detail::rebuild(std::span<const Variable>(&output, 1), replacements, false)[0];
}

/// @brief A copy of the graphs of `outputs` with new applies throughout; inputs, constants and
/// shared variables are kept.
inline std::vector<Variable> clone(std::span<const Variable> outputs) { return detail::rebuild(outputs, {}, true); }

}  // namespace symbatch
