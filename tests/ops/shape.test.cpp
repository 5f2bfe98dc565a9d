// Shape ops: shape_of, dim, reshape (a view), transpose, concatenate and their gradients.
// Transpose and concatenate references were produced with numpy 1.24 on `np.arange` inputs.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "support/gradcheck.hpp"
#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/ops/shape.hpp"
#include "symbatch/ops/subtensor.hpp"

using namespace symbatch;
using symbatch::testing::check_grad;

namespace {

/// `start, start+1, ...` as an f64 array of the given shape.
Array counting(const Shape& shape, double start = 0) {
  Array result = Array::empty(DType::f64, shape);
  for (std::int64_t i = 0; i < result.size(); ++i) result.data<double>()[i] = start + static_cast<double>(i);
  return result;
}
std::vector<double> values(const Array& array) { return array.to_vector<double>(); }
std::vector<std::int64_t> integers(const Array& array) { return array.to_vector<std::int64_t>(); }

}  // namespace

// --- shape_of and dim -----------------------------------------------------------------------

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

// --- reshape --------------------------------------------------------------------------------

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

// --- transpose ------------------------------------------------------------------------------

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

// --- concatenate ----------------------------------------------------------------------------

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
