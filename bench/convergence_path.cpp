// How far the fitted posterior means are from the exact ones along a run, for the estimators a
// minibatch ADVI run can return (issue 13, item 7). The data and model are the main example's
// (examples/linear_regression.cpp): N generated rows (1,000,000 by default), D = 16 standard-normal
// features, y = X beta + 0.5 noise, beta ~ Normal(0, 1), Normal likelihood with the noise sd known,
// circular-slice batches of 256, mean-field ADVI, Adam at the default rate 0.01, seed 1 for every
// run (every run sees the same batches). The exact posterior comes in closed form from the full
// data (examples/reference.hpp). Every `--every` steps the program records the error of the 16
// fitted means in exact posterior sds, (mean_j - exact_j) / exact_sd_j: its largest absolute
// value and its root mean square over j. Seven estimators, "plain" meaning plain minibatch
// gradients (control variate off) and "cv" the control variate of fit's defaults:
//
//   constant_plain    last iterate, constant rate 0.01, plain
//   decayed_plain     last iterate, Robbins-Monro rate 0.01 b / (b + t) with b = 10,000 (near 0.01
//                     for the first b steps, the warm-up; 0.01/11 at 100,000 steps), plain
//   polyak_plain      fit's defaults but plain: Polyak average after the automatic warm-up,
//                     stopping rule on
//   polyak_plain_10k  Polyak average from step 10,000 on (a fixed warm-up), plain, no stopping rule
//   constant_cv       last iterate of the default run (constant rate; the control variate's
//                     anchor is the average once averaging has started)
//   decayed_cv        last iterate, the Robbins-Monro rate above, cv
//   defaults          what fit returns with default options: Polyak average after the automatic
//                     warm-up, cv, stopping rule (its curve ends where the rule stops it)
//
// The last-iterate runs are read by a callback, which sees the current parameters only. A callback
// cannot see the average (FitState has no accessor for it), so the averaged runs go in pieces of
// `--every` steps, each a warm start of the one before, and the average is read from each piece's
// result. A warm start continues a run bit for bit; the program checks that the pieced default run
// ends exactly where one uninterrupted run of the same steps does.
//
// Build (from the repository root; CMake builds it as bench_convergence_path) and run:
//   g++ -std=c++20 -O2 -DNDEBUG -I include -I examples -I/usr/include/eigen3 bench/convergence_path.cpp -o /tmp/convergence_path
//   /tmp/convergence_path [--rows N] [--steps T] [--every K] [--out DIR]
// Defaults: N = 1,000,000, T = 200,000 (fit's cap), K = 1,000, DIR = out. It writes
// DIR/convergence_path.csv (iteration, estimator, max_error_sd, rms_error_sd) and, when gnuplot is
// installed, DIR/convergence_path.png (largest and RMS error against the iteration, log scale),
// and prints the errors at 10,000, 30,000 and 100,000 steps and at the end of each run.
//
// Measured with the defaults (2-core machine shared with other work, -O2, 24 to 39 s in all; the errors
// do not depend on the machine): largest error (RMS) over the 16 means, in exact posterior sds
//
//   estimator          10,000 steps   30,000 steps   100,000 steps   end
//   constant_plain     53.9 (25)      48.4 (22.8)    69.9 (24)       55.9 (24.1)      at 200,000
//   decayed_plain      39.6 (19.3)    17.1 (8.14)    19.1 (8.74)     13.5 (7.11)      at 200,000
//   polyak_plain       53.9 (25)      48.4 (22.8)    69.9 (24)       0.408 (0.212)    at 200,000, not converged
//   polyak_plain_10k   53.9 (25)      0.717 (0.369)  0.889 (0.336)   0.355 (0.185)    at 200,000
//   constant_cv        18.5 (9.5)     7.9 (3.88)     -               3.86 (1.66)      at 66,000
//   decayed_cv         11.2 (6.88)    2.51 (1.25)    2.2 (0.99)      0.854 (0.438)    at 200,000
//   defaults           18.5 (9.5)     7.9 (3.88)     -               0.0513 (0.0222)  at 66,000, converged
//
// Read: no last iterate gets its largest error below 0.5 sd. A constant rate leaves the plain
// iterate 24 sd (RMS) off however long it runs, Robbins-Monro decay brings it to 7 sd by 200,000
// steps, and with the control variate the decayed iterate reaches 0.44 sd RMS, 0.85 sd largest.
// Averaging is what converges: the defaults stop at 66,000 steps (39 passes) 0.05 sd off. On
// plain gradients the automatic warm-up's R-hat test never passes, so averaging starts at
// max_warmup (100,000 steps) and polyak_plain ends 0.41 sd off, reported as not converged (before
// max_warmup existed it returned its last iterate, 56 sd off): in a separate probe of the run (the record's per-parameter R-hat,
// result.state->window->rhat()), the means' split R-hat was 1.00 at every check but the scales'
// rho stayed between 1.5 and 8.7, the fitted sds wandering between 0.35 and 2.1 times the exact
// ones. Averaging the same plain run from step 10,000 on gives 0.36 sd at 200,000 steps (RMS 0.19,
// about sqrt(1.7 N / (B T)) with T the 190,000 averaged steps).
#include <Eigen/Core>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "reference.hpp"
#include "support.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"

