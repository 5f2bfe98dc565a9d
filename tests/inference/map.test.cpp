// MAP by minibatch optimisation against the full-data MAP found by Newton's method in the test.
#include <catch2/catch.hpp>

#include <Eigen/Dense>
#include <cmath>

#include "symbatch/distributions/continuous.hpp"
#include "symbatch/distributions/discrete.hpp"
#include "symbatch/inference/map.hpp"
#include "symbatch/ops/blas.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace inference_map_test {

using namespace symbatch;

TEST_CASE("map: minibatch MAP of a logistic regression converges to the full-data MAP", "[map][gate]") {
  // With default options the estimate is the full-data MAP to rounding: on seeds 1-6 it converged
  // in 4,000 steps to within 7e-16 (near the optimum the control variate's gradient is the
  // full-data gradient, so the iterates converge as full-batch steps would). 1e-8 leaves room.
  // beta ~ N(0, I), y_i ~ Bernoulli(sigmoid(x_i . beta)), n = 2000, d = 3.
  const std::int64_t n = 2000, d = 3;
  const Eigen::Vector3d beta_true(1.0, -0.5, 0.25);
  PhiloxStream stream(seed_rng_state(42, 0));
  Eigen::MatrixXd x(n, d);
  Eigen::VectorXd y(n);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < d; ++j) x(i, j) = stream.normal();
    y[i] = stream.uniform() < 1 / (1 + std::exp(-x.row(i).dot(beta_true))) ? 1.0 : 0.0;
  }
  // Newton's method on the concave full-data log posterior.
  Eigen::VectorXd beta = Eigen::VectorXd::Zero(d);
  for (int iteration = 0; iteration < 50; ++iteration) {
    const Eigen::VectorXd p = (1 + (-(x * beta)).array().exp()).inverse().matrix();
    const Eigen::VectorXd gradient = x.transpose() * (y - p) - beta;
    const Eigen::MatrixXd hessian = -(x.transpose() * (p.array() * (1 - p.array())).matrix().asDiagonal() * x) - Eigen::MatrixXd::Identity(d, d);
    beta -= hessian.ldlt().solve(gradient);
  }

  Array x_array = Array::empty(DType::f64, Shape{n, d});
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j) x_array.data<double>()[i * d + j] = x(i, j);
  const auto batch = minibatch(500, {shared(x_array, "X"), shared(Array::from(std::vector<double>(y.data(), y.data() + n)), "y")});
  Model model;
  const Variable b = model.free("beta", Normal(0.0, 1.0), {.shape = {d}});
  model.observed("y", BernoulliLogit(matmul(batch[0], b)), batch[1], TotalSize(n));
  const MapResult result = find_map(model, {.seed = 9, .progress = Progress::none});  // defaults: averaging, control variate, stopping rule
  CHECK(result.converged);
  for (std::int64_t j = 0; j < d; ++j) {
    INFO("beta[" << j << "] full-data MAP " << beta[j]);
    CHECK(std::abs(result.point.at("beta").flat<double>(j) - beta[j]) < 1e-8);
  }
}

TEST_CASE("map: bad arguments and failed steps are named", "[map][errors]") {
  Model empty;
  CHECK_THROWS_WITH(find_map(empty, {.progress = Progress::none}), "find_map: the model has no free variables to optimise");
  Model model;
  model.free("x", Normal(0.0, 1.0));
  CHECK_THROWS_WITH(find_map(model, {.max_iterations = -1}), "find_map: max_iterations is -1, but must be nonnegative");
  CHECK_THROWS_WITH(find_map(model, {.optimizer = Adam{.epsilon = -1}}), "adam: Epsilon is -1, but must be positive");
  CHECK_THROWS_WITH(find_map(model, {.optimizer = Adam{.beta1 = 1}}), "adam: beta1 is 1, but must be in the interval [0, 1)");
  CHECK_THROWS_WITH(find_map(model, {.optimizer = Adam{.beta2 = -0.5}}), "adam: beta2 is -0.5, but must be in the interval [0, 1)");
  // From x = 1 a huge step on a quartic potential overshoots until the loss is infinite (before,
  // find_map could silently end at x = inf).
  Model steep;
  const Variable y = steep.free("y", Normal(0.0, 1.0), {.initial = 1.0});
  steep.potential("steep", -1e6 * square(square(y)));
  CHECK_THROWS_WITH(find_map(steep, {.max_iterations = 100, .optimizer = Sgd{.learning_rate = 10}, .progress = Progress::none}),
                    Catch::Matchers::StartsWith("find_map: the loss is ") && Catch::Matchers::Contains(" at iteration "));
}

TEST_CASE("map: callbacks see every step and can stop the optimisation", "[map]") {
  Model model;
  model.free("x", Normal(2.0, 1.0));
  std::int64_t seen = 0;
  const MapResult result = find_map(model, {.max_iterations = 500, .progress = Progress::none}, {[&](const FitState& state) {
                                      CHECK(state.iteration() == seen);
                                      CHECK(state.parameters().size() == 1);
                                      ++seen;
                                      return state.iteration() < 9;
                                    }});
  CHECK(seen == 10);
  CHECK(result.stopped_early);
  CHECK(result.loss_history.size() == 10);
}

}  // namespace inference_map_test
