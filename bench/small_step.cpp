// Per-step overhead on a small model (issue 14 item 5): one mean-field ADVI step of a
// diabetes-sized linear regression, symbatch's compiled step against a hand-written C++/Eigen
// step doing the same work, in one run.
//
// The case: N = 442 rows, D = 10 features (generated, deterministic), minibatches of B = 32
// rows (circular slice, and indices drawn with replacement), y ~ Normal(X beta + intercept,
// sigma) scaled by N/B, Normal(0, 1) priors on beta and the intercept, sigma ~ HalfNormal(1) on
// the log scale (with the log-Jacobian): P = 12 unconstrained parameters. One step: draw the
// batch, draw eps ~ N(0, 1) for the 12 parameters, theta = mu + softplus(rho) * eps, the
// N/B-scaled minibatch log-probability at theta, the exact entropy, the gradient of the negative
// ELBO with respect to mu and rho, and an Adam update (rate 0.01) of mu and rho.
//
// symbatch: the compiled `step` that `fit` runs, built the way detail::train builds it
// (training.hpp): `variational_objective(model, MeanFieldFamily{}, 1)`, `updates(Adam, loss,
// parameters, rate)`, `compile({}, {loss, model.data_scale()}, {.updates, .seed})`, the
// defaults of `fit` with the control variate off. The benchmark times calls of that Function; the
// loop around it (averaging record, checks, loss history) is timed separately below ("FIT").
// The hand-written partner: fixed-size Eigen vectors, the batch read in place by row number
// (no copy, no gather) in one pass that accumulates the log-likelihood and its analytic
// gradient, symbatch's Philox generator for the batch and the normal draws (the same
// generator, so the same cost per draw), Adam written out.
//
// Checks before timing (the program exits on a failure):
//   CHECK fit-replica    the replica of fit's step, called K times, ends on exactly (==) the
//                        last iterate of fit(model, {.max_iterations = K, ...}) under one seed;
//   CHECK elbo-gradient  negative ELBO and its 24 gradient entries at a fixed eps (an input
//                        replacing the ADVI draw via `replace`) and the fixed batch of rows
//                        0..31 (the minibatch views replaced by slices), against the hand-written
//                        step, to 1e-10 (relative, or absolute below 1);
//   CHECK logp-gradient  the plain logp + gradient, both drawing their batches from the same RNG
//                        state (200 calls, wrapping slices among them), to 1e-10;
//   CHECK trajectory     100 whole steps of both from the same RNG states (same batches, same
//                        eps): loss and mu, rho after every step, to 1e-10.
//
// Output after Google Benchmark's table (medians of 5 repetitions):
//   SCHEDULE <advi|logp> <slice|indices> <nodes> (<n> with scalar outputs)   nodes the compiled
//                                                 function schedules
//   TIME <small_advi|small_logp> <slice|indices> B=32 symbatch <us> hand <us>
//   RATIO <small_advi|small_logp> <slice|indices> B=32 <symbatch us / hand us>
//   FIT <slice|indices> ...  per-step time of fit(model, {.max_iterations = K, ...}) itself
//                            (skipped when --benchmark_filter is given)
// `small_logp` is the plain minibatch logp + gradient at a fixed theta (no ADVI), so the cost of
// the ADVI part is visible. `--list-schedule` prints the op and output type of every node of
// both compiled ADVI steps and exits.
//
// Build and run (one translation unit; -j1 on a shared machine):
//   g++ -std=c++20 -O2 -DNDEBUG -Wall -Wextra -Wpedantic -I include -isystem /usr/include/eigen3
//       bench/small_step.cpp -o /tmp/small_step -lbenchmark -lpthread   (one line)
//   /tmp/small_step | grep -E 'CHECK|SCHEDULE|TIME|RATIO|FIT'
//   /tmp/small_step --list-schedule
// (or `cmake --build build/release --target bench_small_step`).
//
// Figures (2-core development machine while other work ran on it; medians of 5 repetitions each,
// us per step; the spread is mostly that load):
//   case                 symbatch      hand-written   ratio
//   small_advi slice     6.1 - 8.5     0.84 - 1.13    6.5 - 8
//   small_advi indices   6.5 - 8.5     0.97 - 1.24    6.5 - 7.5
//   small_logp slice     2.3 - 2.8     0.19 - 0.21    11 - 14
//   small_logp indices   3.1 - 4.0     0.29 - 0.36    9 - 12
//   FIT (fit's loop, K = 100,000): 7.4 - 9.5 us per step against 6.1 - 8.5 for the bare step.
// Schedules: the ADVI step runs 94 nodes (58 with scalar outputs), the plain logp + gradient 54
// (45-46). It ran 165 (138) while the mean-field family kept two arrays per free variable: the
// Adam updates of the intercept's and log sigma's mu and rho were some 80 unfused scalar nodes.
// Since the family's parameters are flat (one (P,) vector of means, one of scales) they are six
// fused loops over 12 entries, and the step takes 60,500 instructions instead of 83,300
// (callgrind, `valgrind --tool=callgrind` over 20,000 steps minus the set-up; exact, unlike the
// timings on this VM).
// callgrind of the step, self cost: FusedElemwise::begin_blocks 13% and run_block 10% (per-call
// set-up and dispatch of each instruction on 12- and 32-element vectors), the kernels about 25%,
// log / softplus / sigmoid 10%, Function::call 4.3% and release_transients 3.6%, Array::ensure
// 5.8%: about 640 instructions per node, spread over the whole interpreter.
#include <benchmark/benchmark.h>

