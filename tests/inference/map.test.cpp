// MAP by minibatch optimisation against the full-data MAP found by Newton's method in the test.
#include <catch2/catch.hpp>

#include <Eigen/Dense>
#include <cmath>

#include "symbatch/distributions/continuous.hpp"
#include "symbatch/distributions/discrete.hpp"
#include "symbatch/inference/map.hpp"
#include "symbatch/ops/blas.hpp"

using namespace symbatch;

TEST_CASE("map: minibatch MAP of a logistic regression converges to the full-data MAP", "[map][gate]") {
  // The final iterate jitters around the optimum with the batch noise: over seeds 1-6 its error
  // was at most 0.004 (typically 0.001) with these settings, so 1e-2 leaves ample room.
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
  const MapResult result = find_map(model, {.iterations = 60000, .optimizer = Adam{.learning_rate = 5e-5}, .seed = 9});
  for (std::int64_t j = 0; j < d; ++j) {
    INFO("beta[" << j << "] full-data MAP " << beta[j]);
    CHECK(std::abs(result.point.at("beta").flat<double>(j) - beta[j]) < 1e-2);
  }
}
