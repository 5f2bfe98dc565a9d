// Learning-rate schedules against their closed forms, their errors, and optimizers reading the
// rate from a shared scalar at run time (a schedule changes it without recompiling).
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>

#include "symbatch/optim/optimizers.hpp"
#include "symbatch/optim/schedules.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace optim_schedules_test {

using namespace symbatch;

namespace {
/// The rates of steps 0..count-1, feeding `loss(t)` as each step's loss.
template <class Loss>
std::vector<double> rates(LearningRate schedule, int count, Loss loss) {
  std::vector<double> result;
  for (int t = 0; t < count; ++t) {
    result.push_back(schedule.rate());
    schedule.advance(loss(t));
  }
  return result;
}
double zero_loss(int) { return 0.0; }
}  // namespace

TEST_CASE("schedules: constant and step decay", "[optim][schedules]") {
  for (double rate : rates(LearningRate(ConstantRate{}, 0.3), 5, zero_loss)) CHECK(rate == 0.3);
  const std::vector<double> step = rates(LearningRate(StepDecay{.factor = 0.5, .every = 3}, 0.8), 10, zero_loss);
  // a f^floor(t / k): 0.8 for t = 0..2, 0.4 for 3..5, 0.2 for 6..8, 0.1 at 9.
  CHECK(step[0] == 0.8);
  CHECK(step[2] == 0.8);
  CHECK(step[3] == 0.4);
  CHECK(step[8] == 0.2);
  CHECK(step[9] == 0.1);
}

TEST_CASE("schedules: Robbins-Monro polynomial decay a (b + t)^-gamma", "[optim][schedules]") {
  const std::vector<double> rm = rates(LearningRate(PolynomialDecay{.offset = 4, .exponent = 0.5 + 0.25}, 2.0), 13, zero_loss);
  CHECK(rm[0] == Approx(2.0 / std::pow(4.0, 0.75)).epsilon(1e-15));    // 2 * 4^-0.75 = 0.70710678118654752
  CHECK(rm[0] == Approx(0.70710678118654752).epsilon(1e-15));
  CHECK(rm[12] == Approx(2.0 / 8.0).epsilon(1e-15));                    // 2 * 16^-0.75 = 1/4
  const std::vector<double> harmonic = rates(LearningRate(PolynomialDecay{.offset = 1, .exponent = 1}, 1.0), 4, zero_loss);
  CHECK(harmonic[3] == Approx(0.25).epsilon(1e-15));
}

TEST_CASE("schedules: cosine decay to a floor, then constant", "[optim][schedules]") {
  const std::vector<double> cosine = rates(LearningRate(CosineDecay{.period = 8, .minimum_fraction = 0.1}, 1.0), 12, zero_loss);
  CHECK(cosine[0] == Approx(1.0).epsilon(1e-15));
  CHECK(cosine[4] == Approx(0.55).epsilon(1e-15));  // half way: 0.1 + 0.45 (1 + cos(pi/2))
  CHECK(cosine[2] == Approx(0.1 + 0.45 * (1 + std::sqrt(0.5))).epsilon(1e-15));
  CHECK(cosine[8] == Approx(0.1).epsilon(1e-15));
  CHECK(cosine[11] == Approx(0.1).epsilon(1e-15));
}