#include "median_reporter.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numbers>
#include <string>
#include <vector>

#include "symbatch/symbatch.hpp"

namespace {

using namespace symbatch;

constexpr std::int64_t rows = 442;
constexpr std::int64_t features = 10;
constexpr std::int64_t batch = 32;
constexpr int parameters = features + 2;  // beta, the intercept, log sigma
constexpr double learning_rate = 0.01;
const double half_log_two_pi = 0.5 * std::log(2 * std::numbers::pi);

enum class Scheme { slice, indices };
const char* scheme_name(Scheme scheme) { return scheme == Scheme::slice ? "slice" : "indices"; }

/// The data, generated once: standardised features, y = X w + 0.3 + 0.7 noise.
struct Data {
  Array x, y;
};

const Data& data() {
  static const Data made = [] {
    PhiloxStream stream(seed_rng_state(442, 0));
    Data d{Array::empty(DType::f64, Shape{rows, features}), Array::empty(DType::f64, Shape{rows})};
    for (std::int64_t i = 0; i < rows; ++i) {
      double mean = 0.3;
      for (std::int64_t j = 0; j < features; ++j) {
        d.x.data<double>()[i * features + j] = stream.normal();
        mean += d.x.data<double>()[i * features + j] * (-0.5 + static_cast<double>(j) / (features - 1));
      }
      d.y.data<double>()[i] = mean + 0.7 * stream.normal();
    }
    return d;
  }();
  return made;
}

// ---------------------------------------------------------------------------------------------
// symbatch

/// The model over minibatch views of the data.
Model build_model(Scheme scheme) {
  const auto views = minibatch(batch, {shared(data().x, "X"), shared(data().y, "y")},
                               {.scheme = scheme == Scheme::slice ? MinibatchScheme::circular_slice : MinibatchScheme::with_replacement});
  Model model;
  const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {features}});
  const Variable intercept = model.free("intercept", Normal(0.0, 1.0));
  const Variable sigma = model.free("sigma", HalfNormal(1.0));
  model.observed("y", Normal(matmul(views[0], beta) + intercept, sigma), views[1], TotalSize(rows));
  return model;
}

/// The step `fit` compiles (detail::train in training.hpp, mean-field family, n_mc = 1, Adam at
/// 0.01, no control variate): loss and data scale as outputs, the optimizer's updates applied.
struct AdviStep {
  VariationalObjective objective;
  Function step;
};

AdviStep build_advi_step(const Model& model, std::uint64_t seed) {
  VariationalObjective objective = variational_objective(model, MeanFieldFamily{}, 1);
  const Optimizer optimizer = Adam{.learning_rate = learning_rate};
  const Variable rate = shared(Array::scalar(base_learning_rate(optimizer)), "learning_rate");
  const std::vector<Update> steps = updates(optimizer, objective.loss, objective.parameters, rate);
  Function step = compile({}, {objective.loss, model.data_scale()}, {.updates = steps, .seed = seed});
  return {std::move(objective), std::move(step)};
}

