// compile and Function: calls, shared variables, updates, input checking, buffer reuse.
// Expected values are hand-computed from the small inputs.
#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/ops/elemwise.hpp"
#include "symbatch/ops/reduce.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace compile_function_test {

using namespace symbatch;

namespace {

std::vector<double> values(const Array& array) { return array.to_vector<double>(); }

/// `start, start+1, ...` as an f64 array of the given shape.
Array counting(const Shape& shape, double start = 0) {
  Array result = Array::empty(DType::f64, shape);
  for (std::int64_t i = 0; i < result.size(); ++i) result.data<double>()[i] = start + static_cast<double>(i);
  return result;
}

}  // namespace

// --- calling ---------------------------------------------------------------------------------

TEST_CASE("function: compiles a graph and evaluates it", "[compile][function]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable y = input("y", DType::f64, {Type::unknown});
  Function f = compile({x, y}, {add(mul(x, y), constant(1.0))});
  CHECK(f.inputs() == std::vector<Variable>{x, y});
  const auto& result = f({Array::from({1.0, 2.0, 3.0}), Array::from({4.0, 5.0, 6.0})});
  REQUIRE(result.size() == 1);
  CHECK(values(result[0]) == std::vector<double>{5, 11, 19});
  // Inputs in declared order, not graph order.
  Function g = compile({y, x}, {sub(x, y)});
  CHECK(values(g({Array::from({1.0}), Array::from({10.0})})[0]) == std::vector<double>{9});
}

TEST_CASE("function: several outputs in one call", "[compile][function]") {
  const Variable x = input("x", DType::f64, {Type::unknown, 2});
  const Variable e = exp(x);
  Function f = compile({x}, {sum(x), e, sum(x, 0), mul(e, constant(2.0)), e});
  const auto& result = f({Array::from(std::vector<double>{0, 1, 2, 3}, Shape{2, 2})});
  REQUIRE(result.size() == 5);
  CHECK(result[0].item() == 6.0);
  CHECK(result[1].shape() == Shape{2, 2});
  CHECK(result[1].at(1, 1) == Approx(std::exp(3.0)).epsilon(1e-15));
  CHECK(values(result[2]) == std::vector<double>{2, 4});
  CHECK(result[3].at(0, 1) == Approx(2 * std::exp(1.0)).epsilon(1e-15));
  CHECK(values(result[4]) == values(result[1]));  // one output listed twice
}

TEST_CASE("function: a function without inputs or outputs", "[compile][function]") {
  Function constant_only = compile({}, {add(constant(2.0), constant(3.0))});
  CHECK(constant_only()[0].item() == 5.0);
  const Variable x = input("x");
  Function nothing = compile({x}, {});
  CHECK(nothing({Array::scalar(1.0)}).empty());
}

TEST_CASE("function: an input the outputs do not use is still checked", "[compile][function]") {
  const Variable x = input("x", DType::f64, {2});
  const Variable unused = input("unused", DType::i64, {3});
  Function f = compile({x, unused}, {neg(x)});
  CHECK(values(f({Array::from({1.0, 2.0}), Array::zeros(DType::i64, Shape{3})})[0]) == std::vector<double>{-1, -2});
  CHECK_THROWS_WITH(f({Array::from({1.0, 2.0}), Array::zeros(DType::i64, Shape{2})}),
                    "Function: input 2/2 ('unused') has shape (2,), expected (3,)");
}

// --- shared variables and updates -----------------------------------------------------------

TEST_CASE("function: shared variables are implicit inputs read at each call", "[compile][function][shared]") {
  const Variable w = shared(Array::from({1.0, 2.0}), "w");
  const Variable x = input("x", DType::f64, {Type::unknown});
  Function f = compile({x}, {sum(mul(w, x))});
  CHECK(f({Array::from({3.0, 4.0})})[0].item() == 11.0);
  set_value(w, Array::from({-1.0, 0.5}));
  CHECK(f({Array::from({3.0, 4.0})})[0].item() == -1.0);
}

