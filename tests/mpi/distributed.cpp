// The MPI component's tests, run by CTest under `mpiexec -n 1..4` (tests/mpi/CMakeLists.txt).
// Every process runs every check; the job fails when any check fails on any process.
//
// The reference for the distributed results is the same model on this process alone, with the
// same chunk size and seed and no communicator: the exact mode must give its bits, the fast mode
// its values to 1e-13 relative. That single-process path is itself checked against the plain
// (unchunked) graph and the written-out log-probability in tests/model/row_reduction.test.cpp.
#include <Eigen/Dense>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "symbatch/distributions/continuous.hpp"
#include "symbatch/distributions/discrete.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/inference/map.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/mpi/mpi.hpp"
#include "symbatch/ops/blas.hpp"

using namespace symbatch;

namespace {

int failures = 0;
int rank_ = 0;

void check(bool ok, const std::string& what) {
  if (ok) return;
  ++failures;
  std::fprintf(stderr, "rank %d: FAILED: %s\n", rank_, what.c_str());
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

constexpr std::int64_t rows = 517, columns = 4;

Array design() {
  Array x = Array::empty(DType::f64, Shape{rows, columns});
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < columns; ++j) x.data<double>()[i * columns + j] = std::sin(0.7 * static_cast<double>(i) + 1.3 * static_cast<double>(j));
  return x;
}
Array labels() {
  Array y = Array::empty(DType::f64, Shape{rows});
  for (std::int64_t i = 0; i < rows; ++i) y.data<double>()[i] = std::cos(0.11 * static_cast<double>(i * i)) > 0 ? 1.0 : 0.0;
  return y;
}

/// A logistic regression over a minibatch of `batch` rows; `reduction` null: plain graph.
struct Logistic {
  Variable x, y;
  Model model;
  Logistic(std::int64_t batch, MinibatchScheme scheme, const RowReduction* reduction, Array y_data = labels())
      : x(shared(design(), "X")), y(shared(std::move(y_data), "y")) {
    const std::vector<Variable> views = minibatch(batch, {x, y}, {.scheme = scheme});
    const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {columns}});
    const Variable alpha = model.free("alpha", Normal(0.0, 2.0));
    model.observed("obs", BernoulliLogit(matmul(views[0], beta) + alpha), views[1], TotalSize(rows));
    if (reduction) model.set_row_reduction(*reduction);
  }
};

/// logp and its gradient at a fixed point, over `calls` successive batches.
std::vector<double> logp_and_gradient(Logistic& problem, int calls) {
  const std::vector<Variable> values = problem.model.value_variables();
  const Variable logp = problem.model.logp();
  std::vector<Variable> outputs{logp};
  for (const Variable& g : grad(logp, values)) outputs.push_back(g);
  Function f = compile(values, outputs, {.seed = 17});
  const std::vector<Array> point{Array::from(std::vector<double>{0.3, -0.7, 1.1, 0.05}), Array::scalar(-0.2)};
  std::vector<double> results;
  for (int call = 0; call < calls; ++call)
    for (const Array& value : f(point))
      for (std::int64_t k = 0; k < value.size(); ++k) results.push_back(value.flat<double>(k));
  return results;
}

void compare(const std::vector<double>& got, const std::vector<double>& expected, bool exact, const std::string& what) {
  check(got.size() == expected.size(), what + ": result sizes differ");
  double worst = 0;
  std::size_t differ = 0;
  for (std::size_t k = 0; k < std::min(got.size(), expected.size()); ++k) {
    if (!same_bits(got[k], expected[k])) ++differ;
    worst = std::max(worst, std::abs(got[k] - expected[k]) / std::max(1.0, std::abs(expected[k])));
  }
  if (exact) check(differ == 0, what + ": " + std::to_string(differ) + " values differ in their bits (worst relative " + std::to_string(worst) + ")");
  else check(worst < 1e-13, what + ": worst relative difference " + std::to_string(worst));
}