/// The plain logp + gradient at the value variables (no ADVI), one batch drawn per call.
Function build_logp_gradient(const Model& model, std::uint64_t seed) {
  const Variable logp = model.logp();
  const std::vector<Variable> values = model.value_variables();
  std::vector<Variable> outputs{logp};
  for (const Variable& g : grad(logp, values)) outputs.push_back(g);
  return compile(values, outputs, {.seed = seed});
}

using Flat = Eigen::Matrix<double, 2 * parameters, 1>;  // mu then rho, each beta, intercept, log sigma
using Point = Eigen::Matrix<double, parameters, 1>;     // beta, intercept, log sigma

/// The inputs of the logp + gradient function at `theta`.
std::vector<Array> value_inputs(const Point& theta) {
  return {Array::from(std::span<const double>(theta.data(), features), Shape{features}), Array::scalar(theta[features]), Array::scalar(theta[features + 1])};
}

/// The parameters' values (mu then rho) as one flat vector, or written from one.
Flat flatten(const std::vector<Variable>& shared_parameters) {
  Flat flat;
  int k = 0;
  for (const Variable& parameter : shared_parameters)
    for (std::int64_t j = 0; j < get_value(parameter).size(); ++j) flat[k++] = get_value(parameter).flat<double>(j);
  return flat;
}
void assign(const std::vector<Variable>& shared_parameters, const Flat& flat) {
  int k = 0;
  for (const Variable& parameter : shared_parameters) {
    Array value = get_value(parameter).copy();
    for (std::int64_t j = 0; j < value.size(); ++j) value.data<double>()[j] = flat[k++];
    set_value(parameter, std::move(value));
  }
}

/// The RNG state named `name` among a function's states (`minibatch_rng`, `advi_rng`).
RngState rng_state(const Function& function, const std::string& name) {
  for (const Variable& rng : function.rng_states())
    if (rng.name() == name) return get_value(rng).data<RngState>()[0];
  std::fprintf(stderr, "no RNG state named %s\n", name.c_str());
  std::exit(1);
}

// ---------------------------------------------------------------------------------------------
// The hand-written step

double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }
double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

/// One ADVI step in plain C++/Eigen: fixed-size vectors, the batch read in place, one pass.
class HandWritten {
 public:
  explicit HandWritten(Scheme scheme) : scheme_(scheme), indices_(batch) {
    parameters_.setZero();  // mu = fit's initial point (0, and log 1 for sigma), rho = softplus^-1(log 2) = 0
    m_.setZero();
    v_.setZero();
  }

  void set_parameters(const Flat& flat) { parameters_ = flat; }
  const Flat& mu_rho() const { return parameters_; }

  /// Draws the batch's rows from `state`, as symbatch's minibatch draw does (Lemire on Philox).
  void draw_batch(const RngState& state) {
    PhiloxStream stream(state);
    if (scheme_ == Scheme::slice) start_ = static_cast<std::int64_t>(stream.below(rows));
    else
      for (std::int64_t& index : indices_) index = static_cast<std::int64_t>(stream.below(rows));
  }
  /// The fixed batch of rows 0..batch-1.
  void fix_batch() {
    start_ = 0;
    for (std::int64_t k = 0; k < batch; ++k) indices_[k] = k;
  }
  bool batch_wraps() const { return scheme_ == Scheme::slice && start_ + batch > rows; }

