// reshape and reshape_like: views under another shape, and their gradients.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "support/arrays.hpp"
#include "support/gradcheck.hpp"
#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/ops/reshape.hpp"
#include "symbatch/ops/subtensor.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace ops_reshape_test {

using namespace symbatch;
using symbatch::testing::check_grad;

using symbatch::testing::counting;
using symbatch::testing::integers;
using symbatch::testing::values;

TEST_CASE("reshape: C-order values under the new shape, -1 inferred", "[ops][shape][reshape]") {
  Variable x = input("x", DType::f64, {2, 6});
  CHECK(reshape(x, {3, 4}).type() == Type{DType::f64, {3, 4}});
  CHECK(reshape(x, {-1, 3}).type() == Type{DType::f64, {4, 3}});
  CHECK(reshape(x, {2, -1, 2}).type() == Type{DType::f64, {2, 3, 2}});
  CHECK(reshape(x, {-1}).type() == Type{DType::f64, {12}});
  Function f = compile({x}, {reshape(x, {4, -1}), reshape(x, {12})});
  const auto& result = f({counting(Shape{2, 6})});
  CHECK(result[0].shape() == Shape{4, 3});
  CHECK(result[0].at(3, 0) == 9.0);
  CHECK(result[1].shape() == Shape{12});
  CHECK(values(result[1]) == values(counting(Shape{12})));
}

TEST_CASE("reshape: an unknown leading dimension is inferred at run time", "[ops][shape][reshape]") {
  Variable x = input("x", DType::f64, {Type::unknown, 4});
  Variable flat = reshape(x, {-1, 2});
  CHECK(flat.type() == Type{DType::f64, {Type::unknown, 2}});
  Function f = compile({x}, {flat});
  CHECK(f({counting(Shape{3, 4})})[0].shape() == Shape{6, 2});
  CHECK(f({counting(Shape{0, 4})})[0].shape() == Shape{0, 2});
}

TEST_CASE("reshape: the output is a view of the input, also of a sliced view", "[ops][shape][reshape]") {
  Variable data = shared(counting(Shape{6, 2}), "data");
  Variable whole = reshape(data, {-1});
  Variable part = reshape(slice(data, 2, 4), {2, 2});  // rows 2..3 hold 4..7
  CHECK(whole.owner()->op().view_of(0) == 0);
  Function f = compile({}, {whole, part});
  const auto& result = f();
  const Array& parent = get_value(data);
  CHECK(result[0].raw_data() == parent.raw_data());
  CHECK(result[1].shares_buffer(parent));
  CHECK(values(result[1]) == std::vector<double>{4, 5, 6, 7});
}

TEST_CASE("reshape: bad target shapes and size mismatches are errors", "[ops][shape][reshape]") {
  Variable x = input("x", DType::f64, {2, 3});
  CHECK_THROWS_WITH(reshape(x, {-1, -1}), "reshape: shape (-1, -1) has more than one -1");
  CHECK_THROWS_WITH(reshape(x, {2, -3}), "reshape: shape (2, -3) has dimension -3, expected >= 0 or -1");
  CHECK_THROWS_WITH(reshape(x, {4, -1}), "reshape: input 1/1 has shape (2, 3) of size 6, which cannot be reshaped into (4, -1)");
  CHECK_THROWS_WITH(reshape(x, {5}), "reshape: input 1/1 has shape (2, 3) of size 6, which cannot be reshaped into (5,)");
  CHECK_THROWS_WITH(reshape(x, {1, 1, 1, 1, 1, 1, 6}), "reshape: shape (1, 1, 1, 1, 1, 1, 6) has rank 7, more than the maximum rank 6");
  // NumPy refuses to infer -1 next to a zero dimension.
  CHECK_THROWS_WITH(reshape(input("e", DType::f64, {0, 3}), {0, -1}),
                    "reshape: input 1/1 has shape (0, 3) of size 0, which cannot be reshaped into (0, -1)");
}

TEST_CASE("reshape: a size mismatch known only at run time is an error at call time", "[ops][shape][reshape]") {
  Variable x = input("x", DType::f64, {Type::unknown, 3});
  Function f = compile({x}, {reshape(x, {4, -1})});
  CHECK_THROWS_WITH(f({counting(Shape{3, 3})}), "reshape: input 1/1 has shape (3, 3) of size 9, which cannot be reshaped into (4, -1)");
  CHECK(f({counting(Shape{4, 3})})[0].shape() == Shape{4, 3});
}

TEST_CASE("reshape_like: takes the run-time shape of another variable", "[ops][shape][reshape]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable like = input("like", DType::f64, {Type::unknown, 2});
  Function f = compile({x, like}, {reshape_like(x, like)});
  CHECK(f({counting(Shape{6}), counting(Shape{3, 2})})[0].shape() == Shape{3, 2});
  CHECK_THROWS_WITH(f({counting(Shape{5}), counting(Shape{3, 2})}),
                    "reshape_like: input 1/2 has shape (5,) of size 5, expected the size 6 of input 2/2 of shape (3, 2)");
  CHECK_THROWS_WITH(reshape_like(input("a", DType::f64, {4}), input("b", DType::f64, {3})),
                    "reshape_like: input 1/2 has shape (4,) of size 4, expected the size 3 of input 2/2 of shape (3,)");
}

TEST_CASE("reshape: gradient check", "[ops][shape][reshape][grad]") {
  check_grad([](const std::vector<Variable>& in) { return reshape(in[0], {3, -1}); }, {counting(Shape{2, 3}, 0.5)});
  check_grad([](const std::vector<Variable>& in) { return reshape(in[0], {-1}); }, {counting(Shape{2, 2, 2}, -1.5)});
  check_grad([](const std::vector<Variable>& in) { return reshape_like(in[0], in[1]); }, {counting(Shape{6}), counting(Shape{2, 3})});
}


TEST_CASE("reshape: a null variable, and a target whose size overflows, are errors", "[ops][shape][reshape][errors]") {
  CHECK_THROWS_WITH(reshape(Variable{}, {2}), "reshape: input 1/1 is a null variable");
  Variable x = input("x", DType::f64, {Type::unknown});
  Function f = compile({x}, {reshape(x, {std::int64_t{1} << 40, std::int64_t{1} << 40, -1})});
  CHECK_THROWS_WITH(f({Array::zeros(DType::f64, Shape{4})}),
                    "reshape: shape (1099511627776, 1099511627776, -1) has more elements than an array can hold");
}

}  // namespace ops_reshape_test
