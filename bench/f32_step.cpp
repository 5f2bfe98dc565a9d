// What f32 data storage does to the minibatch step: linear-regression logp + gradient, compiled
// by symbatch, over the same 1,000,000 x 16 data stored as f64 and as f32 (the f64 array is the
// exact conversion of the f32 one, so both give the same numbers). f32 halves the bytes a step
// reads from X; the arithmetic stays in double (the matmul widens X one block of rows at a time).
// After Google Benchmark's table it prints one line per case:
//   RATIO <slice|indices> <B> <f32 median / f64 median>
#include <benchmark/benchmark.h>

#include "median_reporter.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "symbatch/compile/compile.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"
#include "symbatch/random/philox.hpp"

namespace {

using namespace symbatch;

constexpr std::int64_t rows = 1'000'000;
constexpr std::int64_t features = 16;

enum class Scheme { slice, indices };

/// The data, generated once: f32 X and y, and their exact f64 conversions.
struct Data {
  Array x32, y32, x64, y64;
};

Array widened(const Array& single) {
  Array result = Array::empty(DType::f64, single.shape());
  for (std::int64_t k = 0; k < single.size(); ++k) result.data<double>()[k] = static_cast<double>(single.data<float>()[k]);
  return result;
}

const Data& data() {
  static const Data made = [] {
    PhiloxStream stream(seed_rng_state(2024, 0));
    Array x = Array::empty(DType::f32, Shape{rows, features}), y = Array::empty(DType::f32, Shape{rows});
    for (std::int64_t i = 0; i < rows; ++i) {
      double mean = 0;
      for (std::int64_t j = 0; j < features; ++j) {
        x.data<float>()[i * features + j] = static_cast<float>(stream.normal());
        mean += static_cast<double>(x.data<float>()[i * features + j]) * (-1.0 + 2.0 * static_cast<double>(j) / (features - 1));
      }
      y.data<float>()[i] = static_cast<float>(mean + 0.5 * stream.normal());
    }
    return Data{x, y, widened(x), widened(y)};
  }();
  return made;
}

/// The compiled step: logp and its gradient over one minibatch, drawn anew on every call.
Function build(bool single, Scheme scheme, std::int64_t batch) {
  const Data& d = data();
  const Variable x = shared(single ? d.x32 : d.x64, "X");
  const Variable y = shared(single ? d.y32 : d.y64, "y");
  const auto views = minibatch(batch, {x, y}, {.scheme = scheme == Scheme::slice ? MinibatchScheme::circular_slice : MinibatchScheme::with_replacement});
  Model model;
  const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {features}});
  const Variable log_sigma = model.free("log_sigma", Normal(0.0, 1.0));
  model.observed("y", Normal(matmul(views[0], beta), exp(log_sigma)), views[1], TotalSize(rows));
  const Variable logp = model.logp();
  std::vector<Variable> outputs{logp};
  const std::vector<Variable> values = model.value_variables();
  for (const Variable& g : grad(logp, values)) outputs.push_back(g);
  return compile(values, outputs, {.seed = 7});
}

std::vector<Array> point() {
  Array beta = Array::empty(DType::f64, Shape{features});
  for (std::int64_t j = 0; j < features; ++j) beta.data<double>()[j] = 0.1 * std::sin(static_cast<double>(j) + 1);
  return {beta, Array::scalar(0.1 * std::sin(features + 1.0))};
}

void bench_step(benchmark::State& state, bool single, Scheme scheme) {
  Function function = build(single, scheme, state.range(0));
  const std::vector<Array> at = point();
  for (auto _ : state) benchmark::DoNotOptimize(function(at)[0].raw_data());
  state.SetBytesProcessed(state.iterations() * state.range(0) * (features + 1) * static_cast<std::int64_t>(single ? sizeof(float) : sizeof(double)));
}

/// Before timing: f32 and f64 storage give the same logp and gradient on the same batches.
void check_agreement() {
  for (Scheme scheme : {Scheme::slice, Scheme::indices})
    for (std::int64_t batch : {1024, 16384}) {
      Function single = build(true, scheme, batch), dbl = build(false, scheme, batch);
      double worst = 0;
      for (int call = 0; call < 3; ++call) {
        std::vector<Array> from_single;
        for (const Array& a : single(point())) from_single.push_back(a.copy());
        const auto& from_double = dbl(point());
        for (std::size_t k = 0; k < from_single.size(); ++k)
          for (std::int64_t e = 0; e < from_single[k].size(); ++e) {
            const double a = from_single[k].flat<double>(e), b = from_double[k].flat<double>(e);
            worst = std::max(worst, std::abs(a - b) / std::max(1.0, std::abs(b)));
          }
      }
      std::printf("CHECK %s B=%lld: f32 vs f64 storage, worst relative difference %.2e\n", scheme == Scheme::slice ? "slice" : "indices",
                  static_cast<long long>(batch), worst);
      if (!(worst <= 1e-12)) {
        std::fprintf(stderr, "f32 and f64 storage disagree\n");
        std::exit(1);
      }
    }
}

}  // namespace

int main(int argc, char** argv) {
  check_agreement();
  const std::vector<std::int64_t> batches{1024, 16384};
  for (Scheme scheme : {Scheme::slice, Scheme::indices})
    for (bool single : {false, true})
      for (std::int64_t batch : batches)
        benchmark::RegisterBenchmark((std::string(single ? "f32/" : "f64/") + (scheme == Scheme::slice ? "slice" : "indices")).c_str(), bench_step, single,
                                     scheme)
            ->Arg(batch)
            ->Repetitions(5)
            ->ReportAggregatesOnly(true);
  benchmark::Initialize(&argc, argv);
  workload::MedianReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\n");  // the console reporter may end on a colour escape without a newline
  for (const char* scheme : {"slice", "indices"})
    for (std::int64_t batch : batches) {
      const std::string suffix = std::string(scheme) + "/" + std::to_string(batch);
      const auto f64 = reporter.medians.find("f64/" + suffix), f32 = reporter.medians.find("f32/" + suffix);
      if (f64 != reporter.medians.end() && f32 != reporter.medians.end())
        std::printf("RATIO %s %lld %.3f\n", scheme, static_cast<long long>(batch), f32->second / f64->second);
    }
}
