// transpose: permuted axes, and its gradient. References from numpy 1.24 on `np.arange` inputs.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "support/arrays.hpp"
#include "support/gradcheck.hpp"
#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/ops/transpose.hpp"
#include "symbatch/ops/subtensor.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace ops_transpose_test {

using namespace symbatch;
using symbatch::testing::check_grad;

using symbatch::testing::counting;
using symbatch::testing::integers;
using symbatch::testing::values;

TEST_CASE("transpose: a matrix, by default", "[ops][shape][transpose]") {
  Variable x = input("x", DType::f64, {Type::unknown, 3});
  Variable t = transpose(x);
  CHECK(t.type() == Type{DType::f64, {3, Type::unknown}});
  Function f = compile({x}, {t});
  const Array& result = f({counting(Shape{2, 3})})[0];
  CHECK(result.shape() == Shape{3, 2});
  CHECK(values(result) == std::vector<double>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("transpose: rank 3 with explicit and negative permutations", "[ops][shape][transpose]") {
  Variable x = input("x", DType::f64, {2, 3, 4});
  CHECK(transpose(x, {1, 2, 0}).type() == Type{DType::f64, {3, 4, 2}});
  Function f = compile({x}, {transpose(x, {1, -1, 0}), transpose(x), transpose(x, {0, 2, 1})});
  const auto& result = f({counting(Shape{2, 3, 4})});
  CHECK(result[0].shape() == Shape{3, 4, 2});
  CHECK(values(result[0]) == std::vector<double>{0, 12, 1, 13, 2, 14, 3, 15, 4, 16, 5, 17, 6, 18, 7, 19, 8, 20, 9, 21, 10, 22, 11, 23});
  CHECK(result[1].shape() == Shape{4, 3, 2});
  CHECK(values(result[1]) == std::vector<double>{0, 12, 4, 16, 8, 20, 1, 13, 5, 17, 9, 21, 2, 14, 6, 18, 10, 22, 3, 15, 7, 19, 11, 23});
  CHECK(result[2].shape() == Shape{2, 4, 3});
  CHECK(values(result[2]) == std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, 12, 16, 20, 13, 17, 21, 14, 18, 22, 15, 19, 23});
}

TEST_CASE("transpose: i64 and bool arrays, and empty arrays", "[ops][shape][transpose]") {
  Variable n = input("n", DType::i64, {2, 2});
  Variable b = input("b", DType::boolean, {1, 3});
  Variable e = input("e", DType::f64, {0, 3});
  Function f = compile({n, b, e}, {transpose(n), transpose(b), transpose(e)});
  Array flags = Array::empty(DType::boolean, Shape{1, 3});
  flags.data<bool>()[0] = true, flags.data<bool>()[1] = false, flags.data<bool>()[2] = true;
  const auto& result = f({Array::from(std::vector<std::int64_t>{1, 2, 3, 4}, Shape{2, 2}), flags, Array::zeros(DType::f64, Shape{0, 3})});
  CHECK(integers(result[0]) == std::vector<std::int64_t>{1, 3, 2, 4});
  CHECK(result[1].shape() == Shape{3, 1});
  CHECK(result[1].to_vector<int>() == std::vector<int>{1, 0, 1});
  CHECK(result[2].shape() == Shape{3, 0});
}

TEST_CASE("transpose: the identity permutation adds no node", "[ops][shape][transpose]") {
  Variable x = input("x", DType::f64, {2, 3});
  Variable v = input("v", DType::f64, {4});
  CHECK(transpose(x, {0, 1}) == x);
  CHECK(transpose(v) == v);
}

TEST_CASE("transpose: a bad permutation is an error", "[ops][shape][transpose]") {
  Variable x = input("x", DType::f64, {2, 3});
  CHECK_THROWS_WITH(transpose(x, {0, 0}), "transpose: permutation (0, 0) is not a permutation of the axes of input 1/1 of shape (2, 3)");
  CHECK_THROWS_WITH(transpose(x, {0, 2}), "transpose: permutation (0, 2) is not a permutation of the axes of input 1/1 of shape (2, 3)");
  CHECK_THROWS_WITH(transpose(x, {1, 0, 2}), "transpose: permutation (1, 0, 2) has 3 axes, expected 2 for input 1/1 of shape (2, 3)");
}

TEST_CASE("transpose: gradient check", "[ops][shape][transpose][grad]") {
  check_grad([](const std::vector<Variable>& in) { return transpose(in[0]); }, {counting(Shape{2, 3}, 0.25)});
  check_grad([](const std::vector<Variable>& in) { return transpose(in[0], {1, 2, 0}); }, {counting(Shape{2, 3, 2}, -3)});
}


TEST_CASE("transpose: a null variable is an error naming the op", "[ops][shape][transpose][errors]") {
  CHECK_THROWS_WITH(transpose(Variable{}), "transpose: input 1/1 is a null variable");
}

}  // namespace ops_transpose_test
