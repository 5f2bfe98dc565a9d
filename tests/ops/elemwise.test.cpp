// Every elementwise op: values against closed forms or SciPy 1.10 (scipy.special, printed with
// repr), broadcasting, dtype promotion, pinned errors, and finite-difference gradients.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>

#include "support/gradcheck.hpp"
#include "symbatch/ops/elemwise.hpp"
#include "symbatch/ops/reduce.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace ops_elemwise_test {

using namespace symbatch;

namespace {

Variable random_state_like() { return shared(Array::scalar(RngState{}), "state"); }

double unary_at(Variable (*op)(const Variable&), double x) {
  Variable in = input("x");
  Function f = compile({in}, {op(in)});
  return f({Array::scalar(x)})[0].item();
}

}  // namespace

TEST_CASE("elemwise: unary functions match closed forms and SciPy", "[ops][elemwise]") {
  struct Case {
    Variable (*op)(const Variable&);
    double x, expected;
  };
  const Case cases[] = {
      {neg, 2.5, -2.5},
      {abs, -3.25, 3.25},
      {sign, -0.1, -1},
      {sign, 0.0, 0},
      {square, -1.5, 2.25},
      {exp, 1.0, 2.718281828459045},
      {log, 10.0, 2.302585092994046},
      {log1p, 1e-10, 9.9999999995e-11},
      {expm1, 1e-10, 1.00000000005e-10},
      {sqrt, 2.0, 1.4142135623730951},
      {sigmoid, 0.3, 0.574442516811659},
      {sigmoid, -40.0, 4.248354255291589e-18},
      {sigmoid, 800.0, 1.0},
      {softplus, 0.3, 0.8543552444685272},
      {softplus, -40.0, 4.248354255291589e-18},
      {softplus, 40.0, 40.0},
      {softplus, 800.0, 800.0},
      {softplus, -800.0, 0.0},
      {log_sigmoid, 0.3, -0.5543552444685271},
      {log_sigmoid, -800.0, -800.0},
      {log_sigmoid, 40.0, -4.248354255291589e-18},
      {lgamma, 0.5, 0.5723649429247},
      {lgamma, 25.0, 54.78472939811232},
      {lgamma, -2.5, -0.05624371649767401},
      {digamma, 0.5, -1.9635100260214235},
      {digamma, 1.0, -0.5772156649015329},
      {digamma, 3.7, 1.1671535393615113},
      {digamma, 25.0, 3.198742512851974},
      {digamma, -2.5, 1.1031566406452433},
      {digamma, 1e-3, -1000.5755719318103},
      {trigamma, 0.5, 4.93480220054468},
      {trigamma, 1.0, 1.6449340668482266},
      {trigamma, 3.7, 0.31003785767003833},
      {trigamma, 25.0, 0.04081066325722558},
      {trigamma, -2.5, 9.539246644989124},
      {trigamma, 1e-3, 1000001.6425331959},
  };
  for (const Case& c : cases) {
    INFO("x = " << c.x);
    CHECK(unary_at(c.op, c.x) == Approx(c.expected).epsilon(1e-14).margin(1e-300));
  }
  CHECK(std::isnan(unary_at(digamma, -2.0)));  // a pole
}

