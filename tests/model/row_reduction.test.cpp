#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <numbers>

#include "support/gradcheck.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace model_row_reduction_test {

using namespace symbatch;

namespace {

constexpr std::int64_t rows = 203, columns = 3;

/// Deterministic data: X[i, j] = sin(0.7 i + 1.3 j), y[i] = cos(0.11 i^2).
Array design() {
  Array x = Array::empty(DType::f64, Shape{rows, columns});
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < columns; ++j) x.data<double>()[i * columns + j] = std::sin(0.7 * static_cast<double>(i) + 1.3 * static_cast<double>(j));
  return x;
}
Array response() {
  Array y = Array::empty(DType::f64, Shape{rows});
  for (std::int64_t i = 0; i < rows; ++i) y.data<double>()[i] = std::cos(0.11 * static_cast<double>(i * i));
  return y;
}

/// A linear regression y ~ Normal(X w + c, 0.5) over a minibatch of `batch` rows.
struct Regression {
  Variable x = shared(design(), "X"), y = shared(response(), "y");
  std::vector<Variable> views;
  Model model;
  Regression(std::int64_t batch, MinibatchScheme scheme) {
    views = minibatch(batch, {x, y}, {.scheme = scheme});
    const Variable w = model.free("w", Normal(0.0, 2.0), {.shape = {columns}});
    const Variable c = model.free("c", Normal(0.0, 2.0));
    model.observed("obs", Normal(matmul(views[0], w) + c, 0.5), views[1], TotalSize(rows));
  }
};

/// The log-probability the model defines, written out: the priors, and the observed rows
/// `batch` scaled by N / len(batch).
double reference_logp(const std::vector<double>& w, double c, const std::vector<std::int64_t>& batch) {
  const auto normal = [](double v, double mu, double sd) { return -0.5 * std::log(2 * std::numbers::pi) - std::log(sd) - 0.5 * (v - mu) * (v - mu) / (sd * sd); };
  double total = normal(c, 0, 2);
  for (double v : w) total += normal(v, 0, 2);
  const Array x = design(), y = response();
  double observed = 0;
  for (std::int64_t i : batch) {
    double mean = c;
    for (std::int64_t j = 0; j < columns; ++j) mean += x.data<double>()[i * columns + j] * w[static_cast<std::size_t>(j)];
    observed += normal(y.data<double>()[i], mean, 0.5);
  }
  return total + (batch.empty() ? 0.0 : static_cast<double>(rows) / static_cast<double>(batch.size()) * observed);
}

const std::vector<double> w_point{0.3, -0.7, 1.1};
const double c_point = 0.25;