TEST_CASE("function: updates apply after the outputs, all reading the old values", "[compile][function][updates]") {
  const Variable a = shared(Array::scalar(1.0), "a");
  const Variable b = shared(Array::scalar(10.0), "b");

  SECTION("a swap through two updates") {
    Function f = compile({}, {add(a, b), mul(a, constant(2.0))}, {.updates = {{a, b}, {b, a}}});
    const auto& first = f();
    CHECK(first[0].item() == 11.0);
    CHECK(first[1].item() == 2.0);  // the old a
    CHECK(get_value(a).item() == 10.0);
    CHECK(get_value(b).item() == 1.0);
    CHECK(f()[1].item() == 20.0);
    CHECK(get_value(a).item() == 1.0);
    CHECK(get_value(b).item() == 10.0);
  }
  SECTION("computed updates reading each other's old value") {
    // (a, b) <- (a + b, a - b): from (1, 10) to (11, -9), then to (2, 20).
    Function f = compile({}, {a, b}, {.updates = {{a, add(a, b)}, {b, sub(a, b)}}});
    const auto& first = f();
    CHECK(first[0].item() == 1.0);
    CHECK(first[1].item() == 10.0);
    CHECK(get_value(a).item() == 11.0);
    CHECK(get_value(b).item() == -9.0);
    f();
    CHECK(get_value(a).item() == 2.0);
    CHECK(get_value(b).item() == 20.0);
    f();
    CHECK(get_value(a).item() == 22.0);
    CHECK(get_value(b).item() == -18.0);
  }
  SECTION("an update that is also an output") {
    const Variable doubled = mul(a, constant(2.0));
    Function f = compile({}, {doubled, a}, {.updates = {{a, doubled}}});
    const Array first = f()[0];  // held across the next call
    CHECK(first.item() == 2.0);
    CHECK(get_value(a).item() == 2.0);
    const auto& second = f();
    CHECK(second[0].item() == 4.0);
    CHECK(second[1].item() == 2.0);
    CHECK(get_value(a).item() == 4.0);
    CHECK(first.item() == 2.0);  // not overwritten
  }
}

TEST_CASE("function: an update with an input and a vector state", "[compile][function][updates]") {
  const Variable total = shared(Array::zeros(DType::f64, Shape{2}), "total");
  const Variable x = input("x", DType::f64, {Type::unknown, 2});
  const Variable count = shared(Array::scalar<std::int64_t>(0), "count");
  Function f = compile({x}, {}, {.updates = {{total, add(total, sum(x, 0))}, {count, add(count, constant(Array::scalar<std::int64_t>(1)))}}});
  f({counting(Shape{2, 2})});  // rows (0, 1), (2, 3)
  f({counting(Shape{3, 2}, 10)});  // rows (10, 11), (12, 13), (14, 15)
  CHECK(values(get_value(total)) == std::vector<double>{2 + 36, 4 + 39});
  CHECK(get_value(count).item<std::int64_t>() == 2);
  // A failed call applies no update.
  CHECK_THROWS(f({counting(Shape{3})}));
  CHECK(get_value(count).item<std::int64_t>() == 2);
  // A value set from outside is read by the next call.
  set_value(count, Array::scalar<std::int64_t>(100));
  f({counting(Shape{1, 2})});
  CHECK(get_value(count).item<std::int64_t>() == 101);
}

TEST_CASE("function: a shared value taken before an update keeps its elements", "[compile][function][updates]") {
  const Variable a = shared(Array::from({1.0, 2.0}), "a");
  Function f = compile({}, {}, {.updates = {{a, mul(a, constant(3.0))}}});
  f();
  const Array before = get_value(a);  // a handle, not a copy
  f();
  CHECK(values(before) == std::vector<double>{3, 6});
  CHECK(values(get_value(a)) == std::vector<double>{9, 18});
  f();
  CHECK(values(before) == std::vector<double>{3, 6});
  CHECK(values(get_value(a)) == std::vector<double>{27, 54});
}

