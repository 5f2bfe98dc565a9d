// Issue 10: batch selection (the pymc#6277 pseudo-code), empty batches, per-row terms over the
// full data, batched data without total_size, and the total size read from the data.
#include <catch2/catch.hpp>

#include <cmath>

#include "symbatch/compile/function.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"
#include "symbatch/ops/sort.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace model_batch_selection_test {

using namespace symbatch;

namespace {

constexpr double half_log_two_pi = 0.9189385332046727;  // log(2 pi) / 2
double normal_lpdf(double x, double mu, double sigma) { return -0.5 * std::pow((x - mu) / sigma, 2) - std::log(sigma) - half_log_two_pi; }

Array wave(std::int64_t n, double frequency) {
  Array values = Array::empty(DType::f64, Shape{n});
  for (std::int64_t i = 0; i < n; ++i) values.data<double>()[i] = std::sin(frequency * static_cast<double>(i * i) + 0.3);
  return values;
}

/// The seed issue's bounds: two uniforms in [0, n) from ONE random variable, sorted, cast.
struct RandomBounds {
  Variable begin, end;
};
RandomBounds random_bounds(std::int64_t n) {
  const Variable endpoints = sort(random::uniform(random::rng("rng"), 0.0, static_cast<double>(n), {2}).value);
  return {sum(cast(slice(endpoints, 0, 1), DType::i64)), sum(cast(slice(endpoints, 1, 2), DType::i64))};
}

/// With the two columns of X as x0 = wave(n, 0.7) and x1 = wave(n, 1.3).
double x_at(std::int64_t i, int column) { return std::sin((column == 0 ? 0.7 : 1.3) * static_cast<double>(i * i) + 0.3); }

}  // namespace

TEST_CASE("batch selection: the pymc#6277 pseudo-code is accepted and scaled by N / (b - a) on every call", "[model][pymc6277]") {
  const std::int64_t n = 100;
  Array x = Array::empty(DType::f64, Shape{n, 2});
  for (std::int64_t i = 0; i < n; ++i)
    for (int j = 0; j < 2; ++j) x.data<double>()[2 * i + j] = x_at(i, j);
  const Array y = wave(n, 0.4);
  Variable xs = shared(x, "X"), ys = shared(y, "y");
  const auto [a, b] = random_bounds(n);
  Model model;
  Variable w = model.free("w", Normal(0.0, 1.0), {.shape = {2}});
  Variable c = model.free("c", Normal(0.0, 1.0));
  model.observed("y", Normal(matmul(slice(xs, a, b), w) + c, 1.0), slice(ys, a, b), TotalSize(n));
  const Variable logp = model.logp();  // the uniform reaches logp through the mean and the data: both select rows
  const std::vector<Variable> values = model.value_variables();
  std::vector<Variable> outputs{logp, a, b};
  for (const Variable& g : grad(logp, values)) outputs.push_back(g);
  Function f = compile(values, outputs, {.seed = 5});
  const double w0 = 0.3, w1 = -0.8, c0 = 0.1;
  int empty = 0;
  for (int call = 0; call < 100; ++call) {
    const auto& r = f({Array::from({w0, w1}), Array::scalar(c0)});
    const std::int64_t begin = r[1].item<std::int64_t>(), end = r[2].item<std::int64_t>();
    double term = 0, g_c = 0;
    for (std::int64_t i = begin; i < end; ++i) {
      const double mean = x_at(i, 0) * w0 + x_at(i, 1) * w1 + c0;
      term += normal_lpdf(y.flat<double>(i), mean, 1.0);
      g_c += y.flat<double>(i) - mean;
    }
    const double scale = end == begin ? 0.0 : static_cast<double>(n) / static_cast<double>(end - begin);
    if (end == begin) ++empty;
    const double prior = normal_lpdf(w0, 0, 1) + normal_lpdf(w1, 0, 1) + normal_lpdf(c0, 0, 1);
    CHECK(r[0].item() == Approx(prior + scale * term).epsilon(1e-12));
    CHECK(r[4].item() == Approx(-c0 + scale * g_c).epsilon(1e-12));
  }
  INFO("calls with an empty batch: " << empty);
  // The full-data logp and the per-row terms replace the hand-built slices by the whole arrays.
  Function full = compile(values, {model.full_data_logp(), model.pointwise_loglik("y")});
  const auto& r = full({Array::from({w0, w1}), Array::scalar(c0)});
  double expected = normal_lpdf(w0, 0, 1) + normal_lpdf(w1, 0, 1) + normal_lpdf(c0, 0, 1);
  REQUIRE(r[1].shape() == Shape{n});
  for (std::int64_t i = 0; i < n; ++i) {
    const double term = normal_lpdf(y.flat<double>(i), x_at(i, 0) * w0 + x_at(i, 1) * w1 + c0, 1.0);
    CHECK(r[1].flat<double>(i) == Approx(term).epsilon(1e-13));
    expected += term;
  }
  CHECK(r[0].item() == Approx(expected).epsilon(1e-13));
}

