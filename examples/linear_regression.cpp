// Main example: Bayesian linear regression on 1,000,000 generated rows (16 features), fitted by
// mean-field ADVI on circular-slice minibatches of 256 rows. X and y are minibatched together
// by one call, so their batches hold the same rows; the observed term is rescaled by
// total_size / batch_size on every step.
//
//   linear_regression [--small] [--out DIR] [--write-data DIR [--f32]] [--x X.npy --y y.npy]
//
// --small uses 20,000 rows (the test suite runs it that way); --out DIR writes the loss history
// as DIR/linear_regression_loss.csv and, when gnuplot is installed, DIR/linear_regression_loss.png.
// --write-data DIR also writes the generated data as DIR/X.npy and DIR/y.npy (float64, or float32
// with --f32), which NumPy reads with np.load.
// --x X.npy --y y.npy fits the data of two .npy files instead (X: rows x features, y: rows;
// float64 or float32), memory-mapped: minibatch windows read the file's pages in place, float32
// data are read as double without a converted copy. The estimates are then compared with the
// least-squares fit of the same data.
#include <Eigen/Cholesky>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>

#include "reference.hpp"
#include "support.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/io/npy.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"

using namespace symbatch;

namespace {

constexpr const char* usage = "usage: linear_regression [--small] [--out DIR] [--write-data DIR [--f32]] [--x X.npy --y y.npy]\n";

/// The options of this example beyond the shared `--small` and `--out`.
struct DataOptions {
  std::string x_path, y_path;     ///< data files to fit (both or neither)
  std::string write_directory;    ///< where to write the generated data, if set
  bool write_f32 = false;         ///< write them as float32
};

/// Takes this example's own options out of `argv` (the rest goes to `example::parse`).
DataOptions take_data_options(int& argc, char** argv) {
  DataOptions options;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const auto value = [&](std::string& target) {
      if (i + 1 >= argc) {
        std::cerr << "linear_regression: " << argv[i] << " needs a value\n" << usage;
        std::exit(2);
      }
      target = argv[++i];
    };
    if (std::strcmp(argv[i], "--x") == 0) value(options.x_path);
    else if (std::strcmp(argv[i], "--y") == 0) value(options.y_path);
    else if (std::strcmp(argv[i], "--write-data") == 0) value(options.write_directory);
    else if (std::strcmp(argv[i], "--f32") == 0) options.write_f32 = true;
    else argv[kept++] = argv[i];
  }
  argc = kept;
  if (options.x_path.empty() != options.y_path.empty()) {
    std::cerr << "linear_regression: --x and --y go together (X.npy holds the features, y.npy the responses)\n" << usage;
    std::exit(2);
  }
  if (!options.x_path.empty() && !options.write_directory.empty()) {
    std::cerr << "linear_regression: --write-data writes generated data; it cannot be combined with --x and --y\n" << usage;
    std::exit(2);
  }
  if (options.write_f32 && options.write_directory.empty()) {
    std::cerr << "linear_regression: --f32 is an option of --write-data\n" << usage;
    std::exit(2);
  }
  return options;
}

/// An f64 array converted to f32 (for --write-data --f32).
Array to_f32(const Array& values) {
  Array result = Array::empty(DType::f32, values.shape());
  for (std::int64_t k = 0; k < values.size(); ++k) result.data<float>()[k] = static_cast<float>(values.data<double>()[k]);
  return result;
}

/// Maps X.npy and y.npy and checks that they are a regression's data: X rows x features, y rows,
/// both float64 or float32. Throws std::invalid_argument naming the file and what is wrong.
std::pair<Array, Array> map_regression_data(const std::string& x_path, const std::string& y_path) {
  Array x = map_npy(x_path), y = map_npy(y_path);
  for (const auto& [path, array] : {std::pair<const std::string&, const Array&>{x_path, x}, {y_path, y}})
    if (array.dtype() != DType::f64 && array.dtype() != DType::f32)
      throw_invalid("linear_regression", path, " holds ", dtype_name(array.dtype()), " data, expected float64 or float32");
  if (x.rank() != 2) throw_invalid("linear_regression", x_path, " has shape ", x.shape().str(), ", expected (rows, features)");
  if (y.rank() != 1) throw_invalid("linear_regression", y_path, " has shape ", y.shape().str(), ", expected (rows,)");
  if (x.shape()[0] != y.shape()[0])
    throw_invalid("linear_regression", x_path, " has ", x.shape()[0], " rows but ", y_path, " has ", y.shape()[0],
                  "; X and y need one row per observation");
  if (x.shape()[0] < 2 || x.shape()[1] < 1) throw_invalid("linear_regression", x_path, " has shape ", x.shape().str(), ", expected at least 2 rows and 1 feature");
  return {std::move(x), std::move(y)};
}

