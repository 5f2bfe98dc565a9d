// log_det_spd and inverse_spd: values against closed forms for 2 x 2 and 3 x 3 matrices,
// gradients by finite differences (also for asymmetric inputs: both read the symmetric part),
// and their errors.
#include <catch2/catch.hpp>

#include <cmath>

#include "support/gradcheck.hpp"
#include "symbatch/ops/linalg.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace ops_linalg_test {

using namespace symbatch;

namespace {

Array matrix(std::vector<double> values, Shape shape) { return Array::from(values, shape); }

}  // namespace

TEST_CASE("log_det_spd: values against the closed-form determinant", "[linalg]") {
  // [[4, 1, 0.5], [1, 3, 0.2], [0.5, 0.2, 2]]: det = 4(6 - 0.04) - 1(2 - 0.1) + 0.5(0.2 - 1.5) = 21.29.
  const Variable a = Variable::input("a", Type{DType::f64, {3, 3}});
  Function function = compile({a}, {log_det_spd(a), inverse_spd(a)});
  const Array value = matrix({4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0}, Shape{3, 3});
  const auto& result = function({value});
  CHECK(result[0].item() == Approx(std::log(21.29)).epsilon(1e-14));
  // The inverse: adjugate / det; entry (0, 0) = (3 * 2 - 0.2^2) / det, entry (0, 1) = -(1 * 2 - 0.2 * 0.5) / det.
  CHECK(result[1].flat<double>(0) == Approx(5.96 / 21.29).epsilon(1e-14));
  CHECK(result[1].flat<double>(1) == Approx(-1.9 / 21.29).epsilon(1e-14));
  CHECK(result[1].flat<double>(3) == Approx(-1.9 / 21.29).epsilon(1e-14));
  // An asymmetric input is read through its symmetric part: [[2, 3], [-1, 5]] -> [[2, 1], [1, 5]], det 9.
  const Variable b = Variable::input("b", Type{DType::f64, {2, 2}});
  Function two = compile({b}, {log_det_spd(b)});
  CHECK(two({matrix({2.0, 3.0, -1.0, 5.0}, Shape{2, 2})})[0].item() == Approx(std::log(9.0)).epsilon(1e-14));
}

TEST_CASE("log_det_spd and inverse_spd: gradients match finite differences", "[linalg][grad]") {
  const Array symmetric = matrix({4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0}, Shape{3, 3});
  const Array asymmetric = matrix({4.0, 1.5, 0.5, 0.5, 3.0, -0.2, 0.5, 0.6, 2.0}, Shape{3, 3});
  for (const Array& point : {symmetric, asymmetric}) {
    testing::check_grad([](const std::vector<Variable>& x) { return log_det_spd(x[0]); }, {point});
    testing::check_grad([](const std::vector<Variable>& x) { return inverse_spd(x[0]); }, {point});
    // Second order: the gradient of log det is inverse_spd, whose own gradient is checked here.
    testing::check_grad([](const std::vector<Variable>& x) { return sum(square(inverse_spd(x[0]))); }, {point});
  }
}

TEST_CASE("log_det_spd: bad inputs are named", "[linalg][errors]") {
  CHECK_THROWS_WITH(log_det_spd(Variable::input("v", Type{DType::f64, {3}})),
                    "log_det_spd: input 1/1 has type f64(3,), expected a square f64 matrix");
  CHECK_THROWS_WITH(inverse_spd(Variable::input("m", Type{DType::f64, {2, 3}})),
                    "inverse_spd: input 1/1 has type f64(2, 3), expected a square f64 matrix");
  const Variable a = Variable::input("a", Type{DType::f64, {2, 2}});
  Function function = compile({a}, {log_det_spd(a)});
  CHECK_THROWS_WITH(function({matrix({1.0, 2.0, 2.0, 1.0}, Shape{2, 2})}), "log_det_spd: the matrix is not positive definite");
}

}  // namespace ops_linalg_test
