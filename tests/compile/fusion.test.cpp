// Elementwise fusion runs chains of elementwise ops as one blocked loop; values must not change.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/dimensions.hpp"
#include "symbatch/ops/elemwise/cast.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/ops/subtensor.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace compile_fusion_test {

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

namespace {

/// The outputs of `outputs` as functions of `inputs`, compiled with fusion on and off, on `values`.
struct OnOff {
  std::vector<std::vector<double>> fused, plain;
  std::size_t fused_ops = 0;
  std::vector<std::string> programs;  // `describe()` of each fused op
};
OnOff run_on_off(const std::vector<Variable>& inputs, const std::vector<Variable>& outputs, const std::vector<Array>& values) {
  OnOff result;
  Function fused = compile(inputs, outputs);
  Function plain = compile(inputs, outputs, {.fuse = false});
  for (const Array& value : fused(values)) result.fused.push_back(value.to_vector());
  for (const Array& value : plain(values)) result.plain.push_back(value.to_vector());
  result.fused_ops = count_fused(fused);
  for (const ApplyNode* node : fused.schedule())
    if (node->op().name() == "fused") result.programs.push_back(node->op().describe());
  return result;
}

void check_same(const OnOff& result) {
  REQUIRE(result.fused.size() == result.plain.size());
  for (std::size_t k = 0; k < result.fused.size(); ++k) {
    REQUIRE(result.fused[k].size() == result.plain[k].size());
    for (std::size_t i = 0; i < result.fused[k].size(); ++i) CHECK(result.fused[k][i] == Approx(result.plain[k][i]).epsilon(1e-14));
  }
}

}  // namespace

// The pass used to rebuild the graph once per fused group: quadratic, minutes for this graph
// (each forward add also feeds a sum_to of the gradient, for its shape). It now rebuilds once.
TEST_CASE("fusion: the gradient of a chain of 5,000 adds compiles in one rebuild and matches the closed form", "[compile][fusion]") {
  constexpr int terms = 5000;
  const Variable x = input("x", DType::f64, {Type::unknown});
  Variable y = x;
  for (int k = 2; k <= terms; ++k) y = add(y, mul(x, constant(static_cast<double>(k))));  // y = (1 + 2 + ... + terms) x
  const Variable cost = sum(y);
  const OnOff result = run_on_off({x}, {cost, grad(cost, x)}, {Array::from({1.0, -2.0, 0.5})});
  CHECK(result.fused_ops > 0);
  // Sums of integer multiples of 0.5 below 2^53 are exact, whatever the order.
  const double factor = terms * (terms + 1) / 2.0;
  CHECK(result.fused[0] == std::vector<double>{factor * -0.5});
  CHECK(result.fused[1] == std::vector<double>{factor, factor, factor});
  CHECK(result.plain[0] == result.fused[0]);
  CHECK(result.plain[1] == result.fused[1]);
}

TEST_CASE("fusion: a producer shared by two groups gives the unfused values", "[compile][fusion]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable y = input("y", DType::f64, {Type::unknown});
  const std::vector<Array> values{Array::from({0.1, -0.4, 1.3, 2.0}), Array::from({0.7, 0.2, -1.5, 0.3})};
  SECTION("its inputs come from outside both groups: recomputed in each") {
    const Variable p = exp(x) * y;  // p = mul(exp(x), y), used by both groups
    const Variable a = log(square(p) + 1.0) * 2.0;
    const Variable b = sqrt(abs(p)) - y;
    const OnOff result = run_on_off({x, y}, {a, b}, values);
    CHECK(result.fused_ops >= 2);
    check_same(result);
  }
  SECTION("one of its inputs is computed in the group too") {
    const Variable e = exp(x);
    const Variable p = e * y;                // shared: feeds `a` and `b`
    const Variable a = (e + p) * 3.0;        // e feeds both p and a
    const Variable b = sigmoid(p) - x;
    const OnOff result = run_on_off({x, y}, {a, b, sum(p)}, values);
    CHECK(result.fused_ops >= 1);
    check_same(result);
  }
  SECTION("a producer used twice by one group and once outside") {
    const Variable w = x * y;
    const Variable a = exp(w) * w + w;
    const OnOff result = run_on_off({x, y}, {a, sum(w), neg(w)}, values);
    CHECK(result.fused_ops >= 1);
    check_same(result);
  }
}

