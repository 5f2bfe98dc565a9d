#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/random/draws.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace random_draws_test {

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

TEST_CASE("random: the same seed gives the same sequence in separately built graphs, and another seed differs", "[random][seed]") {
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
                    "grad: the cost depends on input 2 of normal{shape=()} 'noise', which has no gradient (random variable normal has no gradient)");
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

TEST_CASE("random: integers over a range wider than int64 (high - low >= 2^63) stay in range", "[random][overflow]") {
  // 1.8e19 exceeds INT64_MAX: the width is computed in unsigned arithmetic.
  const std::int64_t low = -9'000'000'000'000'000'000, high = 9'000'000'000'000'000'000;
  Variable state = random::rng("rng");
  Function f = compile({}, {random::integers(state, low, high, {1000}).value}, {.seed = 3});
  const std::vector<std::int64_t> values = f()[0].to_vector<std::int64_t>();
  // Reference for the first draw: Lemire's map of the first Philox word of key (3, 0), counter
  // zero, unless that word is rejected (probability (2^64 - width) / 2^64 = 2.4%).
  const std::uint64_t width = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
  const std::uint64_t word = PhiloxStream::block({{0, 0, 0, 0}}, {{3, 0}}).v[0];
  const auto product = static_cast<detail::uint128>(word) * width;
  if (static_cast<std::uint64_t>(product) >= (0 - width) % width)
    CHECK(values[0] == static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + static_cast<std::uint64_t>(product >> 64)));
  double mean = 0;
  std::int64_t smallest = high, largest = low;
  for (const std::int64_t value : values) {
    CHECK(value >= low);
    CHECK(value < high);
    smallest = std::min(smallest, value);
    largest = std::max(largest, value);
    mean += static_cast<double>(value) / 1000;
  }
  // Each tail of width 1e18 is missed by all 1000 draws with probability (17/18)^1000 < 1e-24.
  CHECK(smallest < -8'000'000'000'000'000'000);
  CHECK(largest > 8'000'000'000'000'000'000);
  // The mean has sd 1.8e19 / sqrt(12 * 1000) = 1.64e17; 6 sd fail with probability 2e-9.
  CHECK(std::abs(mean) < 6 * 1.64e17);
  // The full int64 range but one value.
  Function g = compile({}, {random::integers(state, constant(-0x1p63), constant(0x1p63 - 1024), {4}).value}, {.seed = 3});
  CHECK(g()[0].size() == 4);
}

TEST_CASE("random: integer bounds must be finite integers representable as i64", "[random][overflow]") {
  Variable state = random::rng("rng");
  Variable low = input("low"), high = input("high");
  Function f = compile({low, high}, {random::integers(state, low, high, {2}).value}, {.seed = 1});
  auto draw = [&](double a, double b) { return f({Array::scalar(a), Array::scalar(b)})[0].to_vector<std::int64_t>(); };
  CHECK_THROWS_WITH(draw(1.5, 4), "integers: Lower bound is 1.5, but must be an integer");
  CHECK_THROWS_WITH(draw(0, 4.25), "integers: Upper bound is 4.25, but must be an integer");
  CHECK_THROWS_WITH(draw(-INFINITY, 4), "integers: Lower bound is -inf, but must be finite");
  CHECK_THROWS_WITH(draw(0, NAN), "integers: Upper bound is nan, but must be finite");
  CHECK_THROWS_WITH(draw(0, 1e19), "integers: Upper bound is 1e+19, but must be in [-2^63, 2^63)");
  CHECK_THROWS_WITH(draw(-1e300, 0), "integers: Lower bound is -1e+300, but must be in [-2^63, 2^63)");
  CHECK_THROWS_WITH(draw(0, 0x1p63), "integers: Upper bound is 9.2233720368547758e+18, but must be in [-2^63, 2^63)");
  CHECK_THROWS_WITH(draw(4, 4), "integers: Lower bound is 4, but must be below the upper bound 4");
  CHECK_THROWS_AS(draw(1.5, 4), std::domain_error);
  const std::vector<std::int64_t> values = draw(-3, -1);
  for (const std::int64_t value : values) CHECK((value == -3 || value == -2));
}

TEST_CASE("random: uniform bounds must be finite with a finite width", "[random][overflow]") {
  Variable state = random::rng("rng");
  Variable low = input("low"), high = input("high");
  Function f = compile({low, high}, {random::uniform(state, low, high, {2}).value}, {.seed = 1});
  auto draw = [&](double a, double b) { return f({Array::scalar(a), Array::scalar(b)})[0].to_vector(); };
  CHECK_THROWS_WITH(draw(-INFINITY, 0), "uniform: Lower bound is -inf, but must be finite");
  CHECK_THROWS_WITH(draw(0, INFINITY), "uniform: Upper bound is inf, but must be finite");
  CHECK_THROWS_WITH(draw(NAN, 1), "uniform: Lower bound is nan, but must be finite");
  CHECK_THROWS_WITH(draw(-1e308, 1e308), "uniform: the width of [-1e+308, 1e+308) overflows a double");
  CHECK_THROWS_AS(draw(0, INFINITY), std::domain_error);
  for (const double value : draw(-1e307, 1e307)) CHECK(std::abs(value) < 1e307);
}

