// Log-densities against SciPy 1.10 (scipy.stats logpdf/logpmf, printed with repr), invalid
// parameters with their messages, and finite-difference gradients.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <utility>

#include "support/gradcheck.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/distributions/discrete.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace distributions_distributions_test {

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
  CHECK(logp_at(BernoulliLogit(3.0), 0.5) == -std::numeric_limits<double>::infinity());
  CHECK(logp_at(BernoulliLogit(-3.0), 2) == -std::numeric_limits<double>::infinity());
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

TEST_CASE("distributions: the rest of the family matches SciPy, including the tails", "[distributions]") {
  const double inf = std::numeric_limits<double>::infinity();
  // scipy.stats.lognorm(s=sigma, scale=exp(mu)).logpdf
  CHECK(logp_at(LogNormal(0.3, 0.8), 2.5) == Approx(-1.9088156092286659).epsilon(rel));
  CHECK(logp_at(LogNormal(-1.0, 0.5), 1e4) == Approx(-217.93823274783435).epsilon(rel));
  CHECK(logp_at(LogNormal(0.0, 1.0), 0.0) == -inf);
  // scipy.stats.t(df, loc, scale).logpdf
  CHECK(logp_at(StudentT(3.5, 0.4, 2.0), 1.2) == Approx(-1.783196174384738).epsilon(rel));
  CHECK(logp_at(StudentT(2.0, 0.0, 1.0), 1e3) == Approx(-20.72326883694341).epsilon(rel));
  // scipy.stats.cauchy / halfcauchy
  CHECK(logp_at(Cauchy(-0.5, 1.5), 0.7) == Approx(-2.0448912357936715).epsilon(rel));
  CHECK(logp_at(Cauchy(0.0, 2.0), 1e6) == Approx(-28.082603821222).epsilon(rel));
  CHECK(logp_at(HalfCauchy(0.8), 1.3) == Approx(-1.5205945241812737).epsilon(rel));
  CHECK(logp_at(HalfCauchy(3.0), 1e5) == Approx(-22.378821347461802).epsilon(rel));
  CHECK(logp_at(HalfCauchy(3.0), -1e-9) == -inf);
  // scipy.stats.laplace(loc, scale)
  CHECK(logp_at(Laplace(0.3, 0.7), -0.9) == Approx(-2.050757950906927).epsilon(rel));
  CHECK(logp_at(Laplace(0.0, 0.5), 80.0) == Approx(-160.0).epsilon(rel));
  // scipy.stats.gamma(a=alpha, scale=1/beta); at 0 with alpha = 1 the density is beta
  CHECK(logp_at(Gamma(3.5, 1.7), 2.2) == Approx(-1.1126313227188027).epsilon(rel));
  CHECK(logp_at(Gamma(2.0, 3.0), 60.0) == Approx(-173.7084308604417).epsilon(rel));
  CHECK(logp_at(Gamma(1.0, 2.5), 0.0) == Approx(0.916290731874155).epsilon(rel));
  CHECK(logp_at(Gamma(2.0, 1.0), -0.5) == -inf);
  // scipy.stats.invgamma(a=alpha, scale=beta)
  CHECK(logp_at(InverseGamma(2.5, 1.3), 0.8) == Approx(-0.47276977970445766).epsilon(rel));
  CHECK(logp_at(InverseGamma(3.0, 2.0), 1e-3) == Approx(-1970.9826845229516).epsilon(rel));
  CHECK(logp_at(InverseGamma(3.0, 2.0), 0.0) == -inf);
  // scipy.stats.beta(a, b), near both ends
  CHECK(logp_at(Beta(2.5, 4.0), 0.35) == Approx(0.7190377851307876).epsilon(rel));
  CHECK(logp_at(Beta(0.5, 3.0), 1e-6) == Approx(6.843214757843565).epsilon(rel));
  CHECK(logp_at(Beta(2.0, 0.7), 0.999999) == Approx(4.3186054745035936).epsilon(rel));
  CHECK(logp_at(Beta(2.0, 2.0), 1.5) == -inf);
  // scipy.stats.binom(n, p).logpmf; p = expit(eta) for the logit form
  CHECK(logp_at(Binomial(20, 0.3), 7) == Approx(-1.8062926549204255).epsilon(rel));
  CHECK(logp_at(Binomial(50, 0.9), 0) == Approx(-115.12925464970229).epsilon(rel));
  CHECK(logp_at(Binomial(10, 1.0), 10) == 0.0);
  CHECK(logp_at(Binomial(10, 0.0), 0) == 0.0);
  CHECK(logp_at(Binomial(10, 0.5), 11) == -inf);
  CHECK(logp_at(BinomialLogit(20, -0.8), 7) == Approx(-1.7637220723909044).epsilon(rel));
  // 40 log expit(-30) = -1200 - 40 log1p(exp(-30))
  CHECK(logp_at(BinomialLogit(40, -30.0), 40) == Approx(-1200.0000000000036).epsilon(rel));
  // scipy.stats.nbinom(n=alpha, p=alpha/(alpha+mu)).logpmf
  CHECK(logp_at(NegativeBinomial(3.2, 1.5), 5) == Approx(-2.639352040753092).epsilon(rel));
  CHECK(logp_at(NegativeBinomial(3.2, 1.5), 0) == Approx(-1.7131461009117728).epsilon(rel));
  CHECK(logp_at(NegativeBinomial(4.0, 2.0), 200) == Approx(-77.98694129090987).epsilon(rel));
  CHECK(logp_at(NegativeBinomial(4.0, 2.0), -1) == -inf);
  // logits[k] - scipy.special.logsumexp(logits)
  const Variable logits = constant(Array::from({0.2, -1.0, 2.5, 0.0}));
  CHECK(logp_at(Categorical(logits), 2) == Approx(-0.19271834388573694).epsilon(rel));
  CHECK(logp_at(Categorical(logits), 1) == Approx(-3.692718343885737).epsilon(rel));
  CHECK(logp_at(Categorical(logits), 4) == -inf);
  CHECK(logp_at(Categorical(constant(Array::from({700.0, -700.0, 0.0}))), 1) == Approx(-1400.0).epsilon(rel));
}