TEST_CASE("fusion: the shape-only input of sum_to and unreduce does not pull its producer into the group", "[compile][fusion]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable y = input("y", DType::f64, {Type::unknown});
  const Variable like = exp(x) * 2.0;  // read only for its shape
  const Variable passed = sum_to(y * 3.0, like) + 1.0;
  const Variable spread = apply1(std::make_shared<const Unreduce>(std::nullopt, true), {sum(y), like}) * y - 0.5;
  const Variable filled = apply1(std::make_shared<const Unreduce>(std::nullopt, false), {sum(x), like}) + y;
  const std::vector<Array> values{Array::from({0.1, -0.4, 1.3}), Array::from({0.7, 0.2, -1.5})};
  const OnOff result = run_on_off({x, y}, {passed, spread, filled, like}, values);
  check_same(result);
  const double mean_y = (0.7 + 0.2 - 1.5) / 3;
  const double sum_x = 0.1 - 0.4 + 1.3;
  for (std::size_t i = 0; i < 3; ++i) {
    const double yi = values[1].flat<double>(static_cast<std::int64_t>(i));
    CHECK(result.fused[0][i] == Approx(3 * yi + 1).epsilon(1e-15));
    CHECK(result.fused[1][i] == Approx(mean_y * yi - 0.5).epsilon(1e-15));
    CHECK(result.fused[2][i] == Approx(sum_x + yi).epsilon(1e-15));
  }
  // The loops that read `like` for its shape do not recompute it.
  CHECK(result.fused_ops >= 3);
  for (const std::string& program : result.programs)
    if (program.find("sum_to") != std::string::npos || program.find("unreduce") != std::string::npos)
      CHECK(program.find("exp") == std::string::npos);
  // Also through a gradient: every sum_to there reads a forward intermediate for its shape.
  SECTION("in a gradient") {
    Variable z = x;
    for (int k = 0; k < 20; ++k) z = exp(z * 0.1) + y;
    const Variable cost = sum(z);
    const std::vector<Variable> grads = grad(cost, {x, y});
    check_same(run_on_off({x, y}, {cost, grads[0], grads[1]}, values));
  }
}

TEST_CASE("fusion: the shape-only input of sum_to and unreduce may have another dtype", "[compile][fusion]") {
  const Variable y = input("y", DType::f64, {Type::unknown});
  const Variable k = input("k", DType::i64, {Type::unknown});
  const Variable passed = sum_to(y * 3.0, k) + 1.0;
  const Variable filled = apply1(std::make_shared<const Unreduce>(std::nullopt, false), {sum(y), k}) * y;
  const OnOff result = run_on_off({y, k}, {passed, filled}, {Array::from({1.0, 2.0}), Array::from(std::vector<std::int64_t>{5, 6})});
  CHECK(result.fused_ops == 2);
  check_same(result);
  CHECK(result.fused[0] == std::vector<double>{4.0, 7.0});
  CHECK(result.fused[1] == std::vector<double>{3.0, 6.0});
}

namespace {

bool has_op(const Function& function, const std::string& description) {
  for (const ApplyNode* node : function.schedule())
    if (node->op().describe() == description) return true;
  return false;
}

}  // namespace

TEST_CASE("fusion: a sum of a fused chain accumulates in the loop and matches the closed form", "[compile][fusion]") {
  // sum over i of (2 sin(i/7) + 1)^2, computed independently in the test.
  const std::int64_t n = 1000;
  const Array x = wave(n, 1.0 / 7);
  double expected = 0;
  for (std::int64_t i = 0; i < n; ++i) expected += std::pow(2 * std::sin(static_cast<double>(i) / 7) + 1, 2);
  Variable v = input("x", DType::f64, {Type::unknown});
  const Variable total = sum(square(2.0 * v + 1.0));
  Function fused = compile({v}, {total});
  Function plain = compile({v}, {total}, {.fuse = false});
  CHECK(has_op(fused, "fused{mul,add,square,sum}"));
  CHECK(fused({x})[0].item() == Approx(expected).epsilon(1e-13));
  CHECK(plain({x})[0].item() == Approx(expected).epsilon(1e-13));
  // A lone kernel whose only consumer is a sum joins it too.
  Function lone = compile({v}, {sum(exp(v))});
  double exp_total = 0;
  for (std::int64_t i = 0; i < n; ++i) exp_total += std::exp(std::sin(static_cast<double>(i) / 7));
  CHECK(has_op(lone, "fused{exp,sum}"));
  CHECK(lone({x})[0].item() == Approx(exp_total).epsilon(1e-13));
}

TEST_CASE("fusion: a value used elsewhere only for its shape is not stored, and results do not change", "[compile][fusion]") {
  // d/dmu of sum(log p) for a normal over a static-shape batch: the backward fill reads the
  // forward terms only for their shape, so the forward chain and its sum fuse into one loop.
  const std::int64_t n = 600;
  Variable y = input("y", DType::f64, {n});
  Variable mu = input("mu");
  Variable sigma = input("sigma");
  const Variable terms = -0.5 * square((y - mu) / sigma) - log(sigma);
  const Variable loglik = sum(terms);
  std::vector<Variable> outputs{loglik};
  for (const Variable& g : grad(loglik, {mu, sigma})) outputs.push_back(g);
  Function fused = compile({y, mu, sigma}, outputs);
  Function plain = compile({y, mu, sigma}, outputs, {.fuse = false});
  const Array data = wave(n, 0.3);
  const double m = 0.2, s = 1.7;
  double value = 0, dmu = 0, dsigma = 0;  // closed forms
  for (std::int64_t i = 0; i < n; ++i) {
    const double z = (data.flat<double>(i) - m) / s;
    value += -0.5 * z * z - std::log(s);
    dmu += z / s;
    dsigma += (z * z - 1) / s;
  }
  for (Function* f : {&fused, &plain}) {
    const auto& r = (*f)({data, Array::scalar(m), Array::scalar(s)});
    CHECK(r[0].item() == Approx(value).epsilon(1e-13));
    CHECK(r[1].item() == Approx(dmu).epsilon(1e-12));
    CHECK(r[2].item() == Approx(dsigma).epsilon(1e-12));
  }
  // The forward terms are summed in their loop, never written out as an array of n.
  for (const ApplyNode* node : fused.schedule())
    if (node->op().name() == "sum") CHECK(node->input(0).rank() == 0);
}

