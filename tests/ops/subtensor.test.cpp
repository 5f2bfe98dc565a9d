// Row selection along axis 0: slice (a view), inc_slice, take, scatter_add and their gradients.
// References are hand computed; the NumPy clipping table was produced with numpy 1.24
// (`np.arange(5)[start:stop]`).
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "support/gradcheck.hpp"
#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/ops/subtensor.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace ops_subtensor_test {

using namespace symbatch;
using symbatch::testing::check_grad;

namespace {

Array i64(std::int64_t value) { return Array::scalar(value); }
Array i64_vector(std::vector<std::int64_t> values) { return Array::from(values); }
Array matrix(std::vector<double> values, std::int64_t rows, std::int64_t cols) { return Array::from(values, Shape{rows, cols}); }
/// `0, 1, ..., rows*cols-1` as a rows x cols f64 matrix.
Array counting(std::int64_t rows, std::int64_t cols) { return Array::arange<double>(rows * cols).reshaped(Shape{rows, cols}); }
std::vector<double> values(const Array& array) { return array.to_vector<double>(); }
Variable scalar_bound(const std::string& name) { return input(name, DType::i64); }

/// True when `view`'s elements lie inside `parent`'s buffer.
bool inside_buffer(const Array& view, const Array& parent) {
  const std::byte* begin = parent.buffer_begin();
  const std::byte* end = begin + parent.buffer_bytes();
  return view.raw_data() >= begin && view.raw_data() + view.bytes() <= end;
}

}  // namespace

// --- slice ----------------------------------------------------------------------------------

TEST_CASE("slice: rows start:stop of a matrix", "[ops][subtensor][slice]") {
  Variable x = input("x", DType::f64, {4, 2});
  Variable rows = slice(x, 1, 3);
  CHECK(rows.type() == Type{DType::f64, {2, 2}});
  Function f = compile({x}, {rows});
  const Array& result = f({counting(4, 2)})[0];
  CHECK(result.shape() == Shape{2, 2});
  CHECK(values(result) == std::vector<double>{2, 3, 4, 5});
}

TEST_CASE("slice: bounds are clipped as NumPy does", "[ops][subtensor][slice]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable start = scalar_bound("start"), stop = scalar_bound("stop");
  Function f = compile({x, start, stop}, {slice(x, start, stop)});
  struct Case {
    std::int64_t start, stop;
    std::vector<double> expected;
  };
  const std::vector<Case> cases{
      {1, 3, {1, 2}},  {-2, 5, {3, 4}},   {-10, 2, {0, 1}}, {3, 100, {3, 4}},     {4, 1, {}},   {2, 2, {}},      {-1, -3, {}},
      {0, -1, {0, 1, 2, 3}}, {7, 9, {}}, {-100, -50, {}},   {-3, -1, {2, 3}}, {0, 5, {0, 1, 2, 3, 4}}, {-5, -4, {0}},
  };
  for (const Case& c : cases) {
    INFO("x[" << c.start << ":" << c.stop << "]");
    const Array& result = f({Array::arange<double>(5), i64(c.start), i64(c.stop)})[0];
    CHECK(result.shape() == Shape{static_cast<std::int64_t>(c.expected.size())});
    CHECK(values(result) == c.expected);
  }
}

TEST_CASE("slice: an empty input gives empty slices", "[ops][subtensor][slice]") {
  Variable x = input("x", DType::f64, {Type::unknown, 3});
  Variable start = scalar_bound("start"), stop = scalar_bound("stop");
  Function f = compile({x, start, stop}, {slice(x, start, stop)});
  CHECK(f({Array::zeros(DType::f64, Shape{0, 3}), i64(1), i64(3)})[0].shape() == Shape{0, 3});
  CHECK(f({Array::zeros(DType::f64, Shape{0, 3}), i64(-1), i64(3)})[0].shape() == Shape{0, 3});
}

