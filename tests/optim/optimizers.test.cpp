// Optimizers: each step against the update rule worked out by hand in closed form for a loss
// whose gradient is known (a linear loss has a constant gradient; a quadratic a linear one).
#include <catch2/catch.hpp>

#include <cmath>

#include "symbatch/optim/optimizers.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace optim_optimizers_test {

using namespace symbatch;

namespace {

/// Runs `steps` optimizer steps on `loss(theta)` from `theta0`; returns the trajectory.
template <class Options>
std::vector<double> trajectory(const Options& options, double theta0, int steps, const std::function<Variable(const Variable&)>& loss) {
  Variable theta = shared(Array::scalar(theta0), "theta");
  const Variable cost = loss(theta);
  Function step = compile({}, {cost}, {.updates = updates(options, cost, {theta})});
  std::vector<double> path{theta0};
  for (int i = 0; i < steps; ++i) {
    step();
    path.push_back(get_value(theta).item());
  }
  return path;
}

Variable linear(const Variable& theta) { return 3.0 * theta; }                 // gradient 3
Variable quadratic(const Variable& theta) { return 0.5 * 2.0 * square(theta); }  // gradient 2 theta

}  // namespace

TEST_CASE("optimizers: SGD steps by minus the learning rate times the gradient", "[optim]") {
  const std::vector<double> path = trajectory(Sgd{.learning_rate = 0.1}, 1.0, 3, quadratic);
  // theta_{t+1} = (1 - 0.1 * 2) theta_t
  CHECK(path[1] == Approx(0.8).epsilon(1e-15));
  CHECK(path[3] == Approx(0.512).epsilon(1e-15));
}

TEST_CASE("optimizers: momentum accumulates a velocity", "[optim]") {
  // Constant gradient g = 3, lr 0.1, mu 0.9: v_1 = -0.3, v_2 = -0.57, v_3 = -0.813.
  const std::vector<double> path = trajectory(Momentum{.learning_rate = 0.1, .momentum = 0.9}, 0.0, 3, linear);
  CHECK(path[1] == Approx(-0.3).epsilon(1e-14));
  CHECK(path[2] == Approx(-0.87).epsilon(1e-14));
  CHECK(path[3] == Approx(-1.683).epsilon(1e-14));
}

TEST_CASE("optimizers: Nesterov momentum takes the look-ahead step", "[optim]") {
  // theta += mu v_new - lr g: steps -0.57, -0.813 - ... : -0.9*0.3-0.3, -0.9*0.57-0.3, -0.9*0.813-0.3
  const std::vector<double> path = trajectory(Momentum{.learning_rate = 0.1, .momentum = 0.9, .nesterov = true}, 0.0, 3, linear);
  CHECK(path[1] == Approx(-0.57).epsilon(1e-14));
  CHECK(path[2] == Approx(-0.57 - 0.813).epsilon(1e-14));
  CHECK(path[3] == Approx(-0.57 - 0.813 - 1.0317).epsilon(1e-14));
}

TEST_CASE("optimizers: Adam's bias-corrected first step has the learning rate's length", "[optim]") {
  // m_hat = g, v_hat = g^2, so every step on a constant gradient is lr * g / (|g| + eps).
  const std::vector<double> path = trajectory(Adam{.learning_rate = 0.05}, 1.0, 4, linear);
  const double step = 0.05 * 3.0 / (3.0 + 1e-8);
  for (int t = 1; t <= 4; ++t) CHECK(path[static_cast<std::size_t>(t)] == Approx(1.0 - t * step).epsilon(1e-14));
}

TEST_CASE("optimizers: adagrad_window sums the squared gradients of the last window steps", "[optim]") {
  // Constant gradient 3: after step t the window holds min(t, 3) copies of 9.
  const AdagradWindow options{.learning_rate = 0.1, .epsilon = 0.1, .window = 3};
  const std::vector<double> path = trajectory(options, 0.0, 6, linear);
  double expected = 0;
  for (int t = 1; t <= 6; ++t) {
    expected -= 0.1 * 3.0 / std::sqrt(9.0 * std::min(t, 3) + 0.1);
    CHECK(path[static_cast<std::size_t>(t)] == Approx(expected).epsilon(1e-14));
  }
}

TEST_CASE("optimizers: adagrad_window has PyMC's defaults", "[optim]") {
  const AdagradWindow defaults;
  CHECK(defaults.learning_rate == 0.001);
  CHECK(defaults.epsilon == 0.1);
  CHECK(defaults.window == 10);
}

TEST_CASE("optimizers: a variant optimizer dispatches to the one it holds", "[optim]") {
  const std::vector<double> path = trajectory(Optimizer{Sgd{.learning_rate = 0.1}}, 1.0, 1, quadratic);
  CHECK(path[1] == Approx(0.8).epsilon(1e-15));
}

TEST_CASE("optimizers: bad settings and parameters are named", "[optim][errors]") {
  Variable theta = shared(Array::scalar(1.0), "theta");
  const Variable cost = square(theta);
  CHECK_THROWS_WITH(updates(Sgd{.learning_rate = -1}, cost, {theta}), "sgd: Learning rate is -1, but must be positive");
  CHECK_THROWS_WITH(updates(Momentum{.momentum = 1.5}, cost, {theta}), "momentum: Momentum is 1.5, but must be in the interval [0, 1]");
  CHECK_THROWS_WITH(updates(AdagradWindow{.window = 0}, cost, {theta}), "adagrad_window: Window is 0, but must be at least 1");
  CHECK_THROWS_WITH(updates(AdagradWindow{.epsilon = 0}, cost, {theta}), "adagrad_window: Epsilon is 0, but must be positive");
  CHECK_THROWS_WITH(updates(Adam{.beta1 = 2}, cost, {theta}), "adam: beta1 is 2, but must be in the interval [0, 1)");
  Variable x = input("x");
  CHECK_THROWS_WITH(updates(Adam{}, square(x), {x}), "adam: parameter 1 ('x') must be an f64 shared variable");
}

}  // namespace optim_optimizers_test
