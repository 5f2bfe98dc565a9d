// The control variate of fit and find_map (control_variate.hpp) on a conjugate linear regression
// whose full-data log-probability and gradient are computed here in closed form with Eigen:
// exact at its anchor for every batch, unbiased away from it, with far less gradient noise than
// the plain minibatch estimate; options checked; models without minibatches left alone.
#include <catch2/catch.hpp>

#include <Eigen/Dense>
#include <cmath>
#include <numbers>

#include "regression_problem.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/inference/map.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace inference_control_variate_test {

using namespace symbatch;
using namespace training_regression;

namespace {
/// log p(theta | data) up to nothing: N(y | X theta, 1) rows and N(0, 1) priors.
double full_logp(const Problem& p, const Eigen::VectorXd& theta) {
  const double log_2pi = std::log(2 * std::numbers::pi);
  const auto n = static_cast<double>(p.x.rows()), d = static_cast<double>(p.x.cols());
  return -0.5 * (p.y - p.x * theta).squaredNorm() - 0.5 * theta.squaredNorm() - 0.5 * (n + d) * log_2pi;
}
Eigen::VectorXd full_gradient(const Problem& p, const Eigen::VectorXd& theta) { return p.x.transpose() * (p.y - p.x * theta) - theta; }

/// The control variate of `model` anchored at `anchor`, and a function of theta (a shared
/// variable) returning its value and gradient, and the plain minibatch value and gradient.
struct Estimates {
  std::shared_ptr<detail::ControlVariate> cv;
  Function f;
};
Estimates estimates(const Model& model, const Eigen::VectorXd& anchor, const Eigen::VectorXd& at) {
  const auto cv = detail::ControlVariate::for_model(model, {});
  REQUIRE(cv);
  cv->recentre("test", anchor, 0);
  const Variable theta = shared(Array::from(std::vector<double>(at.data(), at.data() + at.size())), "theta");
  const std::vector<std::pair<Variable, Variable>> point{{model.value_variables()[0], theta}};
  const Variable cv_logp = replace(cv->logp(), point), plain_logp = replace(model.logp(), point);
  return {cv, compile({}, {cv_logp, grad(cv_logp, theta), plain_logp, grad(plain_logp, theta)})};
}
}  // namespace

TEST_CASE("control variate: at its anchor the estimate is the full-data value and gradient for every batch", "[control_variate]") {
  const Problem problem = make_problem(2000, 4, 31);
  Model model;
  build(model, problem, 32, MinibatchScheme::with_replacement);
  const Eigen::Vector4d anchor(0.3, -0.2, 0.1, 0.5);
  Estimates e = estimates(model, anchor, anchor);
  const double expected = full_logp(problem, anchor);
  const Eigen::VectorXd expected_gradient = full_gradient(problem, anchor);
  for (int call = 0; call < 20; ++call) {
    const auto& out = e.f();
    CHECK(out[0].item() == Approx(expected).epsilon(1e-12));
    for (int j = 0; j < 4; ++j) CHECK(out[1].flat<double>(j) == Approx(expected_gradient[j]).epsilon(1e-10));
    CHECK(out[2].item() != Approx(expected).epsilon(1e-6));  // the plain estimate does vary with the batch
  }
  CHECK(e.cv->anchor() == Eigen::VectorXd(anchor));
}

