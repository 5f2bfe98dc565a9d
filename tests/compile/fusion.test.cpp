// Elementwise fusion runs chains of elementwise ops as one blocked loop; values must not change.
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>

#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/reduce.hpp"

using namespace symbatch;

namespace {

std::size_t count_fused(const Function& function) {
  std::size_t count = 0;
  for (const ApplyNode* node : function.schedule()) count += node->op().name() == "fused";
  return count;
}

Array wave(std::int64_t n, double frequency) {
  Array result = Array::empty(DType::f64, Shape{n});
  for (std::int64_t i = 0; i < n; ++i) result.data<double>()[i] = std::sin(frequency * static_cast<double>(i));
  return result;
}

}  // namespace

TEST_CASE("fusion: a normal log-likelihood and its gradient match the unfused graph and the closed form", "[compile][fusion]") {
  Variable y = input("y", DType::f64, {Type::unknown});
  Variable mu = input("mu", DType::f64, {Type::unknown});
  Variable sigma = input("sigma");
  Variable z = (y - mu) / sigma;
  Variable loglik = sum(-0.5 * square(z) - log(sigma) - 0.5 * std::log(2 * std::numbers::pi));
  std::vector<Variable> outputs{loglik};
  for (const Variable& g : grad(loglik, {mu, sigma})) outputs.push_back(g);
  Function fused = compile({y, mu, sigma}, outputs);
  Function plain = compile({y, mu, sigma}, outputs, {.fuse = false});
  CHECK(count_fused(fused) >= 1);
  CHECK(count_fused(plain) == 0);
  // 1000 elements: several blocks and a partial last block.
  for (std::int64_t n : {1, 7, 256, 1000}) {
    const std::vector<Array> values{wave(n, 1.0), wave(n, 0.3), Array::scalar(1.3)};
    std::vector<std::vector<double>> a;
    for (const Array& value : fused(values)) a.push_back(value.to_vector());
    const auto& b = plain(values);
    double expected_loglik = 0, expected_dsigma = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double r = (values[0].flat<double>(i) - values[1].flat<double>(i)) / 1.3;
      expected_loglik += -0.5 * r * r - std::log(1.3) - 0.5 * std::log(2 * std::numbers::pi);
      expected_dsigma += (r * r - 1) / 1.3;
      CHECK(a[1][static_cast<std::size_t>(i)] == Approx(r / 1.3).epsilon(1e-13));
    }
    CHECK(a[0][0] == Approx(expected_loglik).epsilon(1e-13));
    CHECK(a[2][0] == Approx(expected_dsigma).epsilon(1e-13));
    for (std::size_t k = 0; k < a.size(); ++k) {
      const std::vector<double> other = b[k].to_vector();
      for (std::size_t i = 0; i < other.size(); ++i) CHECK(a[k][i] == Approx(other[i]).epsilon(1e-14));
    }
  }
}

TEST_CASE("fusion: inputs that broadcast at run time take the op-by-op path and stay correct", "[compile][fusion]") {
  Variable a = input("a", DType::f64, {Type::unknown});
  Variable b = input("b", DType::f64, {Type::unknown});
  Variable c = exp(a - b) * 2.0 + b;
  Function fused = compile({a, b}, {c});
  REQUIRE(count_fused(fused) == 1);
  // b has one element at run time while a has three: NumPy broadcasting.
  const std::vector<double> result = fused({Array::from({0.0, 1.0, 2.0}), Array::from({0.5})})[0].to_vector();
  for (int i = 0; i < 3; ++i) CHECK(result[static_cast<std::size_t>(i)] == Approx(2 * std::exp(i - 0.5) + 0.5).epsilon(1e-15));
  // and the blocked path afterwards, on equal shapes
  const std::vector<double> again = fused({Array::from({0.0, 1.0}), Array::from({1.0, 2.0})})[0].to_vector();
  CHECK(again[0] == Approx(2 * std::exp(-1.0) + 1.0).epsilon(1e-15));
  CHECK(again[1] == Approx(2 * std::exp(-1.0) + 2.0).epsilon(1e-15));
}

TEST_CASE("fusion: an intermediate used outside the chain is still computed for its other users", "[compile][fusion]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable shared_term = square(x) + 1.0;
  Variable chain = log(shared_term) * 3.0;
  Function fused = compile({x}, {chain, sum(shared_term)});
  const auto& results = fused({Array::from({1.0, 2.0})});
  CHECK(results[0].flat<double>(0) == Approx(3 * std::log(2.0)).epsilon(1e-15));
  CHECK(results[0].flat<double>(1) == Approx(3 * std::log(5.0)).epsilon(1e-15));
  CHECK(results[1].item() == Approx(7.0).epsilon(1e-15));
}