TEST_CASE("function: two shared variables updated with one value both receive it", "[compile][function][updates]") {
  const Variable a = shared(Array::scalar(1.0), "a");
  const Variable b = shared(Array::scalar(2.0), "b");
  const Variable c = shared(Array::scalar(5.0), "c");
  SECTION("the same variable") {
    const Variable e = exp(c);
    Function f = compile({}, {}, {.updates = {{a, e}, {b, e}}});
    f();
    CHECK(get_value(a).item() == Approx(std::exp(5.0)).epsilon(1e-15));
    CHECK(get_value(b).item() == Approx(std::exp(5.0)).epsilon(1e-15));
  }
  SECTION("equal expressions, merged by the rewrites") {
    Function f = compile({}, {}, {.updates = {{a, mul(c, constant(2.0))}, {b, mul(c, constant(2.0))}, {c, add(c, constant(1.0))}}});
    f();
    CHECK(get_value(a).item() == 10.0);
    CHECK(get_value(b).item() == 10.0);
    CHECK(get_value(c).item() == 6.0);
    f();
    CHECK(get_value(a).item() == 12.0);
    CHECK(get_value(b).item() == 12.0);
    CHECK(get_value(c).item() == 7.0);
  }
}

TEST_CASE("function: at most one update per shared variable", "[compile][function][updates]") {
  const Variable a = shared(Array::scalar(1.0), "a");
  CHECK_THROWS_WITH(compile({}, {}, {.updates = {{a, add(a, constant(1.0))}, {a, constant(0.0)}}}),
                    "compile: shared variable 'a' has two updates");
}

TEST_CASE("function: an update must match the shared variable's type", "[compile][function][updates]") {
  const Variable a = shared(Array::scalar(1.0), "a");
  const Variable v = shared(Array::zeros(DType::f64, Shape{4, 3}), "v");
  CHECK_THROWS_WITH(compile({}, {}, {.updates = {{a, constant(Array::scalar<std::int64_t>(1))}}}),
                    "compile: update of 'a' has type i64(), expected f64()");
  CHECK_THROWS_WITH(compile({}, {}, {.updates = {{v, constant(1.0)}}}), "compile: update of 'v' has type f64(), expected f64(?, 3)");
  CHECK_THROWS_WITH(compile({}, {}, {.updates = {{v, constant(Array::zeros(DType::f64, Shape{4, 2}))}}}),
                    "compile: update of 'v' has type f64(4, 2), expected f64(?, 3)");
  // Another leading dimension is fine: the data may change length.
  CHECK_NOTHROW(compile({}, {}, {.updates = {{v, constant(Array::zeros(DType::f64, Shape{2, 3}))}}}));
  const Variable x = input("x");
  CHECK_THROWS_WITH(compile({x}, {}, {.updates = {{x, constant(1.0)}}}), "compile: update target 'x' is not a shared variable");
}

TEST_CASE("function: an update whose run-time shape does not fit its shared variable is refused, none applied",
          "[compile][function][updates]") {
  const Variable s = shared(Array::zeros(DType::f64, Shape{2, 3}), "s");  // type f64(?, 3)
  const Variable t = shared(Array::scalar(0.0), "t");
  const Variable m = input("m", DType::f64, {Type::unknown, Type::unknown});
  // f64(?, ?) may fit f64(?, 3): compile accepts it and the call checks the value.
  Function f = compile({m}, {sum(m)}, {.updates = {{t, add(t, constant(1.0))}, {s, m}}});
  CHECK_THROWS_WITH(f({Array::zeros(DType::f64, Shape{2, 4})}),
                    "Function: the update of 's' got a value of dtype f64 and shape (2, 4), which does not fit its type "
                    "f64(?, 3); no update was applied");
  CHECK_THROWS_AS(f({Array::zeros(DType::f64, Shape{2, 4})}), std::invalid_argument);
  CHECK(get_value(s).shape() == Shape{2, 3});
  CHECK(get_value(t).item() == 0.0);  // the update listed first was not applied either
  CHECK_NOTHROW(set_value(s, get_value(s)));
  // The function stays usable; another leading dimension fits.
  CHECK(f({counting(Shape{4, 3})})[0].item() == 66.0);
  CHECK(get_value(s).shape() == Shape{4, 3});
  CHECK(get_value(t).item() == 1.0);
  CHECK_NOTHROW(set_value(s, get_value(s)));
  // A value whose static type cannot fit is refused when compiling.
  const Variable wide = input("wide", DType::f64, {Type::unknown, 4});
  CHECK_THROWS_WITH(compile({wide}, {}, {.updates = {{s, wide}}}), "compile: update of 's' has type f64(?, 4), expected f64(?, 3)");
}

// --- construction errors ---------------------------------------------------------------------

