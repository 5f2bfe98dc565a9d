/// @file grad.hpp
/// @brief `grad(cost, wrt)`: symbolic reverse-mode differentiation by one reverse topological
/// sweep over the graph.
#pragma once

#include <algorithm>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "symbatch/graph/walk.hpp"
#include "symbatch/ops/elemwise.hpp"

namespace symbatch {

namespace detail {

/// Sum of the gradient contributions reaching one variable.
inline Variable sum_contributions(const std::vector<Variable>& terms) {
  if (terms.empty()) return {};
  Variable total = terms[0];
  for (std::size_t i = 1; i < terms.size(); ++i) total = add(total, terms[i]);
  return total;
}

}  // namespace detail

/// @brief Gradients of the scalar `cost` with respect to each variable in `wrt`, as graphs.
///
/// One reverse sweep over the applies between `wrt` and `cost` in topological order; each
/// apply's `Op::grad` turns the gradients of its outputs into gradients of its inputs, and the
/// contributions reaching a variable are summed. A variable the cost does not depend on gets
/// zeros of its shape (disconnected). Integer and bool variables carry no gradient.
///
/// @throws std::invalid_argument if `cost` is not an f64 scalar, if a `wrt` entry is not f64,
/// or if the cost depends on a `wrt` variable only through an op without a gradient (a random
/// draw: the message names it).
inline std::vector<Variable> grad(const Variable& cost, std::span<const Variable> wrt) {
  if (!cost) throw_invalid("grad", "cost is a null variable");
  if (cost.rank() != 0 || cost.dtype() != DType::f64)
    throw_invalid("grad", "cost must be an f64 scalar, got '", cost.label(), "' of type ", cost.type().str());
  for (std::size_t i = 0; i < wrt.size(); ++i) {
    if (!wrt[i]) throw_invalid("grad", "wrt ", i + 1, " is a null variable");
    if (wrt[i].dtype() != DType::f64)
      throw_invalid("grad", "wrt ", i + 1, " ('", wrt[i].label(), "') has dtype ", dtype_name(wrt[i].dtype()), ", expected f64");
  }

  const Variable root[] = {cost};
  const std::vector<Variable> order = ancestors(root);  // inputs first

  // Variables on a path from some wrt to the cost: f64 descendants of wrt among the ancestors.
  std::unordered_set<const VariableNode*> on_path;
  for (const Variable& variable : wrt) on_path.insert(variable.get());
  for (const Variable& variable : order) {
    if (!variable.owner() || variable.dtype() != DType::f64) continue;
    for (const Variable& input : variable.owner()->inputs())
      if (on_path.count(input.get())) {
        on_path.insert(variable.get());
        break;
      }
  }

  std::unordered_map<const VariableNode*, std::vector<Variable>> contributions;
  contributions[cost.get()].push_back(constant(1.0));
  // Reverse topological order of applies: each apply after every apply that reads its outputs.
  const std::vector<ApplyNode*> applies = toposort(root);
  for (auto it = applies.rbegin(); it != applies.rend(); ++it) {
    ApplyNode* node = *it;
    std::vector<Variable> output_grads(node->num_outputs());
    bool any = false;
    for (std::size_t i = 0; i < node->num_outputs(); ++i) {
      auto found = contributions.find(node->output(i).get());
      if (found == contributions.end()) continue;
      output_grads[i] = detail::sum_contributions(found->second);
      // A wrt variable computed by an apply (an intermediate, or the cost itself) keeps its sum
      // for the result; other contributions are dropped once consumed.
      if (std::find(wrt.begin(), wrt.end(), node->output(i)) != wrt.end()) found->second = {output_grads[i]};
      else contributions.erase(found);
      any = true;
    }
    if (!any) continue;
    const std::vector<InputGrad> input_grads = node->op().grad(*node, output_grads);
    for (std::size_t i = 0; i < node->inputs().size(); ++i) {
      const Variable& input = node->input(i);
      if (!on_path.count(input.get()) || input.dtype() != DType::f64) continue;
      const InputGrad& input_grad = input_grads[i];
      if (input_grad.kind == GradKind::undefined) {
        std::string through = node->op().describe();
        for (std::size_t j = 0; j < node->num_outputs(); ++j)
          if (!node->output(j).name().empty()) through += " '" + node->output(j).name() + "'";
        throw_invalid("grad", "the cost depends on input ", i + 1, " of ", through, ", which has no gradient (",
                      input_grad.reason, ")");
      }
      if (input_grad.kind == GradKind::connected) contributions[input.get()].push_back(input_grad.value);
    }
  }

  std::vector<Variable> result;
  for (const Variable& variable : wrt) {
    auto found = contributions.find(variable.get());
    result.push_back(found == contributions.end() ? zeros_like(variable) : detail::sum_contributions(found->second));
  }
  return result;
}

/// @brief Gradient of the scalar `cost` with respect to one variable.
inline Variable grad(const Variable& cost, const Variable& wrt) { return grad(cost, std::span<const Variable>(&wrt, 1))[0]; }
inline std::vector<Variable> grad(const Variable& cost, std::initializer_list<Variable> wrt) {
  return grad(cost, std::span<const Variable>(wrt.begin(), wrt.size()));
}

}  // namespace symbatch