  /// The N/B-scaled log-likelihood of the batch plus the priors and the log-Jacobian at `theta`,
  /// with its gradient in `gradient`: one pass over the batch's rows.
  double logp_gradient(const Point& theta, Point& gradient) const {
    const double* x = data().x.data<double>();
    const double* y = data().y.data<double>();
    using Features = Eigen::Matrix<double, features, 1>;
    const Features beta = theta.head<features>();
    const double intercept = theta[features], log_sigma = theta[features + 1];
    const double inverse_sigma = std::exp(-log_sigma);
    Features dbeta = Features::Zero();
    double dintercept = 0, squares = 0;
    for (std::int64_t k = 0; k < batch; ++k) {
      std::int64_t i = scheme_ == Scheme::slice ? start_ + k : indices_[k];
      if (i >= rows) i -= rows;
      const Eigen::Map<const Features> row(x + i * features);
      const double z = (y[i] - intercept - row.dot(beta)) * inverse_sigma;
      squares += z * z;
      dintercept += z;
      dbeta += z * row;
    }
    const double scale = static_cast<double>(rows) / static_cast<double>(batch);
    const double loglik = -0.5 * squares - static_cast<double>(batch) * (log_sigma + half_log_two_pi);
    const double sigma_squared = std::exp(2 * log_sigma);
    // Normal(0, 1) priors; HalfNormal(1) at sigma = exp(log sigma) plus the log-Jacobian log sigma.
    const double prior = -0.5 * (beta.squaredNorm() + intercept * intercept) - (features + 1) * half_log_two_pi + std::log(2.0) -
                         half_log_two_pi - 0.5 * sigma_squared + log_sigma;
    gradient.head<features>() = scale * inverse_sigma * dbeta - beta;
    gradient[features] = scale * inverse_sigma * dintercept - intercept;
    gradient[features + 1] = scale * (squares - static_cast<double>(batch)) - sigma_squared + 1;
    return scale * loglik + prior;
  }

  /// The negative ELBO at the current mu, rho for draws `eps` on the current batch, and its
  /// gradient with respect to (mu, rho).
  double loss_gradient(const Point& eps, Flat& gradient) const {
    const Point mu = parameters_.head<parameters>(), rho = parameters_.tail<parameters>();
    Point sd, weight;  // weight: d sd / d rho = sigmoid(rho)
    double entropy = 0.5 * parameters * (1 + std::log(2 * std::numbers::pi));
    for (int p = 0; p < parameters; ++p) {
      sd[p] = softplus(rho[p]);
      weight[p] = sigmoid(rho[p]);
      entropy += std::log(sd[p]);
    }
    const Point theta = mu + sd.cwiseProduct(eps);
    Point g;
    const double logp = logp_gradient(theta, g);
    gradient.head<parameters>() = -g;
    gradient.tail<parameters>() = -(g.cwiseProduct(eps) + sd.cwiseInverse()).cwiseProduct(weight);
    return -(logp + entropy);
  }

  /// One Adam step on `gradient` (bias-corrected moments, as optim/optimizers.hpp).
  void adam(const Flat& gradient) {
    constexpr double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
    step_ += 1;
    const double correction1 = 1 - std::pow(beta1, step_), correction2 = 1 - std::pow(beta2, step_);
    m_ = beta1 * m_ + (1 - beta1) * gradient;
    v_ = beta2 * v_ + (1 - beta2) * gradient.cwiseAbs2();
    parameters_.array() -= learning_rate * (m_.array() / correction1) / ((v_.array() / correction2).sqrt() + epsilon);
  }

  /// One whole step with the batch drawn from `batch_state` and eps from `noise_state`; returns the loss.
  double step(const RngState& batch_state, const RngState& noise_state) {
    draw_batch(batch_state);
    PhiloxStream stream(noise_state);
    for (int p = 0; p < parameters; ++p) eps_[p] = stream.normal();
    const double loss = loss_gradient(eps_, gradient_);
    adam(gradient_);
    return loss;
  }

 private:
  Scheme scheme_;
  std::int64_t start_ = 0;
  std::vector<std::int64_t> indices_;
  Flat parameters_, m_, v_, gradient_;
  Point eps_;
  double step_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Checks

double relative(double a, double b) { return std::abs(a - b) / std::max(1.0, std::abs(b)); }

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "%s\n", what);
    std::exit(1);
  }
}