TEST_CASE("slice: symbolic bounds given as graph inputs change per call", "[ops][subtensor][slice]") {
  Variable x = input("x", DType::f64, {Type::unknown, 2});
  Variable start = scalar_bound("start"), stop = scalar_bound("stop");
  Variable total = sum(slice(x, start, stop));
  Function f = compile({x, start, stop}, {total, slice(x, start, stop)});
  const Array data = counting(6, 2);  // row r holds 2r and 2r+1, summing to 4r+1
  CHECK(f({data, i64(0), i64(2)})[0].item() == 0 + 1 + 2 + 3);
  CHECK(f({data, i64(2), i64(5)})[0].item() == 9 + 13 + 17);
  CHECK(f({data, i64(-1), i64(6)})[1].shape() == Shape{1, 2});
  CHECK(f({data, i64(3), i64(3)})[0].item() == 0);
}

TEST_CASE("slice: the output is a zero-copy view into its parent's buffer", "[ops][subtensor][slice]") {
  Variable data = shared(counting(10, 3), "data");
  Variable start = scalar_bound("start");
  Variable view = slice(data, start, add(start, constant(Array::scalar(std::int64_t{4}))));
  Function f = compile({start}, {view});
  for (std::int64_t s : {0, 3, 6}) {
    const Array& result = f({i64(s)})[0];
    const Array& parent = get_value(data);
    CHECK(result.shares_buffer(parent));
    CHECK(inside_buffer(result, parent));
    CHECK(result.raw_data() == parent.raw_data() + s * 3 * sizeof(double));
    CHECK(result.at(0, 0) == 3.0 * static_cast<double>(s));
  }
  CHECK(view.owner()->op().view_of(0) == 0);
}

TEST_CASE("slice: a slice of a slice is still a view of the original data", "[ops][subtensor][slice]") {
  Variable data = shared(Array::arange<double>(10), "data");
  Variable inner = slice(slice(data, 2, 9), 1, -1);  // rows 3..7
  Function f = compile({}, {inner});
  const Array& result = f()[0];
  CHECK(values(result) == std::vector<double>{3, 4, 5, 6, 7});
  CHECK(inside_buffer(result, get_value(data)));
}

TEST_CASE("slice: the row count is static only for constant bounds on a static length", "[ops][subtensor][slice]") {
  Variable fixed = input("fixed", DType::f64, {5, 2});
  Variable open = input("open", DType::f64, {Type::unknown, 2});
  Variable start = scalar_bound("start");
  CHECK(slice(fixed, -2, 10).type() == Type{DType::f64, {2, 2}});
  CHECK(slice(fixed, 4, 1).type() == Type{DType::f64, {0, 2}});
  CHECK(slice(fixed, start, 3).type() == Type{DType::f64, {Type::unknown, 2}});
  CHECK(slice(open, 0, 3).type() == Type{DType::f64, {Type::unknown, 2}});
}

TEST_CASE("slice: works on i64 and bool arrays", "[ops][subtensor][slice]") {
  Variable n = input("n", DType::i64, {Type::unknown});
  Variable b = input("b", DType::boolean, {Type::unknown});
  Function f = compile({n, b}, {slice(n, 1, 3), slice(b, -2, 100)});
  Array flags = Array::empty(DType::boolean, Shape{4});
  const bool pattern[] = {true, false, false, true};
  for (int i = 0; i < 4; ++i) flags.data<bool>()[i] = pattern[i];
  const auto& result = f({i64_vector({10, 20, 30, 40}), flags});
  CHECK(result[0].to_vector<std::int64_t>() == std::vector<std::int64_t>{20, 30});
  CHECK(result[1].to_vector<int>() == std::vector<int>{0, 1});
}