void logp_checks() {
  for (const MinibatchScheme scheme : {MinibatchScheme::circular_slice, MinibatchScheme::with_replacement, MinibatchScheme::epoch_reshuffle}) {
    for (const std::int64_t batch : {3, 64, 300}) {
      for (const std::int64_t chunk : {1, 16, 1024}) {
        const std::string what = "logp, scheme " + std::to_string(static_cast<int>(scheme)) + ", B " + std::to_string(batch) + ", chunk " + std::to_string(chunk);
        const RowReduction local{.chunk_rows = chunk};
        Logistic alone(batch, scheme, &local);
        const std::vector<double> expected = logp_and_gradient(alone, 6);
        for (const ReductionMode mode : {ReductionMode::exact, ReductionMode::fast}) {
          const RowReduction shared_out = mpi::distributed({.mode = mode, .chunk_rows = chunk, .threads = batch == 300 ? 2 : 1});
          Logistic distributed(batch, scheme, &shared_out);
          compare(logp_and_gradient(distributed, 6), expected, mode == ReductionMode::exact, what + (mode == ReductionMode::exact ? " (exact)" : " (fast)"));
        }
        Logistic plain(batch, scheme, nullptr);  // the unchunked graph, to 1e-13
        compare(logp_and_gradient(plain, 6), expected, false, what + " (plain graph)");
      }
    }
  }
}

std::vector<double> flat(const FitResult& result) {
  std::vector<double> values(result.approximation.unconstrained_mean().data(),
                             result.approximation.unconstrained_mean().data() + result.approximation.unconstrained_mean().size());
  const Eigen::VectorXd sd = result.approximation.unconstrained_sd();
  values.insert(values.end(), sd.data(), sd.data() + sd.size());
  values.push_back(static_cast<double>(result.loss_history.size()));
  values.push_back(result.loss_history.back());
  return values;
}

void training_checks() {
  const AdviOptions options{.max_iterations = 400, .seed = 3, .progress = Progress::none};
  const RowReduction local{.chunk_rows = 8};
  Logistic alone(50, MinibatchScheme::circular_slice, &local);
  const std::vector<double> expected = flat(fit(alone.model, options));
  const RowReduction exact = mpi::distributed({.chunk_rows = 8});
  Logistic distributed(50, MinibatchScheme::circular_slice, &exact);
  compare(flat(fit(distributed.model, options)), expected, true, "fit (exact)");

  // A default fit, run to its stopping rule: the same number of steps and the same bits.
  Logistic alone_default(64, MinibatchScheme::circular_slice, &local);
  const FitResult reference = fit(alone_default.model, {.seed = 8, .progress = Progress::none});
  Logistic distributed_default(64, MinibatchScheme::circular_slice, &exact);
  const FitResult result = fit(distributed_default.model, {.seed = 8, .progress = Progress::none});
  check(result.converged == reference.converged, "default fit: converged differs");
  compare(flat(result), flat(reference), true, "default fit (exact, " + std::to_string(reference.loss_history.size()) + " steps)");

  Logistic map_alone(40, MinibatchScheme::without_replacement, &local);
  const MapResult map_reference = find_map(map_alone.model, {.max_iterations = 500, .seed = 2, .progress = Progress::none});
  Logistic map_distributed(40, MinibatchScheme::without_replacement, &exact);
  const MapResult map_result = find_map(map_distributed.model, {.max_iterations = 500, .seed = 2, .progress = Progress::none});
  const auto values = [](const MapResult& result) {
    std::vector<double> all;
    for (const auto& [name, value] : result.point)
      for (std::int64_t k = 0; k < value.size(); ++k) all.push_back(value.flat<double>(k));
    return all;
  };
  compare(values(map_result), values(map_reference), true, "find_map (exact)");

  const RowReduction fast = mpi::distributed({.mode = ReductionMode::fast, .chunk_rows = 8});
  Logistic distributed_fast(50, MinibatchScheme::circular_slice, &fast);
  const std::vector<double> got = flat(fit(distributed_fast.model, options));
  double worst = 0;
  for (std::size_t k = 0; k + 1 < got.size(); ++k) worst = std::max(worst, std::abs(got[k] - expected[k]) / std::max(1.0, std::abs(expected[k])));
  check(worst < 1e-9, "fit (fast): worst relative difference " + std::to_string(worst) + " after 400 steps");
}

