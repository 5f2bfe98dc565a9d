#include <catch2/catch.hpp>

#include <cmath>

#include "support/gradcheck.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/distributions/discrete.hpp"
#include "symbatch/inference/logp_function.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"
#include "symbatch/ops/sort.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace model_model_test {

using namespace symbatch;

namespace {

/// The observed term of `data` under Normal(0, 1) with the given total size, free terms aside.
double observed_logp(const Array& data, TotalSize total_size) {
  Model model;
  model.observed("y", Normal(0.0, 1.0), constant(data), total_size);
  Function f = compile({}, {model.logp()});
  return f()[0].item();
}

Array ones(std::int64_t rows, std::int64_t cols) { return Array::full<double>(Shape{rows, cols}, 1.0); }

}  // namespace

// Translated from PyMC's tests of total_size (tests/variational/test_minibatch_rv.py).
TEST_CASE("total_size: the scale follows PyMC's semantics for integers and lists", "[model][total_size]") {
  const double unit = -1.4189385332046727;  // log N(1 | 0, 1)
  // [[1]] with total_size 1 vs 2: the term doubles
  CHECK(observed_logp(ones(1, 1), 2) == Approx(2 * observed_logp(ones(1, 1), 1)).epsilon(1e-15));
  const double reference = observed_logp(ones(2, 2), TotalSize());  // 4 unscaled points
  CHECK(reference == Approx(4 * unit).epsilon(1e-15));
  CHECK(observed_logp(ones(2, 2), {2, 2}) == Approx(reference).epsilon(1e-15));             // factor 1
  CHECK(observed_logp(ones(2, 1), {2, 2}) == Approx(reference).epsilon(1e-15));             // [[1],[1]]: 2 points x 2
  CHECK(observed_logp(ones(1, 2), {2, 2}) == Approx(reference).epsilon(1e-15));             // [[1,1]]: 2 points x 2
  CHECK(observed_logp(ones(1, 1), {2, 2}) == Approx(reference).epsilon(1e-15));             // [[1]]: 1 point x 4
  CHECK(observed_logp(ones(1, 1), {2, ellipsis, 2}) == Approx(reference).epsilon(1e-15));  // the same with an ellipsis
  CHECK(observed_logp(ones(1, 2), {2, none}) == Approx(2 * 2 * unit).epsilon(1e-15));       // only the first axis scaled
  // a scalar observed: scale = N
  CHECK(observed_logp(Array::scalar(1.0), 5) == Approx(5 * unit).epsilon(1e-15));
}

TEST_CASE("total_size: bad lists and sizes are refused with a clear error", "[model][total_size][errors]") {
  Model model;
  const Variable data = constant(ones(2, 2));
  CHECK_THROWS_WITH(model.observed("a", Normal(0.0, 1.0), data, {2, ellipsis, 2, 2}),
                    "Model::observed: total_size of 'a' has 3 sizes, but the observed variable has only 2 axes");
  CHECK_THROWS_WITH(model.observed("b", Normal(0.0, 1.0), data, {2, 2, 2}),
                    "Model::observed: total_size of 'b' has 3 sizes, but the observed variable has only 2 axes");
  CHECK_THROWS_WITH(model.observed("c", Normal(0.0, 1.0), data, {ellipsis, 2, ellipsis}),
                    "Model::observed: total_size of 'c' has 2 ellipses, at most one is allowed");
  // every total_size error is an invalid_argument (a total size is a size; issue 10 item 7)
  CHECK_THROWS_AS(model.observed("d", Normal(0.0, 1.0), data, 0), std::invalid_argument);
  CHECK_THROWS_WITH(model.observed("d", Normal(0.0, 1.0), data, 0), "Model::observed: total_size entry 1 of 'd' is 0, but must be positive");
  CHECK_THROWS_WITH(model.observed("e", Normal(0.0, 1.0), data, {2, -1}), "Model::observed: total_size entry 2 of 'e' is -1, but must be positive");
  // the model is still usable and the names were not taken
  model.observed("a", Normal(0.0, 1.0), data, {2, 2});
}