TEST_CASE("elemwise: binary arithmetic, comparisons, logic and where", "[ops][elemwise]") {
  Variable a = input("a", DType::f64, {3});
  Variable b = input("b", DType::f64, {3});
  const Array A = Array::from({1.5, -2.0, 4.0});
  const Array B = Array::from({0.5, 3.0, 4.0});
  Function f = compile({a, b}, {a + b, a - b, a * b, a / b, pow(a, constant(2.0)), maximum(a, b), minimum(a, b)});
  const auto& r = f({A, B});
  CHECK(r[0].to_vector() == std::vector<double>{2.0, 1.0, 8.0});
  CHECK(r[1].to_vector() == std::vector<double>{1.0, -5.0, 0.0});
  CHECK(r[2].to_vector() == std::vector<double>{0.75, -6.0, 16.0});
  CHECK(r[3].to_vector() == std::vector<double>{3.0, -2.0 / 3.0, 1.0});
  CHECK(r[4].to_vector() == std::vector<double>{2.25, 4.0, 16.0});
  CHECK(r[5].to_vector() == std::vector<double>{1.5, 3.0, 4.0});
  CHECK(r[6].to_vector() == std::vector<double>{0.5, -2.0, 4.0});
  Function g = compile({a, b}, {lt(a, b), le(a, b), gt(a, b), ge(a, b), eq(a, b), neq(a, b)});
  const auto& c = g({A, B});
  CHECK(c[0].to_vector<bool>() == std::vector<bool>{false, true, false});
  CHECK(c[1].to_vector<bool>() == std::vector<bool>{false, true, true});
  CHECK(c[2].to_vector<bool>() == std::vector<bool>{true, false, false});
  CHECK(c[3].to_vector<bool>() == std::vector<bool>{true, false, true});
  CHECK(c[4].to_vector<bool>() == std::vector<bool>{false, false, true});
  CHECK(c[5].to_vector<bool>() == std::vector<bool>{true, true, false});
  Function h = compile({a, b}, {logical_and(lt(a, b), gt(b, constant(1.0))), logical_or(lt(a, b), eq(a, b)), logical_not(lt(a, b)),
                                where(gt(a, b), a, b * 10.0)});
  const auto& l = h({A, B});
  CHECK(l[0].to_vector<bool>() == std::vector<bool>{false, true, false});
  CHECK(l[1].to_vector<bool>() == std::vector<bool>{false, true, true});
  CHECK(l[2].to_vector<bool>() == std::vector<bool>{true, false, true});
  CHECK(l[3].to_vector() == std::vector<double>{1.5, 30.0, 40.0});
  // maximum propagates NaN like NumPy
  Function m = compile({a, b}, {maximum(a, b)});
  CHECK(std::isnan(m({Array::from({std::nan(""), 1.0, 2.0}), B})[0].flat<double>(0)));
}

TEST_CASE("elemwise: broadcasting follows NumPy", "[ops][elemwise][broadcast]") {
  Variable m = input("m", DType::f64, {2, 3});
  Variable row = input("row", DType::f64, {3});
  Variable column = input("column", DType::f64, {2, 1});
  Variable s = input("s");
  Variable cube = input("cube", DType::f64, {2, 1, 3});
  Function f = compile({m, row, column, s, cube}, {m + row, column * row, m - s, cube + column});
  const auto& r = f({Array::from(std::vector<double>{1, 2, 3, 4, 5, 6}, Shape{2, 3}), Array::from({10.0, 20.0, 30.0}),
                     Array::from(std::vector<double>{1, 2}, Shape{2, 1}), Array::scalar(1.0),
                     Array::from(std::vector<double>{0, 0, 0, 100, 100, 100}, Shape{2, 1, 3})});
  CHECK(r[0].to_vector() == std::vector<double>{11, 22, 33, 14, 25, 36});
  CHECK(r[1].shape() == Shape{2, 3});
  CHECK(r[1].to_vector() == std::vector<double>{10, 20, 30, 20, 40, 60});
  CHECK(r[2].to_vector() == std::vector<double>{0, 1, 2, 3, 4, 5});
  CHECK(r[3].shape() == Shape{2, 2, 3});  // (2,1,3) with (2,1) -> (2,2,3)
  CHECK(r[3].to_vector() == std::vector<double>{1, 1, 1, 2, 2, 2, 101, 101, 101, 102, 102, 102});
}

