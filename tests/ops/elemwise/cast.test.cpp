// cast: conversions between f64, i64 and bool; a double with no i64 value is an error, never
// undefined behaviour.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/ops/elemwise.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace ops_elemwise_cast_test {

using namespace symbatch;

TEST_CASE("cast: f64 to i64 truncates toward zero, as NumPy's astype", "[ops][cast]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  Function f = compile({x}, {cast(x, DType::i64), cast(x, DType::boolean)});
  const auto& r = f({Array::from({2.9, -2.9, 0.0, -0.0, 0x1p62 + 0x1p11, -0x1p63})});
  CHECK(r[0].to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{2, -2, 0, 0, 4611686018427389952, std::numeric_limits<std::int64_t>::min()});
  CHECK(r[1].to_vector<bool>() == std::vector<bool>{true, true, false, false, true, true});
}

TEST_CASE("cast: NaN, infinities and doubles beyond i64's range are errors naming the element", "[ops][cast][errors]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  Function f = compile({x}, {cast(x, DType::i64)});
  CHECK_THROWS_WITH(f({Array::from({1.0, NAN})}), "cast: element 1 is nan, which has no i64 value");
  CHECK_THROWS_WITH(f({Array::from({1e300})}), "cast: element 0 is 1e+300, which has no i64 value");
  CHECK_THROWS_WITH(f({Array::from({-INFINITY})}), "cast: element 0 is -inf, which has no i64 value");
  CHECK_THROWS_AS(f({Array::from({9.2233720368547758e18})}), std::domain_error);  // 2^63 itself does not fit
  CHECK(f({Array::from({3.0})})[0].item<std::int64_t>() == 3);  // usable after the errors
  // Constants are converted when the graph is built, by the same rule.
  CHECK_THROWS_WITH(cast(constant(NAN), DType::i64), "cast: element 0 is nan, which has no i64 value");
}

TEST_CASE("elemwise: i64 arithmetic that overflows is an error naming the op, never wraparound", "[ops][elemwise][errors]") {
  const std::int64_t top = std::numeric_limits<std::int64_t>::max(), bottom = std::numeric_limits<std::int64_t>::min();
  Variable a = input("a", DType::i64, {Type::unknown});
  Variable b = input("b", DType::i64, {Type::unknown});
  Function plus = compile({a, b}, {a + b}), minus = compile({a, b}, {a - b}), times = compile({a, b}, {a * b});
  const auto values = [](std::int64_t v) { return Array::from(std::vector<std::int64_t>{v}); };
  CHECK_THROWS_WITH(plus({values(top), values(1)}), "add: integer overflow in 9223372036854775807 + 1");
  CHECK_THROWS_WITH(minus({values(bottom), values(1)}), "sub: integer overflow in -9223372036854775808 - 1");
  CHECK_THROWS_WITH(times({values(top / 2 + 1), values(2)}), "mul: integer overflow in 4611686018427387904 * 2");
  CHECK(plus({values(top - 1), values(1)})[0].item<std::int64_t>() == top);
  CHECK(minus({values(bottom + 1), values(1)})[0].item<std::int64_t>() == bottom);
  CHECK(times({values(top / 2), values(2)})[0].item<std::int64_t>() == top - 1);
  CHECK_THROWS_WITH(compile({a}, {-a})({values(bottom)}), "neg: integer overflow in 0 - -9223372036854775808");
  CHECK_THROWS_WITH(compile({a}, {abs(a)})({values(bottom)}), "abs: integer overflow in 0 - -9223372036854775808");
  CHECK_THROWS_WITH(compile({a}, {square(a)})({values(std::int64_t{1} << 32)}), "square: integer overflow in 4294967296 * 4294967296");
  Function sums = compile({a}, {sum(a)});
  CHECK_THROWS_WITH(sums({Array::from(std::vector<std::int64_t>{top, 1})}), "sum: integer overflow in the sum of i64 elements");
  // Floating-point arithmetic is IEEE: overflow gives inf, not an error.
  Variable x = input("x");
  CHECK(compile({x}, {x * 1e300})({Array::scalar(1e300)})[0].item() == INFINITY);
}

}  // namespace ops_elemwise_cast_test