TEST_CASE("schedules: reduce on plateau halves the rate after patience blocks without improvement", "[optim][schedules]") {
  // Blocks of 2 steps. Block averages: 10, 9 (improves), 9, 9 (two without improvement: halve),
  // 9 (one), 9 (two: halve again, but not below 0.3 of the base).
  const double losses[] = {10, 10, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  const std::vector<double> plateau =
      rates(LearningRate(ReduceOnPlateau{.factor = 0.5, .every = 2, .patience = 2, .threshold = 0.01, .minimum_fraction = 0.3}, 1.0), 14,
            [&](int t) { return losses[t]; });
  CHECK(plateau[7] == 1.0);   // the 4th block ends after step 7
  CHECK(plateau[8] == 0.5);
  CHECK(plateau[11] == 0.5);
  CHECK(plateau[12] == 0.3);  // 0.25 floored at 0.3
}

TEST_CASE("schedules: bad values are named", "[optim][schedules][errors]") {
  CHECK_THROWS_WITH(LearningRate(ConstantRate{}, -1), "LearningRate: base rate is -1, but must be positive");
  CHECK_THROWS_WITH(LearningRate(PolynomialDecay{.exponent = 0.5}, 1), "PolynomialDecay: exponent is 0.5, but must be in the interval (0.5, 1]");
  CHECK_THROWS_WITH(LearningRate(PolynomialDecay{.exponent = 1.5}, 1), "PolynomialDecay: exponent is 1.5, but must be in the interval (0.5, 1]");
  CHECK_THROWS_WITH(LearningRate(PolynomialDecay{.offset = 0}, 1), "PolynomialDecay: offset is 0, but must be positive");
  CHECK_THROWS_WITH(LearningRate(StepDecay{.factor = 0}, 1), "StepDecay: factor is 0, but must be in the interval (0, 1)");
  CHECK_THROWS_AS(LearningRate(StepDecay{.factor = -2}, 1), std::domain_error);
  CHECK_THROWS_WITH(LearningRate(StepDecay{.every = 0}, 1), "StepDecay: every is 0, but must be at least 1");
  CHECK_THROWS_AS(LearningRate(StepDecay{.every = 0}, 1), std::invalid_argument);
  CHECK_THROWS_WITH(LearningRate(CosineDecay{.minimum_fraction = 2}, 1), "CosineDecay: minimum_fraction is 2, but must be in the interval [0, 1]");
  CHECK_THROWS_WITH(LearningRate(CosineDecay{.period = 0}, 1), "CosineDecay: period is 0, but must be at least 1");
  CHECK_THROWS_WITH(LearningRate(ReduceOnPlateau{.factor = 1}, 1), "ReduceOnPlateau: factor is 1, but must be in the interval (0, 1)");
  CHECK_THROWS_WITH(LearningRate(ReduceOnPlateau{.patience = 0}, 1), "ReduceOnPlateau: patience is 0, but must be at least 1");
  CHECK_THROWS_WITH(LearningRate(ReduceOnPlateau{.threshold = -1}, 1), "ReduceOnPlateau: threshold is -1, but must be nonnegative");
}

TEST_CASE("schedules: optimizers read the learning rate from a shared scalar at every call", "[optim][schedules]") {
  // SGD on 0.5 * 2 theta^2 (gradient 2 theta): theta <- (1 - 2 eta_t) theta, with eta_t set
  // between calls of one compiled function.
  Variable theta = shared(Array::scalar(1.0), "theta");
  const Variable cost = square(theta);
  const Variable rate = learning_rate_variable(0.1);
  Function step = compile({}, {cost}, {.updates = updates(Optimizer{Sgd{.learning_rate = 0.1}}, cost, {theta}, rate)});
  LearningRate schedule(StepDecay{.factor = 0.5, .every = 1}, 0.1);  // 0.1, 0.05, 0.025
  double expected = 1.0;
  for (int t = 0; t < 3; ++t) {
    set_value(rate, Array::scalar(schedule.rate()));
    expected *= 1 - 2 * schedule.rate();
    step();
    schedule.advance(0);
  }
  CHECK(get_value(theta).item() == Approx(0.8 * 0.9 * 0.95).epsilon(1e-15));
  CHECK(expected == Approx(0.684).epsilon(1e-15));
  // Adam's first step has the rate's length whatever the gradient: the new rate is used.
  Variable phi = shared(Array::scalar(1.0), "phi");
  const Variable adam_rate = learning_rate_variable(0.5);
  Function adam = compile({}, {square(phi)}, {.updates = updates(Adam{}, square(phi), {phi}, adam_rate)});
  set_value(adam_rate, Array::scalar(0.25));
  adam();
  CHECK(get_value(phi).item() == Approx(0.75).epsilon(1e-7));
  CHECK_THROWS_WITH(learning_rate_variable(-1), "learning_rate_variable: Learning rate is -1, but must be positive");
  CHECK_THROWS_WITH(updates(Sgd{}, cost, {theta}, shared(Array::from({0.1, 0.2}), "rates")),
                    "sgd: the learning rate must be an f64 scalar shared variable");
}

}  // namespace optim_schedules_test