TEST_CASE("function: an output depending on an input not listed is rejected", "[compile][function][errors]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable y = input("y", DType::f64, {Type::unknown});
  CHECK_THROWS_WITH(compile({x}, {add(x, y)}), "compile: the outputs depend on input 'y', which is not in the inputs list");
  const Variable s = shared(Array::scalar(0.0), "s");
  CHECK_THROWS_WITH(compile({}, {}, {.updates = {{s, sum(y)}}}),
                    "compile: the outputs depend on input 'y', which is not in the inputs list");
}

TEST_CASE("function: the inputs list holds graph inputs, each once", "[compile][function][errors]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable s = shared(Array::from({1.0}), "s");
  CHECK_THROWS_WITH(compile({s}, {add(s, constant(1.0))}),
                    "compile: input 1 ('s') is a shared variable; shared variables are implicit inputs");
  CHECK_THROWS_WITH(compile({x, constant(1.0)}, {x}), "compile: input 2 ('constant') is a constant");
  CHECK_THROWS_WITH(compile({exp(x)}, {x}), "compile: input 1 ('exp') is computed by exp, not a graph input");
  CHECK_THROWS_WITH(compile({x, x}, {x}), "compile: input 2 ('x') is listed twice");
  CHECK_THROWS_WITH(compile({Variable{}}, {x}), "compile: input 1 is a null variable");
  CHECK_THROWS_WITH(compile({x}, {x, Variable{}}), "compile: output 2 is a null variable");
}

// --- call-time errors ------------------------------------------------------------------------

TEST_CASE("function: a call with the wrong inputs throws and the next good call works", "[compile][function][errors]") {
  const Variable x = input("x", DType::f64, {Type::unknown, 3});
  const Variable y = input("y", DType::f64);
  Function f = compile({x, y}, {mul(sum(x), y)});
  const Array good_x = counting(Shape{2, 3});  // sums to 15
  const Array good_y = Array::scalar(2.0);
  CHECK(f({good_x, good_y})[0].item() == 30.0);

  CHECK_THROWS_WITH(f({good_x}), "Function: expected 2 inputs, got 1");
  CHECK_THROWS_WITH(f({good_x, good_y, good_y}), "Function: expected 2 inputs, got 3");
  CHECK_THROWS_WITH(f({Array::zeros(DType::i64, Shape{2, 3}), good_y}), "Function: input 1/2 ('x') has dtype i64, expected f64");
  CHECK_THROWS_WITH(f({good_x, Array::scalar(true)}), "Function: input 2/2 ('y') has dtype bool, expected f64");
  CHECK_THROWS_WITH(f({counting(Shape{2, 4}), good_y}), "Function: input 1/2 ('x') has shape (2, 4), expected (?, 3)");
  CHECK_THROWS_WITH(f({counting(Shape{6}), good_y}), "Function: input 1/2 ('x') has shape (6,), expected (?, 3)");
  CHECK_THROWS_WITH(f({good_x, Array::from({2.0})}), "Function: input 2/2 ('y') has shape (1,), expected ()");
  CHECK_THROWS_AS(f({good_x}), std::invalid_argument);

  CHECK(f({counting(Shape{1, 3}, 1), Array::scalar(-1.0)})[0].item() == -6.0);

  Function one = compile({y}, {neg(y)});
  CHECK_THROWS_WITH(one(), "Function: expected 1 input, got 0");
  CHECK(one({Array::scalar(4.0)})[0].item() == -4.0);
}

TEST_CASE("function: an error inside an op leaves the function usable", "[compile][function][errors]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable y = input("y", DType::f64, {Type::unknown});
  Function f = compile({x, y}, {add(x, y)});
  CHECK_THROWS_WITH(f({Array::from({1.0, 2.0, 3.0}), Array::from({1.0, 2.0})}), "add: shapes (3,) and (2,) do not broadcast");
  CHECK(values(f({Array::from({1.0, 2.0}), Array::from({10.0, 20.0})})[0]) == std::vector<double>{11, 22});
}

