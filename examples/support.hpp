// What the examples share: their command line, generated regression data, the loss history
// as CSV (and a PNG when gnuplot is installed), and the table of estimates.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "symbatch/core/array.hpp"
#include "symbatch/random/philox.hpp"

namespace example {

/// `NAME [--small] [--out DIR]`: --small is the test suite's size; --out is where the loss
/// history goes.
struct Arguments {
  bool small = false;
  std::string out = ".";
};

inline Arguments parse(const char* name, int argc, char** argv) {
  Arguments arguments;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--small") == 0) arguments.small = true;
    else if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc) arguments.out = argv[++i];
    else {
      std::cerr << "usage: " << name << " [--small] [--out DIR]\n";
      std::exit(2);
    }
  }
  return arguments;
}

/// `linspace(-1, 1, features)`, the true coefficients of the regression examples.
inline std::vector<double> true_coefficients(std::int64_t features) {
  std::vector<double> beta(static_cast<std::size_t>(features));
  for (std::int64_t j = 0; j < features; ++j) beta[static_cast<std::size_t>(j)] = -1.0 + 2.0 * static_cast<double>(j) / static_cast<double>(features - 1);
  return beta;
}

/// Standard-normal features (rows x features) from a fixed Philox stream; `linear` receives
/// each row's `x . beta` and returns its response.
template <class Response>
std::pair<symbatch::Array, symbatch::Array> regression_data(std::int64_t rows, const std::vector<double>& beta, std::uint64_t seed,
                                                            Response response) {
  const auto features = static_cast<std::int64_t>(beta.size());
  symbatch::PhiloxStream stream(symbatch::seed_rng_state(seed, 0));
  symbatch::Array x = symbatch::Array::empty(symbatch::DType::f64, symbatch::Shape{rows, features});
  symbatch::Array y = symbatch::Array::empty(symbatch::DType::f64, symbatch::Shape{rows});
  double* px = x.data<double>();
  for (std::int64_t i = 0; i < rows; ++i) {
    double linear = 0;
    for (std::int64_t j = 0; j < features; ++j) {
      px[i * features + j] = stream.normal();
      linear += px[i * features + j] * beta[static_cast<std::size_t>(j)];
    }
    y.data<double>()[i] = response(linear, stream);
  }
  return {std::move(x), std::move(y)};
}

/// Writes `DIR/NAME_loss.csv` and, when gnuplot is installed, `DIR/NAME_loss.png`.
inline void write_loss(const std::string& name, const std::vector<double>& loss, const std::string& directory) {
  // The directory is created when missing; a failed write ends the program with a message rather
  // than a claim that the file was written.
  const auto fail = [&](const std::string& what) {
    std::cerr << name << ": " << what << "\n";
    std::exit(1);
  };
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) fail("cannot create the output directory '" + directory + "': " + error.message());
  const std::string csv = directory + "/" + name + "_loss.csv";
  std::ofstream file(csv);
  if (!file) fail("cannot open '" + csv + "' for writing: " + std::strerror(errno));
  file << "iteration,loss\n";
  for (std::size_t i = 0; i < loss.size(); ++i) file << i << ',' << loss[i] << '\n';
  file.close();
  if (!file) fail("writing '" + csv + "' failed: " + std::strerror(errno));
  std::cout << "loss history: " << csv << "\n";
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) return;
  const std::string png = directory + "/" + name + "_loss.png";
  const std::string command = "gnuplot -e \"set terminal png size 800,500; set output '" + png +
                              "'; set datafile separator ','; set logscale y; set xlabel 'iteration'; set ylabel 'loss (-ELBO)';"
                              " plot '" + csv + "' every ::1 using 1:(abs(\\$2)) with lines title '" + name + "'\" 2>/dev/null";
  if (std::system(command.c_str()) == 0 && std::filesystem::exists(png)) std::cout << "loss plot: " << png << "\n";
  else std::cerr << name << ": gnuplot could not draw '" << png << "' (the CSV is written)\n";
}

/// Prints `name[j]  posterior mean  sd  true` rows; returns the largest |mean - true|.
inline double print_estimates(const char* name, const symbatch::Array& mean, const symbatch::Array& sd, const std::vector<double>& truth) {
  double worst = 0;
  for (std::size_t j = 0; j < truth.size(); ++j) {
    const double m = mean.flat<double>(static_cast<std::int64_t>(j)), s = sd.flat<double>(static_cast<std::int64_t>(j));
    std::printf("%s[%2zu] %10.4f %10.4f %10.4f\n", name, j, m, s, truth[j]);
    worst = std::max(worst, std::abs(m - truth[j]));
  }
  return worst;
}

}  // namespace example