TEST_CASE("batch selection: a random slice of data is accepted wherever it is used, any other random node is named", "[model][pymc6277][errors]") {
  const std::int64_t n = 50;
  Variable xs = shared(wave(n, 0.7), "X");
  Variable ys = shared(wave(n, 0.2), "y");
  {  // only in the data (a constant mean), and only in a potential's value (no observed data at all)
    const auto [a, b] = random_bounds(n);
    Model model;
    Variable mu = model.free("mu", Normal(0.0, 1.0));
    model.observed("y", Normal(0.0, 1.0), slice(ys, a, b), TotalSize(n));
    model.potential("p", mu * sum(slice(xs, a, b)));
    CHECK_NOTHROW(model.logp());
  }
  {  // a take of data by random indices (a gather) selects rows too
    Model model;
    Variable mu = model.free("mu", Normal(0.0, 1.0));
    const Variable rows = random::integers(random::rng("rng"), 0, n, {7}).value;
    model.observed("y", Normal(mu, 1.0), take(ys, rows), TotalSize(n));
    CHECK_NOTHROW(model.logp());
    Function full = compile(model.value_variables(), {model.pointwise_loglik("y")});
    CHECK(full({Array::scalar(0.0)})[0].shape() == Shape{n});
  }
  {  // data fed at each call (graph inputs) are data too; the model's value variables are not
    Variable x = input("x", DType::f64, {Type::unknown});
    const auto views = minibatch(5, {x});
    Model model;
    Variable mu = model.free("mu", Normal(0.0, 1.0));
    model.observed("obs", Normal(mu, 1.0), views[0], TotalSize::from_data());
    std::vector<Variable> inputs = model.value_variables();
    inputs.push_back(x);
    Function f = compile(inputs, {model.logp()}, {.seed = 1});
    CHECK(f({Array::scalar(0.0), Array::full<double>(Shape{20}, 0.0)})[0].item() == Approx(21 * normal_lpdf(0, 0, 1)).epsilon(1e-14));
  }
  {  // a draw used as a value: the random slice of a parameter vector selects no data
    const auto [a, b] = random_bounds(4);
    Model model;
    Variable w = model.free("w", Normal(0.0, 1.0), {.shape = {4}});
    model.potential("p", sum(slice(w, a, b)));
    CHECK_THROWS_WITH(model.logp(), "Model::logp: the log-probability depends on the random variable uniform{shape=(2,)}; only random nodes that select "
                                    "rows of data (minibatch draws, random slice bounds) may appear in it");
  }
  {  // noise added to the observed data is not a selection either
    Model model;
    Variable mu = model.free("mu", Normal(0.0, 1.0));
    Variable noise = random::normal(random::rng("rng"), 0.0, 1.0, {n}).value;
    noise.set_name("noise");
    model.observed("y", Normal(mu, 1.0), ys + noise);
    CHECK_THROWS_WITH(model.logp(), "Model::logp: the log-probability depends on the random variable normal{shape=(50,)} 'noise'; only random nodes that "
                                    "select rows of data (minibatch draws, random slice bounds) may appear in it");
  }
}

TEST_CASE("batch selection: an empty batch contributes 0 and gradient 0, not NaN", "[model][total_size][empty]") {
  const std::int64_t n = 30;
  Array x = Array::empty(DType::f64, Shape{n, 2});
  for (std::int64_t k = 0; k < 2 * n; ++k) x.data<double>()[k] = 0.1 * static_cast<double>(k);
  Variable xs = shared(x, "X"), ys = shared(wave(n, 0.5), "y");
  const auto [a, b] = random_bounds(n);
  Model model;
  Variable w = model.free("w", Normal(0.0, 1.0), {.shape = {2}});
  // a = b: the batch is empty on every call
  model.observed("y", Normal(matmul(slice(xs, a, a), w), 1.0), slice(ys, a, a), TotalSize(n));
  model.observed("z", Normal(sum(w), 2.0), slice(ys, b, b), TotalSize{n});  // the list form too
  const Variable logp = model.logp();
  Function f = compile(model.value_variables(), {logp, grad(logp, model.value_variables())[0]}, {.seed = 2});
  for (int call = 0; call < 5; ++call) {
    const auto& r = f({Array::from({0.5, -1.5})});
    CHECK(r[0].item() == Approx(normal_lpdf(0.5, 0, 1) + normal_lpdf(-1.5, 0, 1)).epsilon(1e-14));  // the prior only
    CHECK(r[1].flat<double>(0) == Approx(-0.5).epsilon(1e-14));
    CHECK(r[1].flat<double>(1) == Approx(1.5).epsilon(1e-14));
  }
}