namespace {

using namespace symbatch;

constexpr const char* program = "convergence_path";
constexpr const char* usage = "usage: convergence_path [--rows N] [--steps T] [--every K] [--out DIR]\n";

struct Options {
  std::int64_t rows = 1'000'000;  ///< generated data rows
  std::int64_t steps = 200'000;   ///< steps of every run, fit's cap (the default run may stop earlier)
  std::int64_t every = 1'000;     ///< steps between two records
  std::string out = "out";        ///< where the CSV and the PNG go
};

Options parse(int argc, char** argv) {
  Options options;
  const auto fail = [](const std::string& what) {
    std::cerr << program << ": " << what << "\n" << usage;
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) fail(flag == "--rows" || flag == "--steps" || flag == "--every" || flag == "--out" ? flag + " needs a value" : "unknown option " + flag);
    const std::string value = argv[++i];
    const auto count = [&](std::int64_t minimum) {
      char* end = nullptr;
      const long long parsed = std::strtoll(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || parsed < minimum) fail(flag + " is " + value + ", but must be an integer of at least " + std::to_string(minimum));
      return static_cast<std::int64_t>(parsed);
    };
    if (flag == "--rows") options.rows = count(257);
    else if (flag == "--steps") options.steps = count(1);
    else if (flag == "--every") options.every = count(1);
    else if (flag == "--out") options.out = value;
    else fail("unknown option " + flag);
  }
  return options;
}

/// The error of fitted means at one iteration, in exact posterior sds.
struct PathPoint {
  std::int64_t iteration;  ///< steps done
  double max_error;        ///< largest |mean_j - exact_j| / exact_sd_j
  double rms_error;        ///< root mean square of (mean_j - exact_j) / exact_sd_j
};

/// One estimator's errors along its run.
struct Path {
  std::string estimator{};
  bool averaged = false;  ///< an average of iterates (drawn thin, over the last iterates)
  std::vector<PathPoint> points{};
  std::string note{};  ///< how the run ended
  double seconds = 0;
};

PathPoint error_at(std::int64_t iteration, const Eigen::VectorXd& means, const example::Posterior& exact) {
  const Eigen::ArrayXd error = (means - exact.mean).array() / exact.sd.array();
  return {iteration, error.abs().maxCoeff(), std::sqrt(error.square().mean())};
}

/// The seconds since `start`.
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// A run whose estimate is its last iterate, to `options.max_iterations` steps: a callback reads
/// the means (the first D flat parameters) every `every` steps.
Path last_iterate_path(const std::string& estimator, const Model& model, const AdviOptions& options, const example::Posterior& exact,
                       std::int64_t every) {
  Path path{.estimator = estimator};
  const auto start = std::chrono::steady_clock::now();
  const auto features = exact.mean.size();
  const FitResult result = fit(model, options, {[&](const FitState& state) {
                                 const std::int64_t done = state.iteration() + 1;
                                 if (done % every == 0) path.points.push_back(error_at(done, state.parameters().head(features), exact));
                                 return true;
                               }});
  path.seconds = seconds_since(start);
  path.note = std::to_string(result.iterations) + " steps";
  return path;
}

/// An averaging run: the errors of its average and of its last iterate, and its final result.
struct AveragedRun {
  Path averaged, last_iterate;
  std::optional<FitResult> result;
};