TEST_CASE("distributions: categorical takes one row of logits per value", "[distributions]") {
  const Array rows = Array::from(std::vector<double>{0.2, -1.0, 2.5, 1.0, 1.0, 1.0}, Shape{2, 3});
  Function f = compile({}, {Categorical(constant(rows)).logp(constant(Array::from(std::vector<std::int64_t>{2, 0})))});
  const std::vector<double> logp = f()[0].to_vector();
  REQUIRE(logp.size() == 2);
  CHECK(logp[0] == Approx(2.5 - std::log(std::exp(0.2) + std::exp(-1.0) + std::exp(2.5))).epsilon(rel));
  CHECK(logp[1] == Approx(-std::log(3.0)).epsilon(rel));
}

TEST_CASE("distributions: invalid parameters of the rest of the family are named", "[distributions][errors]") {
  const double nan = std::nan("");
  CHECK_THROWS_WITH(LogNormal(nan, 1.0), "lognormal: Location parameter is nan, but must be finite");
  CHECK_THROWS_WITH(LogNormal(0.0, 0.0), "lognormal: Scale parameter is 0, but must be positive");
  CHECK_THROWS_WITH(StudentT(-1.0, 0.0, 1.0), "student_t: Degrees of freedom is -1, but must be positive");
  CHECK_THROWS_WITH(StudentT(3.0, nan, 1.0), "student_t: Location parameter is nan, but must be finite");
  CHECK_THROWS_WITH(StudentT(3.0, 0.0, -2.0), "student_t: Scale parameter is -2, but must be positive");
  CHECK_THROWS_WITH(Cauchy(std::numeric_limits<double>::infinity(), 1.0), "cauchy: Location parameter is inf, but must be finite");
  CHECK_THROWS_WITH(Cauchy(0.0, -1.0), "cauchy: Scale parameter is -1, but must be positive");
  CHECK_THROWS_WITH(HalfCauchy(0.0), "half_cauchy: Scale parameter is 0, but must be positive");
  CHECK_THROWS_WITH(Laplace(nan, 1.0), "laplace: Location parameter is nan, but must be finite");
  CHECK_THROWS_WITH(Laplace(0.0, -0.5), "laplace: Scale parameter is -0.5, but must be positive");
  CHECK_THROWS_WITH(Gamma(0.0, 1.0), "gamma: Shape parameter is 0, but must be positive");
  CHECK_THROWS_WITH(Gamma(1.0, -1.0), "gamma: Rate parameter is -1, but must be positive");
  CHECK_THROWS_WITH(InverseGamma(-1.0, 1.0), "inverse_gamma: Shape parameter is -1, but must be positive");
  CHECK_THROWS_WITH(InverseGamma(1.0, 0.0), "inverse_gamma: Scale parameter is 0, but must be positive");
  CHECK_THROWS_WITH(Beta(0.0, 1.0), "beta: Alpha parameter is 0, but must be positive");
  CHECK_THROWS_WITH(Beta(1.0, -3.0), "beta: Beta parameter is -3, but must be positive");
  CHECK_THROWS_WITH(Binomial(-1, 0.5), "binomial: Number of trials is -1, but must be a nonnegative integer");
  CHECK_THROWS_WITH(Binomial(2.5, 0.5), "binomial: Number of trials is 2.5, but must be a nonnegative integer");
  CHECK_THROWS_WITH(Binomial(10, 1.5), "binomial: Probability parameter is 1.5, but must be in the interval [0, 1]");
  CHECK_THROWS_WITH(BinomialLogit(-2, 0.0), "binomial_logit: Number of trials is -2, but must be a nonnegative integer");
  CHECK_THROWS_WITH(BinomialLogit(10, nan), "binomial_logit: Logit parameter is nan, but must be finite");
  CHECK_THROWS_WITH(NegativeBinomial(0.0, 1.0), "negative_binomial: Mean parameter is 0, but must be positive");
  CHECK_THROWS_WITH(NegativeBinomial(1.0, -1.0), "negative_binomial: Dispersion parameter is -1, but must be positive");
  CHECK_THROWS_WITH(Categorical(constant(Array::from({0.0, nan}))), "categorical: Logits[1] is nan, but must be finite");
  CHECK_THROWS_WITH(Categorical(0.5), "categorical: Logits must have a class axis, got shape ()");
}

