// Mean-field ADVI: correctness gates against closed-form posteriors (fixed seeds, so each run is
// deterministic; the bounds leave several Monte Carlo standard errors of room), and the
// behaviour of fit (NaN report, callbacks, progress output, the shape of its graph).
#include <catch2/catch.hpp>

#include <Eigen/Dense>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "symbatch/distributions/continuous.hpp"
#include "symbatch/graph/walk.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/ops/blas.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace inference_advi_test {

using namespace symbatch;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

Array normal_data(std::int64_t n, double mean, double sd, std::uint64_t seed) {
  PhiloxStream stream(seed_rng_state(seed, 0));
  Array data = Array::empty(DType::f64, Shape{n});
  for (std::int64_t i = 0; i < n; ++i) data.data<double>()[i] = mean + sd * stream.normal();
  return data;
}

/// Linear-regression data with known noise sd: X ~ N(0, 1) (n x d), y = X beta + sd * noise.
struct Regression {
  Eigen::MatrixXd x;
  Eigen::VectorXd y;
};

Regression regression_data(std::int64_t n, const Eigen::VectorXd& beta, double noise, std::uint64_t seed) {
  PhiloxStream stream(seed_rng_state(seed, 0));
  Regression data{Eigen::MatrixXd(n, beta.size()), Eigen::VectorXd(n)};
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < beta.size(); ++j) data.x(i, j) = stream.normal();
  for (std::int64_t i = 0; i < n; ++i) data.y[i] = data.x.row(i).dot(beta) + noise * stream.normal();
  return data;
}

Array to_array(const Eigen::MatrixXd& m) {
  Array a = Array::empty(DType::f64, Shape{m.rows(), m.cols()});
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) a.data<double>()[i * m.cols() + j] = m(i, j);
  return a;
}

Array to_array(const Eigen::VectorXd& v) { return Array::from(std::vector<double>(v.data(), v.data() + v.size())); }

std::string read_all(std::FILE* file) {
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;) text += static_cast<char>(c);
  return text;
}

}  // namespace

TEST_CASE("advi: Normal mean model on minibatches of 128 matches the analytic posterior", "[advi][gate]") {
  // mu ~ N(0, 10^2), y_i ~ N(mu, 1), n = 1000: posterior N(sum(y) / (n + 1/100), 1 / (n + 1/100)).
  const std::int64_t n = 1000;
  const Array data = normal_data(n, 3.3, 1.0, 11);
  double total = 0;
  for (std::int64_t i = 0; i < n; ++i) total += data.flat<double>(i);
  const double precision = static_cast<double>(n) + 0.01;
  const double post_mean = total / precision, post_sd = 1 / std::sqrt(precision);

  Model model;
  const Variable mu = model.free("mu", Normal(0.0, 10.0));
  const Variable y = minibatch(128, {shared(data, "y")})[0];
  model.observed("y", Normal(mu, 1.0), y, TotalSize(n));
  const FitResult result = fit(model, {.max_iterations = 10000, .optimizer = Adam{.learning_rate = 0.01}, .seed = 3, .progress = Progress::none});
  const auto moments = result.approximation.moments();
  CHECK(moments.at("mu").mean.item() == Approx(post_mean).epsilon(0.05));
  CHECK(moments.at("mu").sd.item() == Approx(post_sd).epsilon(0.2));
}

TEST_CASE("advi: Bayesian linear regression with known noise recovers the conjugate posterior means", "[advi][gate]") {
  // beta ~ N(0, I), y ~ N(X beta, 1): posterior covariance (X'X + I)^-1, mean (X'X + I)^-1 X'y.
  Eigen::VectorXd beta_true(3);
  beta_true << 0.5, -1.0, 2.0;
  const Regression data = regression_data(100, beta_true, 1.0, 5);
  const Eigen::MatrixXd precision = data.x.transpose() * data.x + Eigen::MatrixXd::Identity(3, 3);
  const Eigen::MatrixXd covariance = precision.inverse();
  const Eigen::VectorXd post_mean = covariance * data.x.transpose() * data.y;

  Model model;
  const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {3}});
  model.observed("y", Normal(matmul(constant(to_array(data.x)), beta), 1.0), constant(to_array(data.y)));
  const FitResult result = fit(model, {.max_iterations = 6000, .n_mc = 10, .optimizer = Sgd{.learning_rate = 2e-4}, .seed = 1, .progress = Progress::none});
  const Array mean = result.approximation.mean().at("beta");
  for (int j = 0; j < 3; ++j) {
    INFO("beta[" << j << "]");
    CHECK(std::abs(mean.flat<double>(j) - post_mean[j]) < 0.1 * std::sqrt(covariance(j, j)));
  }
  // Mean-field optimum of a Gaussian target: variances are the inverse diagonal of the precision.
  const Array sd = result.approximation.sd().at("beta");
  for (int j = 0; j < 3; ++j) CHECK(sd.flat<double>(j) == Approx(1 / std::sqrt(precision(j, j))).epsilon(0.2));
}