/// A failure in one process's share (a group index out of range in the last row): that process
/// raises its own error, every other one a runtime_error saying so, and nobody hangs.
void failure_checks() {
  std::vector<std::int64_t> groups(rows);
  for (std::int64_t i = 0; i < rows; ++i) groups[static_cast<std::size_t>(i)] = i % 3;
  groups.back() = 7;
  Variable g = shared(Array::from(groups), "g"), y = shared(labels(), "y");
  const std::vector<Variable> views = minibatch(rows, {g, y});
  Model model;
  const Variable alpha = model.free("alpha", Normal(0.0, 1.0), {.shape = {3}});
  model.observed("obs", Normal(take(alpha, views[0]), 1.0), views[1], TotalSize(rows));
  model.set_row_reduction(mpi::distributed({.chunk_rows = 16}));
  Function f = compile(model.value_variables(), {model.full_data_logp()});
  const std::vector<Array> point{Array::from(std::vector<double>{0, 0, 0})};
  const int ranks = mpi::Communicator().ranks();
  std::string message = "no error";
  try {
    f(point);
  } catch (const std::exception& e) {
    message = e.what();
  }
  if (rank_ == ranks - 1)  // the last chunk is the last process's
    check(message == "take: index 7 is out of range for axis 0 of size 3", "the failing process raises its own error: " + message);
  else
    check(message == "chunked_observed_sum: another process failed to evaluate its share of the batch (its error is reported there)",
          "the other processes are told: " + message);
  // the function stays usable once the data are fixed
  groups.back() = 1;
  set_value(g, Array::from(groups));
  try {
    check(std::isfinite(f(point)[0].item()), "after set_value the full-data logp is finite");
  } catch (const std::exception& e) {
    check(false, std::string("after set_value: ") + e.what());
  }
}