TEST_CASE("fusion: division by a scalar multiplies by its reciprocal, within an ulp of division", "[compile][fusion]") {
  const Array x = Array::from({1.0, -3.5, 1e300, 7e-300, 0.1, 123456.789});
  const double d = 3.0;
  Variable v = input("x", DType::f64, {Type::unknown});
  Variable c = input("c");
  // Alone, the division runs as its own op; under a negation it runs inside a fused loop (with
  // the identities off, which would move the sign onto the scalar: `v / (-c)`).
  Function alone = compile({v, c}, {v / c});
  Function fused = compile({v, c}, {neg(v / c)}, {.rewrites = {.identities = false}});
  CHECK(has_op(fused, "fused{div,neg}"));
  const auto quotients = alone({x, Array::scalar(d)})[0].to_vector();
  const auto negated = fused({x, Array::scalar(d)})[0].to_vector();
  for (std::size_t k = 0; k < quotients.size(); ++k) {
    const double exact = x.flat<double>(static_cast<std::int64_t>(k)) / d;
    CHECK(std::abs(quotients[k] - exact) <= std::numeric_limits<double>::epsilon() * std::abs(exact));
    CHECK(std::abs(-negated[k] - exact) <= std::numeric_limits<double>::epsilon() * std::abs(exact));
  }
}

TEST_CASE("fusion: a one-element input of higher rank broadcasts the output's rank, as unfused", "[compile][fusion]") {
  // (5,) with (1, 1) broadcasts to (1, 5): the loop must not take the (5,) input's shape.
  Variable v = input("v", DType::f64, {Type::unknown});
  Variable c = input("c", DType::f64, {Type::unknown, Type::unknown});
  const Variable out = square(v * c + 1.0);
  Function fused = compile({v, c}, {out});
  Function plain = compile({v, c}, {out}, {.fuse = false});
  const Array values = Array::from({1.0, 2.0, 3.0, 4.0, 5.0});
  const Array one = Array::from(std::vector<double>{2.0}, Shape{1, 1});
  const Array& a = fused({values, one})[0];
  CHECK(a.shape() == Shape{1, 5});
  CHECK(a.to_vector() == std::vector<double>{9, 25, 49, 81, 121});
  CHECK(plain({values, one})[0].shape() == Shape{1, 5});
}

TEST_CASE("fusion: sibling loops over one static shape run as one loop with several outputs", "[compile][fusion]") {
  const std::int64_t n = 700;
  Variable v = input("x", DType::f64, {n});
  const Variable scaled = v * 3.0 + 1.0;       // an array output
  const Variable total = sum(exp(v) * 2.0);    // a summed output
  Function fused = compile({v}, {scaled, total});
  Function plain = compile({v}, {scaled, total}, {.fuse = false});
  std::size_t loops = 0;
  for (const ApplyNode* node : fused.schedule()) loops += node->op().name() == "fused";
  CHECK(loops == 1);
  CHECK(has_op(fused, "fused{mul,add,exp,mul,sum; 2 outputs}"));
  const Array x = wave(n, 0.01);
  double expected_total = 0;
  for (std::int64_t i = 0; i < n; ++i) expected_total += 2 * std::exp(std::sin(0.01 * static_cast<double>(i)));
  for (Function* f : {&fused, &plain}) {
    const auto& r = (*f)({x});
    for (std::int64_t i = 0; i < n; ++i) CHECK(r[0].flat<double>(i) == Approx(3 * std::sin(0.01 * static_cast<double>(i)) + 1).epsilon(1e-15));
    CHECK(r[1].item() == Approx(expected_total).epsilon(1e-13));
  }
}

TEST_CASE("fusion: a loop that reads another loop's result through a reduction is not merged with it", "[compile][fusion]") {
  const std::int64_t n = 300;
  Variable v = input("x", DType::f64, {n});
  const Variable first = v * 2.0 + 1.0;
  const Variable second = exp(v) - max(first);  // depends on first through max
  Function fused = compile({v}, {first, second});
  std::size_t loops = 0;
  for (const ApplyNode* node : fused.schedule()) loops += node->op().name() == "fused";
  CHECK(loops == 2);
  const Array x = wave(n, 0.05);
  double top = -INFINITY;
  for (std::int64_t i = 0; i < n; ++i) top = std::max(top, 2 * std::sin(0.05 * static_cast<double>(i)) + 1);
  const auto& r = fused({x});
  for (std::int64_t i = 0; i < n; ++i) {
    CHECK(r[0].flat<double>(i) == Approx(2 * std::sin(0.05 * static_cast<double>(i)) + 1).epsilon(1e-15));
    CHECK(r[1].flat<double>(i) == Approx(std::exp(std::sin(0.05 * static_cast<double>(i))) - top).epsilon(1e-14));
  }
}

