#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/io/npy.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/ops/blas.hpp"
#include "symbatch/ops/reduce.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace io_npy_minibatch_test {

using namespace symbatch;

namespace {

std::string fixture(const std::string& name) { return (std::filesystem::path(__FILE__).parent_path() / "fixtures" / name).string(); }

bool inside(const Array& view, const Array& mapping) {
  return view.raw_data() >= mapping.buffer_begin() && view.raw_data() + view.bytes() <= mapping.buffer_begin() + mapping.buffer_bytes();
}

}  // namespace

// The fixtures hold X[i, j] = 10 i + j (40 x 3, f64) and y[i] = i (i64), written by NumPy.
TEST_CASE("map_npy: a minibatch over mapped arrays works under every scheme, windows viewing the mapping", "[io][npy][map][minibatch]") {
  const std::int64_t batch_size = 8;
  for (MinibatchScheme scheme : {MinibatchScheme::circular_slice, MinibatchScheme::with_replacement, MinibatchScheme::without_replacement,
                                 MinibatchScheme::epoch_reshuffle}) {
    const Variable X = shared(map_npy(fixture("minibatch_X.npy")), "X");
    const Variable y = shared(map_npy(fixture("minibatch_y.npy")), "y");
    const Array mapping = get_value(X);
    REQUIRE(mapping.borrowed());
    const auto views = minibatch(batch_size, {X, y}, {.scheme = scheme});
    // A model-like use: a linear predictor over the batch and its gradient.
    const Variable w = input("w", DType::f64, {3});
    const Variable cost = sum(matmul(views[0], w));
    Function f = compile({w}, {views[0], views[1], cost, grad(cost, w)}, {.seed = 17});
    const Array weights = Array::from({1.0, -1.0, 0.5});
    int viewed = 0;
    for (int call = 0; call < 200; ++call) {
      const auto& out = f({weights});
      const Array& rows = out[0];
      const Array& labels = out[1];
      REQUIRE(rows.shape() == Shape{labels.size(), 3});
      double expected_cost = 0;
      double column_sums[3] = {};
      for (std::int64_t k = 0; k < labels.size(); ++k) {
        const auto i = static_cast<double>(labels.flat<std::int64_t>(k));
        for (std::int64_t j = 0; j < 3; ++j) {
          REQUIRE(rows.at(k, j) == 10 * i + static_cast<double>(j));
          column_sums[j] += 10 * i + static_cast<double>(j);
          expected_cost += (10 * i + static_cast<double>(j)) * weights.flat<double>(j);
        }
      }
      REQUIRE(out[2].item() == Approx(expected_cost).epsilon(1e-14));
      for (std::int64_t j = 0; j < 3; ++j) REQUIRE(out[3].flat<double>(j) == Approx(column_sums[j]).epsilon(1e-14));
      if (scheme == MinibatchScheme::circular_slice && labels.flat<std::int64_t>(0) + batch_size <= 40) {
        // A window that does not wrap is a zero-copy view into the file's pages.
        REQUIRE(rows.borrowed());
        REQUIRE(inside(rows, mapping));
        REQUIRE(inside(labels, get_value(y)));
        ++viewed;
      }
    }
    if (scheme == MinibatchScheme::circular_slice) CHECK(viewed > 100);
  }
}

}  // namespace io_npy_minibatch_test
