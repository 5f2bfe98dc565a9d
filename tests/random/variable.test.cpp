#include <catch2/catch.hpp>

#include <cmath>

#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/random/variable.hpp"

using namespace symbatch;

namespace {
std::vector<double> draws(Function& f, int calls) {
  std::vector<double> values;
  for (int i = 0; i < calls; ++i)
    for (double v : f()[0].to_vector()) values.push_back(v);
  return values;
}
}  // namespace

TEST_CASE("random: a draw returns the next state and values from the state's stream", "[random]") {
  Variable state = random::rng("rng");
  random::Draw draw = random::uniform(state, 2.0, 4.0, {4});
  CHECK(draw.value.type().str() == "f64(4,)");
  Function f = compile({}, {draw.value, draw.next_rng}, {.seed = 0});
  const auto& results = f();
  // seed 0, stream 0: key (0, 0), counter zero; uniforms of the published block, mapped to [2, 4)
  CHECK(results[0].flat<double>(0) == Approx(2 + 2 * 0.08723912359911234).epsilon(1e-15));
  CHECK(results[0].flat<double>(3) == Approx(2 + 2 * 0.4937852944535579).epsilon(1e-15));
  CHECK(results[1].data<RngState>()[0].counter[1] == 1);
}

TEST_CASE("random: the same seed gives the same sequence in separately built graphs; another seed differs", "[random][seed]") {
  auto build = [](std::uint64_t seed) {
    Variable state = random::rng("rng");
    return compile({}, {random::normal(state, 0.0, 1.0, {3}).value}, {.seed = seed});
  };
  Function a = build(11), b = build(11), c = build(12);
  const std::vector<double> first = draws(a, 5), second = draws(b, 5), third = draws(c, 5);
  CHECK(first == second);
  CHECK(first != third);
  // each call draws anew
  CHECK(std::vector<double>(first.begin(), first.begin() + 3) != std::vector<double>(first.begin() + 3, first.begin() + 6));
}

TEST_CASE("random: without advancing every call sees the same draw until advance()", "[random][seed]") {
  Variable state = random::rng("rng");
  Function f = compile({}, {random::integers(state, 0, 1000000, {4}).value}, {.seed = 5, .advance_rngs = false});
  const std::vector<double> first = f()[0].to_vector<double>();
  CHECK(f()[0].to_vector<double>() == first);
  CHECK(f()[0].to_vector<double>() == first);
  f.advance();
  const std::vector<double> second = f()[0].to_vector<double>();
  CHECK(second != first);
  CHECK(f()[0].to_vector<double>() == second);
  // advancing by hand gives what an advancing function gives on its second call
  Variable other = random::rng("rng");
  Function g = compile({}, {random::integers(other, 0, 1000000, {4}).value}, {.seed = 5});
  g();
  CHECK(g()[0].to_vector<double>() == second);
}

TEST_CASE("random: integers are uniform over their range (chi-square)", "[random][statistics]") {
  Variable state = random::rng("rng");
  Function f = compile({}, {random::integers(state, 0, 7, {10000}).value}, {.seed = 1});
  std::vector<double> counts(7, 0);
  for (std::int64_t v : f()[0].to_vector<std::int64_t>()) counts[static_cast<std::size_t>(v)] += 1;
  double chi2 = 0;
  for (double count : counts) chi2 += (count - 10000.0 / 7) * (count - 10000.0 / 7) / (10000.0 / 7);
  // chi-square with 6 degrees of freedom: P(chi2 > 22.46) = 0.001, the false-failure rate
  CHECK(chi2 < 22.46);
}

TEST_CASE("random: normal draws have the requested mean and standard deviation", "[random][statistics]") {
  Variable state = random::rng("rng");
  Function f = compile({}, {random::normal(state, 3.0, 2.0, {20000}).value}, {.seed = 2});
  const std::vector<double> values = f()[0].to_vector();
  double mean = 0, square = 0;
  for (double v : values) mean += v / 20000;
  for (double v : values) square += (v - mean) * (v - mean) / 19999;
  // standard error of the mean 2/sqrt(20000) = 0.0141: 4.4 standard errors bound (false-failure rate ~1e-5)
  CHECK(std::abs(mean - 3.0) < 0.0625);
  // sd of the sample variance ~ 4 * sqrt(2/20000) = 0.04: the same 4.4 sigma bound
  CHECK(std::abs(square - 4.0) < 0.18);
}

TEST_CASE("random: a permutation holds every index once", "[random]") {
  Variable state = random::rng("rng");
  Function f = compile({}, {random::permutation(state, 50).value}, {.seed = 3});
  std::vector<std::int64_t> values = f()[0].to_vector<std::int64_t>();
  std::sort(values.begin(), values.end());
  for (std::int64_t i = 0; i < 50; ++i) CHECK(values[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("random: the gradient through a draw is undefined and the error names it", "[random][grad]") {
  Variable state = random::rng("rng");
  Variable mu = input("mu");
  Variable draw = random::normal(state, mu, constant(1.0)).value;
  draw.set_name("noise");
  CHECK_THROWS_WITH(grad(draw * mu, mu),
                    "grad: the cost depends on input 2 of normal() 'noise', which has no gradient (random variable normal has no gradient)");
  // a draw whose parameters do not depend on mu is data for the gradient
  Variable noise = random::normal(random::rng("other"), 0.0, 1.0).value;
  Function f = compile({mu}, {grad(mu * mu + noise, mu)});
  CHECK(f({Array::scalar(3.0)})[0].item() == 6.0);
}

TEST_CASE("random: invalid parameters are reported when drawing", "[random]") {
  Variable state = random::rng("rng");
  Variable sigma = input("sigma");
  Function f = compile({sigma}, {random::normal(state, constant(0.0), sigma, {2}).value});
  CHECK_THROWS_AS(f({Array::scalar(-1.0)}), std::domain_error);
  CHECK_THROWS_WITH(f({Array::scalar(-1.0)}), "normal: Scale parameter is -1, but must be positive");
  CHECK(f({Array::scalar(1.0)})[0].size() == 2);
}