TEST_CASE("slice: construction errors name the input position", "[ops][subtensor][slice]") {
  Variable scalar = input("s");
  Variable x = input("x", DType::f64, {Type::unknown});
  CHECK_THROWS_WITH(slice(scalar, 0, 1), "slice: input 1/3 has rank 0, expected rank >= 1");
  CHECK_THROWS_AS(slice(scalar, 0, 1), std::invalid_argument);
  CHECK_THROWS_WITH(slice(x, constant(1.0), input("stop", DType::i64)), "slice: input 2/3 has dtype f64, expected i64");
  CHECK_THROWS_WITH(slice(x, input("start", DType::i64), input("stop", DType::i64, {2})), "slice: input 3/3 has shape (2,), expected ()");
}

TEST_CASE("slice: gradient check with symbolic bounds", "[ops][subtensor][slice][grad]") {
  auto build = [](const std::vector<Variable>& in) { return slice(in[0], in[1], in[2]); };
  check_grad(build, {counting(5, 2), i64(1), i64(4)});
  check_grad(build, {counting(5, 2), i64(-2), i64(100)});
  check_grad(build, {Array::from({0.5, -1.5, 2.0}), i64(0), i64(2)});
}

TEST_CASE("slice: the gradient is the upstream gradient placed in the selected rows", "[ops][subtensor][slice][grad]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable start = scalar_bound("start"), stop = scalar_bound("stop");
  Variable g = grad(sum(square(slice(x, start, stop))), x);
  Function f = compile({x, start, stop}, {g});
  CHECK(values(f({Array::from({1.0, 2.0, 3.0, 4.0}), i64(1), i64(3)})[0]) == std::vector<double>{0, 4, 6, 0});
  CHECK(values(f({Array::from({1.0, 2.0, 3.0, 4.0, 5.0}), i64(-1), i64(9)})[0]) == std::vector<double>{0, 0, 0, 0, 10});
}

// --- inc_slice ------------------------------------------------------------------------------

TEST_CASE("inc_slice: adds values to the selected rows of a copy", "[ops][subtensor][inc_slice]") {
  Variable x = input("x", DType::f64, {4, 2});
  Variable v = input("v", DType::f64, {Type::unknown, 2});
  Variable start = scalar_bound("start"), stop = scalar_bound("stop");
  Function f = compile({x, start, stop, v}, {inc_slice(x, start, stop, v)});
  const Array data = counting(4, 2);
  CHECK(values(f({data, i64(1), i64(3), matrix({10, 20, 30, 40}, 2, 2)})[0]) == std::vector<double>{0, 1, 12, 23, 34, 45, 6, 7});
  // Negative bounds: rows -1: of 4 is row 3.
  CHECK(values(f({data, i64(-1), i64(10), matrix({100, 200}, 1, 2)})[0]) == std::vector<double>{0, 1, 2, 3, 4, 5, 106, 207});
  // The input is untouched.
  CHECK(values(data) == std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7});
}

TEST_CASE("inc_slice: values broadcast to the selected rows", "[ops][subtensor][inc_slice]") {
  Variable x = input("x", DType::f64, {3, 2});
  Function scalar = compile({x}, {inc_slice(x, 0, 2, constant(1.5))});
  Function row = compile({x}, {inc_slice(x, 1, 3, constant(Array::from({10.0, 20.0})))});
  const Array data = counting(3, 2);
  CHECK(values(scalar({data})[0]) == std::vector<double>{1.5, 2.5, 3.5, 4.5, 4, 5});
  CHECK(values(row({data})[0]) == std::vector<double>{0, 1, 12, 23, 14, 25});
}

TEST_CASE("inc_slice: works on i64 arrays", "[ops][subtensor][inc_slice]") {
  Variable x = input("x", DType::i64, {Type::unknown});
  Function f = compile({x}, {inc_slice(x, 1, 3, constant(Array::from(std::vector<std::int64_t>{5, 7})))});
  CHECK(f({i64_vector({1, 2, 3, 4})})[0].to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 7, 10, 4});
}

