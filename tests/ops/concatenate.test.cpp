// concatenate: arrays joined along an axis, and its gradient. References from numpy 1.24 on `np.arange` inputs.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "support/arrays.hpp"
#include "support/gradcheck.hpp"
#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/ops/concatenate.hpp"
#include "symbatch/ops/subtensor.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace ops_concatenate_test {

using namespace symbatch;
using symbatch::testing::check_grad;

using symbatch::testing::counting;
using symbatch::testing::integers;
using symbatch::testing::values;

TEST_CASE("concatenate: along axis 0 and axis 1", "[ops][shape][concatenate]") {
  Variable a = input("a", DType::f64, {2, 2});
  Variable c = input("c", DType::f64, {Type::unknown, 2});
  Variable d = input("d", DType::f64, {1, 2});
  Variable rows = concatenate({a, c, d});
  CHECK(rows.type() == Type{DType::f64, {Type::unknown, 2}});
  Variable p = input("p", DType::f64, {2, 3});
  Variable q = input("q", DType::f64, {2, 4});
  Variable cols = concatenate({p, q}, 1);
  CHECK(cols.type() == Type{DType::f64, {2, 7}});
  Function f = compile({a, c, d, p, q}, {rows, cols});
  const auto& result = f({counting(Shape{2, 2}), counting(Shape{3, 2}, 10), counting(Shape{1, 2}, 20), counting(Shape{2, 3}),
                          counting(Shape{2, 4}, 100)});
  CHECK(result[0].shape() == Shape{6, 2});
  CHECK(values(result[0]) == std::vector<double>{0, 1, 2, 3, 10, 11, 12, 13, 14, 15, 20, 21});
  CHECK(result[1].shape() == Shape{2, 7});
  CHECK(values(result[1]) == std::vector<double>{0, 1, 2, 100, 101, 102, 103, 3, 4, 5, 104, 105, 106, 107});
}

TEST_CASE("concatenate: a negative axis, an empty piece and i64 inputs", "[ops][shape][concatenate]") {
  Variable x = input("x", DType::f64, {2, 3, 2});
  Variable y = input("y", DType::f64, {2, Type::unknown, 2});
  Function f = compile({x, y}, {concatenate({x, y}, -2)});
  CHECK(values(f({counting(Shape{2, 3, 2}), counting(Shape{2, 1, 2}, 50)})[0]) ==
        std::vector<double>{0, 1, 2, 3, 4, 5, 50, 51, 6, 7, 8, 9, 10, 11, 52, 53});
  CHECK(values(f({counting(Shape{2, 3, 2}), counting(Shape{2, 0, 2})})[0]) == values(counting(Shape{2, 3, 2})));
  Variable m = input("m", DType::i64, {Type::unknown});
  Function g = compile({m}, {concatenate({m, m})});
  CHECK(integers(g({Array::from(std::vector<std::int64_t>{4, 5})})[0]) == std::vector<std::int64_t>{4, 5, 4, 5});
}

TEST_CASE("concatenate: construction errors name the input position", "[ops][shape][concatenate]") {
  Variable a = input("a", DType::f64, {Type::unknown, 4});
  CHECK_THROWS_WITH(concatenate({}), "concatenate: expected at least 1 input, got 0");
  CHECK_THROWS_WITH(concatenate({input("s"), input("t")}), "concatenate: input 1/2 has rank 0, expected rank >= 1");
  CHECK_THROWS_WITH(concatenate({a, a}, 2), "concatenate: axis 2 is out of range for input 1/2 of rank 2");
  CHECK_THROWS_WITH(concatenate({a, input("i", DType::i64, {2, 4})}), "concatenate: input 2/2 has dtype i64, expected f64");
  CHECK_THROWS_WITH(concatenate({a, a, input("v", DType::f64, {4})}), "concatenate: input 3/3 has rank 1, expected rank 2");
  CHECK_THROWS_WITH(concatenate({a, input("b", DType::f64, {2, 3})}), "concatenate: input 2/2 has shape (2, 3), expected (?, 4)");
  CHECK_THROWS_WITH(concatenate({input("p", DType::f64, {2, 3}), input("q", DType::f64, {5, 3})}, 1),
                    "concatenate: input 2/2 has shape (5, 3), expected (2, ?)");
}

TEST_CASE("concatenate: dimensions known only at run time are checked at call time", "[ops][shape][concatenate]") {
  Variable a = input("a", DType::f64, {Type::unknown, Type::unknown});
  Variable b = input("b", DType::f64, {Type::unknown, Type::unknown});
  Function f = compile({a, b}, {concatenate({a, b})});
  CHECK_THROWS_WITH(f({counting(Shape{1, 4}), counting(Shape{2, 3})}), "concatenate: input 2/2 has shape (2, 3), expected (?, 4)");
  CHECK(f({counting(Shape{1, 3}), counting(Shape{2, 3})})[0].shape() == Shape{3, 3});
}

TEST_CASE("concatenate: gradient check along each axis, with a repeated input", "[ops][shape][concatenate][grad]") {
  auto rows = [](const std::vector<Variable>& in) { return concatenate({in[0], in[1], in[0]}); };
  check_grad(rows, {counting(Shape{2, 3}, 0.5), counting(Shape{1, 3}, -2)});
  auto cols = [](const std::vector<Variable>& in) { return concatenate({in[0], in[1]}, 1); };
  check_grad(cols, {counting(Shape{2, 3}, 0.5), counting(Shape{2, 1}, -2)});
  auto middle = [](const std::vector<Variable>& in) { return concatenate({in[1], in[0]}, -2); };
  check_grad(middle, {counting(Shape{2, 2, 2}, 0.5), counting(Shape{2, 1, 2}, -2)});
}

TEST_CASE("concatenate: the gradient of a piece is its part of the upstream gradient", "[ops][shape][concatenate][grad]") {
  Variable a = input("a", DType::f64, {Type::unknown});
  Variable b = input("b", DType::f64, {Type::unknown});
  Variable weights = input("w", DType::f64, {Type::unknown});
  Variable cost = sum(concatenate({a, b}) * weights);
  Function f = compile({a, b, weights}, grad(cost, {a, b}));
  const auto& result = f({Array::from({1.0, 1.0}), Array::from({1.0, 1.0, 1.0}), Array::from({10.0, 20.0, 30.0, 40.0, 50.0})});
  CHECK(values(result[0]) == std::vector<double>{10, 20});
  CHECK(values(result[1]) == std::vector<double>{30, 40, 50});
}

TEST_CASE("concatenate: second-order gradients flow through the gradient pieces", "[ops][shape][concatenate][grad]") {
  // f(a) = sum(concatenate(a, a)^2) / 2, so df/da = 2a and the piece gradients are differentiable.
  auto build = [](const std::vector<Variable>& in) {
    Variable a = in[0];
    Variable half_square = sum(square(concatenate({a, a}))) * 0.5;
    return grad(half_square, a);
  };
  check_grad(build, {Array::from({0.5, -1.0, 2.0})});
}

}  // namespace ops_concatenate_test