TEST_CASE("distributions: gradients of the rest of the family match finite differences", "[distributions][grad]") {
  using testing::check_grad;
  using Inputs = std::vector<Variable>;
  const Array values = Array::from({0.3, 1.7, 2.2});
  const Array unit = Array::from({0.15, 0.5, 0.85});
  const Variable counts = constant(Array::from(std::vector<std::int64_t>{0, 3, 7}));
  check_grad([](const Inputs& x) { return LogNormal(x[1], x[2]).logp(x[0]); }, {values, Array::scalar(0.2), Array::scalar(0.9)});
  check_grad([](const Inputs& x) { return StudentT(x[1], x[2], x[3]).logp(x[0]); },
             {values, Array::scalar(3.5), Array::scalar(0.4), Array::scalar(1.3)});
  check_grad([](const Inputs& x) { return Cauchy(x[1], x[2]).logp(x[0]); }, {values, Array::scalar(-0.3), Array::scalar(1.1)});
  check_grad([](const Inputs& x) { return HalfCauchy(x[1]).logp(x[0]); }, {values, Array::scalar(0.7)});
  check_grad([](const Inputs& x) { return Laplace(x[1], x[2]).logp(x[0]); }, {values, Array::scalar(0.9), Array::scalar(0.8)});
  check_grad([](const Inputs& x) { return Gamma(x[1], x[2]).logp(x[0]); }, {values, Array::scalar(2.5), Array::scalar(1.4)});
  check_grad([](const Inputs& x) { return InverseGamma(x[1], x[2]).logp(x[0]); }, {values, Array::scalar(2.5), Array::scalar(1.4)});
  check_grad([](const Inputs& x) { return Beta(x[1], x[2]).logp(x[0]); }, {unit, Array::scalar(2.5), Array::scalar(0.7)});
  check_grad([counts](const Inputs& x) { return Binomial(10, x[0]).logp(counts); }, {Array::scalar(0.35)});
  check_grad([counts](const Inputs& x) { return BinomialLogit(10, x[0]).logp(counts); }, {Array::from({-2.0, 0.5, 1.5})});
  check_grad([counts](const Inputs& x) { return NegativeBinomial(x[0], x[1]).logp(counts); }, {Array::scalar(2.5), Array::scalar(1.7)});
  check_grad([](const Inputs& x) { return Categorical(x[0]).logp(constant(Array::from(std::vector<std::int64_t>{2, 0, 2, 3}))); },
             {Array::from({0.2, -1.0, 2.5, 0.0})});
}

