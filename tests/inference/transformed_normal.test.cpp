// Constrained moments of a transformed normal coordinate: identity (exact), log (log-normal
// closed form), interval (trapezoid rule) against 40-digit mpmath quadrature
// (tests/inference/reference/transformed_normal.py prints every constant used here).
#include <catch2/catch.hpp>

#include <cmath>

#include "symbatch/inference/transformed_normal.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace inference_transformed_normal_test {

using namespace symbatch;

namespace {

double relative_error(double value, double reference) { return std::abs(value - reference) / std::abs(reference); }

}  // namespace

TEST_CASE("transformed_normal: logistic-normal moments match mpmath for sigma from 1e-6 to 100", "[moments]") {
  struct Case {
    double mu, sigma, mean, variance;
  };
  const Case cases[] = {
      {0.7, 1e-06, 0.66818777216812880729, 4.9156598183872771133e-14},
      {0.7, 0.01, 0.66818404338353837647, 4.9155252759687044904e-6},
      {0.7, 0.3, 0.66495133115389393346, 0.0043159591527879749395},
      {0.7, 1.0, 0.64115588112722934012, 0.038116657944549194584},
      {-3.0, 2.5, 0.16315169235948186444, 0.056585219183157344228},
      {0.7, 4.0, 0.5635561369529103292, 0.15594352081722393812},
      {0.7, 10.0, 0.52745996633197457584, 0.21007945627893837184},
      {0.7, 30.0, 0.50929086466429572424, 0.23664341584288947457},
      {0.7, 100.0, 0.50279211396299996395, 0.24600353499423897537},
      {5.0, 0.5, 0.99243883028758483121, 0.000015840517562207676622},
      {-12.0, 1.0, 0.000010129814672696856945, 1.7629191736115658124e-10},
  };
  // An interval (-2, 3): mean = -2 + 5 E[logistic], sd = 5 sd[logistic].
  const Transform interval{TransformKind::interval, -2.0, 3.0};
  const Transform unit{TransformKind::interval, 0.0, 1.0};
  for (const Case& c : cases) {
    INFO("mu = " << c.mu << ", sigma = " << c.sigma);
    const TransformedMoments moments = transformed_normal_moments(unit, c.mu, c.sigma);
    CHECK(moments.method == MomentMethod::quadrature);
    CHECK(relative_error(moments.mean, c.mean) < 2e-15);
    CHECK(relative_error(moments.sd, std::sqrt(c.variance)) < 1e-14);
    const TransformedMoments scaled = transformed_normal_moments(interval, c.mu, c.sigma);
    CHECK(relative_error(scaled.mean, -2 + 5 * c.mean) < 2e-15);
    CHECK(relative_error(scaled.sd, 5 * std::sqrt(c.variance)) < 1e-14);
  }
}

TEST_CASE("transformed_normal: log-normal and identity moments in closed form", "[moments]") {
  // E[exp(mu + sigma Z)] = exp(mu + sigma^2 / 2), sd = mean sqrt(exp(sigma^2) - 1).
  const Transform log_transform{TransformKind::log};
  for (const double mu : {-3.0, 0.2, 4.0})
    for (const double sigma : {0.0, 1e-8, 0.3, 2.0}) {
      INFO("mu = " << mu << ", sigma = " << sigma);
      const TransformedMoments moments = transformed_normal_moments(log_transform, mu, sigma);
      CHECK(moments.method == MomentMethod::closed_form);
      const double mean = std::exp(mu + sigma * sigma / 2);
      CHECK(relative_error(moments.mean, mean) < 1e-15);
      if (sigma == 0.0) {
        CHECK(moments.sd == 0.0);
      } else {
        CHECK(relative_error(moments.sd, mean * std::sqrt(std::expm1(sigma * sigma))) < 1e-15);
      }
    }
  // A 20-digit value: mu = 0.2, sigma = 0.3 gives mean e^0.245 and sd e^0.245 sqrt(e^0.09 - 1).
  const TransformedMoments known = transformed_normal_moments(log_transform, 0.2, 0.3);
  CHECK(relative_error(known.mean, 1.2776213132048866) < 1e-15);
  CHECK(relative_error(known.sd, 0.39207424143227569617) < 1e-14);
  const TransformedMoments identity = transformed_normal_moments(Transform{}, -1.5, 0.25);
  CHECK(identity.method == MomentMethod::exact);
  CHECK(identity.mean == -1.5);
  CHECK(identity.sd == 0.25);
  CHECK(std::string(moment_method_name(MomentMethod::closed_form)) == "closed_form");
}

TEST_CASE("transformed_normal: a point mass maps to the transformed point", "[moments]") {
  const TransformedMoments moments = transformed_normal_moments(Transform{TransformKind::interval, 1.0, 2.0}, 0.4, 0.0);
  CHECK(relative_error(moments.mean, 1 + 1 / (1 + std::exp(-0.4))) < 1e-15);
  CHECK(moments.sd == 0.0);
  CHECK(constrained_value(Transform{TransformKind::interval, 1.0, 2.0}, 0.4) == moments.mean);
}

TEST_CASE("transformed_normal: bad arguments are named", "[moments][errors]") {
  CHECK_THROWS_WITH(transformed_normal_moments(Transform{TransformKind::log}, 0.0, -1.0),
                    "transformed_normal_moments: sigma is -1, but must be nonnegative");
  CHECK_THROWS_WITH(transformed_normal_moments(Transform{TransformKind::log}, NAN, 1.0),
                    "transformed_normal_moments: mu is nan, but must be finite");
}

}  // namespace inference_transformed_normal_test
