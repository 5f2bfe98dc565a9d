// Rewrites change the work, never the values: each is checked on and off, and against closed forms.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <limits>

#include "symbatch/compile/function.hpp"
#include "symbatch/compile/rewrite.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/ops/subtensor.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace compile_rewrite_test {

using namespace symbatch;

namespace {

const CompileOptions unoptimized{.rewrites = {.merge = false, .fold_constants = false, .identities = false}, .fuse = false};

std::size_t count_ops(const Function& function, const std::string& name) {
  std::size_t count = 0;
  for (const ApplyNode* node : function.schedule()) count += node->op().name() == name;
  return count;
}

}  // namespace

TEST_CASE("rewrite: merging computes a repeated subexpression once", "[compile][rewrite]") {
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable y = exp(x) * 2.0 + exp(x);  // exp(x) built twice
  Function merged = compile({x}, {y}, {.rewrites = {.merge = true, .fold_constants = false, .identities = false}, .fuse = false});
  Function plain = compile({x}, {y}, unoptimized);
  CHECK(count_ops(merged, "exp") == 1);
  CHECK(count_ops(plain, "exp") == 2);
  const Array value = Array::from({-1.0, 0.0, 2.5});
  const std::vector<double> a = merged({value})[0].to_vector();
  const std::vector<double> b = plain({value})[0].to_vector();
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(a[i] == b[i]);
    CHECK(a[i] == Approx(3 * std::exp(value.flat<double>(static_cast<std::int64_t>(i)))).epsilon(1e-15));
  }
}

TEST_CASE("rewrite: constant subgraphs are folded before the first call", "[compile][rewrite]") {
  Variable x = input("x");
  Variable y = (constant(2.0) * constant(3.0) + log(constant(std::exp(1.0)))) * x;
  Function folded = compile({x}, {y}, {.rewrites = {.merge = false, .fold_constants = true, .identities = false}, .fuse = false});
  Function plain = compile({x}, {y}, unoptimized);
  CHECK(folded.schedule().size() == 1);  // only the final multiplication remains
  CHECK(plain.schedule().size() == 4);
  CHECK(folded({Array::scalar(2.0)})[0].item() == Approx(14.0).epsilon(1e-15));
  CHECK(plain({Array::scalar(2.0)})[0].item() == folded({Array::scalar(2.0)})[0].item());
}

TEST_CASE("rewrite: a shape query that the static type answers is folded, and an unknown length stays a query", "[compile][rewrite]") {
  Variable x = input("x", DType::f64, {Type::unknown, 3});
  Variable rows = cast(dim(x, 0), DType::f64), columns = cast(dim(x, 1), DType::f64);
  Variable shape = cast(shape_of(x), DType::f64);
  Function folded = compile({x}, {rows, columns, shape}, {.rewrites = {.merge = false, .fold_constants = true, .identities = false}, .fuse = false});
  Function plain = compile({x}, {rows, columns, shape}, unoptimized);
  CHECK(count_ops(folded, "dim") == 1);  // the rows: unknown until called
  CHECK(count_ops(plain, "dim") == 2);
  CHECK(count_ops(folded, "shape_of") == 1);  // one length unknown: the whole shape stays a query
  const Array value = Array::zeros(DType::f64, Shape{5, 3});
  const auto& got = folded({value});
  CHECK(got[0].item() == 5);
  CHECK(got[1].item() == 3);
  CHECK(got[2].to_vector() == std::vector<double>{5, 3});

  Variable fixed = input("fixed", DType::f64, {4, 2});
  Function all_static = compile({fixed}, {cast(shape_of(fixed), DType::f64) * 2.0}, {.fuse = false});
  CHECK(count_ops(all_static, "shape_of") == 0);
  CHECK(all_static({Array::zeros(DType::f64, Shape{4, 2})})[0].to_vector() == std::vector<double>{8, 4});
}

TEST_CASE("rewrite: where with a constant scalar condition becomes the branch it picks, when the type allows", "[compile][rewrite]") {
  Variable x = input("x", DType::f64, {3}), y = input("y", DType::f64, {3});
  Variable picks_x = where(constant(Array::scalar(true)), x, y), picks_y = where(constant(Array::scalar(false)), x, y);
  Variable broadcast = where(constant(Array::scalar(true)), constant(1.0), y);  // the chosen branch is a scalar: kept
  Function rewritten = compile({x, y}, {picks_x, picks_y, broadcast}, {.rewrites = {.merge = false, .fold_constants = false, .identities = true}, .fuse = false});
  CHECK(count_ops(rewritten, "where") == 1);
  const auto& got = rewritten({Array::from({1.0, 2.0, 3.0}), Array::from({4.0, 5.0, 6.0})});
  CHECK(got[0].to_vector() == std::vector<double>{1, 2, 3});
  CHECK(got[1].to_vector() == std::vector<double>{4, 5, 6});
  CHECK(got[2].to_vector() == std::vector<double>{1, 1, 1});
}