TEST_CASE("inc_slice: values of the wrong run-time shape are a clear error", "[ops][subtensor][inc_slice]") {
  Variable x = input("x", DType::f64, {4, 2});
  Variable v = input("v", DType::f64, {Type::unknown, 2});
  Function f = compile({x, v}, {inc_slice(x, 1, 3, v)});
  CHECK_THROWS_WITH(f({counting(4, 2), counting(3, 2)}),
                    "inc_slice: input 4/4 has shape (3, 2), expected a shape that broadcasts to (2, 2) (rows 1:3 of (4, 2))");
  CHECK(values(f({counting(4, 2), counting(2, 2)})[0]) == std::vector<double>{0, 1, 2, 4, 6, 8, 6, 7});
}

TEST_CASE("inc_slice: construction errors name the input position", "[ops][subtensor][inc_slice]") {
  Variable x = input("x", DType::f64, {Type::unknown, 2});
  CHECK_THROWS_WITH(inc_slice(input("s"), 0, 1, constant(1.0)), "inc_slice: input 1/4 has rank 0, expected rank >= 1");
  CHECK_THROWS_WITH(inc_slice(x, constant(0.0), input("stop", DType::i64), constant(1.0)), "inc_slice: input 2/4 has dtype f64, expected i64");
  CHECK_THROWS_WITH(inc_slice(x, 0, 1, input("v", DType::i64, {1, 2})), "inc_slice: input 4/4 has dtype i64, expected f64");
  CHECK_THROWS_WITH(inc_slice(x, 0, 1, input("v", DType::f64, {3})), "inc_slice: input 4/4 has shape (3,), expected a shape that broadcasts to (?, 2)");
  CHECK_THROWS_WITH(inc_slice(input("x5", DType::f64, {5, 2}), 0, 2, input("v", DType::f64, {3, 2})),
                    "inc_slice: input 4/4 has shape (3, 2), expected a shape that broadcasts to (2, 2)");
  CHECK_THROWS_WITH(inc_slice(input("b", DType::boolean, {3}), 0, 1, input("v", DType::boolean, {1})),
                    "inc_slice: input 1/4 has dtype bool, expected f64 or i64");
}

TEST_CASE("inc_slice: gradient check with respect to x and values", "[ops][subtensor][inc_slice][grad]") {
  auto build = [](const std::vector<Variable>& in) { return inc_slice(in[0], in[1], in[2], in[3]); };
  check_grad(build, {counting(5, 2), i64(1), i64(4), matrix({0.5, -1, 2, 3, -4, 1.25}, 3, 2)});
  check_grad(build, {counting(5, 2), i64(-2), i64(100), matrix({0.5, -1, 2, 3}, 2, 2)});
  // Broadcast values: the gradient is summed over the broadcast axes.
  check_grad(build, {counting(5, 2), i64(0), i64(3), Array::from({0.5, -1.0})});
  check_grad(build, {counting(5, 2), i64(2), i64(5), Array::scalar(0.25)});
}

// --- take -----------------------------------------------------------------------------------

TEST_CASE("take: gathers rows in index order, repeats allowed", "[ops][subtensor][take]") {
  Variable x = input("x", DType::f64, {Type::unknown, 2});
  Variable idx = input("idx", DType::i64, {4});
  Variable rows = take(x, idx);
  CHECK(rows.type() == Type{DType::f64, {4, 2}});
  Function f = compile({x, idx}, {rows});
  const Array& result = f({counting(5, 2), i64_vector({3, 0, 3, 4})})[0];
  CHECK(result.shape() == Shape{4, 2});
  CHECK(values(result) == std::vector<double>{6, 7, 0, 1, 6, 7, 8, 9});
}

TEST_CASE("take: works on vectors, i64 and empty index lists", "[ops][subtensor][take]") {
  Variable x = input("x", DType::i64, {Type::unknown});
  Variable idx = input("idx", DType::i64, {Type::unknown});
  Function f = compile({x, idx}, {take(x, idx)});
  CHECK(f({i64_vector({10, 20, 30}), i64_vector({2, 2, 0})})[0].to_vector<std::int64_t>() == std::vector<std::int64_t>{30, 30, 10});
  CHECK(f({i64_vector({10, 20, 30}), i64_vector({})})[0].shape() == Shape{0});
}