TEST_CASE("advi: batch size 1 over repeat(eye(10), 10000) recovers the weights (pymc#7408)", "[advi][gate]") {
  const std::int64_t groups = 10, repeats = 10000, n = groups * repeats;
  std::vector<double> x(static_cast<std::size_t>(n * groups), 0.0), y(static_cast<std::size_t>(n));
  std::vector<double> weights;
  for (std::int64_t j = 0; j < groups; ++j) weights.push_back(j % 2 == 0 ? -5.0 : 5.0);
  PhiloxStream stream(seed_rng_state(7408, 0));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t j = i / repeats;  // np.repeat(np.eye(10), 10000, axis=0)
    x[static_cast<std::size_t>(i * groups + j)] = 1.0;
    y[static_cast<std::size_t>(i)] = weights[static_cast<std::size_t>(j)] + 0.01 * stream.normal();
  }
  Model model;
  const Variable w = model.free("w", Normal(0.0, 10.0), {.shape = {groups}});
  const auto batch = minibatch(1, {shared(Array::from(x, Shape{n, groups}), "X"), shared(Array::from(y), "y")});
  model.observed("y", Normal(matmul(batch[0], w), 0.01), batch[1], TotalSize(n));
  const FitResult result = fit(model, {.max_iterations = 10000, .optimizer = Adam{.learning_rate = 0.01}, .seed = 2, .progress = Progress::none});
  const Array mean = result.approximation.mean().at("w");
  for (std::int64_t j = 0; j < groups; ++j) {
    INFO("w[" << j << "]");
    CHECK(mean.flat<double>(j) == Approx(weights[static_cast<std::size_t>(j)]).epsilon(0.1));
  }
}

TEST_CASE("advi: every Monte Carlo draw of a step reuses the one minibatch node", "[advi]") {
  Model model;
  const Variable mu = model.free("mu", Normal(0.0, 1.0));
  const Variable y = minibatch(4, {shared(Array::from({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}), "y")})[0];
  model.observed("y", Normal(mu, 1.0), y, TotalSize(6));
  const MeanFieldObjective objective = mean_field_objective(model, 5);
  int sources = 0, draws = 0;
  for (const Variable& variable : ancestors({objective.loss})) {
    if (!variable.owner() || variable.index() != 1) continue;
    if (is_minibatch_source(*variable.owner())) ++sources;
    else if (variable.owner()->op().is_random()) ++draws;
  }
  CHECK(sources == 1);
  CHECK(draws == 1);  // ADVI's own standard-normal draws, from an RNG of its own
}

TEST_CASE("advi: a NaN or infinite loss stops the fit naming the parameters that went NaN", "[advi][errors]") {
  SECTION("parameters diverge") {
    Model model;
    const Variable x = model.free("x", Normal(0.0, 1.0));
    model.potential("steep", -1e6 * square(square(x)));
    CHECK_THROWS_AS(fit(model, {.max_iterations = 100, .optimizer = Sgd{.learning_rate = 10}, .progress = Progress::none}), std::domain_error);
    CHECK_THROWS_WITH(fit(model, {.max_iterations = 100, .optimizer = Sgd{.learning_rate = 10}, .progress = Progress::none}),
                      StartsWith("fit: the loss is ") && Contains(" at iteration ") && Contains("parameters that went NaN or infinite: 'mean_field_") && Contains("' (x)"));
  }
  SECTION("the model is NaN where the parameters are finite") {
    Model model;
    const Variable x = model.free("x", Normal(0.0, 1.0));
    model.potential("bad", log(x - 1e9));
    CHECK_THROWS_WITH(fit(model, {.max_iterations = 10, .progress = Progress::none}),
                      "fit: the loss is NaN at iteration 0; every parameter is finite, so the model's log-probability is NaN there");
  }
}

