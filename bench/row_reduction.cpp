// The chunked row reduction (Model::set_row_reduction) against the plain compiled graph on the
// logp + gradient workload of logp_grad.cpp: what chunking costs on one thread, and what a
// second thread gains. After Google Benchmark's table it prints one line per case:
//   CHUNKED <linear|logistic> <slice|indices> <B> <1 thread / plain> <2 threads / plain>
// (medians; below 1 is faster than the plain graph). Chunks of 1024 rows.
#include <benchmark/benchmark.h>

#include "median_reporter.hpp"

#include <cstdio>
#include <map>
#include <string>

#include "workload.hpp"

namespace {

using namespace symbatch;
using namespace workload;

void bench_case(benchmark::State& state, Likelihood likelihood, Scheme scheme, int threads) {
  const std::int64_t batch = state.range(0);
  const std::optional<RowReduction> reduction = threads == 0 ? std::nullopt : std::optional<RowReduction>(RowReduction{.threads = threads});
  Symbolic symbolic = build_symbatch(likelihood, scheme, batch, reduction);
  const Eigen::VectorXd point = start_point(likelihood);
  std::vector<Array> inputs{to_array(Eigen::VectorXd(point.head(features)))};
  if (likelihood == Likelihood::linear) inputs.push_back(Array::scalar(point[features]));
  for (auto _ : state) benchmark::DoNotOptimize(symbolic.function(inputs)[0].raw_data());
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::int64_t> batches{64, 1024, 16384, 65536};
  const char* variants[] = {"plain", "chunked_t1", "chunked_t2"};
  for (Likelihood likelihood : {Likelihood::linear, Likelihood::logistic})
    for (Scheme scheme : {Scheme::slice, Scheme::indices}) {
      const std::string name = std::string(likelihood == Likelihood::linear ? "linear" : "logistic") + "/" + (scheme == Scheme::slice ? "slice" : "indices");
      for (std::int64_t batch : batches)
        for (int threads = 0; threads <= 2; ++threads)
          benchmark::RegisterBenchmark((std::string(variants[threads]) + "/" + name).c_str(), bench_case, likelihood, scheme, threads)
              ->Arg(batch)->Repetitions(5)->ReportAggregatesOnly(true)->UseRealTime();
    }
  benchmark::Initialize(&argc, argv);
  MedianReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\n");
  for (const char* likelihood : {"linear", "logistic"})
    for (const char* scheme : {"slice", "indices"})
      for (std::int64_t batch : batches) {
        const std::string suffix = std::string(likelihood) + "/" + scheme + "/" + std::to_string(batch);
        const auto plain = reporter.medians.find("plain/" + suffix), one = reporter.medians.find("chunked_t1/" + suffix),
                   two = reporter.medians.find("chunked_t2/" + suffix);
        if (plain != reporter.medians.end() && one != reporter.medians.end() && two != reporter.medians.end())
          std::printf("CHUNKED %s %s %lld %.3f %.3f\n", likelihood, scheme, static_cast<long long>(batch), one->second / plain->second,
                      two->second / plain->second);
      }
}