/// Runs `options` in pieces of `every` steps, each a warm start of the one before, until `steps`
/// steps or the stopping rule, and reads the average and the last iterate from each piece's result.
AveragedRun averaged_run(const std::string& estimator, const std::string& last_estimator, const Model& model, AdviOptions options,
                         const example::Posterior& exact, std::int64_t steps, std::int64_t every) {
  AveragedRun run{.averaged = {.estimator = estimator, .averaged = true}, .last_iterate = {.estimator = last_estimator}, .result = std::nullopt};
  const auto start = std::chrono::steady_clock::now();
  double last_rhat = std::numeric_limits<double>::quiet_NaN();  // of the last check (a piece without one reports NaN)
  for (std::int64_t done = 0; done < steps;) {
    options.max_iterations = std::min(every, steps - done);
    const FitResult& piece = run.result.emplace(fit(model, options));
    options.warm_start = piece.state;
    done = piece.iterations;
    run.averaged.points.push_back(error_at(done, piece.approximation.unconstrained_mean(), exact));
    run.last_iterate.points.push_back(error_at(done, piece.last_iterate.unconstrained_mean(), exact));
    if (!std::isnan(piece.max_rhat)) last_rhat = piece.max_rhat;
    if (piece.converged) break;
  }
  run.averaged.seconds = run.last_iterate.seconds = seconds_since(start);
  char note[160];
  std::snprintf(note, sizeof note, "%lld steps, %s, %.0f passes", static_cast<long long>(run.result->iterations),
                run.result->converged ? "converged" : "not converged", run.result->passes);
  std::string text = note;
  if (!std::isnan(last_rhat)) {
    std::snprintf(note, sizeof note, ", R-hat %.2f at the last check", last_rhat);
    text += note;
  }
  run.averaged.note = run.last_iterate.note = text;
  return run;
}

/// `12.3 (4.56)`: the largest and the RMS error at `iteration`, or `-` when the run has no record there.
std::string cell(const Path& path, std::int64_t iteration) {
  for (const PathPoint& point : path.points)
    if (point.iteration == iteration) {
      char text[40];
      std::snprintf(text, sizeof text, "%.3g (%.3g)", point.max_error, point.rms_error);
      return text;
    }
  return "-";
}