TEST_CASE("rewrite: multiplying by one and adding zero are dropped only when the type is unchanged", "[compile][rewrite]") {
  Variable x = input("x", DType::f64, {3});
  Variable same = (x * 1.0 + 0.0) - 0.0;
  Function simplified = compile({x}, {same}, {.rewrites = {.merge = false, .fold_constants = false, .identities = true}, .fuse = false});
  CHECK(simplified.schedule().empty());
  CHECK(simplified({Array::from({1.0, 2.0, 3.0})})[0].to_vector() == std::vector<double>{1.0, 2.0, 3.0});
  // A scalar times a vector of ones broadcasts: the multiplication must stay.
  Variable s = input("s");
  Variable widened = s * constant(Array::full<double>(Shape{3}, 1.0));
  Function kept = compile({s}, {widened});
  CHECK(kept({Array::scalar(4.0)})[0].to_vector() == std::vector<double>{4.0, 4.0, 4.0});
}

TEST_CASE("rewrite: the sum, mean or max of a scalar is the scalar, and the mean of an integer scalar is its cast to f64", "[compile][rewrite]") {
  Variable s = input("s");
  Variable k = input("k", DType::i64, {});
  Function simplified = compile({s, k}, {sum(s) * 2.0, mean(s), max(s), mean(k), logsumexp(s)},
                                {.rewrites = {.merge = false, .fold_constants = false, .identities = true}, .fuse = false});
  CHECK(count_ops(simplified, "sum") == 0);
  CHECK(count_ops(simplified, "max") == 0);
  CHECK(count_ops(simplified, "mean") == 0);       // `mean` casts an i64 input to f64 first: the mean of that is dropped,
  CHECK(count_ops(simplified, "cast") == 1);       // the cast, which changes the type, stays
  CHECK(count_ops(simplified, "logsumexp") == 1);  // not an identity for an infinite scalar
  const auto& got = simplified({Array::scalar(1.5), Array::scalar<std::int64_t>(3)});
  CHECK(got[0].item() == 3.0);
  CHECK(got[1].item() == 1.5);
  CHECK(got[2].item() == 1.5);
  CHECK(got[3].item() == 3.0);
  CHECK(got[4].item() == 1.5);
}

TEST_CASE("rewrite: a negated product or quotient of an array and a scalar carries the sign on the scalar, with the same bits", "[compile][rewrite]") {
  Variable a = input("a", DType::f64, {Type::unknown});
  Variable s = input("s");
  Variable shared_quotient = a / s;  // also used unnegated: its negation stays per element
  const std::vector<Variable> outputs{-(a * s), -(s * a), -(a / s), -(s / a), -shared_quotient, shared_quotient * 2.0, -(a * constant(2.5))};
  const CompileOptions identities_only{.rewrites = {.merge = false, .fold_constants = true, .identities = true}, .fuse = false};
  Function rewritten = compile({a, s}, outputs, identities_only);
  Function plain = compile({a, s}, outputs, unoptimized);
  std::size_t array_negations = 0, scalar_negations = 0;
  for (const ApplyNode* node : rewritten.schedule())
    if (node->op().name() == "neg") ++(node->output(0).rank() == 0 ? scalar_negations : array_negations);
  CHECK(array_negations == 1);   // only the shared quotient's
  CHECK(scalar_negations == 1);  // -s, once for the four products and quotients; -2.5 is folded

  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> elements{3.0, -7.25, 0.1, 0.0, -0.0, 1e-310, -4.9e-324, 1e308, -1e308, inf, -inf, 1.0 / 3.0};
  for (const double scalar : {3.0, -0.7, 1e-300, -1e300, 0.0, -0.0, inf, 5e-324}) {
    CAPTURE(scalar);
    const auto& got = rewritten({Array::from(elements), Array::scalar(scalar)});
    const auto& want = plain({Array::from(elements), Array::scalar(scalar)});
    for (std::size_t k = 0; k < outputs.size(); ++k) {
      CAPTURE(k);
      const std::vector<double> g = got[k].to_vector(), w = want[k].to_vector();
      REQUIRE(g.size() == elements.size());
      for (std::size_t i = 0; i < g.size(); ++i) {
        CAPTURE(elements[i]);
        if (std::isnan(w[i])) CHECK(std::isnan(g[i]));  // a NaN's sign bit carries no value
        else CHECK(std::bit_cast<std::uint64_t>(g[i]) == std::bit_cast<std::uint64_t>(w[i]));
      }
    }
    // The closed forms, where finite and away from the subnormal range (a scalar divisor is
    // applied through its reciprocal, so quotients agree to a few ulp).
    const auto& values = got;
    for (std::size_t i = 0; i < elements.size(); ++i) {
      const double x = elements[i];
      if (!std::isfinite(x) || !std::isfinite(scalar) || std::abs(x) < 1e-300 || std::abs(scalar) < 1e-300 || std::abs(x) > 1e300) continue;
      CHECK(values[0].to_vector()[i] == -(x * scalar));
      CHECK(values[1].to_vector()[i] == -(scalar * x));
      CHECK(values[2].to_vector()[i] == Approx(-(x / scalar)).epsilon(1e-15));
      CHECK(values[3].to_vector()[i] == Approx(-(scalar / x)).epsilon(1e-15));
      CHECK(values[6].to_vector()[i] == -(x * 2.5));
    }
  }
}