/// Sharded data: process r holds rows [N r / W, N (r+1) / W) of a linear regression's data and
/// draws B_r = 32 + 8 r of them (stream r). The log-probability is the priors plus, for every
/// process, N_r / B_r times its batch's terms: written out here from every process's batch
/// indices (a one-process simulation of the same strata) and compared, value and gradient.
void sharded_checks() {
  const mpi::Communicator world;
  const int ranks = world.ranks();
  const auto first_row = [&](int r) { return rows * r / ranks; };
  Array x_all = Array::empty(DType::f64, Shape{rows, columns}), y_all = Array::empty(DType::f64, Shape{rows});
  PhiloxStream stream(seed_rng_state(2026, 0));  // independent normal features: a well-conditioned posterior
  for (std::int64_t k = 0; k < rows * columns; ++k) x_all.data<double>()[k] = stream.normal();
  const std::vector<double> w_true{0.5, -1.0, 0.25, 2.0};
  for (std::int64_t i = 0; i < rows; ++i) {
    double mean = 0;
    for (std::int64_t j = 0; j < columns; ++j) mean += x_all.data<double>()[i * columns + j] * w_true[static_cast<std::size_t>(j)];
    y_all.data<double>()[i] = mean + 0.5 * std::sin(3.7 * std::pow(static_cast<double>(i), 1.3));
  }
  const std::int64_t offset = first_row(rank_), shard_rows = first_row(rank_ + 1) - offset;
  const std::int64_t batch = 32 + 8 * rank_;
  for (const ReductionMode mode : {ReductionMode::exact, ReductionMode::fast}) {
    Variable x = shared(x_all.slice_rows(offset, offset + shard_rows).copy(), "X"), y = shared(y_all.slice_rows(offset, offset + shard_rows).copy(), "y");
    const std::vector<Variable> views = minibatch(batch, {x, y}, {.scheme = MinibatchScheme::with_replacement, .stream = static_cast<std::uint64_t>(rank_)});
    Model model;
    const Variable w = model.free("w", Normal(0.0, 2.0), {.shape = {columns}});
    model.observed("obs", Normal(matmul(views[0], w), 0.5), views[1], TotalSize(shard_rows));
    model.set_row_reduction(mpi::distributed({.mode = mode, .chunk_rows = 4, .sharded = true}));
    const Variable logp = model.logp();
    Function f = compile(model.value_variables(), {logp, grad(logp, model.value_variables())[0], minibatch_indices(views[1])}, {.seed = 5});
    const std::vector<double> w_point{0.3, -0.7, 1.1, 0.05};
    for (int call = 0; call < 4; ++call) {
      const auto& out = f({Array::from(w_point)});
      // every process's batch, as rows of the whole data
      std::vector<int> counts(static_cast<std::size_t>(ranks)), starts(static_cast<std::size_t>(ranks));
      for (int r = 0; r < ranks; ++r) {
        counts[static_cast<std::size_t>(r)] = 32 + 8 * r;
        starts[static_cast<std::size_t>(r)] = r == 0 ? 0 : starts[static_cast<std::size_t>(r) - 1] + counts[static_cast<std::size_t>(r) - 1];
      }
      std::vector<std::int64_t> local = out[2].to_vector<std::int64_t>(), all(static_cast<std::size_t>(starts.back() + counts.back()));
      MPI_Allgatherv(local.data(), static_cast<int>(local.size()), MPI_INT64_T, all.data(), counts.data(), starts.data(), MPI_INT64_T, MPI_COMM_WORLD);
      double expected = 0;
      std::vector<double> gradient(columns, 0.0);
      for (std::int64_t j = 0; j < columns; ++j) {
        const double v = w_point[static_cast<std::size_t>(j)];
        expected += -0.5 * std::log(2 * M_PI) - std::log(2.0) - v * v / 8;
        gradient[static_cast<std::size_t>(j)] = -v / 4;
      }
      for (int r = 0; r < ranks; ++r) {
        const double scale = static_cast<double>(first_row(r + 1) - first_row(r)) / counts[static_cast<std::size_t>(r)];
        for (int k = 0; k < counts[static_cast<std::size_t>(r)]; ++k) {
          const std::int64_t i = first_row(r) + all[static_cast<std::size_t>(starts[static_cast<std::size_t>(r)] + k)];
          double mean = 0;
          for (std::int64_t j = 0; j < columns; ++j) mean += x_all.data<double>()[i * columns + j] * w_point[static_cast<std::size_t>(j)];
          const double residual = y_all.data<double>()[i] - mean;
          expected += scale * (-0.5 * std::log(2 * M_PI) - std::log(0.5) - 2 * residual * residual);
          for (std::int64_t j = 0; j < columns; ++j) gradient[static_cast<std::size_t>(j)] += scale * 4 * residual * x_all.data<double>()[i * columns + j];
        }
      }
      const std::string what = std::string("sharded logp (") + (mode == ReductionMode::exact ? "exact" : "fast") + ", call " + std::to_string(call) + ")";
      check(std::abs(out[0].item() - expected) <= 1e-12 * std::abs(expected), what + ": " + std::to_string(out[0].item()) + " vs " + std::to_string(expected));
      for (std::int64_t j = 0; j < columns; ++j)
        check(std::abs(out[1].flat<double>(j) - gradient[static_cast<std::size_t>(j)]) <= 1e-11 * std::max(1.0, std::abs(gradient[static_cast<std::size_t>(j)])),
              what + ": gradient " + std::to_string(j));
      // the processes draw independently (stream = rank): processes 0 and 1 hold different positions
      if (ranks > 1 && call == 0) {
        bool differ = false;
        for (int k = 0; k < 32; ++k) differ = differ || all[static_cast<std::size_t>(k)] != all[static_cast<std::size_t>(32 + k)];
        check(differ, what + ": processes 0 and 1 drew the same positions");
      }
    }
    if (mode == ReductionMode::fast) continue;
    // A default fit on the shards converges to the exact posterior of all the data.
    const FitResult result = fit(model, {.seed = 12, .progress = Progress::none});
    const Eigen::Map<const Eigen::Matrix<double, rows, columns, Eigen::RowMajor>> xm(x_all.data<double>());
    const Eigen::Map<const Eigen::VectorXd> ym(y_all.data<double>(), rows);
    const Eigen::MatrixXd precision = xm.transpose() * xm / 0.25 + Eigen::MatrixXd::Identity(columns, columns) / 4;
    const Eigen::MatrixXd covariance = precision.inverse();
    const Eigen::VectorXd exact = covariance * (xm.transpose() * ym / 0.25);
    const auto moments = result.approximation.moments();
    double worst = 0;
    for (std::int64_t j = 0; j < columns; ++j)
      worst = std::max(worst, std::abs(moments.at("w").mean.flat<double>(j) - exact[j]) / std::sqrt(covariance(j, j)));
    if (rank_ == 0)
      std::printf("sharded fit on %d processes: %zu steps, %s, worst %.3f posterior sd\n", ranks, result.loss_history.size(),
                  result.converged ? "converged" : "not converged", worst);
    check(result.converged, "sharded fit: converged");
    check(worst < 0.5, "sharded fit: a mean is " + std::to_string(worst) + " posterior sd from the exact posterior mean");
  }
}

}  // namespace

int main(int argc, char** argv) {
  mpi::Environment environment(argc, argv);
  rank_ = environment.rank();
  const std::vector<std::pair<const char*, std::function<void()>>> groups{
      {"logp", logp_checks}, {"training", training_checks}, {"failure", failure_checks}, {"sharded", sharded_checks}};
  for (const auto& [name, run] : groups) {
    const double start = MPI_Wtime();
    try {
      run();
      if (environment.is_root()) std::printf("%s checks: %.1f s\n", name, MPI_Wtime() - start);
    } catch (const std::exception& e) {
      check(false, std::string(name) + ": unexpected exception: " + e.what());
    }
  }
  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (environment.is_root()) std::printf("mpi tests on %d processes: %s (%d failures)\n", environment.size(), total == 0 ? "passed" : "FAILED", total);
  return total == 0 ? 0 : 1;
}