int run(int argc, char** argv) {
  const Options options = parse(argc, argv);
  const auto total_start = std::chrono::steady_clock::now();

  // The main example's data and model.
  constexpr std::int64_t features = 16;
  constexpr double noise_sd = 0.5;
  const auto [x_data, y_data] = example::regression_data(options.rows, example::true_coefficients(features), 2026,
                                                         [](double mean, PhiloxStream& stream) { return mean + noise_sd * stream.normal(); });
  const example::Posterior exact = example::linear_regression_posterior(x_data, y_data, noise_sd, 1.0);
  const std::vector<Variable> batch = minibatch(256, {shared(x_data, "X"), shared(y_data, "y")});
  Model model;
  const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {features}});
  model.observed("y", Normal(matmul(batch[0], beta), noise_sd), batch[1], TotalSize(options.rows));
  std::printf("data: %lld rows x %lld features, circular-slice batches of 256, exact posterior sd %.3g to %.3g; %lld steps, a record every %lld\n",
              static_cast<long long>(options.rows), static_cast<long long>(features), exact.sd.minCoeff(), exact.sd.maxCoeff(),
              static_cast<long long>(options.steps), static_cast<long long>(options.every));

  // Robbins-Monro a (b + t)^-1 starting at the default rate: a = 0.01 b.
  constexpr double warmup_steps = 10'000;
  const Schedule decay = PolynomialDecay{.offset = warmup_steps, .exponent = 1.0};
  const Optimizer decay_optimizer = Adam{.learning_rate = 0.01 * warmup_steps};
  const AdviOptions defaults{.seed = 1, .progress = Progress::none};
  AdviOptions last_iterate = defaults;  // no averaging, no stopping rule: the last iterate after T steps
  last_iterate.max_iterations = options.steps;
  last_iterate.averaging = {.kind = AveragingKind::none};
  last_iterate.convergence = {.enabled = false};
  AdviOptions constant_plain = last_iterate, decayed_plain = last_iterate, decayed_cv = last_iterate, polyak_plain = defaults,
              polyak_plain_10k = defaults;
  constant_plain.control_variate = decayed_plain.control_variate = polyak_plain.control_variate = polyak_plain_10k.control_variate = {.enabled = false};
  // Averaging from a fixed step on (no stopping rule: an automatic warm-up needs its record).
  polyak_plain_10k.averaging = {.kind = AveragingKind::polyak, .warmup = static_cast<std::int64_t>(warmup_steps)};
  polyak_plain_10k.convergence = {.enabled = false};
  decayed_plain.schedule = decayed_cv.schedule = decay;
  decayed_plain.optimizer = decayed_cv.optimizer = decay_optimizer;

  std::vector<Path> paths;
  paths.push_back(last_iterate_path("constant_plain", model, constant_plain, exact, options.every));
  paths.push_back(last_iterate_path("decayed_plain", model, decayed_plain, exact, options.every));
  paths.push_back(averaged_run("polyak_plain", "polyak_plain_last", model, polyak_plain, exact, options.steps, options.every).averaged);
  paths.push_back(averaged_run("polyak_plain_10k", "polyak_plain_10k_last", model, polyak_plain_10k, exact, options.steps, options.every).averaged);
  const AveragedRun default_run = averaged_run("defaults", "constant_cv", model, defaults, exact, options.steps, options.every);
  paths.push_back(default_run.last_iterate);
  paths.push_back(last_iterate_path("decayed_cv", model, decayed_cv, exact, options.every));
  paths.push_back(default_run.averaged);
  const FitResult& defaults_result = *default_run.result;

  // The pieced default run must be the run itself: one uninterrupted run of as many steps.
  AdviOptions whole_options = defaults;
  whole_options.max_iterations = defaults_result.iterations;
  const FitResult whole = fit(model, whole_options);
  const bool identical = whole.iterations == defaults_result.iterations &&
                         whole.approximation.unconstrained_mean() == defaults_result.approximation.unconstrained_mean() &&
                         whole.last_iterate.unconstrained_mean() == defaults_result.last_iterate.unconstrained_mean();
  std::printf("pieced default run (%lld pieces) equals one uninterrupted run of %lld steps bit for bit: %s\n",
              static_cast<long long>(default_run.averaged.points.size()), static_cast<long long>(whole.iterations), identical ? "yes" : "NO");

  // CSV, one estimator after another (gnuplot draws each from its own rows).
  example::create_output_directory(program, options.out);
  const std::string csv = options.out + "/convergence_path.csv", png = options.out + "/convergence_path.png";
  std::ofstream file(csv);
  if (!file) example::fail_output(program, "cannot open '" + csv + "' for writing: " + std::strerror(errno));
  file << "iteration,estimator,max_error_sd,rms_error_sd\n";
  for (const Path& path : paths)
    for (const PathPoint& point : path.points) file << point.iteration << ',' << path.estimator << ',' << point.max_error << ',' << point.rms_error << '\n';
  file.close();
  if (!file) example::fail_output(program, "writing '" + csv + "' failed: " + std::strerror(errno));
  std::cout << "errors: " << csv << "\n";
  // Averages thin over thick last iterates (an average equals its run's last iterate until its
  // warm-up ends; gnuplot's png terminal draws no dashes); a line at 0.1 sd, the examples' gate.
  std::string names, widths;
  for (const Path& path : paths) {
    names += (names.empty() ? "" : " ") + path.estimator;
    widths += (widths.empty() ? "" : " ") + std::string(path.averaged ? "2" : "5");
  }
  const auto panel = [&](int column, const std::string& label) {
    return "set ylabel '" + label + " error over the " + std::to_string(features) + " means (exact posterior sds)'; plot for [i = 1:words(names)] '" +
           csv + "' skip 1 using ($1 / 1000):(strcol(2) eq word(names, i) ? column(" + std::to_string(column) +
           ") : 1/0) with lines lw real(word(widths, i)) title word(names, i), 0.1 with lines lc 'black' lw 1 title '0.1 sd'; ";
  };
  example::plot_log_y(program, "error plot", png,
                      "names = '" + names + "'; widths = '" + widths + "'; set multiplot layout 1,2 title '" +
                          std::to_string(options.rows) + " rows, " + std::to_string(features) +
                          " features, batches of 256: fitted means against the exact posterior (thin lines: averages)'; "
                          "set xlabel 'iteration (thousands)'; set key bottom right opaque box; set grid; set yrange [0.01:200]; " +
                          panel(3, "largest") + panel(4, "RMS") + "unset multiplot",
                      1400, 600);

  // The table: largest (RMS) error at the checkpoints and at the end of each run.
  std::vector<std::int64_t> checkpoints;
  for (const std::int64_t step : {10'000, 30'000, 100'000})
    if (step <= options.steps && step % options.every == 0) checkpoints.push_back(step);
  std::printf("\nerror of the 16 posterior means in exact posterior sds: largest (RMS)\n%-16s", "estimator");
  for (const std::int64_t step : checkpoints) std::printf(" %16lld", static_cast<long long>(step));
  std::printf(" %16s  %s\n", "end", "run");
  for (const Path& path : paths) {
    std::printf("%-16s", path.estimator.c_str());
    for (const std::int64_t step : checkpoints) std::printf(" %16s", cell(path, step).c_str());
    std::printf(" %16s  %s, %.1f s\n", path.points.empty() ? "-" : cell(path, path.points.back().iteration).c_str(), path.note.c_str(), path.seconds);
  }
  std::printf("total %.0f s\n", seconds_since(total_start));
  return identical ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << program << ": " << error.what() << "\n";
    return 1;
  }
}
