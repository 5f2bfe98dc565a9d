#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "support/gradcheck.hpp"
#include "symbatch/ops/reduce.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace ops_reduce_test {

using namespace symbatch;

namespace {
const Array matrix = Array::from(std::vector<double>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
}

TEST_CASE("reduce: sum, mean, max and logsumexp over each axis and all axes", "[ops][reduce]") {
  Variable x = input("x", DType::f64, {2, 3});
  Function f = compile({x}, {sum(x), sum(x, 0), sum(x, 1), sum(x, -1), mean(x), mean(x, 0), max(x), max(x, 1), logsumexp(x, 1), logsumexp(x)});
  const auto& r = f({matrix});
  CHECK(r[0].item() == 21);
  CHECK(r[1].to_vector() == std::vector<double>{5, 7, 9});
  CHECK(r[2].to_vector() == std::vector<double>{6, 15});
  CHECK(r[3].to_vector() == std::vector<double>{6, 15});
  CHECK(r[4].item() == 3.5);
  CHECK(r[5].to_vector() == std::vector<double>{2.5, 3.5, 4.5});
  CHECK(r[6].item() == 6);
  CHECK(r[7].to_vector() == std::vector<double>{3, 6});
  // scipy.special.logsumexp([1, 2, 3]) = 3.40760596444438, of [4, 5, 6] = 6.40760596444438, of all = 6.456193316018123
  CHECK(r[8].flat<double>(0) == Approx(3.40760596444438).epsilon(1e-14));
  CHECK(r[8].flat<double>(1) == Approx(6.40760596444438).epsilon(1e-14));
  CHECK(r[9].item() == Approx(6.456193316018123).epsilon(1e-14));
}

TEST_CASE("reduce: logsumexp does not overflow and handles infinities", "[ops][reduce]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  Function f = compile({x}, {logsumexp(x)});
  // log(e^1000 + e^1000.5) = 1000.5 + log(1 + e^-0.5) = 1000.9740769841801
  CHECK(f({Array::from({1000.0, 1000.5})})[0].item() == Approx(1000.9740769841801).epsilon(1e-15));
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(f({Array::from({-inf, 0.0})})[0].item() == Approx(0.0).margin(1e-300));
  CHECK(f({Array::from({-inf, -inf})})[0].item() == -inf);
  CHECK(f({Array::from(std::vector<double>{})})[0].item() == -inf);  // an empty axis
}

TEST_CASE("reduce: integer sums stay integers, and empty axes", "[ops][reduce]") {
  Variable i = input("i", DType::i64, {Type::unknown});
  Variable b = input("b", DType::boolean, {3});
  Function f = compile({i, b}, {sum(i), sum(b), mean(i)});
  const auto& r = f({Array::from(std::vector<std::int64_t>{4, -9, 7}), Array::from(std::vector<bool>{true, true, false})});
  CHECK(r[0].dtype() == DType::i64);
  CHECK(r[0].item<std::int64_t>() == 2);
  CHECK(r[1].item<std::int64_t>() == 2);
  CHECK(r[2].item() == Approx(2.0 / 3.0).epsilon(1e-15));
  Variable e = input("e", DType::f64, {Type::unknown});
  Function g = compile({e}, {sum(e), mean(e)});
  const auto& empty = g({Array::from(std::vector<double>{})});
  CHECK(empty[0].item() == 0);
  CHECK(std::isnan(empty[1].item()));
}

TEST_CASE("reduce: errors name the op and the axis", "[ops][reduce][errors]") {
  Variable x = input("x", DType::f64, {2, 3});
  CHECK_THROWS_AS(sum(x, 2), std::invalid_argument);
  CHECK_THROWS_WITH(sum(x, 2), "sum: axis 2 is out of range for input 1/1 of rank 2");
  CHECK_THROWS_WITH(mean(x, -3), "mean: axis -3 is out of range for input 1/1 of rank 2");
  CHECK_THROWS_WITH(make_apply<Reduce>({input("i", DType::i64, {2})}, Reduction::logsumexp, std::nullopt),
                    "logsumexp: input 1/1 has dtype i64, expected f64");
}

TEST_CASE("reduce: gradients match finite differences", "[ops][reduce][grad]") {
  using testing::check_grad;
  for (std::optional<int> axis : {std::optional<int>{}, std::optional<int>{0}, std::optional<int>{1}}) {
    check_grad([axis](const std::vector<Variable>& x) { return sum(x[0], axis); }, {matrix});
    check_grad([axis](const std::vector<Variable>& x) { return mean(x[0], axis); }, {matrix});
    check_grad([axis](const std::vector<Variable>& x) { return logsumexp(x[0], axis); }, {matrix});
    check_grad([axis](const std::vector<Variable>& x) { return max(x[0], axis); }, {matrix});
  }
}

TEST_CASE("reduce: the gradient of logsumexp is the softmax, whose entries sum to 1, at any magnitude", "[ops][reduce][grad]") {
  // d logsumexp(x) / dx = softmax(x). With x = (c, c) it is (1/2, 1/2) exactly; with x = (c, c + 1)
  // it is (1 / (1 + e), e / (1 + e)) = (0.2689414213699951, 0.7310585786300049). At |c| = 1e15
  // or more, logsumexp(x) itself cannot hold the log 2 it adds to c, and exp(x - logsumexp(x))
  // gave 0.47 or 1 per entry.
  Variable x = input("x", DType::f64, {Type::unknown});
  Function gradient = compile({x}, grad(logsumexp(x), {x}));
  for (const double c : {0.0, 1000.0, -745.0, 1e15, -1e15, 1e17, -1e17, 1e300, -1e308}) {
    INFO("c = " << c);
    const std::vector<double> equal = gradient({Array::from({c, c})})[0].to_vector();
    CHECK(equal[0] == Approx(0.5).epsilon(1e-15));
    CHECK(equal[1] == Approx(0.5).epsilon(1e-15));
    if (std::abs(c) < 1e15) {  // c + 1 == c beyond
      const std::vector<double> apart = gradient({Array::from({c, c + 1})})[0].to_vector();
      CHECK(apart[0] == Approx(0.2689414213699951).epsilon(1e-14));
      CHECK(apart[1] == Approx(0.7310585786300049).epsilon(1e-14));
    }
  }
  // Over one axis of a matrix, each row its own softmax; an empty axis has an empty gradient.
  Variable m = input("m", DType::f64, {Type::unknown, Type::unknown});
  Function rows = compile({m}, grad(sum(logsumexp(m, 1)), {m}));
  const std::vector<double> g = rows({Array::from(std::vector<double>{1e16, 1e16, 1e16, 1e16, -1e16, -1e16, -1e16, -1e16}, Shape{2, 4})})[0].to_vector();
  for (const double entry : g) CHECK(entry == Approx(0.25).epsilon(1e-15));
  CHECK(rows({Array::from(std::vector<double>{}, Shape{3, 0})})[0].size() == 0);
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> one_finite = gradient({Array::from({-inf, 2.0})})[0].to_vector();
  CHECK(one_finite[0] == 0.0);
  CHECK(one_finite[1] == 1.0);
}

TEST_CASE("reduce: max over an empty axis is an error, as in NumPy", "[ops][reduce][errors]") {
  Variable e = input("e", DType::f64, {Type::unknown, 3});
  Function f = compile({e}, {max(e, 0)});
  CHECK_THROWS_WITH(f({Array::zeros(DType::f64, Shape{0, 3})}),
                    "max: input 1/1 of shape (0, 3) has no elements along the reduced axis 0; the maximum of nothing is undefined");
  Function all = compile({e}, {max(e)});
  CHECK_THROWS_WITH(all({Array::zeros(DType::f64, Shape{0, 3})}),
                    "max: input 1/1 of shape (0, 3) has no elements along the reduced axes; the maximum of nothing is undefined");
  // Reducing a non-empty axis of an empty array gives an empty result, not an error.
  Function rows = compile({e}, {max(e, 1)});
  CHECK(rows({Array::zeros(DType::f64, Shape{0, 3})})[0].shape() == Shape{0});
}

TEST_CASE("reduce: a null variable is an error naming the op", "[ops][reduce][errors]") {
  const Variable null;
  CHECK_THROWS_WITH(sum(null), "sum: input 1/1 is a null variable");
  CHECK_THROWS_WITH(mean(null), "mean: input 1/1 is a null variable");
  CHECK_THROWS_WITH(logsumexp(null), "logsumexp: input 1/1 is a null variable");
  CHECK_THROWS_WITH(max(null, 0), "max: input 1/1 is a null variable");
}

}  // namespace ops_reduce_test