TEST_CASE("rewrite: a gradient graph gives the same values with all rewrites on and off", "[compile][rewrite]") {
  Variable x = input("x", DType::f64, {Type::unknown, 2});
  Variable w = input("w", DType::f64, {2});
  Variable cost = sum(softplus(sum(x * w, 1))) + sum(square(w)) * 0.5;
  std::vector<Variable> outputs{cost};
  for (const Variable& g : grad(cost, {x, w})) outputs.push_back(g);
  Function optimized = compile({x, w}, outputs);
  Function plain = compile({x, w}, outputs, unoptimized);
  CHECK(optimized.schedule().size() < plain.schedule().size());
  const std::vector<Array> values{Array::from(std::vector<double>{0.5, -1.0, 2.0, 0.25, -3.0, 1.5}, Shape{3, 2}),
                                  Array::from({0.75, -0.5})};
  const auto& a = optimized(values);
  std::vector<std::vector<double>> first;
  for (const Array& value : a) first.push_back(value.to_vector());
  const auto& b = plain(values);
  for (std::size_t k = 0; k < first.size(); ++k) {
    const std::vector<double> second = b[k].to_vector();
    REQUIRE(second.size() == first[k].size());
    for (std::size_t i = 0; i < second.size(); ++i) CHECK(first[k][i] == Approx(second[i]).epsilon(1e-14));
  }
  // Closed form for d cost / d w_1: sum_i sigmoid(x_i . w) x_i1 + w_1.
  double expected = 0.75;
  const double xs[3][2] = {{0.5, -1.0}, {2.0, 0.25}, {-3.0, 1.5}};
  for (const auto& row : xs) expected += row[0] / (1 + std::exp(-(row[0] * 0.75 - row[1] * 0.5)));
  CHECK(first[2][0] == Approx(expected).epsilon(1e-14));
}

TEST_CASE("rewrite: a constant subgraph that throws is left to throw when called, as without rewrites", "[compile][rewrite]") {
  // Folding ran take at compile time, so compile threw instead of the call (the fuzzer now
  // generates constant subgraphs, which covers this family).
  Variable x = input("x");
  const Variable picked = take(constant(Array::from({1.0, 2.0})), constant(Array::from(std::vector<std::int64_t>{0, 2})));
  const Variable y = sum(picked) * x;
  Function folded = compile({x}, {y});
  Function plain = compile({x}, {y}, unoptimized);
  CHECK_THROWS_WITH(plain({Array::scalar(2.0)}), "take: index 2 is out of range for axis 0 of size 2");
  CHECK_THROWS_WITH(folded({Array::scalar(2.0)}), "take: index 2 is out of range for axis 0 of size 2");
  // What can be folded still is: sum(picked) is not, the constants below it are kept.
  const Variable fine = sum(take(constant(Array::from({1.0, 2.0})), constant(Array::from(std::vector<std::int64_t>{1, 1})))) * x;
  Function folded_fine = compile({x}, {fine});
  CHECK(folded_fine.schedule().size() == 1);
  CHECK(folded_fine({Array::scalar(2.0)})[0].item() == 8.0);
}

}  // namespace compile_rewrite_test