TEST_CASE("fusion: a call never writes into a caller's input array, whatever shapes come next", "[compile][fusion]") {
  // pymc-devs-style probe: sum_to(a, like) of equal shapes is a view of `a`; a later call whose
  // loop runs block by block must not reuse that view as its scratch buffer.
  Variable a = input("a", DType::f64, {Type::unknown, 256});
  Variable like = input("like", DType::f64, {Type::unknown, 256});
  Variable x = input("x", DType::f64, {Type::unknown, 256});
  Function f = compile({a, like, x}, {sum_to(a, like) + x});
  const Array first = Array::full<double>(Shape{1, 256}, 1.0);
  const Array second = Array::full<double>(Shape{1, 256}, 7.0);
  const Array like_value = Array::zeros(DType::f64, Shape{1, 256});
  const auto& r1 = f({first, like_value, Array::full<double>(Shape{3, 256}, 0.5)});
  REQUIRE(r1[0].shape() == Shape{3, 256});
  CHECK(r1[0].flat<double>(0) == 1.5);
  const auto& r2 = f({second, like_value, Array::zeros(DType::f64, Shape{1, 256})});
  CHECK(r2[0].flat<double>(255) == 7.0);
  for (std::int64_t k = 0; k < 256; ++k) REQUIRE(first.flat<double>(k) == 1.0);
  for (std::int64_t k = 0; k < 256; ++k) REQUIRE(second.flat<double>(k) == 7.0);
}

namespace {

/// Compiles `outputs` with and without fusion (rewrites on in both).
struct FusedAndPlain {
  Function fused;
  Function plain;
  FusedAndPlain(const std::vector<Variable>& inputs, const std::vector<Variable>& outputs)
      : fused(compile(inputs, outputs)), plain(compile(inputs, outputs, {.fuse = false})) {}
};

}  // namespace

TEST_CASE("fusion: sum_to whose shape input is computed in the loop reduces to that input's run-time shape", "[compile][fusion]") {
  // Issue 11 item 1: x and y are (?,); at run time y has one element, so sum_to reduces x * e.
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable y = input("y", DType::f64, {Type::unknown});
  const Variable e = exp(y);
  const Variable out = sum_to(x * e, e) + e;
  const std::vector<Variable> grads = grad(sum(out), {x, y});
  FusedAndPlain f({x, y}, {out, grads[0], grads[1]});
  CHECK(count_fused(f.fused) >= 1);
  const std::vector<Array> values{Array::from({1.0, 2.0, 3.0, 4.0, 5.0}), Array::from({0.5})};
  // out = e (sum x + 1); d/dx_i = e; d/dy = e (sum x + 1).
  const double ey = std::exp(0.5);
  for (Function* function : {&f.fused, &f.plain}) {
    const auto& r = (*function)(values);
    REQUIRE(r[0].shape() == Shape{1});
    CHECK(r[0].flat<double>(0) == Approx(16 * ey).epsilon(1e-15));
    REQUIRE(r[1].shape() == Shape{5});
    for (std::int64_t i = 0; i < 5; ++i) CHECK(r[1].flat<double>(i) == Approx(ey).epsilon(1e-15));
    REQUIRE(r[2].shape() == Shape{1});
    CHECK(r[2].flat<double>(0) == Approx(16 * ey).epsilon(1e-15));
  }
  // Equal shapes: sum_to is a copy, out = x e + e elementwise.
  const auto& r = f.fused({Array::from({1.0, 2.0}), Array::from({0.0, 1.0})});
  CHECK(r[0].flat<double>(0) == 2.0);
  CHECK(r[0].flat<double>(1) == Approx(3 * std::exp(1.0)).epsilon(1e-15));
}

TEST_CASE("fusion: a sum_to that the unfused graph rejects at run time throws sum_to's message", "[compile][fusion]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable w = input("w", DType::f64, {Type::unknown});
  Variable y = input("y", DType::f64, {Type::unknown});
  const Variable e = exp(y);
  FusedAndPlain f({x, w, y}, {sum_to(x * w, e) + e});
  CHECK(count_fused(f.fused) == 1);
  const std::vector<Array> values{Array::from({1.0, 2.0, 3.0, 4.0, 5.0}), Array::from({1.0}), Array::from({0.0, 0.0, 0.0})};
  CHECK_THROWS_WITH(f.plain(values), "sum_to: shapes (5,) and (3,) do not broadcast");
  CHECK_THROWS_WITH(f.fused(values), "sum_to: shapes (5,) and (3,) do not broadcast");
  const std::vector<Array> wider{Array::from({1.0, 2.0}), Array::from({1.0}), Array::from({0.0, 0.0, 0.0})};
  CHECK_THROWS_WITH(f.plain(wider), "sum_to: shapes (2,) and (3,) do not broadcast");
  CHECK_THROWS_WITH(f.fused(wider), "sum_to: shapes (2,) and (3,) do not broadcast");
}

