// log x and log(1 - x) of a transformed value are taken in the unconstrained space (log_of,
// log1m_of), so a logit-transformed probability keeps both tails. References: the closed forms
// in reference/unconstrained_log.py, evaluated in 60-digit decimal arithmetic.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "support/gradcheck.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/distributions/discrete.hpp"
#include "symbatch/graph/print.hpp"
#include "symbatch/model/model.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace distributions_unconstrained_log_test {

using namespace symbatch;

namespace {

struct Reference {
  double u, logp, gradient;
};

/// Value and gradient of `model`'s logp at the scalar point `u`, against `expected`.
void check_against(const Model& model, const Reference& expected) {
  LogpFunction logp(model);
  Eigen::VectorXd gradient;
  const double value = logp(Eigen::VectorXd::Constant(1, expected.u), &gradient);
  INFO("u = " << expected.u);
  REQUIRE(std::isfinite(value));
  REQUIRE(std::isfinite(gradient[0]));
  CHECK(value == Approx(expected.logp).epsilon(1e-12).margin(0));
  CHECK(gradient[0] == Approx(expected.gradient).epsilon(1e-12).margin(0));
}

}  // namespace

TEST_CASE("unconstrained log: Beta(2, 3) prior and Bernoulli data keep both tails of the logit to |u| = 700", "[distributions][transform]") {
  // logp(u) = log 12 + 6 log sigmoid(u) + 5 log sigmoid(-u), from reference/unconstrained_log.py
  const Reference references[] = {
      {-700.0, -4197.515093350212, 6.0},
      {-37.0, -219.515093350212, 5.999999999999999},
      {-30.0, -177.51509335021302, 5.999999999998971},
      {0.0, -5.139712336371398, 0.5},
      {30.0, -147.51509335021302, -4.999999999998971},
      {37.0, -182.515093350212, -4.999999999999999},
      {700.0, -3497.515093350212, -5.0},
  };
  Model model;
  const Variable p = model.free("p", Beta(2.0, 3.0));
  model.observed("y", Bernoulli(p), constant(Array::from({1.0, 0.0, 1.0, 1.0, 0.0, 1.0})));
  for (const Reference& expected : references) check_against(model, expected);
}

TEST_CASE("unconstrained log: Beta(2, 3) prior and Binomial(10, p) data keep both tails", "[distributions][transform]") {
  const Reference references[] = {
      {-700.0, -8387.940109864649, 12.0},
      {-37.0, -431.9401098646479, 11.999999999999998},
      {-30.0, -347.94010986465025, 11.99999999999766},
      {0.0, -5.268789378646541, -0.5},
      {30.0, -377.94010986465025, -12.99999999999766},
      {37.0, -468.9401098646479, -12.999999999999998},
      {700.0, -9087.940109864649, -13.0},
  };
  Model model;
  const Variable p = model.free("p", Beta(2.0, 3.0));
  model.observed("k", Binomial(10, p), constant(Array::from(std::vector<std::int64_t>{3, 7})));
  for (const Reference& expected : references) check_against(model, expected);
}

TEST_CASE("unconstrained log: an interval ending at 1 takes log(1 - x) as log c + log_sigmoid(-u)", "[distributions][transform]") {
  const Reference references[] = {
      {-700.0, -702.0794415416798, 1.0},
      {-37.0, -39.079441541679834, 0.9999999999999998},
      {-30.0, -32.07944154168012, 0.9999999999997192},
      {0.0, -4.446565155811453, -0.8333333333333334},
      {30.0, -91.3862943611203, -2.999999999999579},
      {37.0, -112.3862943611199, -2.9999999999999996},
      {700.0, -2101.38629436112, -3.0},
  };
  Model model;
  const Variable q = model.free("q", Uniform(0.5, 1.0));
  model.observed("y", Bernoulli(q), constant(Array::from({0.0, 0.0, 1.0})));
  for (const Reference& expected : references) check_against(model, expected);
}

TEST_CASE("unconstrained log: a unit-interval check on a sigmoid is left out, other checks stay", "[distributions][transform][errors]") {
  const Variable eta = input("eta");
  const std::string graph = print(Bernoulli(sigmoid(eta)).logp(constant(1.0)));
  CHECK(graph.find("check") == std::string::npos);
  CHECK(graph.find("bernoulli_logit_logpmf") != std::string::npos);
  CHECK(print(Binomial(10, sigmoid(eta)).logp(constant(3.0))).find("check") == std::string::npos);
  // A probability that is not provably in [0, 1] is still checked on every call.
  const Variable p = input("p");
  Function f = compile({p}, {Bernoulli(p).logp(constant(1.0))});
  CHECK_THROWS_WITH(f({Array::scalar(1.5)}), "bernoulli: Probability parameter is 1.5, but must be in the interval [0, 1]");
  CHECK(f({Array::scalar(0.25)})[0].item() == Approx(std::log(0.25)).epsilon(1e-15));
  const Variable wide = 2.0 * sigmoid(eta);  // in [0, 2]: checked
  Function g = compile({eta}, {Bernoulli(wide).logp(constant(1.0))});
  CHECK_THROWS_WITH(g({Array::scalar(3.0)}), "bernoulli: Probability parameter is 1.9051482536448667, but must be in the interval [0, 1]");
}

TEST_CASE("unconstrained log: Bernoulli, Binomial and Beta of sigmoid(u) equal their logit forms, gradients match finite differences",
          "[distributions][transform][grad]") {
  using testing::check_grad;
  using Inputs = std::vector<Variable>;
  const Array u = Array::from({-3.0, -0.4, 0.7, 2.5});
  const Array y = Array::from({1.0, 0.0, 0.0, 1.0});
  Function both = compile({}, {Bernoulli(sigmoid(constant(u))).logp(constant(y)), BernoulliLogit(constant(u)).logp(constant(y))});
  const auto& values = both();
  for (std::int64_t k = 0; k < 4; ++k) CHECK(values[0].flat<double>(k) == values[1].flat<double>(k));
  const Array counts = Array::from(std::vector<std::int64_t>{0, 3, 10, 6});
  Function binomial = compile({}, {Binomial(10, sigmoid(constant(u))).logp(constant(counts)), BinomialLogit(10, constant(u)).logp(constant(counts))});
  const auto& masses = binomial();
  for (std::int64_t k = 0; k < 4; ++k) CHECK(masses[0].flat<double>(k) == Approx(masses[1].flat<double>(k)).epsilon(1e-14));
  check_grad([](const Inputs& x) { return Beta(2.5, 0.7).logp(sigmoid(x[0])); }, {u});
  check_grad([](const Inputs& x) { return Beta(x[1], x[2]).logp(sigmoid(x[0])); }, {u, Array::scalar(1.5), Array::scalar(3.0)});
  check_grad([y](const Inputs& x) { return Bernoulli(sigmoid(x[0])).logp(constant(y)); }, {u});
  check_grad([counts](const Inputs& x) { return Binomial(10, sigmoid(x[0])).logp(constant(counts)); }, {u});
  check_grad([counts](const Inputs& x) { return Binomial(10, 0.1 + 0.9 * sigmoid(x[0])).logp(constant(counts)); }, {u});
  check_grad([](const Inputs& x) { return LogNormal(0.3, 0.8).logp(exp(x[0])); }, {u});
}

}  // namespace distributions_unconstrained_log_test