TEST_CASE("take: an index out of range names the index and the bound, and the function stays usable", "[ops][subtensor][take]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable idx = input("idx", DType::i64, {Type::unknown});
  Function f = compile({x, idx}, {sum(take(x, idx))});
  const Array data = Array::arange<double>(10);
  CHECK_THROWS_WITH(f({data, i64_vector({1, 12, 3})}), "take: index 12 is out of range for axis 0 of size 10");
  CHECK_THROWS_AS(f({data, i64_vector({1, 12, 3})}), std::invalid_argument);
  CHECK_THROWS_WITH(f({data, i64_vector({-1})}), "take: index -1 is out of range for axis 0 of size 10");
  CHECK_THROWS_WITH(f({data, i64_vector({10})}), "take: index 10 is out of range for axis 0 of size 10");
  CHECK(f({data, i64_vector({0, 9, 9})})[0].item() == 18.0);
}

TEST_CASE("take: the output buffer is reused between calls", "[ops][subtensor][take]") {
  Variable x = input("x", DType::f64, {Type::unknown, 3});
  Variable idx = input("idx", DType::i64, {Type::unknown});
  Function f = compile({x, idx}, {take(x, idx)});
  const Array data = counting(8, 3);
  const std::byte* first = f({data, i64_vector({1, 2})})[0].raw_data();
  const std::byte* second = f({data, i64_vector({7, 0})})[0].raw_data();
  CHECK(first == second);
  CHECK(values(f({data, i64_vector({7, 0})})[0]) == std::vector<double>{21, 22, 23, 0, 1, 2});
}

TEST_CASE("take: construction errors name the input position", "[ops][subtensor][take]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  CHECK_THROWS_WITH(take(input("s"), input("i", DType::i64, {2})), "take: input 1/2 has rank 0, expected rank >= 1");
  CHECK_THROWS_WITH(take(x, input("i", DType::f64, {2})), "take: input 2/2 has dtype f64, expected i64");
  CHECK_THROWS_WITH(take(x, input("i", DType::i64, {2, 2})), "take: input 2/2 has rank 2, expected rank 1");
  CHECK_THROWS_WITH(take(x, input("i", DType::i64)), "take: input 2/2 has rank 0, expected rank 1");
}

TEST_CASE("take: gradient check, with repeated indices", "[ops][subtensor][take][grad]") {
  auto build = [](const std::vector<Variable>& in) { return take(in[0], in[1]); };
  check_grad(build, {counting(4, 3), i64_vector({2, 0, 2, 3, 2})});
  check_grad(build, {Array::from({0.5, -1.0, 2.0}), i64_vector({1, 1})});
}

TEST_CASE("take: the gradient accumulates over repeated indices", "[ops][subtensor][take][grad]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable idx = input("idx", DType::i64, {Type::unknown});
  Function f = compile({x, idx}, {grad(sum(take(x, idx)), x)});
  CHECK(values(f({Array::from({1.0, 2.0, 3.0, 4.0}), i64_vector({3, 1, 3, 3})})[0]) == std::vector<double>{0, 1, 0, 3});
}

// --- scatter_add ----------------------------------------------------------------------------

