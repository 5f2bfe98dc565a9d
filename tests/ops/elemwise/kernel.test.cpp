// The elementwise machinery: the ElementwiseFunction protocol is a checked C++20 concept, and a
// user-defined function that follows it becomes a working op with broadcasting and a gradient.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "support/gradcheck.hpp"
#include "symbatch/compile/function.hpp"
#include "symbatch/ops/elemwise.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace ops_elemwise_kernel_test {

using namespace symbatch;

namespace {

/// `a * a * b`, written by a user from the documented protocol.
struct SquareTimesFn {
  static constexpr const char* name = "square_times";
  static constexpr int arity = 2;
  static constexpr Domain domain = Domain::floating;
  static double apply(double a, double b) { return a * a * b; }
  static std::vector<Variable> grad(const std::vector<Variable>& x, const Variable&, const Variable& g) {
    return {g * 2.0 * x[0] * x[1], g * x[0] * x[0]};
  }
};
struct NoGradientFn {  // lacks grad: not an ElementwiseFunction
  static constexpr const char* name = "broken";
  static constexpr int arity = 1;
  static constexpr Domain domain = Domain::floating;
  static double apply(double a) { return a; }
};
struct ThreeInputsFn {  // arity 3 is not supported
  static constexpr const char* name = "three";
  static constexpr int arity = 3;
  static constexpr Domain domain = Domain::floating;
  static std::vector<Variable> grad(const std::vector<Variable>&, const Variable&, const Variable&) { return {}; }
};

}  // namespace

TEST_CASE("elemwise kernel: the protocol of an elementwise function is a concept", "[ops][elemwise]") {
  STATIC_REQUIRE(ElementwiseFunction<detail::AddFn>);
  STATIC_REQUIRE(ElementwiseFunction<detail::LogSigmoidFn>);
  STATIC_REQUIRE(ElementwiseFunction<detail::ltFn>);
  STATIC_REQUIRE(ElementwiseFunction<SquareTimesFn>);
  STATIC_REQUIRE_FALSE(ElementwiseFunction<NoGradientFn>);
  STATIC_REQUIRE_FALSE(ElementwiseFunction<ThreeInputsFn>);
}

TEST_CASE("elemwise kernel: a user's function broadcasts, fuses and differentiates like the built-in ones", "[ops][elemwise]") {
  Variable a = input("a", DType::f64, {Type::unknown});
  Variable b = input("b");
  const Variable y = elemwise<SquareTimesFn>(a, b);
  for (bool fuse : {false, true}) {
    Function f = compile({a, b}, {sum(exp(y))}, {.fuse = fuse});
    const double expected = std::exp(0.25 * 3) + std::exp(4.0 * 3);
    CHECK(f({Array::from({0.5, -2.0}), Array::scalar(3.0)})[0].item() == Approx(expected).epsilon(1e-14));
  }
  symbatch::testing::check_grad([](const std::vector<Variable>& x) { return elemwise<SquareTimesFn>(x[0], x[1]); },
                                {Array::from({0.5, -2.0, 1.5}), Array::scalar(0.7)});
}

}  // namespace ops_elemwise_kernel_test
