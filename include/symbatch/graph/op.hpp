/// @file op.hpp
/// @brief `Op`: what an apply node computes, its types, its values and its gradient.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <typeinfo>
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
};

/// @brief Input values handed to `Op::perform`.
using InputValues = std::span<const Array* const>;
/// @brief Output slots handed to `Op::perform`; an op calls `Array::ensure` before writing.
using OutputValues = std::span<Array* const>;

/// @brief An operation: construction-time type checks, run-time values, and gradient.
///
/// Ops are immutable and shared between apply nodes. Parameterised ops override `equals`,
/// `hash` and `describe` so that duplicate subgraphs can be merged and graphs printed.
class Op {
 public:
  virtual ~Op() = default;

  /// Short name used in messages and printing (`add`, `matmul`, `take`).
  virtual std::string name() const = 0;
  /// Name with parameters for printing (`sum{axis=0}`).
  virtual std::string describe() const { return name(); }

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

  /// True when `other` computes the same function (same type and parameters).
  virtual bool equals(const Op& other) const { return typeid(*this) == typeid(other); }
  virtual std::size_t hash() const { return typeid(*this).hash_code(); }
};

}  // namespace symbatch
