// The row-block rewrite runs `X W`, the loops that read it and `X^T r` in one pass over X's
// rows; the values must be those of the unfused graph and of the closed forms.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/blas.hpp"
#include "symbatch/ops/reduce.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace compile_row_block_test {

using namespace symbatch;

namespace {

std::size_t count_row_blocks(const Function& function) {
  std::size_t count = 0;
  for (const ApplyNode* node : function.schedule()) count += node->op().name() == "row_block";
  return count;
}

Array wave(Shape shape, double frequency) {
  Array result = Array::empty(DType::f64, shape);
  for (std::int64_t i = 0; i < result.size(); ++i) result.data<double>()[i] = std::sin(frequency * static_cast<double>(i) + 0.3);
  return result;
}

/// The largest difference between two lists of results, relative to max(1, |plain|).
double worst_difference(const std::vector<Array>& fused, const std::vector<Array>& plain) {
  double worst = 0;
  for (std::size_t k = 0; k < plain.size(); ++k) {
    REQUIRE(fused[k].shape() == plain[k].shape());
    for (std::int64_t i = 0; i < plain[k].size(); ++i) {
      const double a = fused[k].flat<double>(i), b = plain[k].flat<double>(i);
      worst = std::max(worst, std::abs(a - b) / std::max(1.0, std::abs(b)));
    }
  }
  return worst;
}

/// A linear regression's log-likelihood sum(-(y - X w)^2 / (2 s^2)) and its gradients.
struct Linear {
  Variable x = input("X", DType::f64, {Type::unknown, Type::unknown});
  Variable y = input("y", DType::f64, {Type::unknown});
  Variable w = input("w", DType::f64, {Type::unknown});
  Variable s = input("s");
  std::vector<Variable> outputs() const {
    const Variable r = (y - matmul(x, w)) / s;
    const Variable loglik = sum(-0.5 * square(r));
    std::vector<Variable> result{loglik};
    for (const Variable& g : grad(loglik, {w, s})) result.push_back(g);
    return result;
  }
};

}  // namespace

TEST_CASE("row_block: a linear regression's X w, loops and X^T r run as one pass, with the unfused values and the closed form", "[compile][row_block]") {
  const Linear model;
  Function fused = compile({model.x, model.y, model.w, model.s}, model.outputs(), {.row_blocks = true});
  Function plain = compile({model.x, model.y, model.w, model.s}, model.outputs(), {.fuse = false});
  CHECK(count_row_blocks(fused) == 1);
  CHECK(count_row_blocks(plain) == 0);
  // 1, 3 and 1030 rows: one partial block, and several blocks with a partial last one.
  for (std::int64_t rows : {1, 3, 256, 1030}) {
    for (std::int64_t columns : {1, 5, 16, 40}) {  // 40: wider than the short-row GEMV
      const Array x = wave(Shape{rows, columns}, 0.7), y = wave(Shape{rows}, 0.2), w = wave(Shape{columns}, 1.1);
      const std::vector<Array> values{x, y, w, Array::scalar(0.8)};
      const std::vector<Array> a = fused(values);
      const std::vector<Array> b = plain(values);
      CHECK(worst_difference(a, b) <= 1e-13);
      // The closed form: d/dw = X^T (y - X w) / s^2.
      std::vector<double> residual(static_cast<std::size_t>(rows));
      for (std::int64_t i = 0; i < rows; ++i) {
        double eta = 0;
        for (std::int64_t j = 0; j < columns; ++j) eta += x.flat<double>(i * columns + j) * w.flat<double>(j);
        residual[static_cast<std::size_t>(i)] = (y.flat<double>(i) - eta) / (0.8 * 0.8);
      }
      for (std::int64_t j = 0; j < columns; ++j) {
        double expected = 0;
        for (std::int64_t i = 0; i < rows; ++i) expected += x.flat<double>(i * columns + j) * residual[static_cast<std::size_t>(i)];
        CHECK(a[1].flat<double>(j) == Approx(expected).epsilon(1e-12).margin(1e-12));
      }
    }
  }
}