TEST_CASE("elemwise: dtypes promote the NumPy way", "[ops][elemwise]") {
  Variable i = input("i", DType::i64, {2});
  Variable x = input("x", DType::f64, {2});
  Variable b = input("b", DType::boolean, {2});
  CHECK((i + x).dtype() == DType::f64);
  CHECK((i * i).dtype() == DType::i64);
  CHECK((b + b).dtype() == DType::i64);
  CHECK((i / i).dtype() == DType::f64);
  CHECK(exp(i).dtype() == DType::f64);
  Function f = compile({i, b}, {i / i, b + b, i * i});
  const auto& r = f({Array::from(std::vector<std::int64_t>{3, -4}), Array::from(std::vector<bool>{true, false})});
  CHECK(r[0].to_vector() == std::vector<double>{1.0, 1.0});
  CHECK(r[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 0});
  CHECK(r[2].to_vector<std::int64_t>() == std::vector<std::int64_t>{9, 16});
  Function c = compile({x}, {cast(x, DType::i64), cast(x, DType::boolean)});
  const auto& casted = c({Array::from({-2.7, 0.0})});
  CHECK(casted[0].to_vector<std::int64_t>() == std::vector<std::int64_t>{-2, 0});  // truncation toward zero
  CHECK(casted[1].to_vector<bool>() == std::vector<bool>{true, false});
}

TEST_CASE("elemwise: errors name the op, the input and the shapes", "[ops][elemwise][errors]") {
  Variable m = input("m", DType::f64, {2, 3});
  CHECK_THROWS_AS(add(m, input("q", DType::f64, {4})), std::invalid_argument);
  CHECK_THROWS_WITH(add(m, input("q", DType::f64, {4})), "add: input 2/2 has shape (4,), which does not broadcast with (2, 3)");
  CHECK_THROWS_WITH(where(input("c", DType::boolean, {2}), m, m), "where: input 2/3 has shape (2, 3), which does not broadcast with (2,)");
  CHECK_THROWS_WITH(add(m, random_state_like()), "add: input 2/2 has dtype rng, expected a numeric dtype");
  Variable x = input("x", DType::f64, {Type::unknown, 3});
  Variable v = input("v", DType::f64, {Type::unknown});
  Function f = compile({x, v}, {x * v});
  CHECK_THROWS_WITH(f({Array::from(std::vector<double>(6, 1.0), Shape{2, 3}), Array::from({1.0, 2.0})}), "mul: shapes (2, 3) and (2,) do not broadcast");
  CHECK(f({Array::from(std::vector<double>(6, 1.0), Shape{2, 3}), Array::from({1.0, 2.0, 3.0})})[0].size() == 6);
}

TEST_CASE("elemwise: gradients match finite differences, broadcast inputs included", "[ops][elemwise][grad]") {
  using testing::check_grad;
  const Array positive = Array::from({0.4, 1.3, 2.2});
  const Array mixed = Array::from({-1.1, 0.3, 2.0});
  const std::vector<Variable (*)(const Variable&)> unary = {neg, abs, square, exp, sigmoid, softplus, log_sigmoid};
  for (auto op : unary) check_grad([op](const std::vector<Variable>& x) { return op(x[0]); }, {mixed});
  const std::vector<Variable (*)(const Variable&)> positive_only = {log, log1p, expm1, sqrt, lgamma, digamma};
  for (auto op : positive_only) check_grad([op](const std::vector<Variable>& x) { return op(x[0]); }, {positive});
  const std::vector<Variable (*)(const Variable&, const Variable&)> binary = {add, sub, mul, div, maximum, minimum};
  const Array matrix = Array::from(std::vector<double>{0.5, 1.5, 2.5, 3.5, 4.5, 5.5}, Shape{2, 3});
  for (auto op : binary) {
    check_grad([op](const std::vector<Variable>& x) { return op(x[0], x[1]); }, {positive, Array::from({0.7, 1.1, 2.9})});
    check_grad([op](const std::vector<Variable>& x) { return op(x[0], x[1]); }, {matrix, positive});       // (2,3) with (3,)
    check_grad([op](const std::vector<Variable>& x) { return op(x[0], x[1]); }, {Array::scalar(1.7), matrix});  // scalar with (2,3)
  }
  check_grad([](const std::vector<Variable>& x) { return pow(x[0], x[1]); }, {positive, Array::from({0.5, 2.0, 1.5})});
  check_grad([](const std::vector<Variable>& x) { return where(gt(x[0], constant(1.0)), x[0] * x[1], x[1]); }, {positive, mixed});
}

