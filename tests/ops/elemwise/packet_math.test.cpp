// The vectorised logistic kernels (ops/elemwise/packet_math.hpp) against 50-digit references
// (mpmath 1.3, log(1 + exp(x)) and 1 / (1 + exp(-x)) at 50 digits, rounded to 17), on arrays long
// enough that whole SIMD packets and the zero-padded tail packet both run; and their non-finite cases against the
// scalar semantics (the functions' limits, NaN in NaN out, -inf off the Bernoulli support).
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/distributions/discrete.hpp"
#include "symbatch/ops/elemwise.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace ops_elemwise_packet_math_test {

using namespace symbatch;

namespace {
struct Reference {
  double x, sigmoid, softplus, log_sigmoid;
};
// x, sigmoid(x), softplus(x), log_sigmoid(x)
const std::vector<Reference> references{
    {-745, 2.8223507304719371e-324, 2.8223507304719371e-324, -7.45e+2},
    {-40, 4.248354255291589e-18, 4.248354255291589e-18, -4.0e+1},
    {-20.5, 1.2501528648238604e-9, 1.2501528656053015e-9, -2.0500000001250153e+1},
    {-3, 4.7425873177566781e-2, 4.8587351573742059e-2, -3.0485873515737421},
    {-0.5, 3.7754066879814544e-1, 4.7407698418010668e-1, -9.7407698418010668e-1},
    {-1e-10, 4.99999999975e-1, 6.9314718050994531e-1, -6.9314718060994531e-1},
    {0, 5.0e-1, 6.9314718055994531e-1, -6.9314718055994531e-1},
    {1e-10, 5.00000000025e-1, 6.9314718060994531e-1, -6.9314718050994531e-1},
    {0.5, 6.2245933120185456e-1, 9.7407698418010668e-1, -4.7407698418010668e-1},
    {3, 9.5257412682243322e-1, 3.0485873515737421, -4.8587351573742059e-2},
    {20.5, 9.9999999874984714e-1, 2.0500000001250153e+1, -1.2501528656053015e-9},
    {40, 1.0, 4.0e+1, -4.248354255291589e-18},
    {745, 1.0, 7.45e+2, 0.0},
};
constexpr int copies = 3;  // 39 entries: whole packets and a tail for every SIMD width

/// The references' x, repeated `copies` times.
Array inputs() {
  std::vector<double> x;
  for (int c = 0; c < copies; ++c)
    for (const Reference& r : references) x.push_back(r.x);
  return Array::from(x);
}
void check_close(double got, double expected) {
  // 4 ulps relative; values below 1e-300 (subnormal results) absolutely.
  CHECK(got == Approx(expected).epsilon(1e-15).margin(1e-300));
}
}  // namespace

TEST_CASE("packet math: sigmoid, softplus and log_sigmoid match 50-digit references over packets and tail", "[packet_math]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  Function f = compile({x}, {sigmoid(x), softplus(x), log_sigmoid(x)}, {.fuse = false});
  Function fused = compile({x}, {sigmoid(x) * 1.0, softplus(x) + 0.0, log_sigmoid(x) - 0.0});
  for (Function* function : {&f, &fused}) {
    const auto& out = (*function)({inputs()});
    for (std::size_t k = 0; k < copies * references.size(); ++k) {
      const Reference& r = references[k % references.size()];
      INFO("x = " << r.x << ", entry " << k);
      check_close(out[0].flat<double>(static_cast<std::int64_t>(k)), r.sigmoid);
      check_close(out[1].flat<double>(static_cast<std::int64_t>(k)), r.softplus);
      check_close(out[2].flat<double>(static_cast<std::int64_t>(k)), r.log_sigmoid);
    }
  }
}

TEST_CASE("packet math: the Bernoulli-logit log-mass is log_sigmoid(eta) at 1, log_sigmoid(-eta) at 0, -inf elsewhere", "[packet_math]") {
  const Variable y = input("y", DType::f64, {Type::unknown}), eta = input("eta", DType::f64, {Type::unknown});
  Function f = compile({y, eta}, {BernoulliLogit(eta).logp(y)});
  const Array x = inputs();
  const std::int64_t n = x.size();
  for (const double value : {1.0, 0.0, 0.5}) {
    const auto& out = f({Array::full<double>(Shape{n}, value), x});
    for (std::int64_t k = 0; k < n; ++k) {
      const Reference& r = references[static_cast<std::size_t>(k) % references.size()];
      INFO("y = " << value << ", eta = " << r.x);
      if (value == 1.0) check_close(out[0].flat<double>(k), r.log_sigmoid);
      else if (value == 0.0) check_close(out[0].flat<double>(k), -r.softplus);
      else CHECK(out[0].flat<double>(k) == -std::numeric_limits<double>::infinity());
    }
  }
}

TEST_CASE("packet math: where exp(-|x|) is subnormal, the packet forms give the scalar forms' values, correctly rounded", "[packet_math]") {
  // exp(-a), from Python's decimal module at 60 digits, rounded to the nearest double (subnormal).
  const std::vector<std::pair<double, double>> tiny{
      {710, 4.47628622567513e-309}, {720, 2.0322308024e-313}, {730, 9.226315e-318}, {740, 4.2e-322}, {744, 1e-323}};
  std::vector<double> values;
  for (int c = 0; c < 3; ++c)
    for (const auto& [a, e] : tiny) values.insert(values.end(), {-a, a});  // 30 entries: packets and a tail
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable scalar = input("s");
  Function packets = compile({x}, {sigmoid(x), softplus(x), log_sigmoid(x)});
  Function scalars = compile({scalar}, {sigmoid(scalar), softplus(scalar), log_sigmoid(scalar)});
  const auto& out = packets({Array::from(values)});
  for (std::size_t k = 0; k < values.size(); ++k) {
    const double v = values[k];
    const double e = tiny[(k / 2) % tiny.size()].second;
    INFO("x = " << v);
    const auto& one = scalars({Array::scalar(v)});
    for (std::size_t o = 0; o < 3; ++o) CHECK(out[o].flat<double>(static_cast<std::int64_t>(k)) == one[o].item());
    CHECK(out[0].flat<double>(static_cast<std::int64_t>(k)) == (v < 0 ? e : 1.0));
    CHECK(out[1].flat<double>(static_cast<std::int64_t>(k)) == (v < 0 ? e : v));
    CHECK(out[2].flat<double>(static_cast<std::int64_t>(k)) == (v < 0 ? v : -e));
  }
}