/// The replica of fit's step, called K times, ends where fit(model, K steps) ends.
void check_fit_replica(Scheme scheme) {
  constexpr std::int64_t steps = 300;
  const Model model = build_model(scheme);
  const FitResult fitted = fit(model, {.max_iterations = steps,
                                       .seed = 5,
                                       .progress = Progress::none,
                                       .averaging = {.kind = AveragingKind::none},
                                       .convergence = {.enabled = false},
                                       .control_variate = {.enabled = false}});
  AdviStep replica = build_advi_step(model, 5);  // compile reseeds the minibatch RNG fit advanced
  for (std::int64_t t = 0; t < steps; ++t) replica.step();
  const GaussianApproximation ours = replica.objective.approximation();
  const bool same = ours.unconstrained_mean() == fitted.last_iterate.unconstrained_mean() &&
                    ours.unconstrained_sd() == fitted.last_iterate.unconstrained_sd();
  std::printf("CHECK fit-replica %s: after %lld steps the replica's mu and sd %s fit's last iterate\n", scheme_name(scheme),
              static_cast<long long>(steps), same ? "equal (==)" : "DIFFER FROM");
  require(same, "the replica is not the step fit runs");
}

/// Negative ELBO and gradient at a fixed eps on rows 0..31 (the draws replaced by inputs).
void check_elbo_gradient(Scheme scheme) {
  const Model model = build_model(scheme);
  const VariationalObjective objective = variational_objective(model, MeanFieldFamily{}, 1);
  std::vector<std::pair<Variable, Variable>> fixed;
  for (const MinibatchView& view : minibatch_views(std::span<const Variable>(&objective.loss, 1)))
    fixed.emplace_back(view.view, slice(view.array, 0, batch));
  const Variable eps = input("eps", DType::f64, {parameters});
  fixed.emplace_back(objective.noise, eps);
  const Variable loss = replace(objective.loss, fixed);
  std::vector<Variable> outputs{loss};
  for (const Variable& g : grad(loss, objective.parameters)) outputs.push_back(g);
  Function function = compile({eps}, outputs);
  require(function.rng_states().empty(), "the fixed-eps, fixed-batch loss still reads a random draw");

  Flat point;
  Point noise;
  for (int k = 0; k < 2 * parameters; ++k) point[k] = k < parameters ? 0.1 * std::sin(k + 1.0) : -1 + 0.2 * std::cos(k + 0.0);
  for (int k = 0; k < parameters; ++k) noise[k] = std::sin(3.0 * k + 0.5);
  assign(objective.parameters, point);
  const auto& results = function({Array::from(std::span<const double>(noise.data(), parameters), Shape{parameters})});
  Flat gradient;
  int k = 0;
  for (std::size_t i = 1; i < results.size(); ++i)
    for (std::int64_t j = 0; j < results[i].size(); ++j) gradient[k++] = results[i].flat<double>(j);

  HandWritten hand(scheme);
  hand.set_parameters(point);
  hand.fix_batch();
  Flat expected;
  const double expected_loss = hand.loss_gradient(noise, expected);
  double worst = relative(results[0].item(), expected_loss);
  for (int p = 0; p < 2 * parameters; ++p) worst = std::max(worst, relative(gradient[p], expected[p]));
  std::printf("CHECK elbo-gradient %s: loss %.12g vs %.12g, 24 gradient entries, worst relative difference %.2e\n", scheme_name(scheme),
              results[0].item(), expected_loss, worst);
  require(worst <= 1e-10, "symbatch and the hand-written negative ELBO gradient disagree");
}

/// The plain logp + gradient, both drawing batches from the same RNG state, over 200 calls.
void check_logp_gradient(Scheme scheme) {
  const Model model = build_model(scheme);
  Function function = build_logp_gradient(model, 7);
  HandWritten hand(scheme);
  Point theta;
  for (int p = 0; p < parameters; ++p) theta[p] = 0.1 * std::sin(p + 1.0);
  const std::vector<Array> inputs = value_inputs(theta);
  double worst = 0;
  int wraps = 0;
  for (int call = 0; call < 200; ++call) {
    hand.draw_batch(rng_state(function, "minibatch_rng"));
    wraps += hand.batch_wraps();
    Point expected;
    const double expected_logp = hand.logp_gradient(theta, expected);
    const auto& results = function(inputs);
    worst = std::max(worst, relative(results[0].item(), expected_logp));
    int k = 0;
    for (std::size_t i = 1; i < results.size(); ++i)
      for (std::int64_t j = 0; j < results[i].size(); ++j) worst = std::max(worst, relative(results[i].flat<double>(j), expected[k++]));
  }
  std::printf("CHECK logp-gradient %s: 200 batches (%d wrapping), worst relative difference %.2e\n", scheme_name(scheme), wraps, worst);
  require(worst <= 1e-10, "symbatch and the hand-written logp gradient disagree");
}