TEST_CASE("function: an input Array without a buffer is refused, naming the input", "[compile][function][errors]") {
  const Variable x = input("x");
  const Variable y = input("y", DType::f64, {Type::unknown});
  Function f = compile({x, y}, {mul(x, sum(y))});
  CHECK_THROWS_WITH(f({Array(), Array::from({1.0})}), "Function: input 1/2 ('x') is an Array without a buffer");
  CHECK_THROWS_WITH(f({Array::scalar(2.0), Array()}), "Function: input 2/2 ('y') is an Array without a buffer");
  CHECK_THROWS_AS(f({Array(), Array::from({1.0})}), std::invalid_argument);
  CHECK(f({Array::scalar(2.0), Array::from({1.0, 2.0})})[0].item() == 6.0);
}

TEST_CASE("function: a moved-from function throws a clear error and can be assigned again", "[compile][function][errors]") {
  const Variable x = input("x");
  Function f = compile({x}, {square(x)});
  Function g = std::move(f);
  const std::string moved = "Function: this function was moved from";
  CHECK_THROWS_WITH(f({Array::scalar(3.0)}), moved);
  CHECK_THROWS_WITH(f(), moved);
  CHECK_THROWS_AS(f(), std::invalid_argument);
  CHECK_THROWS_WITH(f.advance(), moved);
  CHECK_THROWS_WITH(f.reseed(1), moved);
  CHECK_THROWS_WITH(f.inputs(), moved);
  CHECK_THROWS_WITH(f.outputs(), moved);
  CHECK_THROWS_WITH(f.rng_states(), moved);
  CHECK_THROWS_WITH(f.schedule(), moved);
  CHECK(g({Array::scalar(3.0)})[0].item() == 9.0);
  f = std::move(g);
  CHECK(f({Array::scalar(4.0)})[0].item() == 16.0);
  CHECK_THROWS_WITH(g({Array::scalar(4.0)}), moved);
}

// --- buffers ---------------------------------------------------------------------------------

TEST_CASE("function: a call's results fed back as its inputs, f(f(f(x))), give what fresh arrays give",
          "[compile][function][buffers]") {
  // One step maps (u, v) to (u v + 1, exp(u) - v); three steps by hand are the reference.
  const std::vector<double> u0{0.1, 0.2, -0.3}, v0{1.0, -1.0, 0.5};
  std::vector<double> u = u0, v = v0;
  for (int step = 0; step < 3; ++step)
    for (std::size_t i = 0; i < u.size(); ++i) {
      const double next_u = u[i] * v[i] + 1, next_v = std::exp(u[i]) - v[i];
      u[i] = next_u;
      v[i] = next_v;
    }
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable y = input("y", DType::f64, {Type::unknown});
  for (const bool fuse : {true, false}) {
    INFO("fuse " << fuse);
    Function f = compile({x, y}, {add(mul(x, y), constant(1.0)), sub(exp(x), y)}, {.fuse = fuse});
    const Array a = Array::from(u0), b = Array::from(v0);
    const auto& nested = f(f(f({a, b})));
    REQUIRE(nested.size() == 2);
    for (std::size_t i = 0; i < u.size(); ++i) {
      CHECK(nested[0].flat<double>(static_cast<std::int64_t>(i)) == Approx(u[i]).epsilon(1e-14));
      CHECK(nested[1].flat<double>(static_cast<std::int64_t>(i)) == Approx(v[i]).epsilon(1e-14));
    }
    const std::vector<double> nested_u = values(nested[0]), nested_v = values(nested[1]);
    // The same chain through fresh copies of each result gives the same bits.
    Array fresh_u = a, fresh_v = b;
    for (int step = 0; step < 3; ++step) {
      const auto& result = f({fresh_u.copy(), fresh_v.copy()});
      fresh_u = result[0].copy();
      fresh_v = result[1].copy();
    }
    CHECK(values(fresh_u) == nested_u);
    CHECK(values(fresh_v) == nested_v);
    // The caller's arrays are left as they were.
    CHECK(values(a) == u0);
    CHECK(values(b) == v0);
  }
  SECTION("outputs that are the inputs themselves, swapped") {
    Function swap = compile({x, y}, {y, x});
    const auto& result = swap(swap(swap({Array::from({1.0}), Array::from({2.0, 3.0})})));
    CHECK(values(result[0]) == std::vector<double>{2, 3});
    CHECK(values(result[1]) == std::vector<double>{1});
  }
}

