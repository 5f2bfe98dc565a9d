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

/// Ends the program with `NAME: what` on stderr: a failed write is reported, never claimed done.
[[noreturn]] inline void fail_output(const std::string& name, const std::string& what) {
  std::cerr << name << ": " << what << "\n";
  std::exit(1);
}

/// Creates `directory` when missing (or ends the program with a message).
inline void create_output_directory(const std::string& name, const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) fail_output(name, "cannot create the output directory '" + directory + "': " + error.message());
}

/// Draws `png` when gnuplot is installed: runs the gnuplot `commands` (labels and `plot ...`)
/// after setting a PNG terminal of `width` x `height` (plain text, no enhanced-text markup),
/// comma-separated data files and a log-scale y axis, and prints `what: png`. The commands go to
/// gnuplot's standard input, so they need no shell quoting. Returns whether the PNG was written.
inline bool plot_log_y(const std::string& name, const std::string& what, const std::string& png, const std::string& commands,
                       int width = 800, int height = 500) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) return false;
  std::FILE* gnuplot = popen("gnuplot 2>/dev/null", "w");
  if (!gnuplot) {
    std::cerr << name << ": cannot start gnuplot (the CSV is written)\n";
    return false;
  }
  // noenhanced: an underscore in a title is an underscore, not a subscript.
  std::fprintf(gnuplot, "set terminal png size %d,%d noenhanced\nset output '%s'\nset datafile separator ','\nset logscale y\n%s\n", width, height,
               png.c_str(), commands.c_str());
  if (pclose(gnuplot) == 0 && std::filesystem::exists(png)) {
    std::cout << what << ": " << png << "\n";
    return true;
  }
  std::cerr << name << ": gnuplot could not draw '" << png << "' (the CSV is written)\n";
  return false;
}

/// Writes `DIR/NAME_loss.csv` and, when gnuplot is installed, `DIR/NAME_loss.png`.
inline void write_loss(const std::string& name, const std::vector<double>& loss, const std::string& directory) {
  create_output_directory(name, directory);
  const std::string csv = directory + "/" + name + "_loss.csv";
  std::ofstream file(csv);
  if (!file) fail_output(name, "cannot open '" + csv + "' for writing: " + std::strerror(errno));
  file << "iteration,loss\n";
  for (std::size_t i = 0; i < loss.size(); ++i) file << i << ',' << loss[i] << '\n';
  file.close();
  if (!file) fail_output(name, "writing '" + csv + "' failed: " + std::strerror(errno));
  std::cout << "loss history: " << csv << "\n";
  plot_log_y(name, "loss plot", directory + "/" + name + "_loss.png",
             "set xlabel 'iteration'; set ylabel 'loss (-ELBO)'; plot '" + csv + "' every ::1 using 1:(abs($2)) with lines title '" + name + "'");
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
