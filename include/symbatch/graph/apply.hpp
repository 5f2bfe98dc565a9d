/// @file apply.hpp
/// @brief `ApplyNode`: an op applied to input variables, owning its output variables.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "symbatch/graph/op.hpp"

namespace symbatch {

namespace detail {

/// Throws `std::invalid_argument` when input `index` (of `count`) of `function` is a null
/// (default-constructed) variable: `add: input 1/2 is a null variable`. Factories call it before
/// they read an input's type.
inline void check_not_null(std::string_view function, const Variable& x, std::size_t index, std::size_t count) {
  if (!x) throw_invalid(function, "input ", index, "/", count, " is a null variable");
}

}  // namespace detail

/// @brief `{op, inputs, outputs}`. The outputs live inside the apply, so a handle to any output
/// keeps the whole apply (and so its other outputs and its inputs) alive. Immutable once built.
class ApplyNode : public std::enable_shared_from_this<ApplyNode> {
 public:
  /// Applies `op` to `inputs`: checks them with `op->output_types` and creates the outputs.
  static std::shared_ptr<ApplyNode> make(std::shared_ptr<const Op> op, std::vector<Variable> inputs) {
    for (std::size_t i = 0; i < inputs.size(); ++i) detail::check_not_null(op->name(), inputs[i], i + 1, inputs.size());
    std::vector<Type> types = op->output_types(inputs);
    auto node = std::shared_ptr<ApplyNode>(new ApplyNode(std::move(op), std::move(inputs)));
    node->outputs_.resize(types.size());
    for (std::size_t i = 0; i < types.size(); ++i) {
      VariableNode& output = node->outputs_[i];
      output.type = std::move(types[i]);
      output.kind = VariableKind::output;
      output.owner = node.get();
      output.index = static_cast<int>(i);
    }
    return node;
  }

  /// Releases the inputs without recursion: dropping the last handle to a chain of 100,000
  /// applies would otherwise destroy them recursively and overflow the stack. The inputs of an
  /// apply about to die are moved out and released here, so each destructor goes one level deep.
  ~ApplyNode() {
    std::vector<Variable> pending = std::move(inputs_);
    while (!pending.empty()) {
      Variable variable = std::move(pending.back());
      pending.pop_back();
      ApplyNode* owner = variable.owner();
      // The outputs share the apply's reference count: 1 means this handle is the last one.
      if (owner && variable.node_.use_count() == 1) {
        for (Variable& input : owner->inputs_) pending.push_back(std::move(input));
        owner->inputs_.clear();
      }
    }
  }
  ApplyNode(const ApplyNode&) = delete;
  ApplyNode& operator=(const ApplyNode&) = delete;

  const Op& op() const { return *op_; }
  const std::shared_ptr<const Op>& op_ptr() const { return op_; }
  const std::vector<Variable>& inputs() const { return inputs_; }
  const Variable& input(std::size_t i) const { return inputs_[i]; }
  std::size_t num_outputs() const { return outputs_.size(); }
  /// A handle to output `i`, sharing ownership of this apply.
  Variable output(std::size_t i) { return Variable(std::shared_ptr<VariableNode>(shared_from_this(), &outputs_[i])); }
  Variable output(std::size_t i) const { return const_cast<ApplyNode*>(this)->output(i); }
  std::vector<Variable> outputs() const {
    std::vector<Variable> result;
    for (std::size_t i = 0; i < outputs_.size(); ++i) result.push_back(output(i));
    return result;
  }

 private:
  ApplyNode(std::shared_ptr<const Op> op, std::vector<Variable> inputs) : op_(std::move(op)), inputs_(std::move(inputs)) {}

  std::shared_ptr<const Op> op_;
  std::vector<Variable> inputs_;
  std::vector<VariableNode> outputs_;
};

/// @brief Applies `op` to `inputs` and returns all outputs.
inline std::vector<Variable> apply(std::shared_ptr<const Op> op, std::vector<Variable> inputs) {
  return ApplyNode::make(std::move(op), std::move(inputs))->outputs();
}
/// @brief Applies a single-output op to `inputs` and returns its output.
inline Variable apply1(std::shared_ptr<const Op> op, std::vector<Variable> inputs) {
  return ApplyNode::make(std::move(op), std::move(inputs))->output(0);
}
/// @brief Constructs an op of type `OpType` with `args` and applies it to `inputs`.
template <class OpType, class... Args>
Variable make_apply(std::vector<Variable> inputs, Args&&... args) {
  return apply1(std::make_shared<const OpType>(std::forward<Args>(args)...), std::move(inputs));
}

inline std::vector<InputGrad> Op::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  (void)output_grads;
  return std::vector<InputGrad>(node.inputs().size(), InputGrad::undefined(name() + " has no gradient"));
}

inline std::string Variable::label() const {
  if (!node_) return "<null>";
  if (!node_->name.empty()) return node_->name;
  if (node_->owner) return node_->owner->op().describe() + (node_->owner->num_outputs() > 1 ? "." + std::to_string(node_->index) : "");
  switch (node_->kind) {
    case VariableKind::constant: return "constant";
    case VariableKind::shared: return "shared";
    default: return "input";
  }
}

}  // namespace symbatch
