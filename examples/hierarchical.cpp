// A varying-intercept model: y_i ~ Normal(a[g_i] + x_i . beta, 0.3) with intercepts
// a_k ~ Normal(mu_a, 0.5) for 100 groups; the two scales are known, so the posterior of
// (mu_a, a, beta) is Gaussian and the example prints it, computed in closed form from the full
// data, beside the fit, and fails unless every fitted mean is within 0.5 posterior sd of it. The group index array g is minibatched together
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

#include "reference.hpp"
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
  const Variable a = model.free("a", Normal(mu_a, 0.5), {.shape = {groups}});
  const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {features}});
  model.observed("y", Normal(take(a, batch[1]) + matmul(batch[0], beta), 0.3), batch[2], TotalSize(rows));

  const auto start = std::chrono::steady_clock::now();
  const FitResult result = fit(model, {.seed = 1});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("mean-field ADVI: %lld rows, %lld groups, batches of %lld, %lld iterations, %.1f us per iteration\n",
              static_cast<long long>(rows), static_cast<long long>(groups), static_cast<long long>(batch_size),
              static_cast<long long>(result.loss_history.size()), 1e6 * seconds / static_cast<double>(result.loss_history.size()));
  const example::Posterior exact = example::varying_intercepts_posterior(x_data, group, y_data, groups, 0.3, 0.5, 5.0, 1.0);
  const auto moments = result.approximation.moments();
  example::print_comparison_header();
  double worst = example::compare("mu_a", moments.at("mu_a").mean, moments.at("mu_a").sd, exact, 0);
  worst = std::max(worst, example::compare("a", moments.at("a").mean, moments.at("a").sd, exact, 1, 5));
  std::printf("...\n");
  worst = std::max(worst, example::compare("beta", moments.at("beta").mean, moments.at("beta").sd, exact, 1 + groups));
  std::printf("largest error over all %lld parameters: %.2f posterior sd\n", static_cast<long long>(exact.mean.size()), worst);
  example::write_loss("hierarchical", result.loss_history, arguments.out);
  if (worst > 0.5) {
    std::fprintf(stderr, "the fit is off: a mean is %.2f posterior sd from the exact posterior mean\n", worst);
    return 1;
  }
}