TEST_CASE("advi: a failure names the free variables behind the flat parameters that went non-finite", "[advi][errors]") {
  Array factor = Array::zeros(DType::f64, Shape{4, 2});
  factor.data<double>()[7] = std::numeric_limits<double>::infinity();  // row 3: coordinate 3, variable c
  const Variable mu = shared(Array::from({1.0, 2.0, std::nan(""), 3.0}), "mean_field_mu");
  const Variable rho = shared(Array::from({0.0, 0.0, 0.0, 0.0}), "mean_field_rho");
  const Variable rows = shared(factor, "low_rank_factor");
  const detail::CoordinateBlocks blocks{{"a", 1}, {"b", 2}, {"c", 1}};
  CHECK(detail::nonfinite_names({mu, rho, rows}, blocks) == "'mean_field_mu' (b), 'low_rank_factor' (c)");
  CHECK(detail::nonfinite_names({mu, rho, rows}) == "'mean_field_mu', 'low_rank_factor'");
  const Variable other = shared(Array::from({std::nan(""), 0.0}), "scale");  // not over the 4 coordinates
  CHECK(detail::nonfinite_names({other}, blocks) == "'scale'");
}

TEST_CASE("advi: callbacks run every iteration and can stop the fit", "[advi]") {
  Model model;
  const Variable mu = model.free("mu", Normal(0.0, 1.0));
  model.observed("y", Normal(mu, 1.0), constant(Array::from({0.5, 1.5})));
  std::vector<std::int64_t> seen;
  const Callback record = [&seen](const FitState& state) {
    seen.push_back(state.iteration());
    CHECK(state.losses().size() == static_cast<std::size_t>(state.iteration() + 1));
    CHECK(state.parameters().size() == 2);  // mu's mean and rho
    return state.iteration() < 9;
  };
  const FitResult result = fit(model, {.max_iterations = 1000, .progress = Progress::none}, {record});
  CHECK(result.stopped_early);
  CHECK(result.loss_history.size() == 10);
  CHECK(seen.back() == 9);
}

TEST_CASE("advi: the convergence check stops once parameters move less than the tolerance", "[advi]") {
  Model model;
  const Variable mu = model.free("mu", Normal(0.0, 1.0));
  model.observed("y", Normal(mu, 1.0), constant(Array::from({0.5, 1.5, 1.0})));
  const FitResult converged = fit(model, {.max_iterations = 200000, .n_mc = 4, .optimizer = Sgd{.learning_rate = 1e-3}, .progress = Progress::none, .convergence = {.enabled = false}},
                                  {CheckParametersConvergence(500, 1e-2)});
  CHECK(converged.stopped_early);
  CHECK(converged.loss_history.size() < 200000);
  CHECK(converged.loss_history.size() % 500 == 0);
  // Posterior N(3/4, 1/4): the approximation is there when the parameters settle.
  CHECK(converged.approximation.mean().at("mu").item() == Approx(0.75).margin(0.05));
  CHECK_THROWS_WITH(CheckParametersConvergence(0), "CheckParametersConvergence: every is 0, but must be at least 1");
}

TEST_CASE("advi: progress is a summary line off a terminal, a redrawn line on one, or nothing", "[advi]") {
  Model model;
  const Variable mu = model.free("mu", Normal(0.0, 1.0));
  model.observed("y", Normal(mu, 1.0), constant(Array::from({0.5})));
  std::FILE* file = std::tmpfile();
  REQUIRE(file);
  fit(model, {.max_iterations = 50, .progress = Progress::automatic, .progress_stream = file});  // a file is not a terminal
  const std::string summary = read_all(file);
  CHECK_THAT(summary, StartsWith("fit: 50 iterations in ") && Contains("it/s), average loss ") && Contains("over the last 50\n"));
  CHECK(summary.find('\r') == std::string::npos);
  std::fclose(file);

  file = std::tmpfile();
  fit(model, {.max_iterations = 50, .progress = Progress::live, .progress_stream = file});
  const std::string live = read_all(file);
  CHECK_THAT(live, StartsWith("\r") && Contains("50/50 [100%]") && Contains("\nfit: 50 iterations in "));
  std::fclose(file);

  file = std::tmpfile();
  fit(model, {.max_iterations = 50, .progress = Progress::none, .progress_stream = file});
  CHECK(read_all(file).empty());
  std::fclose(file);
}