TEST_CASE("fusion: an input reduced away inside the loop need not broadcast with the loop's shape", "[compile][fusion]") {
  // Issue 11 item 3: c * (sum_to(a, b) + 1) with a (5,), b (1,), c (3,) is (sum a + 1) c.
  Variable a = input("a", DType::f64, {Type::unknown});
  Variable b = input("b", DType::f64, {Type::unknown});
  Variable c = input("c", DType::f64, {Type::unknown});
  FusedAndPlain f({a, b, c}, {c * (sum_to(a, b) + 1.0)});
  CHECK(count_fused(f.fused) == 1);
  const std::vector<Array> values{Array::from({1.0, 2.0, 3.0, 4.0, 5.0}), Array::from({0.0}), Array::from({1.0, -2.0, 0.5})};
  for (Function* function : {&f.fused, &f.plain}) CHECK((*function)(values)[0].to_vector() == std::vector<double>{16.0, -32.0, 8.0});
}

TEST_CASE("fusion: a mean's gradient over a one-element shape input divides by that input's size", "[compile][fusion]") {
  // unreduce(g, like, mean) with like computed in the loop and of one element at run time.
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable y = input("y", DType::f64, {Type::unknown});
  Variable g = input("g");
  const Variable like = exp(y);
  const Variable out = x * make_apply<Unreduce>({g, like}, std::nullopt, true) + like;
  FusedAndPlain f({x, y, g}, {out});
  CHECK(count_fused(f.fused) == 1);
  for (Function* function : {&f.fused, &f.plain}) {
    const auto& r = (*function)({Array::from({1.0, 2.0, 3.0, 4.0}), Array::from({0.0}), Array::scalar(8.0)});
    CHECK(r[0].to_vector() == std::vector<double>{9.0, 17.0, 25.0, 33.0});
    const auto& s = (*function)({Array::from({1.0, 2.0, 3.0, 4.0}), Array::from({0.0, 0.0, 0.0, 0.0}), Array::scalar(8.0)});
    CHECK(s[0].to_vector() == std::vector<double>{3.0, 5.0, 7.0, 9.0});
  }
}

TEST_CASE("fusion: a shape-only input that may fail is still computed, and its error is the unfused one", "[compile][fusion]") {
  // Issue 11 item 4: take(x, [1, 0, 1]) is read by sum_to only for its shape (3,).
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable y = input("y", DType::f64, {3});
  const Variable picked = take(x, constant(Array::from(std::vector<std::int64_t>{1, 0, 1})));
  FusedAndPlain f({x, y}, {sum_to(exp(y) * 2.0, picked)});
  const Array y_value = Array::from({0.0, 1.0, -1.0});
  CHECK_THROWS_WITH(f.plain({Array::from({4.0}), y_value}), "take: index 1 is out of range for axis 0 of size 1");
  CHECK_THROWS_WITH(f.fused({Array::from({4.0}), y_value}), "take: index 1 is out of range for axis 0 of size 1");
  for (Function* function : {&f.fused, &f.plain}) {
    const auto& r = (*function)({Array::from({4.0, 5.0}), y_value});
    for (std::int64_t i = 0; i < 3; ++i) CHECK(r[0].flat<double>(i) == Approx(2 * std::exp(y_value.flat<double>(i))).epsilon(1e-15));
  }
  // The same family when the sum of the loop is the sum_to to a scalar shape input.
  Function total_fused = compile({x, y}, {sum_to(exp(y) * 2.0, sum(picked))});
  CHECK_THROWS_WITH(total_fused({Array::from({4.0}), y_value}), "take: index 1 is out of range for axis 0 of size 1");
  CHECK(total_fused({Array::from({4.0, 5.0}), y_value})[0].item() == Approx(2 * (1 + std::exp(1.0) + std::exp(-1.0))).epsilon(1e-15));
}

TEST_CASE("fusion: a sum_to over all axes joins the loop when the summed value depends on its shape input, which may fail", "[compile][fusion]") {
  // A model's gradient sums a row-wise term to the shape of a checked scale (a scalar whose check
  // may throw). The summed value reads that scalar, so it is computed before the loop anyway: the
  // sum joins the loop as its sum, and the scalar's error is still the unfused graph's.
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable y = input("y", DType::f64, {3});
  const Variable scale = sum(take(x, constant(Array::from(std::vector<std::int64_t>{1, 0, 1}))));
  FusedAndPlain f({x, y}, {sum_to(exp(y) * scale, scale)});
  std::size_t sums = 0;
  for (const ApplyNode* node : f.fused.schedule()) sums += node->op().name() == "sum_to";
  CHECK(sums == 0);
  CHECK(count_fused(f.fused) == 1);
  const Array y_value = Array::from({0.0, 1.0, -1.0});
  CHECK_THROWS_WITH(f.plain({Array::from({4.0}), y_value}), "take: index 1 is out of range for axis 0 of size 1");
  CHECK_THROWS_WITH(f.fused({Array::from({4.0}), y_value}), "take: index 1 is out of range for axis 0 of size 1");
  // x = (4, 5): scale = 5 + 4 + 5 = 14, and the sum is 14 (1 + e + 1/e).
  const double expected = 14 * (1 + std::exp(1.0) + std::exp(-1.0));
  CHECK(f.fused({Array::from({4.0, 5.0}), y_value})[0].item() == Approx(expected).epsilon(1e-15));
  CHECK(f.plain({Array::from({4.0, 5.0}), y_value})[0].item() == Approx(expected).epsilon(1e-15));
}