TEST_CASE("packet math: exp, log and sqrt over arrays give the scalar functions' values at the edges of the range", "[packet_math]") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const Variable x = input("x", DType::f64, {Type::unknown});
  const auto over_array = [&](Variable (*function)(const Variable&), const std::vector<double>& points) {
    std::vector<double> values;
    for (int c = 0; c < 3; ++c) values.insert(values.end(), points.begin(), points.end());  // packets and a tail
    Function f = compile({x}, {function(x)});
    return std::pair{values, f({Array::from(values)})[0].to_vector()};
  };
  const auto same = [](double got, double want) { return std::isnan(want) ? std::isnan(got) : std::bit_cast<std::uint64_t>(got) == std::bit_cast<std::uint64_t>(want); };

  SECTION("exp: subnormal and zero results below -708 (Eigen's pexp clamps near -709.8), the limits elsewhere") {
    const auto [points, got] = over_array([](const Variable& v) { return exp(v); },
                                          {-1000, -746, -745, -744, -740, -730, -720, -710, -709.9, -708.5, -inf, inf, nan, 0.0, 1.0, 709.9, 710});
    for (std::size_t k = 0; k < points.size(); ++k) {
      INFO("x = " << points[k]);
      if (points[k] < -708) CHECK(same(got[k], std::exp(points[k])));  // the scalar function, bit for bit
      else if (std::isfinite(std::exp(points[k]))) CHECK(got[k] == Approx(std::exp(points[k])).epsilon(4e-16));
      else CHECK(same(got[k], std::exp(points[k])));
    }
    CHECK(got[0] == 0.0);                        // exp(-1000)
    CHECK(got[3] == 9.8813129168249309e-324);    // exp(-744), two of the smallest subnormal
    CHECK(got[7] == 4.4762862256751298e-309);    // exp(-710), correctly rounded (decimal, 60 digits)
  }
  SECTION("log: subnormal inputs (Eigen's plog reads them as the smallest normal), zero, negatives and the limits") {
    const double smallest = std::numeric_limits<double>::denorm_min(), normal = std::numeric_limits<double>::min();
    const auto [points, got] = over_array([](const Variable& v) { return log(v); },
                                          {smallest, 1e-310, 3e-320, normal / 2, normal, 0.0, -0.0, -1.0, inf, -inf, nan, 1e-20, 1.0, 2.5, 1e300});
    for (std::size_t k = 0; k < points.size(); ++k) {
      INFO("x = " << points[k]);
      if (points[k] > 0 && points[k] < normal) CHECK(same(got[k], std::log(points[k])));
      else if (std::isfinite(std::log(points[k]))) CHECK(got[k] == Approx(std::log(points[k])).epsilon(4e-16).margin(1e-300));
      else CHECK(same(got[k], std::log(points[k])));
    }
    CHECK(got[0] == Approx(-1074 * 0.69314718055994531));  // log(2^-1074)
  }
  SECTION("sqrt: correctly rounded everywhere, as the hardware's, subnormals included") {
    const auto [points, got] = over_array([](const Variable& v) { return sqrt(v); },
                                          {0.5, 2.0, 1e-20, 709.9, 1e-310, 4.9406564584124654e-324, 0.0, -0.0, -1.0, inf, nan, 1e300});
    for (std::size_t k = 0; k < points.size(); ++k) {
      INFO("x = " << points[k]);
      CHECK(same(got[k], std::sqrt(points[k])));
    }
  }
}

TEST_CASE("packet math: infinities and NaN give the functions' limits and NaN", "[packet_math]") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> values;
  for (int c = 0; c < 9; ++c) values.insert(values.end(), {inf, -inf, nan});  // 27 entries: a tail for every SIMD width
  const Variable x = input("x", DType::f64, {Type::unknown}), y = input("y", DType::f64, {Type::unknown});
  Function f = compile({x, y}, {sigmoid(x), softplus(x), log_sigmoid(x), BernoulliLogit(x).logp(y)});
  for (const double label : {1.0, 0.0, 2.0}) {
    const auto& out = f({Array::from(values), Array::full<double>(Shape{27}, label)});
    for (std::int64_t k = 0; k < 27; ++k) {
      const double v = values[static_cast<std::size_t>(k)];
      INFO("x = " << v << ", y = " << label);
      if (std::isnan(v)) {
        for (int o = 0; o < 4; ++o) CHECK(std::isnan(out[static_cast<std::size_t>(o)].flat<double>(k)));
        continue;
      }
      CHECK(out[0].flat<double>(k) == (v > 0 ? 1.0 : 0.0));
      CHECK(out[1].flat<double>(k) == (v > 0 ? inf : 0.0));
      CHECK(out[2].flat<double>(k) == (v > 0 ? 0.0 : -inf));
      const double expected = label == 2.0 ? -inf : (label == 1.0) == (v > 0) ? 0.0 : -inf;
      CHECK(out[3].flat<double>(k) == expected);
    }
  }
}

}  // namespace ops_elemwise_packet_math_test