TEST_CASE("random: a permutation or draw too large to allocate is refused before allocating", "[random][overflow]") {
  Variable state = random::rng("rng");
  const std::int64_t huge = std::int64_t{1} << 61;
  CHECK_THROWS_WITH(random::permutation(state, huge),
                    "permutation: Length is 2305843009213693952, but must be at most 1152921504606846975 (2^63 bytes of i64)");
  CHECK_THROWS_AS(random::permutation(state, huge), std::domain_error);
  CHECK_THROWS_WITH(random::permutation(state, -1), "permutation: Length is -1, but must be nonnegative");
  Variable n = input("n", DType::i64);
  Function f = compile({n}, {random::permutation(state, n).value}, {.seed = 2});
  CHECK_THROWS_WITH(f({Array::scalar(huge)}),
                    "permutation: Length is 2305843009213693952, but must be at most 1152921504606846975 (2^63 bytes of i64)");
  CHECK_THROWS_WITH(f({Array::scalar<std::int64_t>(-2)}), "permutation: Length is -2, but must be nonnegative");
  CHECK(f({Array::scalar<std::int64_t>(3)})[0].size() == 3);
  CHECK_THROWS_WITH(random::uniform(state, 0.0, 1.0, {huge}), "Array: shape (2305843009213693952,) of f64 needs 2^63 bytes or more");
}

namespace {
/// The `count` uniforms a fresh stream with key `(seed, stream)` gives on call `call`: the top
/// 53 bits of the Philox words of counters `(block, call, 0, 0)`, straight from the generator.
std::vector<double> philox_uniforms(std::uint64_t seed, std::uint64_t stream, std::uint64_t call, int count) {
  std::vector<double> values;
  for (std::uint64_t block = 0; static_cast<int>(values.size()) < count; ++block) {
    const auto words = PhiloxStream::block({{block, call, 0, 0}}, {{seed, stream}});
    for (int i = 0; i < 4 && static_cast<int>(values.size()) < count; ++i)
      values.push_back(static_cast<double>(words.v[i] >> 11) * 0x1.0p-53);
  }
  return values;
}
}  // namespace

TEST_CASE("random: own_rng_states gives a function private streams keyed (seed, i) and leaves the shared states alone",
          "[random][seed][own]") {
  Variable first = random::rng("first", 100), second = random::rng("second", 200);
  const Variable a = random::uniform(first, 0.0, 1.0, {3}).value;
  const Variable b = random::uniform(second, 0.0, 1.0, {5}).value;
  Function own = compile({}, {a, b}, {.seed = 7, .own_rng_states = true});
  REQUIRE(own.rng_states().size() == 2);
  const std::uint64_t stream_a = own.rng_states()[0] == first ? 0 : 1;
  for (std::uint64_t call = 0; call < 3; ++call) {
    const auto& result = own();
    CHECK(result[0].to_vector() == philox_uniforms(7, stream_a, call, 3));
    CHECK(result[1].to_vector() == philox_uniforms(7, 1 - stream_a, call, 5));
  }
  // The shared variables keep the key and counter they were made with.
  CHECK(get_value(first).data<RngState>()[0].key[0] == 100);
  CHECK(get_value(first).data<RngState>()[0].counter[1] == 0);
  CHECK(get_value(second).data<RngState>()[0].key[0] == 200);
  // reseed restarts the private streams, and still leaves the shared ones alone.
  own.reseed(7);
  CHECK(own()[0].to_vector() == philox_uniforms(7, stream_a, 0, 3));
  CHECK(get_value(first).data<RngState>()[0].key[0] == 100);
}

TEST_CASE("random: two functions over one graph share its RNG stream unless each owns its states", "[random][seed][own]") {
  Variable state = random::rng("rng");
  const Variable draw = random::uniform(state, 0.0, 1.0, {2}).value;
  SECTION("shared: interleaved calls take turns on one stream") {
    Function f = compile({}, {draw}, {.seed = 3});
    Function g = compile({}, {draw});
    CHECK(f()[0].to_vector() == philox_uniforms(3, 0, 0, 2));
    CHECK(g()[0].to_vector() == philox_uniforms(3, 0, 1, 2));
    CHECK(f()[0].to_vector() == philox_uniforms(3, 0, 2, 2));
  }
  SECTION("owned: each function draws its own stream whatever the interleaving") {
    Function f = compile({}, {draw}, {.seed = 3, .own_rng_states = true});
    Function g = compile({}, {draw}, {.seed = 4, .own_rng_states = true});
    CHECK(f()[0].to_vector() == philox_uniforms(3, 0, 0, 2));
    CHECK(g()[0].to_vector() == philox_uniforms(4, 0, 0, 2));
    CHECK(f()[0].to_vector() == philox_uniforms(3, 0, 1, 2));
    CHECK(g()[0].to_vector() == philox_uniforms(4, 0, 1, 2));
  }
  SECTION("owned without advancing: advance moves only the private state") {
    Function f = compile({}, {draw}, {.seed = 3, .advance_rngs = false, .own_rng_states = true});
    CHECK(f()[0].to_vector() == philox_uniforms(3, 0, 0, 2));
    CHECK(f()[0].to_vector() == philox_uniforms(3, 0, 0, 2));
    f.advance();
    CHECK(f()[0].to_vector() == philox_uniforms(3, 0, 1, 2));
    CHECK(get_value(state).data<RngState>()[0].counter[1] == 0);
  }
  CHECK_THROWS_WITH(compile({}, {draw}, {.own_rng_states = true}),
                    "compile: own_rng_states needs a seed: the private RNG streams are derived from it");
}

}  // namespace random_draws_test
