/// @file op.hpp
/// @brief `Op`: what an apply node computes, its types, its values and its gradient.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <typeinfo>
#include <variant>
#include <vector>

#include "symbatch/graph/variable.hpp"

namespace symbatch {

/// @brief How an input's gradient came out of `Op::grad`.
enum class GradKind {
  connected,     ///< `value` holds the gradient graph
  disconnected,  ///< the output does not depend on this input: the gradient is zero
  undefined,     ///< no gradient exists (a random draw, an integer index); `reason` says why
};

/// @brief The gradient of a cost with respect to one input of an apply.
struct InputGrad {
  GradKind kind = GradKind::disconnected;
  Variable value;
  std::string reason;

  static InputGrad of(Variable value) { return {GradKind::connected, std::move(value), {}}; }
  static InputGrad disconnected() { return {}; }
  static InputGrad undefined(std::string reason) { return {GradKind::undefined, {}, std::move(reason)}; }
};

/// @brief Per-node working memory of a compiled function, kept between calls so that ops
/// needing temporaries reuse them instead of allocating on every call.
struct Scratch {
  std::vector<Array> arrays;
  std::vector<std::int64_t> indices;
  std::vector<Scratch> parts;  ///< the working memory of ops an op runs inside itself, one each
};

/// @brief Input values handed to `Op::perform`.
using InputValues = std::span<const Array* const>;
/// @brief Output slots handed to `Op::perform`; an op calls `Array::ensure` before writing.
using OutputValues = std::span<Array* const>;

/// @brief One parameter of an op, as the op declares it: a name and a value.
struct OpParameter {
  using Value = std::variant<std::int64_t, double, bool, std::string, std::vector<std::int64_t>>;
  std::string name;
  Value value;
  friend bool operator==(const OpParameter&, const OpParameter&) = default;
};
/// @brief The parameters of an op, in a fixed order.
using OpParameters = std::vector<OpParameter>;

/// @brief An operation: construction-time type checks, run-time values, and gradient.
///
/// Ops are immutable and shared between apply nodes. An op's identity is its C++ type and the
/// parameters it declares once, in `parameters()`: two ops are equal (so `compile` may merge
/// duplicate subgraphs) when both agree, and `hash` and `describe` follow from the same list.
/// Ops whose every instance is distinct (random draws, fused loops) override `equals` with
/// identity. Ask what an op is with `op_as<OpType>(op)`, never by its name.
class Op {
 public:
  virtual ~Op() = default;

  /// Short name used in messages and printing (`add`, `matmul`, `take`).
  virtual std::string name() const = 0;
  /// The op's parameters (an axis, a dtype, flags), declared once; empty by default.
  virtual OpParameters parameters() const { return {}; }
  /// Name with parameters for printing: `sum{axis=0}`, `cast{dtype=i64}`.
  virtual std::string describe() const;

  /// Checks the inputs and returns the output types. Throws `std::invalid_argument` naming the
  /// op and the input position: `matmul: input 2/2 has shape (5,), expected (3,)`.
  virtual std::vector<Type> output_types(std::span<const Variable> inputs) const = 0;

  /// Computes the outputs from the inputs. Outputs are written through `Array::ensure`, which
  /// reuses the slot's buffer between calls; a view op assigns a view of an input instead.
  virtual void perform(InputValues inputs, OutputValues outputs, Scratch& scratch) const = 0;

  /// Vector-Jacobian product: given the gradient of a scalar cost with respect to each output
  /// (null where no gradient flows in), returns the gradient for each input.
  virtual std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const;

  /// The input that output `output` is a view of, if it aliases one (basic slicing, reshape).
  virtual std::optional<int> view_of(int output) const {
    (void)output;
    return std::nullopt;
  }
  /// True for random variables: ops that take an RNG state and return `(next_rng, draw)`.
  virtual bool is_random() const { return false; }

  /// True when `other` computes the same function: the same type, name and parameters.
  virtual bool equals(const Op& other) const {
    return typeid(*this) == typeid(other) && name() == other.name() && parameters() == other.parameters();
  }
  /// A hash consistent with `equals`.
  virtual std::size_t hash() const;
};

/// @brief The op as an `OpType`, or null when it is another kind of op: the one way to ask
/// what an op is (`if (auto* reduce = op_as<Reduce>(node.op())) ...`).
template <class OpType>
const OpType* op_as(const Op& op) {
  return dynamic_cast<const OpType*>(&op);
}
/// @brief True when `op` is an `OpType`.
template <class OpType>
bool op_is(const Op& op) {
  return op_as<OpType>(op) != nullptr;
}

namespace detail {

inline std::string parameter_text(const OpParameter::Value& value) {
  struct Text {
    std::string operator()(std::int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return format_number(v); }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(const std::string& v) const { return v; }
    std::string operator()(const std::vector<std::int64_t>& v) const {
      std::string text = "(";
      for (std::size_t i = 0; i < v.size(); ++i) text += (i ? ", " : "") + std::to_string(v[i]);
      return text + (v.size() == 1 ? ",)" : ")");
    }
  };
  return std::visit(Text{}, value);
}

inline std::size_t parameter_hash(const OpParameter::Value& value) {
  struct Hash {
    std::size_t operator()(std::int64_t v) const { return std::hash<std::int64_t>{}(v); }
    std::size_t operator()(double v) const { return std::hash<double>{}(v); }
    std::size_t operator()(bool v) const { return v ? 0x9e3779b9u : 0x7f4a7c15u; }
    std::size_t operator()(const std::string& v) const { return std::hash<std::string>{}(v); }
    std::size_t operator()(const std::vector<std::int64_t>& v) const {
      std::size_t seed = v.size();
      for (std::int64_t x : v) seed = seed * 1000003u ^ std::hash<std::int64_t>{}(x);
      return seed;
    }
  };
  return std::visit(Hash{}, value);
}

}  // namespace detail

inline std::string Op::describe() const {
  const OpParameters declared = parameters();
  if (declared.empty()) return name();
  std::string text = name() + "{";
  for (std::size_t i = 0; i < declared.size(); ++i)
    text += (i ? ", " : "") + declared[i].name + "=" + detail::parameter_text(declared[i].value);
  return text + "}";
}

inline std::size_t Op::hash() const {
  std::size_t seed = typeid(*this).hash_code() ^ std::hash<std::string>{}(name());
  for (const OpParameter& parameter : parameters()) seed = seed * 1000003u ^ detail::parameter_hash(parameter.value);
  return seed;
}

}  // namespace symbatch
