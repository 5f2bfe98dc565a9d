// grad: reverse-mode gradients against closed forms, the errors, disconnected and multi-path
// variables, deep and path-heavy graphs, and finite differences on composite expressions.
#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "support/gradcheck.hpp"
#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/elemwise.hpp"
#include "symbatch/ops/reduce.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace grad_grad_test {

using namespace symbatch;
using symbatch::testing::check_grad;

namespace {

std::vector<double> values(const Array& array) { return array.to_vector<double>(); }

/// A test op without a gradient rule: `x + 1`.
class NoGradient final : public Op {
 public:
  std::string name() const override { return "opaque"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override { return {inputs[0].type()}; }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    out[0]->ensure(DType::f64, in[0]->shape());
    for (std::int64_t i = 0; i < in[0]->size(); ++i) out[0]->data<double>()[i] = in[0]->data<double>()[i] + 1;
  }
};

}  // namespace

// --- closed forms ----------------------------------------------------------------------------

TEST_CASE("grad: simple compositions match their closed forms", "[grad]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable y = input("y", DType::f64, {Type::unknown});
  const Array xv = Array::from({0.5, -1.0, 2.0});
  const Array yv = Array::from({3.0, 0.25, -2.0});

  SECTION("sum(x^2) -> 2x") {
    Function f = compile({x}, {grad(sum(mul(x, x)), x)});
    CHECK(values(f({xv})[0]) == std::vector<double>{1.0, -2.0, 4.0});
  }
  SECTION("sum(exp(x) y) -> (exp(x) y, exp(x))") {
    const std::vector<Variable> g = grad(sum(mul(exp(x), y)), {x, y});
    Function f = compile({x, y}, g);
    const auto& r = f({xv, yv});
    for (int i = 0; i < 3; ++i) {
      CHECK(r[0].at(i) == Approx(std::exp(xv.at(i)) * yv.at(i)).epsilon(1e-15));
      CHECK(r[1].at(i) == Approx(std::exp(xv.at(i))).epsilon(1e-15));
    }
  }
  SECTION("sum(log(y^2)) / 2 -> 1/y") {
    Function f = compile({y}, {grad(div(sum(log(square(y))), constant(2.0)), y)});
    const auto& r = f({yv});
    CHECK(r[0].at(0) == Approx(1 / 3.0).epsilon(1e-15));
    CHECK(r[0].at(1) == Approx(4.0).epsilon(1e-15));
    CHECK(r[0].at(2) == Approx(-0.5).epsilon(1e-15));
  }
  SECTION("scalar x^3 / (1 + x) at x = 2: (3x^2 (1 + x) - x^3) / (1 + x)^2 = 28/9") {
    const Variable s = input("s");
    const Variable cube = mul(mul(s, s), s);
    Function f = compile({s}, {grad(div(cube, add(constant(1.0), s)), s)});
    CHECK(f({Array::scalar(2.0)})[0].item() == Approx(28.0 / 9.0).epsilon(1e-15));
  }
  SECTION("mean((x - mu)^2) -> d/dmu = -2 mean(x - mu)") {
    const Variable mu = input("mu");
    Function f = compile({x, mu}, {grad(mean(square(sub(x, mu))), mu)});
    // x = (0.5, -1, 2), mu = 0.5: -2 * (0 - 1.5 + 1.5) / 3 = 0; mu = 0: -2 * 1.5 / 3 = -1.
    CHECK(f({xv, Array::scalar(0.5)})[0].item() == Approx(0.0).margin(1e-15));
    CHECK(f({xv, Array::scalar(0.0)})[0].item() == Approx(-1.0).epsilon(1e-15));
  }
}

