// Main example: Bayesian linear regression on 1,000,000 generated rows (16 features), fitted by
// minibatch MAP with Adam. X and y are minibatched together by one call, so their batches hold
// the same rows; the observed term is rescaled by total_size / batch_size on every step.
//
//   linear_regression [--small] [--out DIR]
//
// --small uses 20,000 rows (the test suite runs it that way); --out DIR writes the loss history
// as DIR/linear_regression_loss.csv and, when gnuplot is installed, DIR/linear_regression_loss.png.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "symbatch/distributions/continuous.hpp"
#include "symbatch/inference/map.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"

using namespace symbatch;

namespace {

struct Arguments {
  bool small = false;
  std::string out = ".";
};

Arguments parse(int argc, char** argv) {
  Arguments arguments;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--small") == 0) arguments.small = true;
    else if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc) arguments.out = argv[++i];
    else {
      std::cerr << "usage: linear_regression [--small] [--out DIR]\n";
      std::exit(2);
    }
  }
  return arguments;
}

void write_loss(const std::vector<double>& loss, const std::string& directory) {
  const std::string csv = directory + "/linear_regression_loss.csv";
  std::ofstream file(csv);
  file << "iteration,loss\n";
  for (std::size_t i = 0; i < loss.size(); ++i) file << i << ',' << loss[i] << '\n';
  file.close();
  std::cout << "loss history: " << csv << "\n";
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    const std::string png = directory + "/linear_regression_loss.png";
    const std::string command = "gnuplot -e \"set terminal png size 800,500; set output '" + png +
                                "'; set datafile separator ','; set logscale y; set xlabel 'iteration'; set ylabel 'loss (-scaled logp)';"
                                " plot '" + csv + "' every ::1 using 1:2 with lines title 'minibatch MAP'\"";
    if (std::system(command.c_str()) == 0) std::cout << "loss plot: " << png << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Arguments arguments = parse(argc, argv);
  const std::int64_t rows = arguments.small ? 20'000 : 1'000'000, features = 16, batch_size = 256;
  const std::int64_t iterations = arguments.small ? 1500 : 4000;

  // Generated data: y = X beta_true + 0.5 noise, beta_true = linspace(-1, 1, 16).
  PhiloxStream stream(seed_rng_state(2026, 0));
  std::vector<double> beta_true(features);
  for (std::int64_t j = 0; j < features; ++j) beta_true[static_cast<std::size_t>(j)] = -1.0 + 2.0 * static_cast<double>(j) / (features - 1);
  Array x_data = Array::empty(DType::f64, Shape{rows, features});
  Array y_data = Array::empty(DType::f64, Shape{rows});
  for (std::int64_t i = 0; i < rows; ++i) {
    double mean = 0;
    for (std::int64_t j = 0; j < features; ++j) {
      const double value = stream.normal();
      x_data.data<double>()[i * features + j] = value;
      mean += value * beta_true[static_cast<std::size_t>(j)];
    }
    y_data.data<double>()[i] = mean + 0.5 * stream.normal();
  }

  // The model: one minibatch call for X and y, total_size on the observed term.
  Variable x = shared(x_data, "X");
  Variable y = shared(y_data, "y");
  const std::vector<Variable> batch = minibatch(batch_size, {x, y});
  Model model;
  Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {features}});
  Variable sigma = model.free("sigma", HalfNormal(1.0));
  model.observed("y", Normal(matmul(batch[0], beta), sigma), batch[1], TotalSize(rows));

  const auto start = std::chrono::steady_clock::now();
  const MapResult fit = find_map(model, {.iterations = iterations, .optimizer = Adam{.learning_rate = 0.01}, .seed = 1});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("minibatch MAP: %lld rows x %lld features, batch %lld, %lld iterations, %.1f us per iteration\n",
              static_cast<long long>(rows), static_cast<long long>(features), static_cast<long long>(batch_size),
              static_cast<long long>(iterations), 1e6 * seconds / static_cast<double>(iterations));
  std::printf("%-10s %10s %10s\n", "parameter", "estimate", "true");
  const Array& estimate = fit.point.at("beta");
  double worst = 0;
  for (std::int64_t j = 0; j < features; ++j) {
    std::printf("beta[%2lld]   %10.4f %10.4f\n", static_cast<long long>(j), estimate.flat<double>(j), beta_true[static_cast<std::size_t>(j)]);
    worst = std::max(worst, std::abs(estimate.flat<double>(j) - beta_true[static_cast<std::size_t>(j)]));
  }
  std::printf("sigma      %10.4f %10.4f\n", fit.point.at("sigma").item(), 0.5);
  write_loss(fit.loss_history, arguments.out);
  // The example doubles as a smoke test: the estimate must be close to the truth.
  if (worst > 0.05 || std::abs(fit.point.at("sigma").item() - 0.5) > 0.05) {
    std::fprintf(stderr, "the fit is off: largest coefficient error %.3f\n", worst);
    return 1;
  }
}
