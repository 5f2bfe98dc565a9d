/// @file magnitude.hpp
/// @brief For the fuzzer: a bound on the rounding error of each variable of a graph, as a
/// graph beside it, so results computed in different orders can be compared without false
/// alarms from cancellation.
///
/// For an elementwise f of inputs a_i with bounds m_i >= |a_i|:
/// @f$ m(f) = |f| + \sum_i |\partial f / \partial a_i| \, m_i @f$ (f's own rounding plus the
/// first-order propagation of its inputs' errors). Any evaluation order then computes f to
/// within a few ulps (times the number of terms summed) of m(f). Linear ops with nonnegative
/// coefficients (sum, mean, sum_to, unreduce, broadcast_like, slice, take, reshape, transpose,
/// matmul, inc_slice, scatter_add, concatenate) are applied to the bounds themselves. An f32
/// value (data) is exact as stored: its bound is its absolute value.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "symbatch/symbatch.hpp"

namespace fuzz {

using namespace symbatch;

/// Bounds for each f64 variable that `roots` depend on; returns the bounds of `roots`.
/// @throws std::invalid_argument for an op without a rule (a new op: add its rule here).
inline std::vector<Variable> magnitudes(std::span<const Variable> roots) {
  std::unordered_map<const VariableNode*, Variable> bound;
  // f32 values are data (inputs, or exact copies of them: slices, gathers, transposes): their
  // bound is their absolute value, read as f64.
  const auto m = [&](const Variable& x) { return x.dtype() == DType::f64 ? bound.at(x.get()) : x.dtype() == DType::f32 ? abs(x) : x; };
  for (const Variable& variable : ancestors(roots)) {
    if (variable.dtype() != DType::f64) continue;
    if (!variable.owner()) {
      bound[variable.get()] = abs(variable);
      continue;
    }
    const ApplyNode& node = *variable.owner();
    const std::string name = node.op().name();
    const std::vector<Variable>& in = node.inputs();
    const Variable out = variable;
    const Variable size = abs(out);
    const auto a = [&](std::size_t i) { return in[i]; };
    const auto ma = [&](std::size_t i) { return m(in[i]); };
    bool has_f64_input = false;
    for (const Variable& input : in) has_f64_input = has_f64_input || is_floating(input.dtype());
    Variable result;
    if (!has_f64_input) {
      result = size;  // from integers or booleans: exact
    } else if (name == "add" || name == "sub") {
      result = ma(0) + ma(1);
    } else if (name == "mul") {
      result = ma(0) * ma(1);
    } else if (name == "div") {
      result = (ma(0) + size * ma(1)) / abs(a(1));
    } else if (name == "neg" || name == "abs" || name == "cast") {
      result = ma(0);
    } else if (name == "sign") {
      result = size;
    } else if (name == "maximum" || name == "minimum") {
      result = maximum(ma(0), ma(1));
    } else if (name == "square") {
      result = 2.0 * ma(0) * ma(0);
    } else if (name == "exp") {
      result = size * (1.0 + ma(0));
    } else if (name == "log") {
      result = size + ma(0) / abs(a(0));
    } else if (name == "log1p") {
      result = size + ma(0) / abs(a(0) + 1.0);
    } else if (name == "expm1") {
      result = size + (out + 1.0) * ma(0);
    } else if (name == "sqrt") {
      result = size + ma(0) / (2.0 * out);
    } else if (name == "sigmoid") {
      result = size + out * (1.0 - out) * ma(0);
    } else if (name == "softplus") {
      result = size + sigmoid(a(0)) * ma(0);
    } else if (name == "log_sigmoid") {
      result = size + sigmoid(-a(0)) * ma(0);
    } else if (name == "lgamma") {
      result = size + abs(digamma(a(0))) * ma(0);
    } else if (name == "digamma") {
      result = size + abs(trigamma(a(0))) * ma(0);
    } else if (name == "pow") {
      result = size + abs(a(1) * out / a(0)) * ma(0) + abs(out * log(a(0))) * ma(1);
    } else if (name == "logsumexp") {
      // The error is a softmax-weighted average of the inputs' errors: at most their maximum,
      // which logsumexp of the bounds exceeds.
      result = size + apply1(node.op_ptr(), {ma(0)});
    } else if (name == "where" || name == "sum" || name == "mean" || name == "max" || name == "sum_to" || name == "unreduce" ||
               name == "broadcast_like" || name == "slice" || name == "take" || name == "reshape" || name == "reshape_like" ||
               name == "transpose" || name == "matmul" || name == "outer" || name == "inc_slice" || name == "scatter_add" ||
               name == "concatenate") {
      std::vector<Variable> inputs;
      for (const Variable& input : in) inputs.push_back(m(input));
      result = ApplyNode::make(node.op_ptr(), std::move(inputs))->output(variable.index());
    } else {
      throw_invalid("fuzz::magnitudes", "no rule for op '", name, "'");
    }
    bound[variable.get()] = result;
  }
  std::vector<Variable> result;
  for (const Variable& root : roots) result.push_back(m(root));
  return result;
}

}  // namespace fuzz