TEST_CASE("scatter_add: duplicate indices accumulate", "[ops][subtensor][scatter_add]") {
  Variable x = input("x", DType::f64, {Type::unknown, 2});
  Variable idx = input("idx", DType::i64, {Type::unknown});
  Variable v = input("v", DType::f64, {Type::unknown, 2});
  Function f = compile({x, idx, v}, {scatter_add(x, idx, v)});
  const Array data = counting(3, 2);
  const Array result = f({data, i64_vector({2, 0, 2}), matrix({1, 2, 10, 20, 100, 200}, 3, 2)})[0].copy();
  CHECK(values(result) == std::vector<double>{10, 21, 2, 3, 105, 207});
  CHECK(values(data) == std::vector<double>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("scatter_add: values broadcast, and i64 arrays work", "[ops][subtensor][scatter_add]") {
  Variable x = input("x", DType::f64, {3, 2});
  Variable idx = input("idx", DType::i64, {Type::unknown});
  Function row = compile({x, idx}, {scatter_add(x, idx, constant(Array::from({1.0, -1.0})))});
  Function scalar = compile({x, idx}, {scatter_add(x, idx, constant(0.5))});
  CHECK(values(row({counting(3, 2), i64_vector({1, 1})})[0]) == std::vector<double>{0, 1, 4, 1, 4, 5});
  CHECK(values(scalar({counting(3, 2), i64_vector({0, 2, 0})})[0]) == std::vector<double>{1, 2, 2, 3, 4.5, 5.5});
  Variable n = input("n", DType::i64, {Type::unknown});
  Function integers = compile({n, idx}, {scatter_add(n, idx, constant(Array::from(std::vector<std::int64_t>{5, 7})))});
  CHECK(integers({i64_vector({1, 2, 3}), i64_vector({0, 0})})[0].to_vector<std::int64_t>() == std::vector<std::int64_t>{13, 2, 3});
}

TEST_CASE("scatter_add: index and shape errors at run time, and the function stays usable", "[ops][subtensor][scatter_add]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable idx = input("idx", DType::i64, {Type::unknown});
  Variable v = input("v", DType::f64, {Type::unknown});
  Function f = compile({x, idx, v}, {scatter_add(x, idx, v)});
  const Array data = Array::zeros(DType::f64, Shape{10});
  CHECK_THROWS_WITH(f({data, i64_vector({1, 12}), Array::from({1.0, 2.0})}), "scatter_add: index 12 is out of range for axis 0 of size 10");
  CHECK_THROWS_WITH(f({data, i64_vector({-3}), Array::from({1.0})}), "scatter_add: index -3 is out of range for axis 0 of size 10");
  CHECK_THROWS_WITH(f({data, i64_vector({1, 2}), Array::from({1.0, 2.0, 3.0})}),
                    "scatter_add: input 3/3 has shape (3,), expected a shape that broadcasts to (2,)");
  CHECK(values(f({Array::from({1.0, 2.0}), i64_vector({1, 1}), Array::from({0.25, 0.5})})[0]) == std::vector<double>{1, 2.75});
}

TEST_CASE("scatter_add: construction errors name the input position", "[ops][subtensor][scatter_add]") {
  Variable x = input("x", DType::f64, {Type::unknown, 2});
  Variable idx = input("idx", DType::i64, {3});
  CHECK_THROWS_WITH(scatter_add(input("s"), idx, constant(1.0)), "scatter_add: input 1/3 has rank 0, expected rank >= 1");
  CHECK_THROWS_WITH(scatter_add(x, input("i", DType::f64, {3}), constant(1.0)), "scatter_add: input 2/3 has dtype f64, expected i64");
  CHECK_THROWS_WITH(scatter_add(x, idx, input("v", DType::i64, {3, 2})), "scatter_add: input 3/3 has dtype i64, expected f64");
  CHECK_THROWS_WITH(scatter_add(x, idx, input("v", DType::f64, {4, 2})),
                    "scatter_add: input 3/3 has shape (4, 2), expected a shape that broadcasts to (3, 2)");
}

TEST_CASE("scatter_add: gradient check with respect to x and values", "[ops][subtensor][scatter_add][grad]") {
  auto build = [](const std::vector<Variable>& in) { return scatter_add(in[0], in[1], in[2]); };
  check_grad(build, {counting(4, 2), i64_vector({3, 0, 3}), matrix({0.5, -1, 2, 3, -4, 1.25}, 3, 2)});
  check_grad(build, {counting(4, 2), i64_vector({1, 1}), Array::from({0.5, -1.0})});
}

}  // namespace ops_subtensor_test
