#include <catch2/catch.hpp>

#include "symbatch/random/philox.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace random_philox_test {

using namespace symbatch;

// Known-answer vectors published with Random123 (kat_vectors, philox4x64 with 10 rounds):
// counter (4 words), key (2 words) -> output (4 words).
TEST_CASE("philox: the raw generator reproduces Random123's published known-answer vectors", "[random][philox]") {
  struct Vector {
    r123::Philox4x64::ctr_type counter;
    r123::Philox4x64::key_type key;
    std::array<std::uint64_t, 4> expected;
  };
  const Vector vectors[] = {
      {{{0, 0, 0, 0}}, {{0, 0}}, {0x16554d9eca36314cULL, 0xdb20fe9d672d0fdcULL, 0xd7e772cee186176bULL, 0x7e68b68aec7ba23bULL}},
      {{{~0ULL, ~0ULL, ~0ULL, ~0ULL}}, {{~0ULL, ~0ULL}},
       {0x87b092c3013fe90bULL, 0x438c3c67be8d0224ULL, 0x9cc7d7c69cd777b6ULL, 0xa09caebf594f0ba0ULL}},
      {{{0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL, 0xa4093822299f31d0ULL, 0x082efa98ec4e6c89ULL}},
       {{0x452821e638d01377ULL, 0xbe5466cf34e90c6cULL}},
       {0xa528f45403e61d95ULL, 0x38c72dbd566e9788ULL, 0xa5a1610e72fd18b5ULL, 0x57bd43b5e52b7fe6ULL}},
  };
  for (const Vector& vector : vectors) {
    const auto out = PhiloxStream::block(vector.counter, vector.key);
    for (int i = 0; i < 4; ++i) CHECK(out.v[i] == vector.expected[static_cast<std::size_t>(i)]);
  }
}

// The state with key (0, 0) and counter zero reads block 0 = the first vector above. The derived
// values below were computed from those four words with Python's exact integers and mpmath.
TEST_CASE("philox: words become uniforms from their top 53 bits", "[random][philox]") {
  PhiloxStream stream(seed_rng_state(0, 0));
  CHECK(stream.uniform() == 0.08723912359911234);
  CHECK(stream.uniform() == 0.8559722074780219);
  CHECK(stream.uniform() == 0.8433753733711671);
  CHECK(stream.uniform() == 0.4937852944535579);
}

TEST_CASE("philox: bounded integers are the high word of the 128-bit product (Lemire, no modulo bias)", "[random][philox]") {
  PhiloxStream ten(seed_rng_state(0, 0));
  CHECK(ten.below(10) == 0);
  CHECK(ten.below(10) == 8);
  CHECK(ten.below(10) == 8);
  CHECK(ten.below(10) == 4);
  PhiloxStream million(seed_rng_state(0, 0));
  CHECK(million.below(1000000) == 87239);
  CHECK(million.below(1000000) == 855972);
  CHECK(million.below(1000000) == 843375);
  CHECK(million.below(1000000) == 493785);
}

TEST_CASE("philox: normals come from Box-Muller on pairs of words", "[random][philox]") {
  PhiloxStream stream(seed_rng_state(0, 0));
  // radius from word 0 (offset by half a step so the logarithm is finite), angle from word 1
  CHECK(stream.normal() == Approx(1.3643421337447953281).epsilon(1e-15));
  CHECK(stream.normal() == Approx(-1.7368866713773928655).epsilon(1e-15));
  CHECK(stream.normal() == Approx(-0.58323843715508324301).epsilon(1e-15));
  CHECK(stream.normal() == Approx(0.022785962185410686844).epsilon(1e-13));
}

TEST_CASE("philox: later blocks use the next block counter and the call counter separates calls", "[random][philox]") {
  RngState state = seed_rng_state(0, 0);
  PhiloxStream stream(state);
  for (int i = 0; i < 4; ++i) stream.next();
  const auto second = PhiloxStream::block({{1, 0, 0, 0}}, {{0, 0}});
  CHECK(stream.next() == second.v[0]);
  PhiloxStream next_call(next_rng_state(state));
  const auto other = PhiloxStream::block({{0, 1, 0, 0}}, {{0, 0}});
  CHECK(next_call.next() == other.v[0]);
}

}  // namespace random_philox_test
