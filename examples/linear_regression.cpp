// Main example: Bayesian linear regression on 1,000,000 generated rows (16 features), fitted by
// mean-field ADVI on circular-slice minibatches of 256 rows. X and y are minibatched together
// by one call, so their batches hold the same rows; the observed term is rescaled by
// total_size / batch_size on every step.
//
//   linear_regression [--small] [--out DIR]
//
// --small uses 20,000 rows (the test suite runs it that way); --out DIR writes the loss history
// as DIR/linear_regression_loss.csv and, when gnuplot is installed, DIR/linear_regression_loss.png.
#include <chrono>
#include <cstdio>

#include "support.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"

using namespace symbatch;

int main(int argc, char** argv) {
  const example::Arguments arguments = example::parse("linear_regression", argc, argv);
  const std::int64_t rows = arguments.small ? 20'000 : 1'000'000, features = 16, batch_size = 256;
  // Adam's constant step leaves the means jittering at about its size: the full run takes more,
  // smaller steps (0.3 s in all), the test suite's small run fewer, larger ones.
  const std::int64_t iterations = arguments.small ? 6000 : 30000;
  const double learning_rate = arguments.small ? 0.01 : 0.003;

  // Generated data: y = X beta_true + 0.5 noise, beta_true = linspace(-1, 1, 16).
  const std::vector<double> beta_true = example::true_coefficients(features);
  auto [x_data, y_data] = example::regression_data(rows, beta_true, 2026, [](double mean, PhiloxStream& stream) { return mean + 0.5 * stream.normal(); });

  // The model: one minibatch call for X and y, total_size on the observed term.
  const std::vector<Variable> batch = minibatch(batch_size, {shared(x_data, "X"), shared(y_data, "y")});
  Model model;
  const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {features}});
  const Variable sigma = model.free("sigma", HalfNormal(1.0));
  model.observed("y", Normal(matmul(batch[0], beta), sigma), batch[1], TotalSize(rows));

  const auto start = std::chrono::steady_clock::now();
  const FitResult result = fit(model, {.max_iterations = iterations, .optimizer = Adam{.learning_rate = learning_rate}, .seed = 1});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("mean-field ADVI: %lld rows x %lld features, circular-slice batches of %lld, %lld iterations, %.1f us per iteration\n",
              static_cast<long long>(rows), static_cast<long long>(features), static_cast<long long>(batch_size),
              static_cast<long long>(iterations), 1e6 * seconds / static_cast<double>(iterations));
  const auto moments = result.approximation.moments();
  std::printf("%-9s %10s %10s %10s\n", "", "mean", "sd", "true");
  const double worst = example::print_estimates("beta", moments.at("beta").mean, moments.at("beta").sd, beta_true);
  const double sigma_mean = moments.at("sigma").mean.item();
  std::printf("sigma    %10.4f %10.4f %10.4f\n", sigma_mean, moments.at("sigma").sd.item(), 0.5);
  example::write_loss("linear_regression", result.loss_history, arguments.out);
  // The example doubles as a smoke test: the posterior means must be close to the truth.
  if (worst > 0.05 || std::abs(sigma_mean - 0.5) > 0.05) {
    std::fprintf(stderr, "the fit is off: largest coefficient error %.3f, sigma %.3f\n", worst, sigma_mean);
    return 1;
  }
}