TEST_CASE("elemwise: the gradient of a square is exactly 2 g x, subnormal and huge inputs included", "[ops][elemwise][grad]") {
  // Doubling is exact below the overflow threshold, so 2 g x has one rounding whichever factor
  // is doubled: the gradient must be that correctly rounded product, bit for bit.
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable weight = input("weight");
  Variable loss = sum(weight * square(x));
  Function gradient = compile({x, weight}, grad(loss, {x}));
  const std::vector<double> points = {0.0, -0.0, 1.0, -3.25, 0.1, 4.9e-324, -2.5e-310, 1e-160, 3e153, -7.0e200, 1.7976931348623157e308};
  for (const double w : {1.0, -0.37, 1e-300, 6.0e150, 2.2250738585072014e-308}) {
    const std::vector<double> got = gradient({Array::from(points), Array::scalar(w)})[0].to_vector();
    for (std::size_t i = 0; i < points.size(); ++i) {
      const double twice_w = 2.0 * w;  // exact here: every w is below half the largest double
      const double expected = twice_w * points[i];
      INFO("w = " << w << ", x = " << points[i]);
      CHECK(std::bit_cast<std::uint64_t>(got[i]) == std::bit_cast<std::uint64_t>(expected));
      // The same bits as doubling x instead (where 2 x does not overflow).
      if (std::isfinite(2.0 * points[i])) CHECK(std::bit_cast<std::uint64_t>(got[i]) == std::bit_cast<std::uint64_t>(w * (2.0 * points[i])));
    }
  }
}

TEST_CASE("elemwise: trigamma has no gradient and says so", "[ops][elemwise][grad]") {
  Variable x = input("x");
  CHECK_THROWS_WITH(grad(trigamma(x), x),
                    "grad: the cost depends on input 1 of trigamma, which has no gradient (trigamma has no gradient in symbatch (it would "
                    "need the tetragamma function))");
}

TEST_CASE("elemwise: a null variable is an error naming the op and the input", "[ops][elemwise][errors]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable flag = input("flag", DType::boolean, {Type::unknown});
  CHECK_THROWS_AS(add(Variable{}, x), std::invalid_argument);
  CHECK_THROWS_WITH(add(Variable{}, x), "add: input 1/2 is a null variable");
  CHECK_THROWS_WITH(mul(x, Variable{}), "mul: input 2/2 is a null variable");
  CHECK_THROWS_WITH(pow(Variable{}, Variable{}), "pow: input 1/2 is a null variable");
  CHECK_THROWS_WITH(lt(x, Variable{}), "lt: input 2/2 is a null variable");
  CHECK_THROWS_WITH(logical_and(Variable{}, flag), "logical_and: input 1/2 is a null variable");
  CHECK_THROWS_WITH(x + Variable{}, "add: input 2/2 is a null variable");
  CHECK_THROWS_WITH(Variable{} * 2.0, "mul: input 1/2 is a null variable");
  CHECK_THROWS_AS(exp(Variable{}), std::invalid_argument);
  CHECK_THROWS_WITH(exp(Variable{}), "exp: input 1/1 is a null variable");
  CHECK_THROWS_WITH(neg(Variable{}), "neg: input 1/1 is a null variable");
  CHECK_THROWS_WITH(-Variable{}, "neg: input 1/1 is a null variable");
  CHECK_THROWS_WITH(logical_not(Variable{}), "logical_not: input 1/1 is a null variable");
  CHECK_THROWS_WITH(cast(Variable{}, DType::i64), "cast: input 1/1 is a null variable");
  CHECK_THROWS_WITH(where(Variable{}, x, x), "where: input 1/3 is a null variable");
  CHECK_THROWS_WITH(where(flag, x, Variable{}), "where: input 3/3 is a null variable");
  CHECK_THROWS_WITH(zeros_like(Variable{}), "zeros_like: input 1/1 is a null variable");
}

}  // namespace ops_elemwise_test