TEST_CASE("control variate: away from its anchor the estimate is unbiased and its gradient noise is far smaller", "[control_variate]") {
  // 4,000 batches of 32 with replacement. Each mean is compared with the closed form at 4.5
  // standard errors (false-failure rate about 7e-6 per comparison, 5 comparisons). The variance
  // ratio: about |theta - a|^2 E|x|^2 = 0.0016 * 5 here, asserted below 0.05.
  const Problem problem = make_problem(2000, 4, 32);
  Model model;
  build(model, problem, 32, MinibatchScheme::with_replacement);
  const Eigen::Vector4d anchor(0.3, -0.2, 0.1, 0.5);
  const Eigen::Vector4d theta = anchor + Eigen::Vector4d(0.02, -0.02, 0.02, -0.02);
  Estimates e = estimates(model, anchor, theta);
  const int calls = 4000;
  Eigen::VectorXd value(calls);
  Eigen::MatrixXd cv_gradient(calls, 4), plain_gradient(calls, 4);
  for (int call = 0; call < calls; ++call) {
    const auto& out = e.f();
    value[call] = out[0].item();
    for (int j = 0; j < 4; ++j) {
      cv_gradient(call, j) = out[1].flat<double>(j);
      plain_gradient(call, j) = out[3].flat<double>(j);
    }
  }
  const auto standard_error = [&](const Eigen::VectorXd& v) { return std::sqrt((v.array() - v.mean()).square().sum() / (calls - 1) / calls); };
  CHECK(std::abs(value.mean() - full_logp(problem, theta)) < 4.5 * standard_error(value));
  const Eigen::VectorXd expected_gradient = full_gradient(problem, theta);
  for (int j = 0; j < 4; ++j) {
    INFO("coordinate " << j);
    const Eigen::VectorXd column = cv_gradient.col(j), plain = plain_gradient.col(j);
    CHECK(std::abs(column.mean() - expected_gradient[j]) < 4.5 * standard_error(column));
    const double ratio = (column.array() - column.mean()).square().sum() / (plain.array() - plain.mean()).square().sum();
    CHECK(ratio < 0.05);
  }
}

TEST_CASE("control variate: bad options are refused by name, and models without minibatches go without", "[control_variate]") {
  const Problem problem = make_problem(500, 2, 33);
  Model model;
  build(model, problem, 50, MinibatchScheme::circular_slice);
  CHECK_THROWS_WITH(fit(model, {.max_iterations = 10, .control_variate = {.refresh_every = -1}}),
                    "fit: control_variate.refresh_every is -1, but must be 0 (automatic) or positive");
  CHECK_THROWS_WITH(find_map(model, {.max_iterations = 10, .control_variate = {.refresh_every = -3}}),
                    "find_map: control_variate.refresh_every is -3, but must be 0 (automatic) or positive");
  // Passes: 500 steps of 50 of 500 rows, plus one full pass per re-centring, at steps 0, 100,
  // 200, 300 and 400 (stretches double from 100 up to N/B = 10 clamped up to 100).
  const FitResult with = fit(model, {.max_iterations = 500, .progress = Progress::none, .convergence = {.enabled = false}});
  CHECK(with.passes == Approx(50.0 + 5).epsilon(1e-12));
  const FitResult without = fit(model, {.max_iterations = 500, .progress = Progress::none, .convergence = {.enabled = false},
                                        .control_variate = {.enabled = false}});
  CHECK(without.passes == Approx(50.0).epsilon(1e-12));

  // A warm start from a run without the control variate centres it before its first step.
  const FitResult first = fit(model, {.max_iterations = 200, .progress = Progress::none, .convergence = {.enabled = false},
                                      .control_variate = {.enabled = false}});
  CHECK(first.state->anchor.size() == 0);
  AdviOptions continued{.max_iterations = 1, .progress = Progress::none, .convergence = {.enabled = false}};
  continued.warm_start = first.state;
  const FitResult second = fit(model, continued);
  CHECK(second.state->anchor.size() == 2);
  CHECK(second.passes == Approx(first.passes + 1 + 0.1).epsilon(1e-12));  // a full pass, then one step of 50 of 500 rows

  // Without minibatches there is nothing to reduce: the same run with the option on or off.
  Model whole;
  const Variable mu = whole.free("mu", Normal(0.0, 10.0));
  whole.observed("y", Normal(mu, 1.0), constant(Array::from(std::vector<double>{0.5, 1.5, 1.0})));
  CHECK(detail::ControlVariate::for_model(whole, {}) == nullptr);
  const FitResult on = fit(whole, {.max_iterations = 300, .progress = Progress::none});
  const FitResult off = fit(whole, {.max_iterations = 300, .progress = Progress::none, .control_variate = {.enabled = false}});
  CHECK(on.approximation.mean().at("mu").to_vector() == off.approximation.mean().at("mu").to_vector());
  CHECK(on.passes == off.passes);
}

}  // namespace inference_control_variate_test