TEST_CASE("distributions: Student-t with many degrees of freedom and the negative binomial with a large dispersion keep their accuracy", "[distributions]") {
  // lgamma(nu/2 + 1/2) - lgamma(nu/2) and lgamma(k + alpha) - lgamma(alpha) cancel: at nu = 1e15
  // the two lgamma values are 1.7e16 and their difference 17.3, so subtracting them gave a
  // log-density of 2.16 (a density above 8). References: mpmath 1.3 at 50 digits (400 for
  // nu >= 1e15); the limits are the normal's -0.9189385332046727 and Poisson(4)'s mass at 3,
  // -1.6328763858683832. The derivatives are mpmath.diff of the same expressions.
  const auto logp_and_gradient = [](auto make, double parameter, double value) {
    Variable p = input("p");
    Variable logp = make(p).logp(constant(value));
    Function f = compile({p}, {logp, grad(logp, {p})[0]});
    const auto out = f({Array::scalar(parameter)});
    return std::pair{out[0].item(), out[1].item()};
  };
  const auto student = [](const Variable& nu) { return StudentT(nu, 0.0, 1.0); };
  const auto negative_binomial = [](const Variable& alpha) { return NegativeBinomial(4.0, alpha); };
  CHECK(logp_and_gradient(student, 25, 0).first == Approx(-0.92893587163336).epsilon(rel));
  CHECK(logp_and_gradient(student, 25, 1.5).first == Approx(-2.0492459227670405).epsilon(rel));
  CHECK(logp_and_gradient(student, 25, 1.5).second == Approx(0.0002466127131042463).epsilon(1e-10));
  CHECK(logp_and_gradient(student, 1e6, 0).first == Approx(-0.9189387832046727).epsilon(rel));
  CHECK(logp_and_gradient(student, 1e6, 1.5).first == Approx(-2.0439386425803057).epsilon(rel));
  CHECK(logp_and_gradient(student, 1e6, 1.5).second == Approx(1.0937626562095948e-13).epsilon(1e-6));
  CHECK(logp_and_gradient(student, 1e12, 0).first == Approx(-0.9189385332049227).epsilon(rel));
  CHECK(logp_and_gradient(student, 1e12, 1.5).first == Approx(-2.043938533204782).epsilon(rel));
  CHECK(logp_and_gradient(student, 1e15, 0).first == Approx(-0.918938533204673).epsilon(rel));
  CHECK(logp_and_gradient(student, 1e15, 1.5).first == Approx(-2.0439385332046727).epsilon(rel));
  // At 1e300, 0.5 log(nu) (345) cancels against the lgamma difference's 0.5 log(nu / 2): 1e-12.
  CHECK(logp_and_gradient(student, 1e300, 0).first == Approx(-0.9189385332046728).epsilon(1e-12));
  CHECK(logp_and_gradient(student, 1e300, 1.5).first == Approx(-2.0439385332046727).epsilon(1e-12));
  CHECK(std::isfinite(logp_and_gradient(student, 1e300, 1.5).second));
  CHECK(logp_and_gradient(negative_binomial, 5, 3).first == Approx(-1.8163759116701677).epsilon(rel));
  CHECK(logp_and_gradient(negative_binomial, 5, 3).second == Approx(0.032848255732801625).epsilon(1e-10));
  CHECK(logp_and_gradient(negative_binomial, 50, 3).first == Approx(-1.6527882256337234).epsilon(rel));
  CHECK(logp_and_gradient(negative_binomial, 50, 3).second == Approx(0.00039608975041432624).epsilon(1e-10));
  CHECK(logp_and_gradient(negative_binomial, 1e6, 3).second == Approx(9.999996666576668e-13).epsilon(1e-4));
  CHECK(logp_and_gradient(negative_binomial, 1e10, 3).first == Approx(-1.6328763859683832).epsilon(rel));
  CHECK(logp_and_gradient(negative_binomial, 1e14, 3).first == Approx(-1.6328763858683932).epsilon(rel));
  // Either side of the switch to Stirling's series (alpha = 10, nu = 20): finite differences.
  using Inputs = std::vector<Variable>;
  const Variable counts = constant(Array::from(std::vector<std::int64_t>{0, 3, 70}));
  for (const double alpha : {9.5, 10.0, 30.0})
    testing::check_grad([counts](const Inputs& x) { return NegativeBinomial(x[0], x[1]).logp(counts); }, {Array::scalar(2.5), Array::scalar(alpha)});
  for (const double nu : {19.0, 20.0, 41.0})
    testing::check_grad([](const Inputs& x) { return StudentT(x[1], x[2], x[3]).logp(x[0]); },
                        {Array::from({0.3, 1.7, -4.2}), Array::scalar(nu), Array::scalar(0.4), Array::scalar(1.3)});
}