TEST_CASE("fusion: terms read by the gradient only for their shape are summed in the loop, even when they may fail", "[compile][fusion]") {
  // A log-likelihood over a batch that may fail to be drawn (a take): the gradient of its sum
  // reads the terms only for their shape. The batch is needed for its values anyway, so the
  // terms are summed in their loop and never written out; the take's error stays the unfused one.
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable w = input("w");
  const Variable batch = take(x, constant(Array::from(std::vector<std::int64_t>{0, 2, 1, 2})));
  const Variable loglik = sum(-0.5 * square(batch * w) + 0.25);
  std::vector<Variable> outputs{loglik};
  for (const Variable& g : grad(loglik, {w})) outputs.push_back(g);
  FusedAndPlain f({x, w}, outputs);
  std::size_t sums = 0;
  for (const ApplyNode* node : f.fused.schedule()) sums += node->op().name() == "sum";
  CHECK(sums == 0);
  CHECK_THROWS_WITH(f.plain({Array::from({1.0, 2.0}), Array::scalar(0.5)}), "take: index 2 is out of range for axis 0 of size 2");
  CHECK_THROWS_WITH(f.fused({Array::from({1.0, 2.0}), Array::scalar(0.5)}), "take: index 2 is out of range for axis 0 of size 2");
  // x = (1, 2, 3): the batch is (1, 3, 2, 3), its squares sum to 23.
  const double w_value = 0.5, squares = 23;
  for (Function* function : {&f.fused, &f.plain}) {
    const auto& r = (*function)({Array::from({1.0, 2.0, 3.0}), Array::scalar(w_value)});
    CHECK(r[0].item() == Approx(-0.5 * w_value * w_value * squares + 1.0).epsilon(1e-15));
    CHECK(r[1].item() == Approx(-w_value * squares).epsilon(1e-15));
  }
}

TEST_CASE("fusion: a sum_to that may fail on its own still reads its shape input, so that input's error comes first", "[compile][fusion]") {
  // Fuzzer seed 6007151. p may fail (x1's run-time width against x0's 4 columns) and another
  // output needs its value; sum_to(softplus(x1), p) may fail too. Had the sum_to read a stand-in
  // for p (x0, of p's type), it could run first and throw its own error instead of pow's.
  Variable x0 = input("x0", DType::f64, {5, 4});
  Variable x1 = input("x1", DType::f64, {5, Type::unknown});
  const Variable p = pow(exp(x1 * 0.5), sigmoid(x0));
  FusedAndPlain f({x0, x1}, {sum_to(softplus(x1), p), exp(sigmoid(p) * 2.0 - 1.0)});
  Array x0_value = Array::full<double>(Shape{5, 4}, 0.3), wide = Array::full<double>(Shape{5, 6}, 0.2);
  CHECK_THROWS_WITH(f.plain({x0_value, wide}), "pow: shapes (5, 6) and (5, 4) do not broadcast");
  CHECK_THROWS_WITH(f.fused({x0_value, wide}), "pow: shapes (5, 6) and (5, 4) do not broadcast");
  // With matching widths both give softplus(0.2) and exp(2 sigmoid(exp(0.1)^sigmoid(0.3)) - 1).
  const Array narrow = Array::full<double>(Shape{5, 4}, 0.2);
  const double power = std::pow(std::exp(0.1), 1 / (1 + std::exp(-0.3)));
  for (Function* function : {&f.plain, &f.fused}) {
    const auto& out = (*function)({x0_value, narrow});
    for (std::int64_t k = 0; k < 20; ++k) {
      CHECK(out[0].flat<double>(k) == Approx(std::log1p(std::exp(0.2))).epsilon(1e-14));
      CHECK(out[1].flat<double>(k) == Approx(std::exp(2 / (1 + std::exp(-power)) - 1)).epsilon(1e-14));
    }
  }
}