/// Least squares over the whole data, read row by row in double: the coefficients and the
/// residual standard deviation, the reference for a fit of file data (the prior is negligible).
std::pair<std::vector<double>, double> least_squares(const Array& x, const Array& y) {
  const std::int64_t rows = x.shape()[0], features = x.shape()[1];
  Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(features, features);
  Eigen::VectorXd moment = Eigen::VectorXd::Zero(features);
  Eigen::VectorXd row(features);
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t j = 0; j < features; ++j) row[j] = x.flat<double>(i * features + j);
    gram.selfadjointView<Eigen::Lower>().rankUpdate(row);
    moment += y.flat<double>(i) * row;
  }
  const Eigen::VectorXd beta = gram.selfadjointView<Eigen::Lower>().ldlt().solve(moment);
  double residuals = 0;
  for (std::int64_t i = 0; i < rows; ++i) {
    double fitted = 0;
    for (std::int64_t j = 0; j < features; ++j) fitted += x.flat<double>(i * features + j) * beta[j];
    residuals += (y.flat<double>(i) - fitted) * (y.flat<double>(i) - fitted);
  }
  return {std::vector<double>(beta.data(), beta.data() + features), std::sqrt(residuals / static_cast<double>(rows - features))};
}

int run(int argc, char** argv) {
  const DataOptions data_options = take_data_options(argc, argv);
  const example::Arguments arguments = example::parse("linear_regression", argc, argv);
  Array x_data, y_data;
  std::vector<double> beta_true;
  double sigma_true = 0.5;
  const char* reference = "true";
  if (data_options.x_path.empty()) {
    // Generated data: y = X beta_true + 0.5 noise, beta_true = linspace(-1, 1, 16).
    const std::int64_t generated_rows = arguments.small ? 20'000 : 1'000'000;
    beta_true = example::true_coefficients(16);
    std::tie(x_data, y_data) =
        example::regression_data(generated_rows, beta_true, 2026, [](double mean, PhiloxStream& stream) { return mean + 0.5 * stream.normal(); });
    if (!data_options.write_directory.empty()) {
      std::filesystem::create_directories(data_options.write_directory);
      const std::string x_path = data_options.write_directory + "/X.npy", y_path = data_options.write_directory + "/y.npy";
      save_npy(x_path, data_options.write_f32 ? to_f32(x_data) : x_data);
      save_npy(y_path, data_options.write_f32 ? to_f32(y_data) : y_data);
      std::printf("data: %s and %s (%s)\n", x_path.c_str(), y_path.c_str(), data_options.write_f32 ? "float32" : "float64");
    }
  } else {
    std::tie(x_data, y_data) = map_regression_data(data_options.x_path, data_options.y_path);
    std::tie(beta_true, sigma_true) = least_squares(x_data, y_data);
    reference = "lstsq";
    std::printf("data: %s %s %s and %s %s %s, memory-mapped\n", data_options.x_path.c_str(), x_data.shape().str().c_str(),
                dtype_name(x_data.dtype()).data(), data_options.y_path.c_str(), y_data.shape().str().c_str(), dtype_name(y_data.dtype()).data());
  }
  const std::int64_t rows = x_data.shape()[0], features = x_data.shape()[1];
  const std::int64_t batch_size = std::min<std::int64_t>(256, rows);

  // The model: one minibatch call for X and y, total_size on the observed term.
  const std::vector<Variable> batch = minibatch(batch_size, {shared(x_data, "X"), shared(y_data, "y")});
  Model model;
  const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {features}});
  // The noise sd is known (0.5 for generated data; the least-squares residual sd for file data),
  // so the posterior of beta is Gaussian and computed exactly below.
  const double noise_sd = sigma_true;
  model.observed("y", Normal(matmul(batch[0], beta), noise_sd), batch[1], TotalSize(rows));

  // Default options: Adam with iterate averaging, stopped by the convergence rule or the cap.
  const auto start = std::chrono::steady_clock::now();
  const FitResult result = fit(model, {.seed = 1});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const auto steps = static_cast<std::int64_t>(result.loss_history.size());
  std::printf("mean-field ADVI: %lld rows x %lld features, circular-slice batches of %lld, %lld iterations (%s), %.1f us per iteration\n",
              static_cast<long long>(rows), static_cast<long long>(features), static_cast<long long>(batch_size), static_cast<long long>(steps),
              result.converged ? "converged" : "not converged: the cap was reached", 1e6 * seconds / static_cast<double>(std::max<std::int64_t>(steps, 1)));
  // The exact posterior of beta, in closed form from the full data (read as f64).
  Array x_f64 = Array::empty(DType::f64, x_data.shape()), y_f64 = Array::empty(DType::f64, y_data.shape());
  for (std::int64_t k = 0; k < x_data.size(); ++k) x_f64.data<double>()[k] = x_data.flat<double>(k);
  for (std::int64_t k = 0; k < y_data.size(); ++k) y_f64.data<double>()[k] = y_data.flat<double>(k);
  const example::Posterior exact = example::linear_regression_posterior(x_f64, y_f64, noise_sd, 1.0);
  const auto moments = result.approximation.moments();
  example::print_comparison_header();
  const double worst = example::compare("beta", moments.at("beta").mean, moments.at("beta").sd, exact, 0);
  std::printf("largest error: %.2f posterior sd (%s coefficients: beta[0] = %.4f)\n", worst, reference, beta_true[0]);
  example::write_loss("linear_regression", result.loss_history, arguments.out);
  // The example doubles as a smoke test: every posterior mean within 0.5 exact posterior sd.
  if (worst > 0.5) {
    std::fprintf(stderr, "the fit is off: a mean is %.2f posterior sd from the exact posterior mean\n", worst);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    // Bad files and shapes end the example with the library's message, which names the file.
    std::cerr << error.what() << "\n";
    return 1;
  }
}