TEST_CASE("advi: constrained moments and samples of a transformed variable", "[advi]") {
  // A log-transformed variable: z ~ N(0.2, 0.3^2) gives a log-normal in the constrained space,
  // mean exp(0.2 + 0.045), sd sqrt(exp(0.09) - 1) exp(0.245).
  Model model;
  model.free("s", HalfNormal(1.0));
  model.free("b", Normal(0.0, 1.0), {.shape = {2}});
  const MeanField q(model.free_variables(), {{"s", Array::scalar(0.2), Array::scalar(0.3)},
                                              {"b", Array::from({1.0, -1.0}), Array::from({0.5, 2.0})}});
  const auto moments = q.moments(20000, 4);
  // 20,000 draws: the standard errors are 0.5% (mean) and 1% (sd); bounds at 4 of them.
  CHECK(moments.at("s").mean.item() == Approx(std::exp(0.245)).epsilon(0.02));
  CHECK(moments.at("s").sd.item() == Approx(std::sqrt(std::expm1(0.09)) * std::exp(0.245)).epsilon(0.04));
  CHECK(moments.at("b").mean.to_vector() == std::vector<double>{1.0, -1.0});  // untransformed: exact
  CHECK(moments.at("b").sd.to_vector() == std::vector<double>{0.5, 2.0});
  const auto samples = q.sample(7, 1);
  CHECK(samples.at("s").shape() == Shape{7});
  CHECK(samples.at("b").shape() == Shape{7, 2});
  for (std::int64_t d = 0; d < 7; ++d) CHECK(samples.at("s").flat<double>(d) > 0);
  CHECK_THROWS_WITH(q.sample(0), "MeanField::sample: draws is 0, but must be at least 1");
}

TEST_CASE("advi: bad arguments are named", "[advi][errors]") {
  Model empty;
  CHECK_THROWS_WITH(fit(empty, {.max_iterations = 10, .progress = Progress::none}), "fit: the model has no free variables to fit");
  Model model;
  model.free("mu", Normal(0.0, 1.0));
  CHECK_THROWS_WITH(fit(model, {.max_iterations = -1}), "fit: max_iterations is -1, but must be nonnegative");
  CHECK_THROWS_WITH(fit(model, {.max_iterations = 10, .n_mc = 0}), "fit: n_mc is 0, but must be at least 1");
  CHECK_THROWS_WITH(fit(model, {.max_iterations = 10, .initial_sd = -1}), "fit: initial_sd is -1, but must be positive");
  CHECK_THROWS_WITH(fit(model, {.max_iterations = 10, .optimizer = Adam{.learning_rate = 0}}), "adam: Learning rate is 0, but must be positive");
}

TEST_CASE("advi: a step that blows a scale up is reported as a failed step of fit", "[advi][errors]") {
  // The observed term's scale is exp(1000 s): a huge step makes it overflow to inf, and the
  // Normal's own check then throws. The report names fit, the iteration and the check's message.
  Model model;
  const Variable s = model.free("s", Normal(0.0, 1.0));
  model.observed("y", Normal(0.0, exp(s * 1e3)), constant(Array::from({0.5, -0.3})));
  CHECK_THROWS_WITH(fit(model, {.max_iterations = 100, .optimizer = Sgd{.learning_rate = 1e6}, .progress = Progress::none}),
                    StartsWith("fit: the step failed at iteration ") && Contains("(normal: Scale parameter is inf, but must be finite)"));
}

TEST_CASE("advi: moments need at least two draws for a standard deviation", "[advi][errors]") {
  Model model;
  model.free("s", HalfNormal(1.0));
  const MeanField q(model.free_variables(), {{"s", Array::from({0.0}).reshaped(Shape{}), Array::from({0.3}).reshaped(Shape{})}});
  CHECK_THROWS_WITH(q.moments(1), "MeanField::moments: draws is 1, but a standard deviation needs at least 2");
  CHECK(std::isfinite(q.moments(2).at("s").sd.item()));
}

}  // namespace inference_advi_test
