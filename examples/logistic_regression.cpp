// Bayesian logistic regression on 1,000,000 generated rows (16 features), fitted by mean-field
// ADVI on batches of 256 row indices drawn with replacement (PyMC's scheme): X and y are
// gathered by the same indices, and the Bernoulli-logit term is scaled by N / 256. It prints the
// full-data Laplace approximation beside the fit and fails unless every fitted mean is within 0.5
// posterior sd of its mean.
//
//   logistic_regression [--small] [--out DIR]
//
// --small uses 20,000 rows (the test suite runs it that way); --out DIR writes the loss history.
#include <chrono>
#include <cmath>
#include <cstdio>

#include "reference.hpp"
#include "support.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/distributions/discrete.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"

using namespace symbatch;

int main(int argc, char** argv) {
  const example::Arguments arguments = example::parse("logistic_regression", argc, argv);
  const std::int64_t rows = arguments.small ? 20'000 : 1'000'000, features = 16, batch_size = 256;

  // y = 1[X beta_true + logistic noise > 0], beta_true = linspace(-1, 1, 16).
  const std::vector<double> beta_true = example::true_coefficients(features);
  auto [x_data, y_data] = example::regression_data(rows, beta_true, 7, [](double linear, PhiloxStream& stream) {
    const double u = stream.uniform();
    return linear + std::log(u / (1 - u)) > 0 ? 1.0 : 0.0;
  });

  const std::vector<Variable> batch =
      minibatch(batch_size, {shared(x_data, "X"), shared(y_data, "y")}, {.scheme = MinibatchScheme::with_replacement});
  Model model;
  const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {features}});
  model.observed("y", BernoulliLogit(matmul(batch[0], beta)), batch[1], TotalSize(rows));

  const auto start = std::chrono::steady_clock::now();
  const FitResult result = fit(model, {.seed = 1});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("mean-field ADVI: %lld rows x %lld features, %lld indices per batch (with replacement), %lld iterations, %.1f us per iteration\n",
              static_cast<long long>(rows), static_cast<long long>(features), static_cast<long long>(batch_size),
              static_cast<long long>(result.loss_history.size()), 1e6 * seconds / static_cast<double>(result.loss_history.size()));
  // The reference: the full-data Laplace approximation (Newton's method to the mode).
  const example::Posterior laplace = example::logistic_regression_laplace(x_data, y_data, 1.0);
  const auto moments = result.approximation.moments();
  example::print_comparison_header();
  const double worst = example::compare("beta", moments.at("beta").mean, moments.at("beta").sd, laplace, 0);
  std::printf("largest error: %.2f posterior sd\n", worst);
  example::write_loss("logistic_regression", result.loss_history, arguments.out);
  if (worst > 0.5) {
    std::fprintf(stderr, "the fit is off: a mean is %.2f posterior sd from the full-data Laplace mean\n", worst);
    return 1;
  }
}
