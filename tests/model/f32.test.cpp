// A minibatch model over f32 data (storage only) against the same model over the f64 conversion.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "symbatch/compile/compile.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/distributions/discrete.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/io/npy.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace model_f32_test {

using namespace symbatch;

namespace {

std::string fixture(const std::string& name) {
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "io" / "fixtures" / name).string();
}

Array widened(const Array& x) {
  Array result = Array::empty(DType::f64, x.shape());
  for (std::int64_t k = 0; k < x.size(); ++k) result.data<double>()[k] = static_cast<double>(x.data<float>()[k]);
  return result;
}

/// Linear regression y ~ Normal(X w + b, sigma) over minibatch views of (X, y), with total_size
/// N; the compiled function returns logp and its gradient with respect to every value variable.
struct Regression {
  std::optional<Function> function;
  Variable X;
  std::vector<Variable> values;
  Regression(const Array& X_data, const Array& y_data, std::int64_t batch_size, MinibatchScheme scheme) {
    const std::int64_t rows = X_data.shape()[0], columns = X_data.shape()[1];
    X = shared(X_data, "X");
    const Variable y = shared(y_data, "y");
    const auto views = minibatch(batch_size, {X, y}, {.scheme = scheme});
    Model model;
    const Variable w = model.free("w", Normal(0.0, 1.0), {.shape = {columns}});
    const Variable b = model.free("b", Normal(0.0, 2.0));
    const Variable sigma = model.free("sigma", HalfNormal(1.0));
    model.observed("y", Normal(add(matmul(views[0], w), b), sigma), views[1], TotalSize(rows));
    values = model.value_variables();
    const Variable logp = model.logp();
    std::vector<Variable> outputs{logp};
    for (const Variable& g : grad(logp, values)) outputs.push_back(g);
    function.emplace(compile(values, outputs, {.seed = 29}));
  }
};

std::vector<Array> point(double shift) {
  return {Array::from({0.5 + shift, -1.0, 0.25}), Array::scalar(0.1 - shift), Array::scalar(-0.3 + shift)};
}

/// Runs both regressions for `calls` steps; logp and every gradient must be identical, or equal
/// to `relative` when the f32 matmul's blocks sum in another order than one product in double.
void check_same_steps(Regression& single, Regression& reference, int calls, double relative = 0) {
  for (int call = 0; call < calls; ++call) {
    const std::vector<Array> at = point(0.01 * call);
    const std::vector<Array> from_single = [&] {
      std::vector<Array> copies;
      for (const Array& a : (*single.function)(at)) copies.push_back(a.copy());
      return copies;
    }();
    const auto& from_reference = (*reference.function)(at);
    REQUIRE(from_single.size() == from_reference.size());
    REQUIRE(std::isfinite(from_single[0].item()));
    for (std::size_t k = 0; k < from_single.size(); ++k) {
      CHECK(from_single[k].dtype() == DType::f64);
      if (relative == 0) {
        CHECK(from_single[k].to_vector() == from_reference[k].to_vector());
      } else {
        for (std::int64_t e = 0; e < from_single[k].size(); ++e)
          CHECK(from_single[k].flat<double>(e) == Approx(from_reference[k].flat<double>(e)).epsilon(relative));
      }
    }
  }
}

/// sin-shaped f32 data: X is N x 3, y a noisy linear function of it.
std::pair<Array, Array> f32_data(std::int64_t rows) {
  Array X = Array::empty(DType::f32, Shape{rows, 3}), y = Array::empty(DType::f32, Shape{rows});
  for (std::int64_t i = 0; i < rows; ++i) {
    double mean = 0.2;
    for (std::int64_t j = 0; j < 3; ++j) {
      const float value = static_cast<float>(std::sin(0.37 * static_cast<double>(i * 3 + j)));
      X.data<float>()[i * 3 + j] = value;
      mean += (j + 1.0) * value;
    }
    y.data<float>()[i] = static_cast<float>(mean + 0.1 * std::cos(1.3 * static_cast<double>(i)));
  }
  return {X, y};
}

}  // namespace

