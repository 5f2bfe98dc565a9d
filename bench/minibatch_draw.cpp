// Cost of drawing a minibatch and making its views: N = 1,000,000 rows of D = 16 doubles plus a
// label vector, B in {64, 1024, 16384}, for every scheme. One compiled call draws the batch and
// returns both views; the circular slice is O(1) when it does not wrap, the gathers O(B D),
// the reshuffle O(N) once per epoch.
#include <benchmark/benchmark.h>

#include "symbatch/compile/function.hpp"
#include "symbatch/minibatch/minibatch.hpp"

namespace {

using namespace symbatch;

constexpr std::int64_t rows = 1'000'000;
constexpr std::int64_t features = 16;

const Array& features_data() {
  static const Array data = Array::zeros(DType::f64, Shape{rows, features});
  return data;
}
const Array& labels_data() {
  static const Array data = Array::zeros(DType::f64, Shape{rows});
  return data;
}

void draw_and_view(benchmark::State& state, MinibatchScheme scheme) {
  Variable x = shared(features_data(), "X");
  Variable y = shared(labels_data(), "y");
  Function f = compile({}, minibatch(state.range(0), {x, y}, {.scheme = scheme}), {.seed = 1});
  for (auto _ : state) {
    const auto& views = f();
    benchmark::DoNotOptimize(views[0].raw_data());
    benchmark::DoNotOptimize(views[1].raw_data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

}  // namespace

BENCHMARK_CAPTURE(draw_and_view, circular_slice, MinibatchScheme::circular_slice)->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK_CAPTURE(draw_and_view, with_replacement, MinibatchScheme::with_replacement)->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK_CAPTURE(draw_and_view, without_replacement, MinibatchScheme::without_replacement)->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK_CAPTURE(draw_and_view, epoch_reshuffle, MinibatchScheme::epoch_reshuffle)->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK_MAIN();