TEST_CASE("grad: a broadcast operand gets the sum over the broadcast axes", "[grad]") {
  const Variable m = input("m", DType::f64, {Type::unknown, 3});
  const Variable v = input("v", DType::f64, {3});
  const Variable b = input("b");
  // cost = sum(m * v + b): d/dv = column sums of m, d/db = number of elements, d/dm = v per row.
  const std::vector<Variable> g = grad(sum(add(mul(m, v), b)), {m, v, b});
  Function f = compile({m, v, b}, g);
  const Array mv = Array::from(std::vector<double>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
  const auto& r = f({mv, Array::from({10.0, 20.0, 30.0}), Array::scalar(0.0)});
  CHECK(r[0].shape() == Shape{2, 3});
  CHECK(values(r[0]) == std::vector<double>{10, 20, 30, 10, 20, 30});
  CHECK(values(r[1]) == std::vector<double>{5, 7, 9});
  CHECK(r[2].shape() == Shape{});
  CHECK(r[2].item() == 6.0);
}

TEST_CASE("grad: with respect to the cost itself and to an intermediate", "[grad]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable a = exp(x);
  const Variable cost = sum(mul(a, constant(2.0)));
  const std::vector<Variable> g = grad(cost, {a, x, cost});
  Function f = compile({x}, g);
  const auto& r = f({Array::from({0.0, 1.0})});
  CHECK(values(r[0]) == std::vector<double>{2, 2});
  CHECK(r[1].at(0) == Approx(2.0).epsilon(1e-15));
  CHECK(r[1].at(1) == Approx(2 * std::exp(1.0)).epsilon(1e-15));
  CHECK(r[2].item() == 1.0);
}

// --- errors ----------------------------------------------------------------------------------

TEST_CASE("grad: the cost must be an f64 scalar", "[grad][errors]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  CHECK_THROWS_WITH(grad(exp(x), x), "grad: cost must be an f64 scalar, got 'exp' of type f64(?,)");
  const Variable n = input("n", DType::i64);
  CHECK_THROWS_WITH(grad(n, x), "grad: cost must be an f64 scalar, got 'n' of type i64()");
  CHECK_THROWS_WITH(grad(Variable{}, x), "grad: cost is a null variable");
  CHECK_THROWS_AS(grad(x, x), std::invalid_argument);
}

TEST_CASE("grad: wrt variables must be f64", "[grad][errors]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable n = input("n", DType::i64, {Type::unknown});
  const Variable cost = sum(mul(x, cast(n, DType::f64)));
  CHECK_THROWS_WITH(grad(cost, n), "grad: wrt 1 ('n') has dtype i64, expected f64");
  CHECK_THROWS_WITH(grad(cost, {x, n}), "grad: wrt 2 ('n') has dtype i64, expected f64");
  CHECK_THROWS_WITH(grad(cost, {x, Variable{}}), "grad: wrt 2 is a null variable");
  // An integer on the path carries no gradient; the f64 one is unaffected.
  Function f = compile({x, n}, {grad(cost, x)});
  const auto& r = f({Array::from({1.0, 1.0}), Array::from(std::vector<std::int64_t>{3, -4})});
  CHECK(values(r[0]) == std::vector<double>{3, -4});
}

TEST_CASE("grad: a path through an op without gradient is an error naming it", "[grad][errors]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable hidden = make_apply<NoGradient>({x});
  hidden.set_name("h");
  const Variable cost = add(sum(hidden), sum(x));
  CHECK_THROWS_WITH(grad(cost, x), "grad: the cost depends on input 1 of opaque 'h', which has no gradient (opaque has no gradient)");
  // Other variables of the same graph are fine.
  const Variable y = input("y", DType::f64, {Type::unknown});
  Function f = compile({x, y}, {grad(add(sum(hidden), sum(mul(y, y))), y)});
  CHECK(values(f({Array::from({1.0}), Array::from({3.0})})[0]) == std::vector<double>{6});
}

// --- connectivity ----------------------------------------------------------------------------

TEST_CASE("grad: a variable the cost does not depend on gets zeros of its shape", "[grad]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable z = input("z", DType::f64, {Type::unknown, 3});
  const Variable s = input("s");
  const std::vector<Variable> g = grad(sum(x), {z, s, x});
  CHECK(g[0].type() == z.type());
  CHECK(g[1].type() == s.type());
  Function f = compile({x, z, s}, g);
  const auto& r = f({Array::from({1.0, 2.0}), Array::full(Shape{4, 3}, 5.0), Array::scalar(1.0)});
  CHECK(r[0].shape() == Shape{4, 3});
  CHECK(values(r[0]) == std::vector<double>(12, 0.0));
  CHECK(r[1].shape() == Shape{});
  CHECK(r[1].item() == 0.0);
  CHECK(values(r[2]) == std::vector<double>{1, 1});
}

TEST_CASE("grad: a variable used along several paths accumulates every contribution", "[grad]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  // cost = sum(x^2 + 3x + exp(x)): gradient 2x + 3 + exp(x).
  const Variable cost = sum(add(add(mul(x, x), mul(constant(3.0), x)), exp(x)));
  Function f = compile({x}, {grad(cost, x)});
  const Array xv = Array::from({0.0, 1.0, -2.0});
  const auto& r = f({xv});
  for (int i = 0; i < 3; ++i) CHECK(r[0].at(i) == Approx(2 * xv.at(i) + 3 + std::exp(xv.at(i))).epsilon(1e-15));
}

TEST_CASE("grad: a diamond with a node used twice", "[grad]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable y = input("y", DType::f64, {Type::unknown});
  // a = exp(x) feeds b = a y and c = a b + a; cost = sum(c) = sum(a^2 y + a).
  // d/dx = 2 a^2 y + a, d/dy = a^2.
  const Variable a = exp(x);
  const Variable b = mul(a, y);
  const Variable cost = sum(add(mul(a, b), a));
  Function f = compile({x, y}, grad(cost, {x, y}));
  const Array xv = Array::from({0.0, 0.5, -1.0});
  const Array yv = Array::from({1.0, -2.0, 3.0});
  const auto& r = f({xv, yv});
  for (int i = 0; i < 3; ++i) {
    const double av = std::exp(xv.at(i));
    CHECK(r[0].at(i) == Approx(2 * av * av * yv.at(i) + av).epsilon(1e-14));
    CHECK(r[1].at(i) == Approx(av * av).epsilon(1e-14));
  }
}

// --- graph size and paths --------------------------------------------------------------------

// A deep chain: the sweep and the compile passes must neither recurse per node (the stack) nor
// be quadratic (the suite would take minutes; no timing is asserted, tests do not time things).
TEST_CASE("grad: a chain of 5,000 adds differentiates and compiles, with and without fusion", "[grad][deep][fusion]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  Variable y = x;
  for (int i = 0; i < 5000; ++i) y = add(y, x);  // y = 5001 x
  const Variable g = grad(sum(y), x);
  for (const bool fuse : {false, true}) {
    INFO("fuse " << fuse);
    Function f = compile({x}, {g, sum(y)}, {.fuse = fuse});
    const auto& r = f({Array::from({1.0, -2.0})});
    CHECK(values(r[0]) == std::vector<double>{5001, 5001});
    CHECK(r[1].item() == -5001.0);
  }
}

TEST_CASE("grad: the sweep visits each apply once, not each path", "[grad][deep]") {
  // y_{k+1} = y_k + y_k doubles 64 times: 2^64 paths from x to the cost, and d cost/dx = 2^64
  // exactly. A per-path traversal would never finish.
  const Variable x = input("x");
  Variable y = x;
  for (int i = 0; i < 64; ++i) y = add(y, y);
  Function f = compile({x}, {grad(y, x)});
  CHECK(f({Array::scalar(3.0)})[0].item() == std::ldexp(1.0, 64));
}

// --- finite differences ----------------------------------------------------------------------

TEST_CASE("grad: composite expressions pass the finite-difference check", "[grad][gradcheck]") {
  SECTION("sigmoid, log1p and exp with two vector inputs") {
    check_grad([](const std::vector<Variable>& in) { return add(mul(sigmoid(mul(in[0], in[1])), in[0]), log1p(exp(in[1]))); },
               {Array::from({0.3, -1.2, 2.0}), Array::from({1.5, 0.2, -0.7})});
  }
  SECTION("a matrix divided by a broadcast vector") {
    check_grad([](const std::vector<Variable>& in) { return div(exp(in[0]), add(square(in[1]), constant(1.0))); },
               {Array::from(std::vector<double>{0.1, -0.4, 0.9, 1.3, -2.0, 0.0}, Shape{2, 3}), Array::from({0.5, -1.5, 2.5})});
  }
  SECTION("logsumexp over rows minus the mean of each column") {
    check_grad([](const std::vector<Variable>& in) { return sub(logsumexp(in[0], 1), mean(in[0], 0)); },
               {Array::from(std::vector<double>{0.1, -0.4, 0.9, 1.3, -2.0, 0.7, 0.2, 0.3, -1.1}, Shape{3, 3})});
  }
  SECTION("a scalar parameter shared by many elements, used twice") {
    check_grad([](const std::vector<Variable>& in) { return mul(sqrt(add(square(in[0]), constant(1.0))), softplus(mul(in[1], in[0]))); },
               {Array::from({0.25, -0.75, 1.5, 3.0}), Array::scalar(0.8)});
  }
  SECTION("a scalar cost built from a diamond") {
    check_grad(
        [](const std::vector<Variable>& in) {
          const Variable a = log_sigmoid(in[0]);
          return sum(add(mul(a, a), mul(a, in[1])));
        },
        {Array::from({-0.5, 0.5, 4.0}), Array::from({2.0, -3.0, 0.1})});
  }
}

}  // namespace grad_grad_test