TEST_CASE("distributions: count masses are -inf off the nonnegative integers, as SciPy gives them", "[distributions]") {
  const double inf = std::numeric_limits<double>::infinity();
  // scipy 1.10.1: poisson(3).logpmf(1.5), binom(10, 0.3).logpmf(2.5), nbinom(...).logpmf(1.5),
  // bernoulli(0.3).logpmf([0.5, 2, -1]), beta(2, 3).logpdf([1.5, -0.5]) are all -inf.
  CHECK(logp_at(Poisson(3.0), 1.5) == -inf);
  CHECK(logp_at(Poisson(3.0), -1.0) == -inf);
  CHECK(logp_at(Poisson(3.0), std::nextafter(2.0, 3.0)) == -inf);
  CHECK(logp_at(Poisson(3.0), inf) == -inf);
  CHECK(logp_at(Binomial(10, 0.3), 2.5) == -inf);
  CHECK(logp_at(Binomial(10, 0.3), -1.0) == -inf);
  CHECK(logp_at(BinomialLogit(10, 0.2), 2.5) == -inf);
  CHECK(logp_at(NegativeBinomial(3.2, 1.5), 1.5) == -inf);
  const Variable logits = constant(Array::from({0.2, -1.0, 2.5, 0.0}));
  CHECK(logp_at(Categorical(logits), 1.5) == -inf);
  CHECK(logp_at(Categorical(logits), -1.0) == -inf);
  for (const double value : {0.5, 2.0, -1.0}) {
    CHECK(logp_at(Bernoulli(0.3), value) == -inf);
    CHECK(logp_at(BernoulliLogit(0.3), value) == -inf);
  }
  CHECK(logp_at(Beta(2.0, 3.0), 1.5) == -inf);
  CHECK(logp_at(Beta(2.0, 3.0), -0.5) == -inf);
  // Whole f64 values keep their masses: scipy.stats.poisson(3).logpmf([0, 1.5, 2, -1])
  Function f = compile({}, {Poisson(3.0).logp(constant(Array::from({0.0, 1.5, 2.0, -1.0})))});
  const std::vector<double> masses = f()[0].to_vector();
  CHECK(masses[0] == Approx(-3.0).epsilon(rel));
  CHECK(masses[1] == -inf);
  CHECK(masses[2] == Approx(-1.4959226032237258).epsilon(rel));
  CHECK(masses[3] == -inf);
}

TEST_CASE("distributions: count gradients stay finite where a value is off the support", "[distributions][grad]") {
  // The -inf entries carry no gradient: d/d mu of sum over [0, 1.5, 2, -1] is (0 + 2) / mu - 2.
  const Variable mu = input("mu");
  const Variable total = sum(Poisson(mu).logp(constant(Array::from({0.0, 1.5, 2.0, -1.0}))));
  Function f = compile({mu}, {grad(total, {mu})[0]});
  CHECK(f({Array::scalar(3.0)})[0].item() == Approx(2.0 / 3.0 - 2.0).epsilon(rel));
}

TEST_CASE("distributions: a null parameter is named by the distribution, not an internal cast", "[distributions][errors]") {
  CHECK_THROWS_WITH(Normal(Variable{}, 1.0), "normal: Location parameter is a null variable");
  CHECK_THROWS_WITH(Normal(0.0, Variable{}), "normal: Scale parameter is a null variable");
  CHECK_THROWS_WITH(Poisson(Variable{}), "poisson: Mean parameter is a null variable");
  CHECK_THROWS_WITH(Beta(Variable{}, 2.0), Catch::Matchers::StartsWith("beta: ") && Catch::Matchers::EndsWith(" is a null variable"));
}

}  // namespace distributions_distributions_test
