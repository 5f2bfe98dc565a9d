// Gauss-Hermite rules against 40-digit mpmath values, polynomial exactness and closed-form
// log-normal moments; normal expectations of the logistic function against mpmath.quad
// (tests/inference/reference/gauss_hermite.py prints every constant used here).
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>

#include "symbatch/inference/gauss_hermite.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace inference_gauss_hermite_test {

using namespace symbatch;

namespace {

double relative_error(double value, double reference) { return std::abs(value - reference) / std::abs(reference); }

}  // namespace

TEST_CASE("gauss_hermite: nodes and weights match 40-digit references up to n = 100", "[gauss_hermite]") {
  struct Point {
    int n, index;
    double node, weight;
  };
  const Point references[] = {
      {5, 0, -2.0201828704560856329, 0.019953242059045913208},
      {5, 1, -0.95857246461381850711, 0.39361932315224115983},
      {5, 2, 0.0, 0.94530872048294188123},
      {20, 0, -5.387480890011232862, 2.2293936455341512925e-13},
      {20, 1, -4.6036824495507442731, 4.3993409922731805536e-10},
      {20, 10, 0.2453407083009012499, 0.46224366960061008965},
      {100, 0, -13.406487338144910138, 5.9080678650312068153e-79},
      {100, 1, -12.823799749487808906, 1.9728605748794525545e-72},
      {100, 50, 0.11079587242243948289, 0.21889262958743912506},
      {100, 99, 13.406487338144910138, 5.9080678650312068153e-79},
  };
  for (const auto& point : references) {
    const GaussHermiteRule rule = gauss_hermite(point.n);
    INFO("n = " << point.n << ", index " << point.index);
    if (point.node == 0.0) {
      CHECK(rule.nodes[point.index] == 0.0);
    } else {
      CHECK(relative_error(rule.nodes[point.index], point.node) < 1e-14);
    }
    CHECK(relative_error(rule.weights[point.index], point.weight) < 1e-13);
  }
  const GaussHermiteRule one = gauss_hermite(1);
  CHECK(one.nodes[0] == 0.0);
  CHECK(relative_error(one.weights[0], std::sqrt(std::numbers::pi)) < 1e-15);
}

TEST_CASE("gauss_hermite: the n-point rule integrates every polynomial of degree up to 2n - 1", "[gauss_hermite]") {
  // Even moments: int x^(2k) e^(-x^2) dx = Gamma(k + 1/2); odd ones vanish by symmetry.
  for (const int n : {1, 2, 3, 7, 20, 64, 100}) {
    const GaussHermiteRule rule = gauss_hermite(n);
    for (int degree = 0; degree <= 2 * n - 1; ++degree) {
      double sum = 0, magnitude = 0;
      for (int i = 0; i < n; ++i) {
        sum += rule.weights[i] * std::pow(rule.nodes[i], degree);
        magnitude += std::abs(rule.weights[i] * std::pow(rule.nodes[i], degree));
      }
      INFO("n = " << n << ", degree " << degree);
      if (degree % 2 == 1) {  // exact pairs +-x: only the rounding of the summation remains
        CHECK(std::abs(sum) <= 1e-15 * magnitude);
      } else {
        // Each node's relative error is multiplied by the degree in x^degree: ~200 * 1e-16.
        CHECK(relative_error(sum, std::tgamma(degree / 2 + 0.5)) < 1e-13);
      }
    }
  }
}

TEST_CASE("normal_expectation: log-normal mean and variance in closed form", "[gauss_hermite]") {
  // E[exp(mu + sigma Z)] = exp(mu + sigma^2 / 2), Var = (exp(sigma^2) - 1) exp(2 mu + sigma^2).
  const GaussHermiteRule rule = gauss_hermite(64);
  for (const double mu : {-1.5, 0.0, 2.0})
    for (const double sigma : {0.0, 0.1, 0.5, 1.0, 1.5}) {
      const NormalExpectation moments = normal_expectation(rule, mu, sigma, [](double x) { return std::exp(x); });
      INFO("mu = " << mu << ", sigma = " << sigma);
      CHECK(relative_error(moments.mean, std::exp(mu + sigma * sigma / 2)) < 1e-13);
      if (sigma == 0.0) {
        CHECK(moments.variance == 0.0);
      } else {
        CHECK(relative_error(moments.variance, std::expm1(sigma * sigma) * std::exp(2 * mu + sigma * sigma)) < 1e-12);
      }
    }
}

TEST_CASE("normal_expectation: logistic-normal moments against mpmath quadrature", "[gauss_hermite]") {
  struct Case {
    double mu, sigma, mean, variance, tolerance;
  };
  // The logistic function has poles at +-i pi, so the error decays like exp(-2 d sqrt(2n)) (times
  // a constant) with d = pi / (sigma sqrt 2): at n = 100 that is 1e-19 for sigma = 1.5 but 1e-9
  // for sigma = 3, where the measured error of the variance is 1.0e-7 (the mean is exact by
  // symmetry), hence the looser tolerance of the last case.
  const Case cases[] = {
      {0.3, 0.5, 0.57036578361814843279, 0.01345851856551081101, 1e-13},
      {-1.2, 1.0, 0.26877241027544737759, 0.029748748127530766493, 1e-13},
      {0.8, 1.5, 0.63827887739480001238, 0.065622181245195934128, 1e-13},
      {0.0, 3.0, 0.5, 0.13516209522608945724, 1e-6},
  };
  const GaussHermiteRule rule = gauss_hermite(100);
  for (const auto& c : cases) {
    const NormalExpectation moments =
        normal_expectation(rule, c.mu, c.sigma, [](double x) { return 1 / (1 + std::exp(-x)); });
    INFO("mu = " << c.mu << ", sigma = " << c.sigma);
    CHECK(relative_error(moments.mean, c.mean) < c.tolerance);
    CHECK(relative_error(moments.variance, c.variance) < c.tolerance);
  }
  // Wide factors need more points: at n = 300 the sigma = 3 variance is within 1e-12 (measured 4e-14).
  const NormalExpectation wide =
      normal_expectation(gauss_hermite(300), 0.0, 3.0, [](double x) { return 1 / (1 + std::exp(-x)); });
  CHECK(relative_error(wide.variance, 0.13516209522608945724) < 1e-12);
}

TEST_CASE("gauss_hermite: bad arguments are named", "[gauss_hermite]") {
  CHECK_THROWS_WITH(gauss_hermite(0), "gauss_hermite: points is 0, but must be in [1, 300]");
  CHECK_THROWS_AS(gauss_hermite(301), std::invalid_argument);
  const GaussHermiteRule rule = gauss_hermite(3);
  const auto identity = [](double x) { return x; };
  CHECK_THROWS_WITH(normal_expectation(rule, 0.0, -1.0, identity),
                    "normal_expectation: sigma is -1, but must be nonnegative");
  CHECK_THROWS_AS(normal_expectation(rule, NAN, 1.0, identity), std::domain_error);
}

}  // namespace inference_gauss_hermite_test
