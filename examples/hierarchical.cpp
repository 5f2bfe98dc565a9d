// A varying-intercept model: y_i ~ Normal(a[g_i] + x_i . beta, sigma) with intercepts
// a_k ~ Normal(mu_a, sigma_a) for 100 groups. The group index array g is minibatched together
// with X and y (one minibatch call, so the three batches hold the same rows), and the intercept
// vector is gathered by the group-index view: take(a, g_batch), whose gradient scatters back
// into a.
//
//   hierarchical [--small] [--out DIR]
//
// --small uses 20,000 rows (the test suite runs it that way); --out DIR writes the loss history.
#include <chrono>
#include <cmath>
#include <cstdio>

#include "support.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"
#include "symbatch/ops/subtensor.hpp"

using namespace symbatch;

int main(int argc, char** argv) {
  const example::Arguments arguments = example::parse("hierarchical", argc, argv);
  const std::int64_t rows = arguments.small ? 20'000 : 1'000'000, features = 4, groups = 100, batch_size = 256;
  const std::int64_t iterations = arguments.small ? 4000 : 10000;

  // Intercepts a_k = 1 + 0.5 z_k; each row belongs to a uniformly drawn group.
  PhiloxStream stream(seed_rng_state(99, 0));
  std::vector<double> intercepts(groups);
  for (double& a : intercepts) a = 1.0 + 0.5 * stream.normal();
  std::vector<std::int64_t> group(static_cast<std::size_t>(rows));
  for (std::int64_t& g : group) g = static_cast<std::int64_t>(stream.below(static_cast<std::uint64_t>(groups)));
  const std::vector<double> beta_true = example::true_coefficients(features);
  std::int64_t row = 0;
  auto [x_data, y_data] = example::regression_data(rows, beta_true, 100, [&](double linear, PhiloxStream& noise) {
    return intercepts[static_cast<std::size_t>(group[static_cast<std::size_t>(row++)])] + linear + 0.3 * noise.normal();
  });

  // One minibatch call over X, the group index and y.
  const std::vector<Variable> batch = minibatch(batch_size, {shared(x_data, "X"), shared(Array::from(group), "group"), shared(y_data, "y")});
  Model model;
  const Variable mu_a = model.free("mu_a", Normal(0.0, 5.0));
  const Variable sigma_a = model.free("sigma_a", HalfNormal(2.0));
  const Variable a = model.free("a", Normal(mu_a, sigma_a), {.shape = {groups}});
  const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {features}});
  const Variable sigma = model.free("sigma", HalfNormal(1.0));
  model.observed("y", Normal(take(a, batch[1]) + matmul(batch[0], beta), sigma), batch[2], TotalSize(rows));

  const auto start = std::chrono::steady_clock::now();
  const FitResult result = fit(model, {.max_iterations = iterations, .optimizer = Adam{.learning_rate = 0.02}, .seed = 1});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("mean-field ADVI: %lld rows, %lld groups, batches of %lld, %lld iterations, %.1f us per iteration\n",
              static_cast<long long>(rows), static_cast<long long>(groups), static_cast<long long>(batch_size),
              static_cast<long long>(iterations), 1e6 * seconds / static_cast<double>(iterations));
  const auto moments = result.approximation.moments();
  std::printf("%-9s %10s %10s %10s\n", "", "mean", "sd", "true");
  const double worst_beta = example::print_estimates("beta", moments.at("beta").mean, moments.at("beta").sd, beta_true);
  const std::vector<double> first(intercepts.begin(), intercepts.begin() + 5);
  example::print_estimates("a", moments.at("a").mean, moments.at("a").sd, first);
  std::printf("...\nsigma    %10.4f %10.4f %10.4f\n", moments.at("sigma").mean.item(), moments.at("sigma").sd.item(), 0.3);
  // Intercepts: each group has rows / 100 rows, so its posterior sd is about 0.3 / sqrt(rows / 100).
  double worst_a = 0;
  for (std::int64_t k = 0; k < groups; ++k)
    worst_a = std::max(worst_a, std::abs(moments.at("a").mean.flat<double>(k) - intercepts[static_cast<std::size_t>(k)]));
  std::printf("largest intercept error over %lld groups: %.4f\n", static_cast<long long>(groups), worst_a);
  example::write_loss("hierarchical", result.loss_history, arguments.out);
  if (worst_beta > 0.05 || worst_a > 0.15 || std::abs(moments.at("sigma").mean.item() - 0.3) > 0.05) {
    std::fprintf(stderr, "the fit is off: largest coefficient error %.3f, largest intercept error %.3f\n", worst_beta, worst_a);
    return 1;
  }
}