TEST_CASE("f32 model: a minibatch regression over f32 data has the logp and gradient of the f64 conversion", "[model][f32]") {
  const auto [X, y] = f32_data(5000);
  for (MinibatchScheme scheme : {MinibatchScheme::circular_slice, MinibatchScheme::with_replacement, MinibatchScheme::without_replacement}) {
    for (std::int64_t batch_size : {64, 1000}) {
      Regression single(X, y, batch_size, scheme);
      Regression reference(widened(X), widened(y), batch_size, scheme);
      check_same_steps(single, reference, 30);
    }
    // 3000 rows are three of the f32 matmul's row blocks (1365 rows of 3 columns each): X^T g
    // sums the blocks in another order than one product in double does.
    Regression single(X, y, 3000, scheme);
    Regression reference(widened(X), widened(y), 3000, scheme);
    check_same_steps(single, reference, 10, 1e-12);
  }
}

TEST_CASE("f32 model: over a mapped float32 .npy file the circular window views the mapping", "[model][f32][io]") {
  // minibatch_X_f4.npy holds X[i, j] = (10 i + j) / 3 and minibatch_y_f4.npy y[i] = i / 7, float32, 40 rows (NumPy wrote them).
  const Array X = map_npy(fixture("minibatch_X_f4.npy"));
  const Array y = map_npy(fixture("minibatch_y_f4.npy"));
  REQUIRE(X.dtype() == DType::f32);
  REQUIRE(X.borrowed());
  CHECK(X.at(13, 2) == static_cast<double>(static_cast<float>(132.0 / 3)));
  CHECK(y.at(39) == static_cast<double>(static_cast<float>(39.0 / 7)));
  Regression single(X, y, 8, MinibatchScheme::circular_slice);
  Regression reference(widened(X), widened(y), 8, MinibatchScheme::circular_slice);
  check_same_steps(single, reference, 40);
  // The window itself: a view into the mapping unless it wraps.
  const auto views = minibatch(8, {single.X});
  Function window = compile({}, {views[0]}, {.seed = 3});
  int viewed = 0;
  for (int call = 0; call < 40; ++call) {
    const Array& rows = window()[0];
    CHECK(rows.dtype() == DType::f32);
    if (rows.shares_buffer(get_value(single.X))) ++viewed;
  }
  // A window starting at one of rows 0..32 does not wrap: P(no view in 40 calls) = (7/40)^40.
  CHECK(viewed > 0);
}

TEST_CASE("f32 model: observed f32 data outside the support are named, with their value as a double", "[model][f32][errors]") {
  Model model;
  const Variable y = shared(Array::from(std::vector<float>{1.0f, std::nanf(""), 2.0f}, Shape{3}), "y");
  model.observed("y", Normal(0.0, 1.0), y);
  Function f = compile({}, {model.logp()});
  CHECK_THROWS_WITH(f(), "Model::observed: the data of 'y' hold nan at row 1, outside the support of normal (real numbers)");
  Model counts;
  const Variable k = shared(Array::from(std::vector<float>{1.0f, 2.0f, 1.5f}, Shape{3}), "k");
  counts.observed("k", Poisson(3.0), k);
  Function g = compile({}, {counts.logp()});
  CHECK_THROWS_WITH(g(), "Model::observed: the data of 'k' hold 1.5 at row 2, outside the support of poisson (nonnegative integers)");
  // Valid f32 counts give the f64 log-mass: log(3^2 e^-3 / 2!) at k = 2.
  Model valid;
  valid.observed("k", Poisson(3.0), shared(Array::from(std::vector<float>{2.0f}, Shape{1}), "k"));
  Function h = compile({}, {valid.logp()});
  CHECK(h()[0].item() == Approx(2 * std::log(3.0) - 3 - std::log(2.0)).epsilon(1e-15));
}

}  // namespace model_f32_test