TEST_CASE("fusion: a fused loop writes no batch-sized array that nothing reads", "[compile][fusion]") {
  // A normal regression's log-likelihood and gradient: the backward chains share producers that
  // grow into groups of their own; one that every consumer recomputes must not be written out.
  // No output of the function has the batch's shape (64,), so every such array a loop writes
  // must be read by a later node.
  Variable X = input("X", DType::f64, {64, 16});
  Variable y = input("y", DType::f64, {64});
  Variable beta = input("beta", DType::f64, {16});
  Variable log_sigma = input("log_sigma");
  const Variable sigma = exp(log_sigma);
  const Variable z = (y - matmul(X, beta)) / sigma;
  const Variable loglik = sum(-0.5 * square(z) - log(sigma) - 0.9189385332046727);
  std::vector<Variable> outputs{loglik};
  for (const Variable& g : grad(loglik, {beta, log_sigma})) outputs.push_back(g);
  FusedAndPlain f({X, y, beta, log_sigma}, outputs);
  const std::vector<const ApplyNode*> schedule = f.fused.schedule();
  for (std::size_t i = 0; i < schedule.size(); ++i) {
    if (schedule[i]->op().name() != "fused") continue;
    for (std::size_t k = 0; k < schedule[i]->num_outputs(); ++k) {
      const Variable written = schedule[i]->output(k);
      if (written.type().shape != std::vector<std::int64_t>{64}) continue;
      bool read = false;
      for (std::size_t j = i + 1; j < schedule.size(); ++j)
        for (const Variable& input : schedule[j]->inputs()) read = read || input == written;
      INFO(schedule[i]->op().describe() << " output " << k);
      CHECK(read);
    }
  }
  Array x_value = Array::empty(DType::f64, Shape{64, 16}), y_value = Array::empty(DType::f64, Shape{64});
  for (std::int64_t i = 0; i < 64 * 16; ++i) x_value.data<double>()[i] = std::sin(0.1 * static_cast<double>(i));
  for (std::int64_t i = 0; i < 64; ++i) y_value.data<double>()[i] = std::cos(0.3 * static_cast<double>(i));
  const std::vector<Array> values{x_value, y_value, wave(16, 0.7), Array::scalar(0.3)};
  const std::vector<Array> fused = f.fused(values);
  const std::vector<Array> plain = f.plain(values);
  CHECK(fused[0].item() == Approx(plain[0].item()).epsilon(1e-13));
  for (std::int64_t j = 0; j < 16; ++j) CHECK(fused[1].flat<double>(j) == Approx(plain[1].flat<double>(j)).epsilon(1e-12));
  CHECK(fused[2].item() == Approx(plain[2].item()).epsilon(1e-13));
}

TEST_CASE("fusion: a scaled log-likelihood's forward and backward loops over the batch run as one loop", "[compile][fusion]") {
  // A model's observed term: logp = prior + scale * sum(terms). The backward loop reads scalars
  // (the scale, sigma's checks) that a plain topological order may put after the forward loop;
  // scalar work goes first, so the two loops, both over y, merge and read the batch once.
  const std::int64_t n = 1000;
  Variable X = input("X", DType::f64, {n, 4});
  Variable y = input("y", DType::f64, {n});
  Variable beta = input("beta", DType::f64, {4});
  Variable log_sigma = input("log_sigma");
  const Variable sigma = exp(log_sigma);
  const Variable z = (y - matmul(X, beta)) / sigma;
  const Variable scale = 50000.0 / cast(dim(y, 0), DType::f64);
  const Variable logp = -0.5 * sum(square(beta)) + scale * sum(-0.5 * square(z) - log(sigma) - 0.9189385332046727);
  std::vector<Variable> outputs{logp};
  for (const Variable& g : grad(logp, {beta, log_sigma})) outputs.push_back(g);
  FusedAndPlain f({X, y, beta, log_sigma}, outputs);
  std::size_t batch_loops = 0;
  for (const ApplyNode* node : f.fused.schedule()) {
    if (node->op().name() != "fused") continue;
    bool reads_batch = false;
    for (const Variable& input : node->inputs()) reads_batch = reads_batch || input.type().shape == std::vector<std::int64_t>{n};
    batch_loops += reads_batch;
  }
  CHECK(batch_loops == 1);
  Array x_value = Array::empty(DType::f64, Shape{n, 4});
  for (std::int64_t i = 0; i < n * 4; ++i) x_value.data<double>()[i] = std::sin(0.1 * static_cast<double>(i));
  const std::vector<Array> values{x_value, wave(n, 0.3), wave(4, 0.7), Array::scalar(0.3)};
  const std::vector<Array> fused = f.fused(values);
  const std::vector<Array> plain = f.plain(values);
  // The closed forms: with r_i = (y_i - x_i beta) / sigma, d/dbeta = -beta + scale sum r_i x_i / sigma
  // and d/dlog_sigma = scale sum (r_i^2 - 1).
  const double sigma_value = std::exp(0.3), scale_value = 50000.0 / static_cast<double>(n);
  double expected_logp = 0, expected_dls = 0, expected_dbeta[4] = {0, 0, 0, 0};
  for (std::int64_t j = 0; j < 4; ++j) expected_logp -= 0.5 * std::pow(std::sin(0.7 * static_cast<double>(j)), 2);
  for (std::int64_t i = 0; i < n; ++i) {
    double eta = 0;
    for (std::int64_t j = 0; j < 4; ++j) eta += x_value.flat<double>(i * 4 + j) * std::sin(0.7 * static_cast<double>(j));
    const double r = (std::sin(0.3 * static_cast<double>(i)) - eta) / sigma_value;
    expected_logp += scale_value * (-0.5 * r * r - 0.3 - 0.9189385332046727);
    expected_dls += scale_value * (r * r - 1);
    for (std::int64_t j = 0; j < 4; ++j) expected_dbeta[j] += scale_value * r * x_value.flat<double>(i * 4 + j) / sigma_value;
  }
  CHECK(fused[0].item() == Approx(plain[0].item()).epsilon(1e-13));
  CHECK(fused[0].item() == Approx(expected_logp).epsilon(1e-12));
  for (std::int64_t j = 0; j < 4; ++j) {
    CHECK(fused[1].flat<double>(j) == Approx(plain[1].flat<double>(j)).epsilon(1e-12));
    CHECK(fused[1].flat<double>(j) == Approx(expected_dbeta[j] - std::sin(0.7 * static_cast<double>(j))).epsilon(1e-10));
  }
  CHECK(fused[2].item() == Approx(plain[2].item()).epsilon(1e-12));
  CHECK(fused[2].item() == Approx(expected_dls).epsilon(1e-10));
}

