// shape_of and dim: run-time shapes as i64 values.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "support/arrays.hpp"
#include "support/gradcheck.hpp"
#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/ops/dimensions.hpp"
#include "symbatch/ops/subtensor.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace ops_dimensions_test {

using namespace symbatch;
using symbatch::testing::check_grad;

using symbatch::testing::counting;
using symbatch::testing::integers;
using symbatch::testing::values;

TEST_CASE("shape_of: the run-time shape as an i64 vector", "[ops][shape][shape_of]") {
  Variable x = input("x", DType::f64, {Type::unknown, 3, 2});
  Variable s = input("s");
  CHECK(shape_of(x).type() == Type{DType::i64, {3}});
  CHECK(shape_of(s).type() == Type{DType::i64, {0}});
  Function f = compile({x, s}, {shape_of(x), shape_of(s)});
  const auto& result = f({counting(Shape{4, 3, 2}), Array::scalar(1.0)});
  CHECK(integers(result[0]) == std::vector<std::int64_t>{4, 3, 2});
  CHECK(result[1].shape() == Shape{0});
  CHECK(integers(f({counting(Shape{0, 3, 2}), Array::scalar(1.0)})[0]) == std::vector<std::int64_t>{0, 3, 2});
}

TEST_CASE("dim: the run-time length of one axis, negative axes from the end", "[ops][shape][dim]") {
  Variable data = shared(counting(Shape{5, 3}), "data");
  Variable rows = dim(data, 0), cols = dim(data, -1);
  CHECK(rows.type() == Type{DType::i64, {}});
  Function f = compile({}, {rows, cols});
  CHECK(f()[0].item<std::int64_t>() == 5);
  CHECK(f()[1].item<std::int64_t>() == 3);
  set_value(data, counting(Shape{7, 3}));  // total_size scaling reads the new length
  CHECK(f()[0].item<std::int64_t>() == 7);
}

TEST_CASE("dim: the length of a slice with symbolic bounds follows each call", "[ops][shape][dim]") {
  Variable data = shared(counting(Shape{10, 2}), "data");
  Variable start = input("start", DType::i64), stop = input("stop", DType::i64);
  Function f = compile({start, stop}, {dim(slice(data, start, stop), 0)});
  CHECK(f({Array::scalar(std::int64_t{2}), Array::scalar(std::int64_t{7})})[0].item<std::int64_t>() == 5);
  CHECK(f({Array::scalar(std::int64_t{8}), Array::scalar(std::int64_t{20})})[0].item<std::int64_t>() == 2);
}

TEST_CASE("dim: an axis out of range is an error", "[ops][shape][dim]") {
  Variable x = input("x", DType::f64, {2, 3});
  CHECK_THROWS_WITH(dim(x, 2), "dim: axis 2 is out of range for input 1/1 of rank 2");
  CHECK_THROWS_WITH(dim(x, -3), "dim: axis -3 is out of range for input 1/1 of rank 2");
  CHECK_THROWS_AS(dim(input("s"), 0), std::invalid_argument);
}

TEST_CASE("shape_of and dim: disconnected for gradients", "[ops][shape][grad]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  // d/dx [sum(x) * len(x) + sum(shape_of(x))] = len(x) everywhere.
  Variable cost = sum(x) * cast(dim(x, 0), DType::f64) + cast(sum(shape_of(x)), DType::f64);
  Function f = compile({x}, {grad(cost, x)});
  CHECK(values(f({Array::from({1.0, 2.0, 3.0})})[0]) == std::vector<double>{3, 3, 3});
}


TEST_CASE("shape_of and dim: a null variable is an error naming the op", "[ops][shape][errors]") {
  const Variable null;
  CHECK_THROWS_WITH(dim(null, 0), "dim: input 1/1 is a null variable");
  CHECK_THROWS_WITH(shape_of(null), "shape_of: input 1/1 is a null variable");
}

}  // namespace ops_dimensions_test
