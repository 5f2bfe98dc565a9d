// The minibatch logp + gradient workload the benchmarks share: the data (1,000,000 x 16,
// generated once per likelihood), and symbatch's compiled function for it.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <map>
#include <numbers>
#include <optional>

#include "symbatch/symbatch.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/distributions/discrete.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"

namespace workload {

using namespace symbatch;

constexpr std::int64_t rows = 1'000'000;
constexpr std::int64_t features = 16;
const double log_sqrt_2pi = 0.5 * std::log(2 * std::numbers::pi);

enum class Likelihood { linear, logistic };
enum class Scheme { slice, indices };

/// The workload's data, generated once per likelihood with symbatch's Philox stream.
struct Data {
  Array x, y;
};

const Data& data(Likelihood likelihood) {
  static std::map<Likelihood, Data> cache;
  auto found = cache.find(likelihood);
  if (found != cache.end()) return found->second;
  PhiloxStream stream(seed_rng_state(2024, 0));
  Data made{Array::empty(DType::f64, Shape{rows, features}), Array::empty(DType::f64, Shape{rows})};
  double* x = made.x.data<double>();
  double* y = made.y.data<double>();
  for (std::int64_t i = 0; i < rows; ++i) {
    double mean = 0;
    for (std::int64_t j = 0; j < features; ++j) {
      x[i * features + j] = stream.normal();
      mean += x[i * features + j] * (-1.0 + 2.0 * static_cast<double>(j) / (features - 1));
    }
    if (likelihood == Likelihood::linear) {
      y[i] = mean + 0.5 * stream.normal();
    } else {
      const double u = stream.uniform_open();
      y[i] = mean + std::log(u / (1 - u)) > 0 ? 1.0 : 0.0;
    }
  }
  return cache.emplace(likelihood, std::move(made)).first->second;
}

/// symbatch: the same model built with minibatch views, a Model and grad, compiled once.
struct Symbolic {
  Variable rng_state;
  Function function;
  std::vector<Variable> values;
};

Symbolic build_symbatch(Likelihood likelihood, Scheme scheme, std::int64_t batch, const std::optional<RowReduction>& reduction = std::nullopt) {
  const Data& d = data(likelihood);
  Variable x = shared(d.x, "X");
  Variable y = shared(d.y, "y");
  auto views = minibatch(batch, {x, y},
                         {.scheme = scheme == Scheme::slice ? MinibatchScheme::circular_slice : MinibatchScheme::with_replacement});
  Model model;
  Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {features}});
  Variable eta = matmul(views[0], beta);
  if (likelihood == Likelihood::linear) {
    Variable log_sigma = model.free("log_sigma", Normal(0.0, 1.0));
    model.observed("y", Normal(eta, exp(log_sigma)), views[1], TotalSize(rows));
  } else {
    model.observed("y", BernoulliLogit(eta), views[1], TotalSize(rows));
  }
  if (reduction) model.set_row_reduction(*reduction);
  Variable logp = model.logp();
  std::vector<Variable> values = model.value_variables();
  std::vector<Variable> outputs{logp};
  for (const Variable& g : grad(logp, values)) outputs.push_back(g);
  Function function = compile(values, outputs, {.seed = 7, .advance_rngs = true});
  return {function.rng_states().at(0), std::move(function), values};
}

Eigen::VectorXd start_point(Likelihood likelihood) {
  Eigen::VectorXd point(features + (likelihood == Likelihood::linear ? 1 : 0));
  for (Eigen::Index j = 0; j < point.size(); ++j) point[j] = 0.1 * std::sin(static_cast<double>(j) + 1);
  return point;
}

}  // namespace workload