TEST_CASE("function: output buffers are reused when the caller drops the results", "[compile][function][buffers]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable intermediate = exp(x);
  Function f = compile({x}, {sum(intermediate), add(intermediate, constant(1.0))});
  const double* first = f({Array::from({0.0, 1.0, 2.0})})[1].data<double>();
  const auto& second = f({Array::from({1.0, 1.0, 1.0})});
  CHECK(second[1].data<double>() == first);
  CHECK(second[1].at(2) == Approx(std::exp(1.0) + 1).epsilon(1e-15));
  CHECK(second[0].item() == Approx(3 * std::exp(1.0)).epsilon(1e-15));
  // A smaller batch fits in the same buffer.
  const auto& third = f({Array::from({0.0})});
  CHECK(third[1].data<double>() == first);
  CHECK(values(third[1]) == std::vector<double>{2});
}

TEST_CASE("function: a result the caller holds is not overwritten by the next call", "[compile][function][buffers]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  Function f = compile({x}, {mul(x, constant(2.0))});
  const Array held = f({Array::from({1.0, 2.0})})[0];
  const auto& next = f({Array::from({5.0, 6.0})});
  CHECK(values(next[0]) == std::vector<double>{10, 12});
  CHECK_FALSE(next[0].shares_buffer(held));
  CHECK(values(held) == std::vector<double>{2, 4});
  // Once released, the held buffer may be reused again: values stay right either way.
  const std::vector<Array> kept(next.begin(), next.end());
  CHECK(values(f({Array::from({0.5, 0.25})})[0]) == std::vector<double>{1, 0.5});
  CHECK(values(kept[0]) == std::vector<double>{10, 12});
}

TEST_CASE("function: the leading dimension may grow and shrink between calls", "[compile][function][buffers]") {
  const Variable x = input("x", DType::f64, {Type::unknown, 2});
  Function f = compile({x}, {sum(mul(x, x), 0), add(x, constant(1.0)), sum(x)});
  for (const std::int64_t rows : {3, 10, 1, 0, 6, 2}) {
    INFO("rows " << rows);
    const auto& result = f({counting(Shape{rows, 2})});
    // Column j holds 2i + j for i < rows: sum of squares by hand.
    double even = 0, odd = 0, total = 0;
    for (std::int64_t i = 0; i < rows; ++i) {
      even += static_cast<double>((2 * i) * (2 * i));
      odd += static_cast<double>((2 * i + 1) * (2 * i + 1));
      total += static_cast<double>(4 * i + 1);
    }
    CHECK(values(result[0]) == std::vector<double>{even, odd});
    CHECK(result[1].shape() == Shape{rows, 2});
    if (rows > 0) CHECK(result[1].at(rows - 1, 1) == static_cast<double>(2 * rows));
    CHECK(result[2].item() == total);
  }
}

TEST_CASE("function: outputs may be inputs, constants or shared variables themselves", "[compile][function]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable c = constant(Array::from({7.0, 8.0}), "c");
  const Variable s = shared(Array::from(std::vector<std::int64_t>{1, 2, 3}), "s");
  Function f = compile({x}, {x, c, s, mul(x, constant(2.0))});
  const Array given = Array::from({1.5, 2.5});
  const auto& result = f({given});
  CHECK(values(result[0]) == std::vector<double>{1.5, 2.5});
  CHECK(values(result[1]) == std::vector<double>{7, 8});
  CHECK(result[2].to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 3});
  CHECK(values(result[3]) == std::vector<double>{3, 5});
  set_value(s, Array::from(std::vector<std::int64_t>{9}));
  const auto& again = f({Array::from({4.0})});
  CHECK(values(again[0]) == std::vector<double>{4});
  CHECK(again[2].to_vector<std::int64_t>() == std::vector<std::int64_t>{9});
  CHECK(values(again[1]) == std::vector<double>{7, 8});
  // The caller's input array is left as it was.
  CHECK(values(given) == std::vector<double>{1.5, 2.5});
}

TEST_CASE("function: a moved function keeps working", "[compile][function]") {
  const Variable x = input("x");
  Function f = compile({x}, {square(x)});
  Function g = std::move(f);
  CHECK(g({Array::scalar(3.0)})[0].item() == 9.0);
}

}  // namespace compile_function_test
