// Finite-difference check of symbolic gradients, shared by the op, distribution and model tests.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/reduce.hpp"

namespace symbatch::testing {

/// Deterministic weights in [0.5, 1.5) from a fixed 64-bit LCG (no std:: distributions).
inline std::vector<double> projection_weights(std::int64_t count, std::uint64_t seed) {
  std::vector<double> weights;
  std::uint64_t state = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (std::int64_t i = 0; i < count; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    weights.push_back(0.5 + static_cast<double>(state >> 11) * 0x1.0p-53);
  }
  return weights;
}

struct GradCheckOptions {
  double step = 1e-6;       ///< central-difference step (relative to max(1, |x|))
  double tolerance = 1e-6;  ///< |fd - symbolic| <= tolerance * (1 + |symbolic|)
  std::uint64_t seed = 1;   ///< for the random projection of the output
};

/// Builds `build(inputs)` on inputs shaped like `points`, projects its output onto fixed random
/// weights (cost = sum(w * output)), and checks d cost / d input against central differences
/// for every element of every f64 input.
inline void check_grad(const std::function<Variable(const std::vector<Variable>&)>& build, const std::vector<Array>& points,
                       GradCheckOptions options = {}) {
  std::vector<Variable> inputs;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Type type = Type::of(points[i]);
    inputs.push_back(Variable::input("x" + std::to_string(i), type));
  }
  const Variable output = build(inputs);
  REQUIRE(output.dtype() == DType::f64);
  // The projection needs the output's shape: evaluate once.
  Function probe = compile(inputs, {output});
  const Array value = probe(points)[0].copy();
  const std::vector<double> weights_values = projection_weights(value.size(), options.seed);
  const Variable weights = constant(Array::from(std::span<const double>(weights_values), value.shape()));
  const Variable cost = sum(mul(output, weights));
  std::vector<Variable> wrt, outputs{cost};
  std::vector<std::size_t> wrt_index;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].dtype() == DType::f64) {
      wrt.push_back(inputs[i]);
      wrt_index.push_back(i);
    }
  const std::vector<Variable> grads = grad(cost, wrt);
  outputs.insert(outputs.end(), grads.begin(), grads.end());
  Function function = compile(inputs, outputs);
  std::vector<Array> symbolic;
  for (const Array& result : function(points)) symbolic.push_back(result.copy());

  for (std::size_t k = 0; k < wrt.size(); ++k) {
    const std::size_t i = wrt_index[k];
    REQUIRE(symbolic[k + 1].shape() == points[i].shape());
    for (std::int64_t j = 0; j < points[i].size(); ++j) {
      std::vector<Array> shifted = points;
      shifted[i] = points[i].copy();
      double* element = shifted[i].data<double>() + j;
      const double x = *element;
      const double h = options.step * std::max(1.0, std::abs(x));
      *element = x + h;
      const double up = function(shifted)[0].item();
      *element = x - h;
      const double down = function(shifted)[0].item();
      const double finite_difference = (up - down) / (2 * h);
      const double analytic = symbolic[k + 1].data<double>()[j];
      INFO("input " << i << " element " << j << " at " << x << ": symbolic " << analytic << ", finite difference "
                    << finite_difference);
      CHECK(std::abs(finite_difference - analytic) <= options.tolerance * (1 + std::abs(analytic)));
    }
  }
}

}  // namespace symbatch::testing