/// 100 whole steps from the same RNG states: the same batches and eps, so the same iterates.
void check_trajectory(Scheme scheme) {
  const Model model = build_model(scheme);
  AdviStep ours = build_advi_step(model, 11);
  HandWritten hand(scheme);
  require(hand.mu_rho() == flatten(ours.objective.parameters), "the hand-written step starts elsewhere");
  double worst = 0;
  for (int t = 0; t < 100; ++t) {
    const double expected = hand.step(rng_state(ours.step, "minibatch_rng"), rng_state(ours.step, "advi_rng"));
    worst = std::max(worst, relative(ours.step()[0].item(), expected));
    const Flat after = flatten(ours.objective.parameters);
    for (int p = 0; p < 2 * parameters; ++p) worst = std::max(worst, relative(after[p], hand.mu_rho()[p]));
  }
  std::printf("CHECK trajectory %s: 100 steps, loss and mu, rho after each, worst relative difference %.2e\n", scheme_name(scheme), worst);
  require(worst <= 1e-10, "symbatch and the hand-written step drift apart");
}

// ---------------------------------------------------------------------------------------------
// Benchmarks

void bench_hand_advi(benchmark::State& state, Scheme scheme) {
  HandWritten hand(scheme);
  RngState batch_state = seed_rng_state(3, 0), noise_state = seed_rng_state(3, 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(hand.step(batch_state, noise_state));
    batch_state = next_rng_state(batch_state);
    noise_state = next_rng_state(noise_state);
  }
}

void bench_symbatch_advi(benchmark::State& state, Scheme scheme) {
  const Model model = build_model(scheme);
  AdviStep ours = build_advi_step(model, 3);
  for (auto _ : state) benchmark::DoNotOptimize(ours.step()[0].raw_data());
}

Point start_theta() {
  Point theta;
  for (int p = 0; p < parameters; ++p) theta[p] = 0.1 * std::sin(p + 1.0);
  return theta;
}

void bench_hand_logp(benchmark::State& state, Scheme scheme) {
  HandWritten hand(scheme);
  const Point theta = start_theta();
  Point gradient;
  RngState batch_state = seed_rng_state(3, 0);
  for (auto _ : state) {
    hand.draw_batch(batch_state);
    benchmark::DoNotOptimize(hand.logp_gradient(theta, gradient));
    benchmark::DoNotOptimize(gradient.data());
    batch_state = next_rng_state(batch_state);
  }
}

void bench_symbatch_logp(benchmark::State& state, Scheme scheme) {
  const Model model = build_model(scheme);
  Function function = build_logp_gradient(model, 3);
  const std::vector<Array> inputs = value_inputs(start_theta());
  for (auto _ : state) benchmark::DoNotOptimize(function(inputs)[0].raw_data());
}

/// Seconds of one fit call of `steps` steps (fit's own loop around the same step).
double fit_seconds(Scheme scheme, std::int64_t steps) {
  const Model model = build_model(scheme);
  const auto begin = std::chrono::steady_clock::now();
  const FitResult result = fit(model, {.max_iterations = steps,
                                       .seed = 3,
                                       .progress = Progress::none,
                                       .convergence = {.enabled = false},
                                       .control_variate = {.enabled = false}});
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - begin;
  benchmark::DoNotOptimize(result.iterations);
  return elapsed.count();
}

double median_of_three(Scheme scheme, std::int64_t steps) {
  double times[3];
  for (double& time : times) time = fit_seconds(scheme, steps);
  std::sort(times, times + 3);
  return times[1];
}

/// Scheduled nodes whose every output is a scalar (or an RNG state): one op call per element.
std::size_t scalar_nodes(const std::vector<const ApplyNode*>& nodes) {
  return static_cast<std::size_t>(std::count_if(nodes.begin(), nodes.end(), [](const ApplyNode* node) {
    for (const Variable& output : node->outputs())
      if (output.rank() != 0) return false;
    return true;
  }));
}

}  // namespace