TEST_CASE("model: the minibatch term is 1000 * log N(0 | 0, 1) on every call, and follows set_value", "[model][minibatch]") {
  Variable a = shared(Array::arange(1000), "A");
  Variable t = shared(Array::arange(1000), "T");
  const auto views = minibatch(9, {a, t});
  Model model;
  model.observed("y", Normal(views[1], 1.0), views[0], TotalSize(1000));
  Function f = compile({}, {model.logp()}, {.seed = 3});
  for (int call = 0; call < 20; ++call) CHECK(f()[0].item() == Approx(-918.9385332046727).epsilon(1e-14));
  Array shifted = Array::arange(1000);
  for (std::int64_t i = 0; i < 1000; ++i) shifted.data<double>()[i] += 1;
  set_value(a, shifted);
  for (int call = 0; call < 20; ++call) CHECK(f()[0].item() == Approx(-1418.9385332046727).epsilon(1e-14));
  // random data: two consecutive calls see different batches
  Array noise = Array::empty(DType::f64, Shape{1000});
  for (std::int64_t i = 0; i < 1000; ++i) noise.data<double>()[i] = std::sin(0.37 * static_cast<double>(i * i));
  set_value(a, noise);
  CHECK(f()[0].item() != f()[0].item());
}

TEST_CASE("model: a variable-length hand-built batch is scaled by its own length on every call", "[model][total_size]") {
  const std::int64_t n = 200;
  Array values = Array::empty(DType::f64, Shape{n});
  for (std::int64_t i = 0; i < n; ++i) values.data<double>()[i] = std::cos(0.1 * static_cast<double>(i));
  Variable a = shared(values, "A");
  Variable state = random::rng("rng");
  const Variable endpoints = sort(random::uniform(state, 0.0, static_cast<double>(n), {2}).value);
  const Variable begin = sum(cast(slice(endpoints, 0, 1), DType::i64));
  const Variable end = sum(cast(slice(endpoints, 1, 2), DType::i64)) + constant(Array::scalar(std::int64_t{1}));
  const Variable batch = slice(a, begin, end);
  Model model;
  model.observed("y", Normal(0.0, 1.0), batch, TotalSize(n));
  Function f = compile({}, {model.logp(), batch, begin, end}, {.seed = 5});
  for (int call = 0; call < 50; ++call) {
    const auto& r = f();
    const std::vector<double> rows = r[1].to_vector();
    REQUIRE(rows.size() == static_cast<std::size_t>(r[3].item<std::int64_t>() - r[2].item<std::int64_t>()));
    double term = 0;
    for (double y : rows) term += -0.5 * y * y - 0.9189385332046727;
    CHECK(r[0].item() == Approx(term * static_cast<double>(n) / static_cast<double>(rows.size())).epsilon(1e-13));
  }
}

TEST_CASE("model: logp checks name what is wrong", "[model][errors]") {
  Variable a = shared(Array::arange(10), "A");
  Variable b = shared(Array::arange(10), "B");
  Model model;
  Variable mu = model.free("mu", Normal(0.0, 1.0));
  CHECK_THROWS_WITH(model.observed("y", Normal(0.0, 1.0), a * mu),
                    "Model::observed: the data of 'y' depend on the free variable 'mu'; observed data must be fixed");
  const auto views = minibatch(3, {a, b});
  CHECK_THROWS_WITH(model.observed("z", Normal(0.0, 1.0), views[0]),
                    "Model::observed: the data of 'z' are a minibatch view but no total_size was given; pass the full data size, or "
                    "TotalSize::unscaled() to use the batch unscaled");
  model.observed("z", Normal(0.0, 1.0), views[0], TotalSize::unscaled());
  const auto other = minibatch(3, {b});
  CHECK_THROWS_WITH(model.observed("w", Normal(other[0], 1.0), views[1], TotalSize(10)),
                    "Model::observed: 'w' mixes views of 2 different minibatch calls, whose rows are not aligned; build all its views with one "
                    "minibatch(batch_size, {...}) call");
  CHECK_THROWS_WITH(model.free("mu", Normal(0.0, 1.0)), "Model: the name 'mu' is already used");
  Variable noise = random::normal(random::rng("rng"), 0.0, 1.0, {3}).value;
  noise.set_name("noise");
  model.potential("p", noise * mu);
  CHECK_THROWS_WITH(model.logp(), "Model::logp: the log-probability depends on the random variable normal{shape=(3,)} 'noise'; only random nodes that select rows of "
                    "data (minibatch draws, random slice bounds) may appear in it");
}