std::vector<Array> point() { return {Array::from(w_point), Array::scalar(c_point)}; }

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST_CASE("row reduction: the chunked log-probability equals the written-out one under every scheme", "[model][row_reduction]") {
  for (const MinibatchScheme scheme : {MinibatchScheme::circular_slice, MinibatchScheme::with_replacement, MinibatchScheme::without_replacement,
                                       MinibatchScheme::epoch_reshuffle}) {
    for (const std::int64_t chunk : {1, 7, 50, 4096}) {
      Regression regression(50, scheme);
      regression.model.set_row_reduction({.chunk_rows = chunk, .threads = 2});
      const Variable logp = regression.model.logp();
      const std::vector<Variable> values = regression.model.value_variables();
      Function f = compile(values, {logp, minibatch_indices(regression.views[1])}, {.seed = 11});
      for (int call = 0; call < 8; ++call) {  // the epoch scheme's fifth batch is the short one (203 = 4 x 50 + 3)
        const auto& out = f(point());
        CHECK(out[0].item() == Approx(reference_logp(w_point, c_point, out[1].to_vector<std::int64_t>())).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("row reduction: the gradient matches finite differences and the plain graph's", "[model][row_reduction]") {
  Regression plain(37, MinibatchScheme::without_replacement), chunked(37, MinibatchScheme::without_replacement);
  chunked.model.set_row_reduction({.chunk_rows = 5, .threads = 3});
  const std::vector<Variable> values = chunked.model.value_variables();
  const Variable logp = chunked.model.logp();
  std::vector<Variable> outputs{logp};
  for (const Variable& g : grad(logp, values)) outputs.push_back(g);
  Function f = compile(values, outputs, {.seed = 4, .advance_rngs = false});
  const std::vector<Variable> plain_values = plain.model.value_variables();
  const Variable plain_logp = plain.model.logp();
  std::vector<Variable> plain_outputs{plain_logp};
  for (const Variable& g : grad(plain_logp, plain_values)) plain_outputs.push_back(g);
  Function g = compile(plain_values, plain_outputs, {.seed = 4, .advance_rngs = false});
  const auto& out = f(point());
  const auto& plain_out = g(point());
  CHECK(out[0].item() == Approx(plain_out[0].item()).epsilon(1e-13));
  for (int j = 0; j < 3; ++j) CHECK(out[1].flat<double>(j) == Approx(plain_out[1].flat<double>(j)).epsilon(1e-12));
  CHECK(out[2].item() == Approx(plain_out[2].item()).epsilon(1e-12));
  // central differences of the same batch (the draw is held: advance_rngs = false)
  const double h = 1e-6;
  for (int j = 0; j < 4; ++j) {
    std::vector<double> w = w_point;
    double c = c_point;
    auto at = [&](double delta) {
      std::vector<double> shifted = w;
      double shifted_c = c;
      if (j < 3) shifted[static_cast<std::size_t>(j)] += delta;
      else shifted_c += delta;
      return f({Array::from(shifted), Array::scalar(shifted_c)})[0].item();
    };
    const double numeric = (at(h) - at(-h)) / (2 * h);
    const double analytic = j < 3 ? f(point())[1].flat<double>(j) : f(point())[2].item();
    CHECK(analytic == Approx(numeric).epsilon(1e-6));
  }
}

TEST_CASE("row reduction: results are bit-identical for any thread count", "[model][row_reduction][threads]") {
  std::vector<double> first;
  for (const int threads : {1, 2, 3, 8}) {
    Regression regression(150, MinibatchScheme::with_replacement);
    regression.model.set_row_reduction({.chunk_rows = 16, .threads = threads});
    const Variable logp = regression.model.logp();
    const std::vector<Variable> values = regression.model.value_variables();
    std::vector<Variable> outputs{logp};
    for (const Variable& g : grad(logp, values)) outputs.push_back(g);
    Function f = compile(values, outputs, {.seed = 9});
    std::vector<double> results;
    for (int call = 0; call < 5; ++call) {
      const auto& out = f(point());
      results.push_back(out[0].item());
      for (int j = 0; j < 3; ++j) results.push_back(out[1].flat<double>(j));
      results.push_back(out[2].item());
    }
    if (first.empty()) first = results;
    for (std::size_t k = 0; k < results.size(); ++k) CHECK(same_bits(results[k], first[k]));
  }
}

TEST_CASE("row reduction: the full-data log-probability is evaluated in chunks", "[model][row_reduction]") {
  Regression regression(20, MinibatchScheme::circular_slice);
  regression.model.set_row_reduction({.chunk_rows = 64});
  Function f = compile(regression.model.value_variables(), {regression.model.full_data_logp()});
  std::vector<std::int64_t> all(rows);
  for (std::int64_t i = 0; i < rows; ++i) all[static_cast<std::size_t>(i)] = i;
  CHECK(f(point())[0].item() == Approx(reference_logp(w_point, c_point, all)).epsilon(1e-12));
}

TEST_CASE("row reduction: without one, the full-data log-probability is chunked too, or one piece when it cannot be", "[model][row_reduction]") {
  std::vector<std::int64_t> all(rows);
  for (std::int64_t i = 0; i < rows; ++i) all[static_cast<std::size_t>(i)] = i;
  Regression regression(20, MinibatchScheme::with_replacement);
  const Variable full = regression.model.full_data_logp();
  bool chunked = false;
  for (const Variable& variable : ancestors({full}))
    chunked = chunked || (variable.owner() && op_is<detail::ChunkedObservedSum>(variable.owner()->op()));
  CHECK(chunked);
  Function f = compile(regression.model.value_variables(), {full});
  CHECK(f(point())[0].item() == Approx(reference_logp(w_point, c_point, all)).epsilon(1e-12));
  // a potential that reads the batch cannot be split: the full data are evaluated in one piece
  regression.model.potential("p", 0.0 * sum(regression.views[1]));
  Function g = compile(regression.model.value_variables(), {regression.model.full_data_logp()});
  CHECK(g(point())[0].item() == Approx(reference_logp(w_point, c_point, all)).epsilon(1e-12));
}

TEST_CASE("row reduction: pointwise_loglik is evaluated in chunks, row by row in the data's order", "[model][row_reduction][pointwise]") {
  // Reference: the Normal log-density of every data row, written out.
  const Array x = design(), y = response();
  std::vector<double> expected(rows);
  for (std::int64_t i = 0; i < rows; ++i) {
    double mean = c_point;
    for (std::int64_t j = 0; j < columns; ++j) mean += x.data<double>()[i * columns + j] * w_point[static_cast<std::size_t>(j)];
    const double z = (y.data<double>()[i] - mean) / 0.5;
    expected[static_cast<std::size_t>(i)] = -0.5 * std::log(2 * std::numbers::pi) - std::log(0.5) - 0.5 * z * z;
  }
  const auto chunked = [](const Variable& terms) {
    for (const Variable& variable : ancestors({terms}))
      if (variable.owner() && op_is<detail::ChunkedPointwise>(variable.owner()->op())) return true;
    return false;
  };
  for (const int threads : {0, 1, 2}) {  // 0: no row reduction (chunks of 1024 rows: one chunk here)
    Regression regression(20, MinibatchScheme::with_replacement);
    if (threads > 0) regression.model.set_row_reduction({.chunk_rows = 64, .threads = threads});  // 3 chunks and a tail of 11 rows
    const Variable terms = regression.model.pointwise_loglik("obs");
    CHECK(chunked(terms));
    Function f = compile(regression.model.value_variables(), {terms});
    const Array& result = f(point())[0];
    REQUIRE(result.shape() == Shape{rows});
    for (std::int64_t i = 0; i < rows; ++i) CHECK(result.flat<double>(i) == Approx(expected[static_cast<std::size_t>(i)]).epsilon(1e-13));
    CHECK_THROWS_WITH(grad(sum(terms), regression.model.value_variables()),
                      Catch::Contains("the pointwise terms of 'obs' are evaluated over the whole data in chunks of rows, without a gradient"));
  }
  // shuffle_once: still the data's own row order
  Variable xs = shared(design(), "X"), ys = shared(response(), "y");
  const std::vector<Variable> views = minibatch(20, {xs, ys}, {.shuffle_once = true});
  Model model;
  const Variable w = model.free("w", Normal(0.0, 2.0), {.shape = {columns}});
  const Variable c = model.free("c", Normal(0.0, 2.0));
  model.observed("obs", Normal(matmul(views[0], w) + c, 0.5), views[1], TotalSize(rows));
  model.set_row_reduction({.chunk_rows = 50});
  Function f = compile(model.value_variables(), {model.pointwise_loglik("obs")});
  const Array& result = f(point())[0];
  for (std::int64_t i = 0; i < rows; ++i) CHECK(result.flat<double>(i) == Approx(expected[static_cast<std::size_t>(i)]).epsilon(1e-13));
}

TEST_CASE("row reduction: pointwise terms that mix rows are evaluated in one piece", "[model][row_reduction][pointwise]") {
  Variable y = shared(response(), "y");
  const std::vector<Variable> views = minibatch(10, {y});
  Model model;
  const Variable mu = model.free("mu", Normal(0.0, 1.0));
  model.observed("centred", Normal(mu, 1.0), views[0] - mean(views[0]), TotalSize(rows));
  Function f = compile(model.value_variables(), {model.pointwise_loglik("centred")});
  const Array values = response();
  double average = 0;
  for (std::int64_t i = 0; i < rows; ++i) average += values.flat<double>(i) / rows;
  const Array& result = f({Array::scalar(0.2)})[0];
  REQUIRE(result.shape() == Shape{rows});
  for (std::int64_t i : {std::int64_t{0}, std::int64_t{101}, rows - 1}) {
    const double z = values.flat<double>(i) - average - 0.2;
    CHECK(result.flat<double>(i) == Approx(-0.5 * std::log(2 * std::numbers::pi) - 0.5 * z * z).epsilon(1e-13));
  }
}

TEST_CASE("row reduction: fit gives the same bits with one thread or two", "[model][row_reduction][threads]") {
  std::vector<double> first;
  for (const int threads : {1, 2}) {
    Regression regression(64, MinibatchScheme::circular_slice);
    regression.model.set_row_reduction({.chunk_rows = 16, .threads = threads});
    const FitResult result = fit(regression.model, {.max_iterations = 300, .seed = 5, .progress = Progress::none});
    const Eigen::VectorXd& mean = result.approximation.unconstrained_mean();
    const std::vector<double> means(mean.data(), mean.data() + mean.size());
    if (first.empty()) first = means;
    for (std::size_t k = 0; k < means.size(); ++k) CHECK(same_bits(means[k], first[k]));
  }
}

TEST_CASE("row reduction: terms that mix rows and bad options are refused", "[model][row_reduction][errors]") {
  Variable x = shared(design(), "X"), y = shared(response(), "y");
  const std::vector<Variable> views = minibatch(10, {x, y});
  {
    Model model;
    const Variable mu = model.free("mu", Normal(0.0, 1.0));
    model.observed("m", Normal(mu, 1.0), mean(views[1]), TotalSize::unscaled());
    model.set_row_reduction({});
    CHECK_THROWS_WITH(model.logp(), "Model::logp: the observed term 'm' reads the batch's rows through mean, which mixes rows; a row reduction "
                                    "splits only terms that are sums over rows (elementwise ops, matmul(rows, W), take(parameters, row "
                                    "indices), reductions over other axes)");
  }
  {
    Model model;
    const Variable mu = model.free("mu", Normal(0.0, 1.0));
    model.observed("obs", Normal(mu, 1.0), views[1], TotalSize(rows));
    model.potential("p", -sum(views[1]) * mu);
    model.set_row_reduction({});
    CHECK_THROWS_WITH(model.logp(), "Model::logp: the potential 'p' reads the minibatch view 'y_batch'; with a row reduction only observed "
                                    "terms (sums over rows) may read the batch");
  }
  Model model;
  CHECK_THROWS_WITH(model.set_row_reduction({.chunk_rows = 0}), "Model::set_row_reduction: chunk_rows is 0, but must be at least 1");
  CHECK_THROWS_WITH(model.set_row_reduction({.threads = 0}), "Model::set_row_reduction: threads is 0, but must be at least 1");
  CHECK_FALSE(model.row_reduction().has_value());  // a refused setting leaves the model as it was
}

}  // namespace model_row_reduction_test
