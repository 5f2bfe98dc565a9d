// Cost of the convergence diagnostics on an optimisation history of 10,000 iterates x 20
// parameters (the size issue 13's stopping rule looks at), with reused workspaces, and the
// number of heap allocations per call once the workspaces have grown (counted by replacing the
// global operator new in this program): split-R-hat of the window per parameter (rank-normalized
// and basic), ESS and MCSE of every parameter, PSIS of 4,000 log-ratios, Gauss-Hermite moments.
//
// Eigen allocates with malloc, not operator new: its allocations are counted through
// EIGEN_RUNTIME_NO_MALLOC, whose check is routed to a counter instead of an assertion.
#include <atomic>
#include <cstdint>

namespace {
std::atomic<std::int64_t> allocation_count{0};
}  // namespace

#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(condition) \
  do {                          \
    if (!(condition)) allocation_count.fetch_add(1, std::memory_order_relaxed); \
  } while (false)

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <new>

#include "symbatch/inference/ess.hpp"
#include "symbatch/inference/gauss_hermite.hpp"
#include "symbatch/inference/psis.hpp"
#include "symbatch/inference/rhat.hpp"

// Replacing the global allocation functions is the point of this file: the matching delete
// operators below free what these malloc.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t size) {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  if (void* pointer = std::malloc(size == 0 ? 1 : size)) return pointer;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* pointer) noexcept { std::free(pointer); }
void operator delete(void* pointer, std::size_t) noexcept { std::free(pointer); }
void operator delete[](void* pointer) noexcept { std::free(pointer); }
void operator delete[](void* pointer, std::size_t) noexcept { std::free(pointer); }

namespace {

using namespace symbatch;

constexpr Eigen::Index iterations = 10'000;
constexpr Eigen::Index parameters = 20;

// AR(1) jitter with phi = 0.9 around a level, like averaged-optimizer iterates.
const Eigen::MatrixXd& history() {
  static const Eigen::MatrixXd values = [] {
    Eigen::MatrixXd out(iterations, parameters);
    std::uint64_t state = 12345;
    const auto uniform = [&] {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      return static_cast<double>(state >> 11) * (1.0 / 9007199254740992.0);
    };
    for (Eigen::Index p = 0; p < parameters; ++p) {
      double noise = 0;
      for (Eigen::Index t = 0; t < iterations; ++t) {
        noise = 0.9 * noise + (uniform() + uniform() + uniform() - 1.5);
        out(t, p) = static_cast<double>(p) + 0.01 * noise;
      }
    }
    return out;
  }();
  return values;
}

// Runs `body` once to grow the workspaces, then counts allocations over the timed loop.
template <class Body>
void run(benchmark::State& state, Body&& body) {
  body();
  const std::int64_t before = allocation_count.load();
  Eigen::internal::set_is_malloc_allowed(false);
  for (auto _ : state) body();
  Eigen::internal::set_is_malloc_allowed(true);
  state.counters["allocations_per_call"] =
      static_cast<double>(allocation_count.load() - before) / static_cast<double>(state.iterations());
}

void rhat_of_window(benchmark::State& state, RhatKind kind) {
  RankWorkspace workspace;
  Eigen::VectorXd out(parameters);
  const std::int64_t windows = state.range(0);
  run(state, [&] {
    rhat_of_windows(history(), iterations, windows, kind, out, workspace);
    benchmark::DoNotOptimize(out.data());
  });
}

void ess_and_mcse(benchmark::State& state, bool bulk) {
  EssWorkspace workspace;
  run(state, [&] {
    double total = 0;
    for (Eigen::Index p = 0; p < parameters; ++p)
      total += bulk ? ess_bulk(history().col(p), workspace) : mcse_mean(history().col(p), workspace);
    benchmark::DoNotOptimize(total);
  });
}

void psis_4000(benchmark::State& state) {
  Eigen::VectorXd log_ratios(4000), smoothed(4000);
  for (Eigen::Index s = 0; s < 4000; ++s) log_ratios[s] = 0.3 * std::pow(history()(s, 0) * 30.0, 2);
  PsisWorkspace workspace;
  run(state, [&] {
    benchmark::DoNotOptimize(psis(log_ratios, smoothed, workspace).pareto_k);
  });
}

void gauss_hermite_moments(benchmark::State& state) {
  const GaussHermiteRule rule = gauss_hermite(state.range(0));
  run(state, [&] {
    double total = 0;
    for (Eigen::Index p = 0; p < parameters; ++p)
      total += normal_expectation(rule, 0.1 * static_cast<double>(p), 0.5, [](double x) { return 1 / (1 + std::exp(-x)); }).variance;
    benchmark::DoNotOptimize(total);
  });
}

void gauss_hermite_rule(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(gauss_hermite(state.range(0)).weights.data());
}

}  // namespace

BENCHMARK_CAPTURE(rhat_of_window, rank_normalized, RhatKind::rank_normalized)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(rhat_of_window, basic, RhatKind::basic)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ess_and_mcse, mcse_mean, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ess_and_mcse, ess_bulk, true)->Unit(benchmark::kMillisecond);
BENCHMARK(psis_4000)->Unit(benchmark::kMicrosecond);
BENCHMARK(gauss_hermite_moments)->Arg(32)->Arg(100)->Unit(benchmark::kMicrosecond);
BENCHMARK(gauss_hermite_rule)->Arg(32)->Arg(100)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
