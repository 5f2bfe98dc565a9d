/// @file variable.hpp
/// @brief `Variable`: a typed node of the expression graph, and its kinds.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "symbatch/graph/type.hpp"

namespace symbatch {

class ApplyNode;

/// @brief Where a variable's value comes from.
enum class VariableKind {
  input,     ///< a value passed to the compiled function on each call
  constant,  ///< a value fixed in the graph
  shared,    ///< a value held by the variable itself, replaceable with `set_value`
  output,    ///< an output of an `Apply`
};

/// @brief The node behind a `Variable` handle. Only `Apply` sets `owner`.
struct VariableNode {
  Type type;
  VariableKind kind = VariableKind::input;
  ApplyNode* owner = nullptr;  ///< the apply this variable is an output of (kind `output`)
  int index = 0;               ///< which output of `owner`
  std::string name;
  Array value;  ///< the value of a constant or the current value of a shared variable
};

/// @brief A handle to a node of the expression graph (shared ownership, identity semantics).
///
/// Copying a `Variable` copies the handle; `==` compares identity. A default-constructed
/// handle is null and stands for "no variable" (for example a disconnected gradient).
class Variable {
 public:
  Variable() = default;
  explicit Variable(std::shared_ptr<VariableNode> node) : node_(std::move(node)) {}

  /// A new graph input of the given type and name.
  static Variable input(std::string name, Type type) {
    auto node = std::make_shared<VariableNode>();
    node->type = std::move(type);
    node->kind = VariableKind::input;
    node->name = std::move(name);
    return Variable(std::move(node));
  }

  explicit operator bool() const { return node_ != nullptr; }
  VariableNode* get() const { return node_.get(); }
  const Type& type() const { return node_->type; }
  DType dtype() const { return node_->type.dtype; }
  int rank() const { return node_->type.rank(); }
  VariableKind kind() const { return node_->kind; }
  const std::string& name() const { return node_->name; }
  /// Sets the display name (metadata only: it does not change the graph).
  void set_name(std::string name) const { node_->name = std::move(name); }
  /// The apply that computes this variable, or null for inputs, constants and shared variables.
  ApplyNode* owner() const { return node_->owner; }
  int index() const { return node_->index; }
  bool is_input() const { return node_->kind == VariableKind::input; }
  bool is_constant() const { return node_->kind == VariableKind::constant; }
  bool is_shared() const { return node_->kind == VariableKind::shared; }
  /// The value of a constant; throws for other kinds.
  const Array& constant_value() const {
    if (!is_constant()) throw_invalid("constant_value", "variable '", name(), "' is not a constant");
    return node_->value;
  }
  /// A name for messages: the variable's name, or a description if it has none.
  std::string label() const;

  friend bool operator==(const Variable& a, const Variable& b) { return a.node_ == b.node_; }
  friend class ApplyNode;  // reads the reference count to tear long graphs down without recursion
  friend bool operator<(const Variable& a, const Variable& b) { return a.node_ < b.node_; }

 private:
  std::shared_ptr<VariableNode> node_;
};

/// @brief A new graph input: `input("x", DType::f64, {Type::unknown, 3})`.
inline Variable input(std::string name, DType dtype = DType::f64, std::vector<std::int64_t> shape = {}) {
  return Variable::input(std::move(name), Type{dtype, std::move(shape)});
}

namespace detail {
/// Throws when a value for a graph node is a default-constructed `Array` (it has no elements to
/// read): `constant: the value of 'c' is an Array without a buffer`.
inline void check_has_buffer(std::string_view function, const std::string& name, const Array& value) {
  if (!value.has_buffer())
    throw_invalid(function, "the value", name.empty() ? std::string() : " of '" + name + "'", " is an Array without a buffer");
}
}  // namespace detail

/// @brief A constant holding `value`. Throws `std::invalid_argument` for an `Array` without a
/// buffer.
inline Variable constant(Array value, std::string name = {}) {
  detail::check_has_buffer("constant", name, value);
  auto node = std::make_shared<VariableNode>();
  node->type = Type::of(value);
  node->kind = VariableKind::constant;
  node->name = std::move(name);
  node->value = std::move(value);
  return Variable(std::move(node));
}
/// @brief A rank-0 `f64` constant.
inline Variable constant(double value) { return constant(Array::scalar(value)); }

/// @brief A shared variable holding `value`, whose value can be replaced later with
/// `set_value` without rebuilding the graph.
///
/// Its type has the value's dtype and rank; the leading dimension is unknown (so a data array
/// can be replaced by one of another length) and the other dimensions are the value's. Throws
/// `std::invalid_argument` for an `Array` without a buffer.
inline Variable shared(Array value, std::string name) {
  detail::check_has_buffer("shared", name, value);
  auto node = std::make_shared<VariableNode>();
  node->type = Type::of(value);
  if (node->type.rank() > 0) node->type.shape[0] = Type::unknown;
  node->kind = VariableKind::shared;
  node->name = std::move(name);
  node->value = std::move(value);
  return Variable(std::move(node));
}

/// @brief The current value of a shared variable.
inline const Array& get_value(const Variable& variable) {
  if (!variable || !variable.is_shared()) throw_invalid("get_value", "variable '", variable ? variable.name() : "", "' is not shared");
  return variable.get()->value;
}

/// @brief Replaces the value of a shared variable. The new value must have a buffer, the
/// variable's dtype, rank, and every dimension but the first; throws `std::invalid_argument`
/// otherwise.
inline void set_value(const Variable& variable, Array value) {
  if (!variable || !variable.is_shared()) throw_invalid("set_value", "variable '", variable ? variable.name() : "", "' is not shared");
  detail::check_has_buffer("set_value", variable.name(), value);
  if (!variable.type().accepts(value))
    throw_invalid("set_value", "'", variable.name(), "' expects ", variable.type().str(), ", got ", dtype_name(value.dtype()),
                  value.shape().str());
  variable.get()->value = std::move(value);
}

}  // namespace symbatch

template <>
struct std::hash<symbatch::Variable> {
  std::size_t operator()(const symbatch::Variable& variable) const noexcept { return std::hash<const void*>{}(variable.get()); }
};
