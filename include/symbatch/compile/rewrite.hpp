/// @file rewrite.hpp
/// @brief Graph rewrites applied by `compile` before it schedules a graph: merging duplicate
/// subgraphs, folding constants, and dropping arithmetic identities. Each builds new graphs
/// (graphs are immutable) and is switched by `Rewrites`.
#pragma once

#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "symbatch/graph/walk.hpp"
#include "symbatch/ops/dimensions.hpp"
#include "symbatch/ops/elemwise.hpp"
#include "symbatch/ops/reduce.hpp"

namespace symbatch {

/// @brief Which rewrites `compile` applies (all on by default).
struct Rewrites {
  bool merge = true;           ///< one apply for each distinct (op, inputs); equal small constants merged
  bool fold_constants = true;  ///< applies whose inputs are all constants, and shape queries the static types answer, become constants
  bool identities = true;      ///< `x * 1`, `x + 0`, `x - 0`, `x / 1`, `--x`, and the sum, mean or max of a scalar become `x` when types allow; `-(a * s)` and `-(a / s)` with a scalar `s` become `a * (-s)`, `a / (-s)` (the same bits)
};

namespace detail {

/// Identity of a small constant: dtype, shape and bytes; empty for large constants.
inline std::string constant_key(const Array& value) {
  if (value.size() > 16 || value.dtype() == DType::rng) return {};
  std::string key(dtype_name(value.dtype()));
  key += value.shape().str();
  key.append(reinterpret_cast<const char*>(value.raw_data()), value.bytes());
  return key;
}

inline bool is_constant_value(const Variable& variable, double value) {
  if (!variable.is_constant() || variable.dtype() != DType::f64 || variable.rank() != 0) return false;
  return variable.constant_value().item() == value;
}

/// `x` when `op(x, other)` is the identity on x and cannot change x's type.
inline Variable identity_operand(const ApplyNode& node) {
  const Op& op = node.op();
  const Type& out = node.output(0).type();
  auto same_type = [&](const Variable& x) { return x.type() == out; };
  if (node.inputs().size() == 2) {
    const Variable& a = node.input(0);
    const Variable& b = node.input(1);
    if (op_is<Elemwise<MulFn>>(op)) {
      if (is_constant_value(b, 1.0) && same_type(a)) return a;
      if (is_constant_value(a, 1.0) && same_type(b)) return b;
    } else if (op_is<Elemwise<AddFn>>(op)) {
      if (is_constant_value(b, 0.0) && same_type(a)) return a;
      if (is_constant_value(a, 0.0) && same_type(b)) return b;
    } else if (op_is<Elemwise<SubFn>>(op)) {
      if (is_constant_value(b, 0.0) && same_type(a)) return a;
    } else if (op_is<Elemwise<DivFn>>(op)) {
      if (is_constant_value(b, 1.0) && same_type(a)) return a;
    }
  } else if (node.inputs().size() == 3 && op_is<Where>(op)) {
    // where(c, a, b) with a constant scalar condition is the branch it picks (the empty-batch
    // guard of every total_size scale, once the batch size is folded).
    const Variable& condition = node.input(0);
    if (condition.is_constant() && condition.rank() == 0 && condition.dtype() == DType::boolean) {
      const Variable& chosen = node.input(condition.constant_value().item<bool>() ? 1 : 2);
      if (same_type(chosen)) return chosen;
    }
  } else if (op_is<Elemwise<NegFn>>(op) && node.input(0).owner() && op_is<Elemwise<NegFn>>(node.input(0).owner()->op())) {
    return node.input(0).owner()->input(0);
  } else if (const auto* reduce = op_as<Reduce>(op); reduce && node.input(0).rank() == 0 && same_type(node.input(0))) {
    // The sum, mean or max of one element is that element (a scalar prior's log-density term).
    if (reduce->kind() == Reduction::sum || reduce->kind() == Reduction::mean || reduce->kind() == Reduction::max) return node.input(0);
  }
  return {};
}

/// `-(a * s)`, `-(s * a)`, `-(a / s)` or `-(s / a)` with `s` an f64 scalar and `a` an array,
/// written with the sign on the scalar: `a * (-s)`, ... IEEE rounding is symmetric in sign, so the
/// value is the same bit for bit (and `1 / (-s)` is `-(1 / s)`, so also with a scalar divisor's
/// reciprocal); one negation per call instead of one per element. Applies only when the product
/// or quotient has no other use (`single_use`), and `negate` gives `-s` (one per scalar, shared).
/// Empty when the rewrite does not apply.
inline Variable sign_onto_scalar(const ApplyNode& node, bool single_use, const std::function<Variable(const Variable&)>& negate) {
  if (!single_use || !op_is<Elemwise<NegFn>>(node.op())) return {};
  const ApplyNode* inner = node.input(0).owner();
  if (!inner || !(op_is<Elemwise<MulFn>>(inner->op()) || op_is<Elemwise<DivFn>>(inner->op()))) return {};
  const Variable& a = inner->input(0);
  const Variable& b = inner->input(1);
  if (a.dtype() != DType::f64 || b.dtype() != DType::f64 || (a.rank() == 0) == (b.rank() == 0)) return {};
  const bool first_is_scalar = a.rank() == 0;
  const Variable negated = negate(first_is_scalar ? a : b);
  std::vector<Variable> inputs = first_is_scalar ? std::vector<Variable>{negated, b} : std::vector<Variable>{a, negated};
  Variable result = ApplyNode::make(inner->op_ptr(), std::move(inputs))->output(0);
  return result.type() == node.output(0).type() ? result : Variable{};
}

/// Evaluates an apply whose inputs are all constants; empty when the op throws, so the apply
/// stays and throws its error when the function is called, as without the rewrite.
inline std::optional<std::vector<Variable>> try_fold(const ApplyNode& node) {
  std::vector<const Array*> inputs;
  for (const Variable& input : node.inputs()) inputs.push_back(&input.constant_value());
  std::vector<Array> values(node.num_outputs());
  std::vector<Array*> outputs;
  for (Array& value : values) outputs.push_back(&value);
  Scratch scratch;
  try {
    node.op().perform(inputs, outputs, scratch);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::vector<Variable> result;
  for (std::size_t i = 0; i < values.size(); ++i) {
    // A view of an input is copied so the constant owns its elements.
    Array value = values[i].unique() ? std::move(values[i]) : values[i].copy();
    result.push_back(constant(std::move(value), node.output(i).name()));
  }
  return result;
}

/// `dim(x, axis)` or `shape_of(x)` where `x`'s static type fixes the lengths asked for: a
/// constant. (Every op's output has its static shape at run time, and inputs and shared values are
/// checked against theirs, so the value cannot differ.) This folds the batch size of a minibatch
/// view, and with it the whole `total_size / batch_size` scale, out of every call.
inline std::optional<Variable> try_fold_static_shape(const ApplyNode& node) {
  const Type& type = node.input(0).type();
  if (const Dim* dim = op_as<Dim>(node.op())) {
    const std::int64_t length = type.shape[static_cast<std::size_t>(dim->axis())];
    if (length == Type::unknown) return std::nullopt;
    return constant(Array::scalar(length), node.output(0).name());
  }
  if (op_is<ShapeOf>(node.op())) {
    for (std::int64_t length : type.shape)
      if (length == Type::unknown) return std::nullopt;
    return constant(Array::from(std::vector<std::int64_t>(type.shape.begin(), type.shape.end())), node.output(0).name());
  }
  return std::nullopt;
}

}  // namespace detail

/// @brief Rewrites the graphs of `outputs` as `rewrites` says and returns the new outputs (one
/// per input, in order). The values are unchanged; only the work to compute them shrinks.
inline std::vector<Variable> rewrite(std::span<const Variable> outputs, const Rewrites& rewrites = {}) {
  std::unordered_map<const VariableNode*, Variable> mapped;
  std::unordered_map<std::string, Variable> constants;
  std::unordered_multimap<std::size_t, ApplyNode*> seen;  // hash -> an apply kept in the new graph
  auto lookup = [&](const Variable& variable) {
    auto found = mapped.find(variable.get());
    return found == mapped.end() ? variable : found->second;
  };
  const std::vector<Variable> graph = ancestors(outputs);
  // Uses of each variable in the original graph (an output counts as used outside it).
  std::unordered_map<const VariableNode*, int> uses;
  std::unordered_set<const ApplyNode*> counted;
  for (const Variable& variable : graph)
    if (const ApplyNode* owner = variable.owner(); owner && counted.insert(owner).second)
      for (const Variable& input : owner->inputs()) ++uses[input.get()];
  for (const Variable& output : outputs) uses[output.get()] += 2;
  // `-s` for `sign_onto_scalar`, one per scalar (a constant when `s` is one).
  std::unordered_map<const VariableNode*, Variable> negations;
  auto negate = [&](const Variable& scalar) {
    auto [it, inserted] = negations.try_emplace(scalar.get());
    if (inserted) {
      it->second = neg(scalar);
      if (scalar.is_constant() && rewrites.fold_constants)
        if (std::optional<std::vector<Variable>> folded = detail::try_fold(*it->second.owner())) it->second = (*folded)[0];
    }
    return it->second;
  };
  for (const Variable& variable : graph) {
    if (mapped.count(variable.get())) continue;
    if (!variable.owner()) {
      if (rewrites.merge && variable.is_constant()) {
        const std::string key = detail::constant_key(variable.constant_value());
        if (!key.empty()) {
          auto [it, inserted] = constants.emplace(key, variable);
          if (!inserted) mapped[variable.get()] = it->second;
        }
      }
      continue;
    }
    ApplyNode* owner = variable.owner();
    std::vector<Variable> inputs;
    bool changed = false, all_constant = true;
    for (const Variable& input : owner->inputs()) {
      inputs.push_back(lookup(input));
      changed = changed || !(inputs.back() == input);
      all_constant = all_constant && inputs.back().is_constant();
    }
    std::shared_ptr<ApplyNode> node = changed ? ApplyNode::make(owner->op_ptr(), inputs) : owner->shared_from_this();
    std::vector<Variable> results = node->outputs();

    std::optional<std::vector<Variable>> folded;
    if (rewrites.fold_constants && all_constant && !node->op().is_random() && !inputs.empty()) folded = detail::try_fold(*node);
    if (rewrites.fold_constants && !folded)
      if (std::optional<Variable> known = detail::try_fold_static_shape(*node)) folded = std::vector<Variable>{*known};
    if (folded) {
      results = std::move(*folded);
    } else if (Variable same = rewrites.identities ? detail::identity_operand(*node) : Variable{}; same) {
      results = {same};
    } else if (Variable moved = rewrites.identities && owner->inputs().size() == 1
                                    ? detail::sign_onto_scalar(*node, uses.at(owner->input(0).get()) == 1, negate)
                                    : Variable{};
               moved) {
      results = {moved};
    } else if (rewrites.merge) {
      std::size_t hash = node->op().hash();
      for (const Variable& input : inputs) hash = hash * 1000003u ^ std::hash<const void*>{}(input.get());
      auto [begin, end] = seen.equal_range(hash);
      ApplyNode* twin = nullptr;
      for (auto it = begin; it != end && !twin; ++it) {
        ApplyNode* other = it->second;
        if (other->op().equals(node->op()) && other->inputs() == inputs) twin = other;
      }
      if (twin) results = twin->outputs();
      else seen.emplace(hash, node.get());
    }
    for (std::size_t i = 0; i < owner->num_outputs(); ++i)
      if (!(results[i] == owner->output(i))) {
        if (changed && results[i].owner() == node.get()) results[i].set_name(owner->output(i).name());
        mapped[owner->output(i).get()] = results[i];
      }
  }
  std::vector<Variable> result;
  for (const Variable& output : outputs) result.push_back(lookup(output));
  return result;
}

}  // namespace symbatch