TEST_CASE("row_block: a thin matrix W (several linear predictors per row) gives the unfused values", "[compile][row_block]") {
  Variable x = input("X", DType::f64, {Type::unknown, Type::unknown});
  Variable y = input("y", DType::f64, {Type::unknown, Type::unknown});
  Variable w = input("W", DType::f64, {Type::unknown, Type::unknown});
  const Variable eta = matmul(x, w);
  const Variable loglik = sum(y * eta - exp(eta));  // a Poisson-like term per row and column
  std::vector<Variable> outputs{loglik};
  for (const Variable& g : grad(loglik, {w})) outputs.push_back(g);
  Function fused = compile({x, y, w}, outputs, {.row_blocks = true});
  Function plain = compile({x, y, w}, outputs, {.fuse = false});
  CHECK(count_row_blocks(fused) == 1);
  for (std::int64_t width : {1, 3, 7}) {  // 7: blocks of 36 rows
    const std::vector<Array> values{wave(Shape{301, 6}, 0.4), wave(Shape{301, width}, 0.9), wave(Shape{6, width}, 0.5)};
    CHECK(worst_difference(fused(values), plain(values)) <= 1e-13);
  }
}

TEST_CASE("row_block: shapes that do not fit run the ops one by one, with the unfused graph's errors", "[compile][row_block]") {
  const Linear model;
  Function fused = compile({model.x, model.y, model.w, model.s}, model.outputs(), {.row_blocks = true});
  Function plain = compile({model.x, model.y, model.w, model.s}, model.outputs(), {.fuse = false});
  REQUIRE(count_row_blocks(fused) == 1);
  // y of one element broadcasts over the rows: the loop still runs over eta's elements.
  const std::vector<Array> broadcast{wave(Shape{9, 4}, 0.7), Array::from(std::vector<double>{0.5}), wave(Shape{4}, 1.1), Array::scalar(1.5)};
  CHECK(worst_difference(fused(broadcast), plain(broadcast)) <= 1e-13);
  // X's columns do not match w: matmul's own error.
  const std::vector<Array> misaligned{wave(Shape{9, 4}, 0.7), wave(Shape{9}, 0.2), wave(Shape{5}, 1.1), Array::scalar(1.5)};
  CHECK_THROWS_WITH(plain(misaligned), "matmul: shapes (9, 4) and (5,) do not align (4 != 5)");
  CHECK_THROWS_WITH(fused(misaligned), "matmul: shapes (9, 4) and (5,) do not align (4 != 5)");
  // y's rows do not match X's: the loop's error, from the op that would throw it.
  const std::vector<Array> rows{wave(Shape{9, 4}, 0.7), wave(Shape{8}, 0.2), wave(Shape{4}, 1.1), Array::scalar(1.5)};
  std::string expected;
  try {
    plain(rows);
  } catch (const std::invalid_argument& error) {
    expected = error.what();
  }
  REQUIRE_FALSE(expected.empty());
  CHECK_THROWS_WITH(fused(rows), expected);
  // The function is still usable, and then gives the fitting values again.
  const std::vector<Array> good{wave(Shape{9, 4}, 0.7), wave(Shape{9}, 0.2), wave(Shape{4}, 1.1), Array::scalar(1.5)};
  CHECK(worst_difference(fused(good), plain(good)) <= 1e-13);
}

TEST_CASE("row_block: the caller's arrays are never written", "[compile][row_block]") {
  const Linear model;
  Function fused = compile({model.x, model.y, model.w, model.s}, model.outputs(), {.row_blocks = true});
  const std::vector<Array> values{wave(Shape{700, 16}, 0.7), wave(Shape{700}, 0.2), wave(Shape{16}, 1.1), Array::scalar(0.9)};
  std::vector<Array> copies;
  for (const Array& value : values) copies.push_back(value.copy());
  for (int call = 0; call < 3; ++call) fused(values);
  for (std::size_t k = 0; k < values.size(); ++k) CHECK(std::memcmp(values[k].raw_data(), copies[k].raw_data(), values[k].bytes()) == 0);
}

TEST_CASE("row_block: a loop reading a value computed outside from eta is left unfused", "[compile][row_block]") {
  // The loop reads sum(eta), which needs every row's eta before the first block: no row block.
  Variable x = input("X", DType::f64, {Type::unknown, Type::unknown});
  Variable w = input("w", DType::f64, {Type::unknown});
  const Variable eta = matmul(x, w);
  const Variable loglik = sum(square(eta) * sum(eta));
  std::vector<Variable> outputs{loglik};
  for (const Variable& g : grad(loglik, {w})) outputs.push_back(g);
  Function fused = compile({x, w}, outputs, {.row_blocks = true});
  Function plain = compile({x, w}, outputs, {.fuse = false});
  CHECK(count_row_blocks(fused) == 0);
  const std::vector<Array> values{wave(Shape{50, 3}, 0.7), wave(Shape{3}, 1.1)};
  CHECK(worst_difference(fused(values), plain(values)) <= 1e-12);
}

}  // namespace compile_row_block_test
