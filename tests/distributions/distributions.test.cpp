// Log-densities against SciPy 1.10 (scipy.stats logpdf/logpmf, printed with repr), invalid
// parameters with their messages, and finite-difference gradients.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "support/gradcheck.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/distributions/discrete.hpp"

using namespace symbatch;

namespace {

double logp_at(const Distribution& distribution, double value) {
  Function f = compile({}, {distribution.logp(constant(value))});
  return f()[0].item();
}

constexpr double rel = 1e-13;

}  // namespace

TEST_CASE("distributions: log-densities match SciPy, including the tails", "[distributions]") {
  CHECK(logp_at(Normal(0.2, 1.5), 0.5) == Approx(-1.344403641312837).epsilon(rel));
  CHECK(logp_at(Normal(0.0, 1.0), 40.0) == Approx(-800.9189385332047).epsilon(rel));
  CHECK(logp_at(HalfNormal(2.0), 0.7) == Approx(-0.9801885332046727).epsilon(rel));
  CHECK(logp_at(HalfNormal(0.5), 30.0) == Approx(-1799.532644172085).epsilon(rel));
  CHECK(logp_at(HalfNormal(0.5), -1.0) == -std::numeric_limits<double>::infinity());
  CHECK(logp_at(Exponential(0.4), 2.5) == Approx(-1.916290731874155).epsilon(rel));
  CHECK(logp_at(Exponential(0.4), -0.1) == -std::numeric_limits<double>::infinity());
  CHECK(logp_at(Uniform(-1.0, 2.0), 0.5) == Approx(-1.0986122886681096).epsilon(rel));
  CHECK(logp_at(Uniform(-1.0, 2.0), 2.5) == -std::numeric_limits<double>::infinity());
  CHECK(logp_at(Poisson(3.2), 7) == Approx(-3.583105692425648).epsilon(rel));
  CHECK(logp_at(Poisson(3.2), 0) == Approx(-3.2).epsilon(rel));
  CHECK(logp_at(Poisson(3.2), 150) == Approx(-433.74748437857164).epsilon(rel));
  CHECK(logp_at(Bernoulli(0.3), 1) == Approx(-1.2039728043259361).epsilon(rel));
  CHECK(logp_at(Bernoulli(0.3), 0) == Approx(-0.35667494393873245).epsilon(rel));
  // log sigma(-800) = -800 exactly in double precision; log sigma(+-3) from scipy.special.log_expit
  CHECK(logp_at(BernoulliLogit(-800.0), 1) == Approx(-800.0).epsilon(rel));
  CHECK(logp_at(BernoulliLogit(800.0), 0) == Approx(-800.0).epsilon(rel));
  CHECK(logp_at(BernoulliLogit(3.0), 1) == Approx(-0.04858735157374206).epsilon(rel));
  CHECK(logp_at(BernoulliLogit(3.0), 0) == Approx(-3.048587351573742).epsilon(rel));
}

TEST_CASE("distributions: parameters broadcast over values", "[distributions]") {
  Variable mu = constant(Array::from({0.0, 1.0, 2.0}));
  Function f = compile({}, {Normal(mu, 1.0).logp(constant(1.0))});
  const std::vector<double> values = f()[0].to_vector();
  CHECK(values[0] == Approx(-1.4189385332046727).epsilon(rel));
  CHECK(values[1] == Approx(-0.9189385332046727).epsilon(rel));
  CHECK(values[2] == Approx(-1.4189385332046727).epsilon(rel));
}

TEST_CASE("distributions: invalid constant parameters throw when the distribution is built", "[distributions][errors]") {
  CHECK_THROWS_AS(Normal(0.0, -1.0), std::domain_error);
  CHECK_THROWS_WITH(Normal(0.0, -1.0), "normal: Scale parameter is -1, but must be positive");
  CHECK_THROWS_WITH(Normal(std::numeric_limits<double>::infinity(), 1.0), "normal: Location parameter is inf, but must be finite");
  CHECK_THROWS_WITH(HalfNormal(0.0), "half_normal: Scale parameter is 0, but must be positive");
  CHECK_THROWS_WITH(Exponential(-2.0), "exponential: Rate parameter is -2, but must be positive");
  CHECK_THROWS_WITH(Uniform(1.0, 1.0), "uniform: Lower bound is 1, but must be below the upper bound 1");
  CHECK_THROWS_WITH(Poisson(-0.5), "poisson: Mean parameter is -0.5, but must be positive");
  CHECK_THROWS_WITH(Bernoulli(1.5), "bernoulli: Probability parameter is 1.5, but must be in the interval [0, 1]");
  CHECK_THROWS_WITH(BernoulliLogit(std::nan("")), "bernoulli_logit: Logit parameter is nan, but must be finite");
  CHECK_THROWS_WITH(Normal(0.0, constant(Array::from({1.0, -3.0}))), "normal: Scale parameter[1] is -3, but must be positive");
}

TEST_CASE("distributions: invalid symbolic parameters throw at call time and the function stays usable", "[distributions][errors]") {
  Variable sigma = input("sigma");
  Function f = compile({sigma}, {Normal(0.0, sigma).logp(constant(1.0))});
  CHECK_THROWS_AS(f({Array::scalar(-1.0)}), std::domain_error);
  CHECK_THROWS_WITH(f({Array::scalar(-1.0)}), "normal: Scale parameter is -1, but must be positive");
  CHECK(f({Array::scalar(1.0)})[0].item() == Approx(-1.4189385332046727).epsilon(rel));
}

TEST_CASE("distributions: gradients with respect to continuous parameters and values match finite differences", "[distributions][grad]") {
  using testing::check_grad;
  const Array values = Array::from({0.3, 1.7, 2.2});
  check_grad([](const std::vector<Variable>& x) { return Normal(x[1], x[2]).logp(x[0]); }, {values, Array::scalar(0.4), Array::scalar(1.3)});
  check_grad([](const std::vector<Variable>& x) { return HalfNormal(x[1]).logp(x[0]); }, {values, Array::scalar(0.8)});
  check_grad([](const std::vector<Variable>& x) { return Exponential(x[1]).logp(x[0]); }, {values, Array::scalar(0.6)});
  check_grad([](const std::vector<Variable>& x) { return Poisson(x[0]).logp(constant(Array::from(std::vector<std::int64_t>{0, 3, 7}))); },
             {Array::scalar(2.5)});
  check_grad([](const std::vector<Variable>& x) { return Bernoulli(x[0]).logp(constant(Array::from({1.0, 0.0, 1.0}))); }, {Array::scalar(0.35)});
  check_grad([](const std::vector<Variable>& x) { return BernoulliLogit(x[0]).logp(constant(Array::from({1.0, 0.0, 1.0}))); },
             {Array::from({-2.0, 0.5, 4.0})});
}