TEST_CASE("batch selection: pointwise_loglik gives one term per data row, in the original order, also under shuffle_once", "[model][pointwise]") {
  const std::int64_t n = 40;
  const Array y = wave(n, 0.9);
  for (bool shuffled : {false, true}) {
    Variable ys = shared(y, "y");
    const auto views = minibatch(6, {ys}, {.shuffle_once = shuffled, .shuffle_seed = 11});
    Model model;
    Variable mu = model.free("mu", Normal(0.0, 1.0));
    model.observed("y", Normal(mu, 2.0), views[0], TotalSize(n));
    Function f = compile(model.value_variables(), {model.pointwise_loglik("y"), model.batch_pointwise_loglik("y"), views[0]}, {.seed = 4});
    const auto& r = f({Array::scalar(0.4)});
    REQUIRE(r[0].shape() == Shape{n});
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      CHECK(r[0].flat<double>(i) == Approx(normal_lpdf(y.flat<double>(i), 0.4, 2.0)).epsilon(1e-14));  // row i's term at position i
      total += normal_lpdf(y.flat<double>(i), 0.4, 2.0);
    }
    double sum_terms = 0;
    for (std::int64_t i = 0; i < n; ++i) sum_terms += r[0].flat<double>(i);
    CHECK(sum_terms == Approx(total).epsilon(1e-13));
    REQUIRE(r[1].shape() == Shape{6});
    for (std::int64_t k = 0; k < 6; ++k) CHECK(r[1].flat<double>(k) == Approx(normal_lpdf(r[2].flat<double>(k), 0.4, 2.0)).epsilon(1e-14));
  }
  Model model;
  CHECK_THROWS_WITH(model.pointwise_loglik("q"), "Model::pointwise_loglik: no observed variable named 'q'");
  CHECK_THROWS_WITH(model.batch_pointwise_loglik("q"), "Model::batch_pointwise_loglik: no observed variable named 'q'");
}

TEST_CASE("batch selection: batched data need a total_size whatever sits between, and batched means need batched data", "[model][errors]") {
  const std::int64_t n = 20;
  Array m = Array::empty(DType::f64, Shape{n, 3});
  for (std::int64_t k = 0; k < 3 * n; ++k) m.data<double>()[k] = std::cos(0.3 * static_cast<double>(k));
  Variable xs = shared(m, "X"), ys = shared(wave(n, 0.6), "y");
  const auto views = minibatch(4, {xs, ys});
  Model model;
  CHECK_THROWS_WITH(model.observed("d", Normal(0.0, 1.0), (views[1] - 3.0) / 2.0),
                    "Model::observed: the data of 'd' depend on the minibatch view 'y_batch' but no total_size was given; pass the full data "
                    "size, TotalSize::from_data(), or TotalSize::unscaled() to use the batch unscaled");
  CHECK_THROWS_WITH(model.observed("r", Normal(0.0, 1.0), reshape(views[0], {12})),
                    "Model::observed: the data of 'r' depend on the minibatch view 'X_batch' but no total_size was given; pass the full data "
                    "size, TotalSize::from_data(), or TotalSize::unscaled() to use the batch unscaled");
  const auto [a, b] = random_bounds(n);
  CHECK_THROWS_WITH(model.observed("s", Normal(0.0, 1.0), slice(ys, a, b)),
                    "Model::observed: the data of 's' depend on the random selection 'slice' but no total_size was given; pass the "
                    "full data size, TotalSize::from_data(), or TotalSize::unscaled() to use the batch unscaled");
  // the mean reads batch rows while the data are the whole array: pymc#6277's misalignment
  CHECK_THROWS_WITH(model.observed("y", Normal(matmul(views[0], constant(Array::from({1.0, 2.0, 3.0}))), 1.0), ys, TotalSize(n)),
                    "Model::observed: the distribution of 'y' depends on the minibatch view 'X_batch', but its data are not batched, so its rows "
                    "are not aligned with the data's (pymc#6277); pass the matching batch of the data");
  CHECK_THROWS_WITH(model.observed("w", Normal(slice(xs, a, b), 1.0), views[0], TotalSize(n)),
                    "Model::observed: 'w' selects rows with 2 different random nodes (minibatch{scheme=circular_slice, batch_size=4} and uniform{shape=(2,)}), "
                    "whose rows are not aligned; select all its rows with one random node");
  model.observed("u", Normal(0.0, 1.0), (views[1] - 3.0) / 2.0, TotalSize::unscaled());  // the explicit opt-out
  // A reshape that changes the leading axis (4 x 3 to 12) keeps the scale of the draw's rows: N / 4, not N / 12.
  model.observed("r", Normal(0.0, 1.0), reshape(views[0], {12}), TotalSize(n));
  Function f = compile({}, {model.logp(), views[0], views[1]}, {.seed = 8});
  for (int call = 0; call < 10; ++call) {
    const auto& r = f();
    double unscaled = 0, reshaped = 0;
    for (std::int64_t k = 0; k < 4; ++k) unscaled += normal_lpdf((r[2].flat<double>(k) - 3) / 2, 0, 1);
    for (std::int64_t k = 0; k < 12; ++k) reshaped += normal_lpdf(r[1].flat<double>(k), 0, 1);
    CHECK(r[0].item() == Approx(unscaled + static_cast<double>(n) / 4 * reshaped).epsilon(1e-13));
  }
}