TEST_CASE("model: free variables are transformed to the real line with their Jacobians", "[model][transform]") {
  Model model;
  model.free("sigma", HalfNormal(2.0));
  model.free("u", Uniform(-1.0, 3.0));
  CHECK(model.value_variables()[0].name() == "sigma_log__");
  CHECK(model.value_variables()[1].name() == "u_interval__");
  LogpFunction logp(model);
  Eigen::VectorXd point(2);
  point << 0.4, -0.7;
  // SciPy/closed form: halfnorm.logpdf(e^0.4, scale=2) + 0.4 + uniform(-1,3) logpdf + log(4) + log sigmoid(-0.7) + log sigmoid(0.7)
  const double sigma = std::exp(0.4);
  const double expected = std::log(2.0) - 0.9189385332046727 - std::log(2.0) - 0.5 * sigma * sigma / 4 + 0.4 - std::log(4.0) + std::log(4.0) +
                          std::log(1 / (1 + std::exp(0.7))) + std::log(1 / (1 + std::exp(-0.7)));
  Eigen::VectorXd gradient;
  CHECK(logp(point, &gradient) == Approx(expected).epsilon(1e-14));
  // d/dz of the u term: log sigmoid(z) + log sigmoid(-z) -> 1 - 2 sigmoid(z)
  CHECK(gradient[1] == Approx(1 - 2 / (1 + std::exp(0.7))).epsilon(1e-13));
  CHECK(model.initial_point()[1].item() == Approx(0.0).margin(1e-15));  // the midpoint
}

TEST_CASE("model: the full-data logp sums every row with scale 1, and the pointwise terms are unscaled", "[model][full_data]") {
  const std::int64_t n = 30;
  Array x = Array::empty(DType::f64, Shape{n});
  for (std::int64_t i = 0; i < n; ++i) x.data<double>()[i] = 0.1 * static_cast<double>(i) - 1;
  Variable data = shared(x, "x");
  const auto views = minibatch(4, {data});
  Model model;
  Variable mu = model.free("mu", Normal(0.0, 1.0));
  model.observed("y", Normal(mu, 2.0), views[0], TotalSize(n));
  Function full = compile(model.value_variables(), {model.full_data_logp()});
  const double m = 0.25;
  double expected = -0.5 * m * m - 0.9189385332046727;
  for (std::int64_t i = 0; i < n; ++i) expected += -0.5 * std::pow((x.flat<double>(i) - m) / 2, 2) - std::log(2.0) - 0.9189385332046727;
  CHECK(full({Array::scalar(m)})[0].item() == Approx(expected).epsilon(1e-14));
  // the batch's own terms (pointwise_loglik gives the full data's: see batch_selection.test.cpp)
  Function pointwise = compile(model.value_variables(), {model.batch_pointwise_loglik("y"), views[0]}, {.seed = 1});
  const auto& r = pointwise({Array::scalar(m)});
  for (std::int64_t k = 0; k < 4; ++k)
    CHECK(r[0].flat<double>(k) == Approx(-0.5 * std::pow((r[1].flat<double>(k) - m) / 2, 2) - std::log(2.0) - 0.9189385332046727).epsilon(1e-14));
}

TEST_CASE("model: the gradient of a whole minibatch model matches finite differences", "[model][grad]") {
  const std::int64_t n = 40;
  Array x = Array::empty(DType::f64, Shape{n, 2});
  Array y = Array::empty(DType::f64, Shape{n});
  for (std::int64_t i = 0; i < n; ++i) {
    x.data<double>()[2 * i] = std::sin(static_cast<double>(i));
    x.data<double>()[2 * i + 1] = std::cos(0.5 * static_cast<double>(i));
    y.data<double>()[i] = 0.5 * x.data<double>()[2 * i] - x.data<double>()[2 * i + 1];
  }
  Variable xs = shared(x, "X"), ys = shared(y, "y");
  const auto views = minibatch(8, {xs, ys});
  Model model;
  Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {2}});
  Variable sigma = model.free("sigma", HalfNormal(1.0));
  model.observed("obs", Normal(matmul(views[0], beta), sigma), views[1], TotalSize(n));
  // The batch is held fixed (no advancing) so finite differences see the same rows.
  const Variable logp = model.logp();
  const auto values = model.value_variables();
  std::vector<Variable> outputs{logp};
  for (const Variable& g : grad(logp, values)) outputs.push_back(g);
  Function f = compile(values, outputs, {.seed = 4, .advance_rngs = false});
  const Array beta0 = Array::from({0.3, -0.6});
  const Array sigma0 = Array::scalar(-0.2);
  const auto& r = f({beta0, sigma0});
  const double g_beta0 = r[1].flat<double>(0), g_sigma = r[2].item();
  const double h = 1e-6;
  auto at = [&](double b0, double s) { return f({Array::from({b0, -0.6}), Array::scalar(s)})[0].item(); };
  CHECK(g_beta0 == Approx((at(0.3 + h, -0.2) - at(0.3 - h, -0.2)) / (2 * h)).epsilon(1e-6));
  CHECK(g_sigma == Approx((at(0.3, -0.2 + h) - at(0.3, -0.2 - h)) / (2 * h)).epsilon(1e-6));
}