int main(int argc, char** argv) {
  const Scheme schemes[] = {Scheme::slice, Scheme::indices};
  if (argc > 1 && std::strcmp(argv[1], "--list-schedule") == 0) {
    for (Scheme scheme : schemes) {
      const Model model = build_model(scheme);
      const AdviStep ours = build_advi_step(model, 0);
      const std::vector<const ApplyNode*> nodes = ours.step.schedule();
      std::printf("SCHEDULE advi %s: %zu nodes (%zu with scalar outputs)\n", scheme_name(scheme), nodes.size(), scalar_nodes(nodes));
      for (std::size_t k = 0; k < nodes.size(); ++k)
        std::printf("  %3zu  %-40s %s\n", k + 1, nodes[k]->op().describe().c_str(), nodes[k]->output(nodes[k]->num_outputs() - 1).type().str().c_str());
    }
    return 0;
  }
  for (Scheme scheme : schemes) {
    check_fit_replica(scheme);
    check_elbo_gradient(scheme);
    check_logp_gradient(scheme);
    check_trajectory(scheme);
  }
  for (Scheme scheme : schemes) {
    const Model model = build_model(scheme);
    const AdviStep ours = build_advi_step(model, 0);  // the functions own the scheduled nodes
    const Function plain = build_logp_gradient(model, 0);
    const std::vector<const ApplyNode*> advi = ours.step.schedule(), logp = plain.schedule();
    std::printf("SCHEDULE advi %s %zu (%zu with scalar outputs)\n", scheme_name(scheme), advi.size(), scalar_nodes(advi));
    std::printf("SCHEDULE logp %s %zu (%zu with scalar outputs)\n", scheme_name(scheme), logp.size(), scalar_nodes(logp));
  }
  using Bench = void (*)(benchmark::State&, Scheme);
  const std::pair<const char*, Bench> cases[] = {
      {"hand/advi", bench_hand_advi}, {"symbatch/advi", bench_symbatch_advi}, {"hand/logp", bench_hand_logp}, {"symbatch/logp", bench_symbatch_logp}};
  for (Scheme scheme : schemes) {
    const std::string suffix = std::string("/") + scheme_name(scheme);
    for (const auto& [name, function] : cases)
      benchmark::RegisterBenchmark((name + suffix).c_str(), function, scheme)
          ->Arg(batch)
          ->Unit(benchmark::kMicrosecond)
          ->Repetitions(5)
          ->ReportAggregatesOnly(true);
  }
  bool filtered = false;  // a --benchmark_filter run (e.g. under perf) skips the FIT lines
  for (int k = 1; k < argc; ++k) filtered = filtered || std::strncmp(argv[k], "--benchmark_filter", 18) == 0;
  benchmark::Initialize(&argc, argv);
  workload::MedianReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\n");  // the console reporter may end on a colour escape without a newline
  for (const char* kind : {"advi", "logp"})
    for (Scheme scheme : schemes) {
      const std::string suffix = std::string(kind) + "/" + scheme_name(scheme) + "/" + std::to_string(batch);
      const auto hand = reporter.medians.find("hand/" + suffix), ours = reporter.medians.find("symbatch/" + suffix);
      if (hand == reporter.medians.end() || ours == reporter.medians.end()) continue;
      std::printf("TIME small_%s %s B=%lld symbatch %.3f us hand %.3f us\n", kind, scheme_name(scheme), static_cast<long long>(batch), ours->second,
                  hand->second);
      std::printf("RATIO small_%s %s B=%lld %.3f\n", kind, scheme_name(scheme), static_cast<long long>(batch), ours->second / hand->second);
    }
  // fit's own loop around the same step (averaging record, loss history, callbacks), median of
  // three calls; the difference to 0 steps leaves out building and compiling the step.
  constexpr std::int64_t steps = 100000;
  if (filtered) return 0;
  for (Scheme scheme : schemes) {
    const double setup = median_of_three(scheme, 0), whole = median_of_three(scheme, steps);
    std::printf("FIT %s B=%lld: fit(K = %lld) %.3f us per step as measured, %.3f us per step after subtracting fit(K = 0) (%.1f ms)\n",
                scheme_name(scheme), static_cast<long long>(batch), static_cast<long long>(steps), whole / steps * 1e6,
                (whole - setup) / steps * 1e6, setup * 1e3);
  }
}