TEST_CASE("total_size: from_data follows set_value, an explicit size that went stale is an error at the call", "[model][total_size][from_data]") {
  const std::int64_t n = 100;
  const double unit = -half_log_two_pi;  // log N(0 | 0, 1)
  Variable ys = shared(Array::full<double>(Shape{n}, 0.0), "y");
  const auto views = minibatch(10, {ys});
  Model automatic, explicit_size, population;
  automatic.observed("y", Normal(0.0, 1.0), views[0], TotalSize::from_data());
  explicit_size.observed("y", Normal(0.0, 1.0), views[0], TotalSize(n));
  population.observed("y", Normal(0.0, 1.0), views[0], TotalSize::population(150));
  Function f = compile({}, {automatic.logp()}, {.seed = 1});
  Function g = compile({}, {explicit_size.logp()}, {.seed = 1});
  Function h = compile({}, {population.logp()}, {.seed = 1});
  CHECK(f()[0].item() == Approx(100 * unit).epsilon(1e-14));
  CHECK(g()[0].item() == Approx(100 * unit).epsilon(1e-14));
  CHECK(h()[0].item() == Approx(150 * unit).epsilon(1e-14));
  set_value(ys, Array::full<double>(Shape{2 * n}, 0.0));
  CHECK(f()[0].item() == Approx(200 * unit).epsilon(1e-14));  // the scale doubled with the data
  CHECK_THROWS_WITH(g(), "total_size: 'y' has total_size 100, but its source array 'y' has 200 rows; pass TotalSize::from_data() to follow the "
                         "data, or TotalSize::population(100) if the data are a sample of a larger population");
  CHECK_THROWS_AS(g(), std::invalid_argument);
  CHECK_THROWS_WITH(h(), "total_size: 'y' has the population size 150, but its source array 'y' has 200 rows, more than the population");
  set_value(ys, Array::full<double>(Shape{n}, 0.0));
  CHECK(g()[0].item() == Approx(100 * unit).epsilon(1e-14));  // agreeing again
  // A hand-built random slice is checked the same way; a fixed slice is not a batch (any size).
  const auto [a, b] = random_bounds(n);
  Model hand, fixed;
  hand.observed("s", Normal(0.0, 1.0), slice(ys, a, b + constant(Array::scalar(std::int64_t{1}))), TotalSize(n + 1));
  fixed.observed("t", Normal(0.0, 1.0), slice(ys, 0, 10), TotalSize(1000));
  Function k = compile({}, {hand.logp()}, {.seed = 1});
  CHECK_THROWS_WITH(k(), "total_size: 's' has total_size 101, but its source array 'y' has 100 rows; pass TotalSize::from_data() to follow the "
                         "data, or TotalSize::population(101) if the data are a sample of a larger population");
  CHECK(compile({}, {fixed.logp()})()[0].item() == Approx(1000 * unit).epsilon(1e-14));
  Model unbatched;
  CHECK_THROWS_WITH(unbatched.observed("z", Normal(0.0, 1.0), ys, TotalSize::from_data()),
                    "Model::observed: TotalSize::from_data() for 'z' needs data that depend on a minibatch view or a random slice of an array, "
                    "whose length it reads");
}

}  // namespace model_batch_selection_test