TEST_CASE("model: every discrete family is refused as a free variable with one message", "[model][errors][discrete]") {
  Model model;
  CHECK_THROWS_WITH(model.free("k", Poisson(3.0)), "Model::free: 'k' has a discrete distribution (poisson); free variables must be continuous");
  CHECK_THROWS_WITH(model.free("b", Bernoulli(0.3)), "Model::free: 'b' has a discrete distribution (bernoulli); free variables must be continuous");
  CHECK_THROWS_WITH(model.free("l", BernoulliLogit(0.0)),
                    "Model::free: 'l' has a discrete distribution (bernoulli_logit); free variables must be continuous");
  CHECK_THROWS_WITH(model.free("n", Binomial(10.0, 0.5)), "Model::free: 'n' has a discrete distribution (binomial); free variables must be continuous");
  CHECK_THROWS_AS(model.free("c", Categorical(constant(Array::from({0.0, 1.0})))), std::invalid_argument);
  model.free("k", Normal(0.0, 1.0));  // the refused names were not taken
}

TEST_CASE("model: null variables, negative shapes and initial values outside the support get clear errors", "[model][errors]") {
  Model model;
  CHECK_THROWS_WITH(model.potential("p", Variable()), "Model::potential: the term 'p' is a null variable");
  CHECK_THROWS_WITH(model.observed("y", Normal(0.0, 1.0), Variable()), "Model::observed: the data of 'y' are a null variable");
  CHECK_THROWS_WITH(model.free("x", Distribution{}), "Model::free: the distribution of 'x' is empty (it has no log-density)");
  CHECK_THROWS_WITH(model.free("x", Normal(0.0, 1.0), {.shape = {-1}}), "Model::free: shape entry 1 of 'x' is -1, but must be >= 0");
  CHECK_THROWS_WITH(model.free("x", Normal(0.0, 1.0), {.shape = {2, -3}}), "Model::free: shape entry 2 of 'x' is -3, but must be >= 0");
  CHECK_THROWS_AS(model.free("s", HalfNormal(1.0), {.initial = -1.0}), std::domain_error);
  CHECK_THROWS_WITH(model.free("s", HalfNormal(1.0), {.initial = -1.0}),
                    "Model::free: the initial value of 's' is -1, outside the support (0, inf) of half_normal");
  CHECK_THROWS_WITH(model.free("u", Uniform(-1.0, 3.0), {.initial = 3.0}), "Model::free: the initial value of 'u' is 3, outside the support (-1, 3) of uniform");
  CHECK_THROWS_WITH(model.free("m", Normal(0.0, 1.0), {.initial = std::nan("")}),
                    "Model::free: the initial value of 'm' is nan, outside the support the finite reals of normal");
  model.free("s", HalfNormal(1.0), {.initial = 2.0});
  CHECK(model.initial_point()[0].item() == Approx(std::log(2.0)).epsilon(1e-15));
}

TEST_CASE("total_size: any integer type, and messages in the singular", "[model][total_size]") {
  const double unit = -1.4189385332046727;  // log N(1 | 0, 1)
  CHECK(observed_logp(ones(1, 1), TotalSize(std::size_t{5})) == Approx(5 * unit).epsilon(1e-15));
  CHECK(observed_logp(ones(1, 1), TotalSize(std::uint8_t{5})) == Approx(5 * unit).epsilon(1e-15));
  CHECK(observed_logp(ones(1, 1), TotalSize(short{5})) == Approx(5 * unit).epsilon(1e-15));
  CHECK(observed_logp(ones(1, 1), TotalSize(5L)) == Approx(5 * unit).epsilon(1e-15));
  CHECK(observed_logp(ones(1, 2), {std::size_t{2}, none}) == Approx(4 * unit).epsilon(1e-15));
  CHECK_THROWS_WITH(TotalSize(std::numeric_limits<std::size_t>::max()), "TotalSize: size 18446744073709551615 exceeds the int64 range");
  Model model;
  CHECK_THROWS_WITH(model.observed("v", Normal(0.0, 1.0), constant(Array::from({1.0, 2.0})), {2, 2}),
                    "Model::observed: total_size of 'v' has 2 sizes, but the observed variable has only 1 axis");
  // TotalSize{5} is a list (one size per axis); TotalSize(5) scales a scalar by 5
  CHECK_THROWS_WITH(model.observed("s", Normal(0.0, 1.0), constant(1.0), TotalSize{5}),
                    "Model::observed: total_size of 's' has 1 size, but the observed variable is a scalar; TotalSize{N} is a list of sizes per "
                    "axis, TotalSize(N) scales a scalar term by N");
  CHECK(observed_logp(Array::scalar(1.0), TotalSize(5)) == Approx(5 * unit).epsilon(1e-15));
}

}  // namespace model_model_test