TEST_CASE("fusion: loop instructions over broadcast scalars alone give the unfused values at every loop size", "[compile][fusion]") {
  // The gradients of sum(...) and mean(...) in s fill the loop with the output gradient and
  // scale it by scalars (the -log(s) term): instructions whose operands are all one element,
  // which a loop over several blocks computes once. Sizes around one block (256) and past it.
  Variable y = input("y", DType::f64, {Type::unknown});
  Variable s = input("s");
  const Variable summed = sum(-0.5 * square(y - s) - log(s));
  const Variable averaged = mean(square(y - s) * s - 2.0 * log(s));
  std::vector<Variable> outputs{summed, averaged};
  for (const Variable& g : grad(summed + 3.0 * averaged, {y, s})) outputs.push_back(g);
  FusedAndPlain f({y, s}, outputs);
  CHECK(count_fused(f.fused) >= 1);
  for (std::int64_t n : {1, 255, 256, 257, 1000, 5000}) {
    INFO("n = " << n);
    const double s_value = 1.7;
    const std::vector<Array> values{wave(n, 0.37), Array::scalar(s_value)};
    const std::vector<Array> fused = f.fused(values);
    const std::vector<Array> plain = f.plain(values);
    double expected_sum = 0, expected_mean = 0, expected_ds = 0;
    const double count = static_cast<double>(n);
    for (std::int64_t i = 0; i < n; ++i) {
      const double d = std::sin(0.37 * static_cast<double>(i)) - s_value;
      expected_sum += -0.5 * d * d - std::log(s_value);
      expected_mean += (d * d * s_value - 2 * std::log(s_value)) / count;
      // d/ds of the sum: d - 1/s; of 3 * the mean: 3 (d^2 - 2 d s - 2/s) / n.
      expected_ds += d - 1 / s_value + 3 * (d * d - 2 * d * s_value - 2 / s_value) / count;
      const double expected_dy = -d + 3 * 2 * d * s_value / count;
      CHECK(fused[2].flat<double>(i) == Approx(plain[2].flat<double>(i)).epsilon(1e-14));
      CHECK(fused[2].flat<double>(i) == Approx(expected_dy).epsilon(1e-12).margin(1e-14));
    }
    CHECK(fused[0].item() == Approx(plain[0].item()).epsilon(1e-13));
    CHECK(fused[0].item() == Approx(expected_sum).epsilon(1e-12));
    CHECK(fused[1].item() == Approx(plain[1].item()).epsilon(1e-13));
    CHECK(fused[1].item() == Approx(expected_mean).epsilon(1e-12));
    CHECK(fused[3].item() == Approx(plain[3].item()).epsilon(1e-12));
    CHECK(fused[3].item() == Approx(expected_ds).epsilon(1e-10));
  }
}

TEST_CASE("fusion: run-time broadcast errors in a fused loop name the op, as unfused", "[compile][fusion]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable y = input("y", DType::f64, {Type::unknown});
  FusedAndPlain f({x, y}, {exp(x) * 2.0 + log(y)});
  CHECK(count_fused(f.fused) == 1);
  const std::vector<Array> values{Array::from({1.0, 2.0}), Array::from({1.0, 2.0, 3.0})};
  CHECK_THROWS_WITH(f.plain(values), "add: shapes (2,) and (3,) do not broadcast");
  CHECK_THROWS_WITH(f.fused(values), "add: shapes (2,) and (3,) do not broadcast");
  // And the next call, with shapes that broadcast, runs normally.
  CHECK(f.fused({Array::from({0.0, 0.0}), Array::from({1.0})})[0].to_vector() == std::vector<double>{2.0, 2.0});
}

}  // namespace compile_fusion_test
