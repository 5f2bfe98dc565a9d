/// @file philox.hpp
/// @brief The counter-based Philox4x64-10 generator (Random123) and the derived draws used by
/// symbatch's random ops: uniform doubles, unbiased bounded integers, standard normals.
///
/// Every draw is a pure function of `(key, counter)`, so results are identical on every
/// platform and compiler (normals to within the last bit of the C library's `log`/`cos`).
#pragma once

#include <Random123/philox.h>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <utility>

#include "symbatch/core/dtype.hpp"

namespace symbatch {

namespace detail {
__extension__ typedef unsigned __int128 uint128;
}  // namespace detail

/// @brief The state that `compile(..., {.seed = seed})` gives the `stream`-th RNG of a
/// function: key `(seed, stream)`, counter zero.
inline RngState seed_rng_state(std::uint64_t seed, std::uint64_t stream) {
  RngState state;
  state.key = {seed, stream};
  return state;
}

/// @brief The state a random op returns as `next_rng`: the call counter (word 1) advanced.
inline RngState next_rng_state(RngState state) {
  ++state.counter[1];
  return state;
}

/// @brief Reads 64-bit words from the Philox stream of one state, block by block: block `j`
/// is Philox4x64-10 of counter `(j, c1, c2, c3)` under the state's key.
class PhiloxStream {
 public:
  explicit PhiloxStream(const RngState& state) : state_(state) {}

  /// The next 64 random bits.
  std::uint64_t next() {
    if (position_ == 4) refill();
    return block_[position_++];
  }
  /// A double uniform on [0, 1): the top 53 bits of one word times 2^-53.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// A double uniform on (0, 1): never 0, so its logarithm is finite.
  double uniform_open() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
  /// An integer uniform on [0, n) without modulo bias (Lemire's multiply-and-reject).
  std::uint64_t below(std::uint64_t n) {
    detail::uint128 product = static_cast<detail::uint128>(next()) * n;
    auto low = static_cast<std::uint64_t>(product);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        product = static_cast<detail::uint128>(next()) * n;
        low = static_cast<std::uint64_t>(product);
      }
    }
    return static_cast<std::uint64_t>(product >> 64);
  }
  /// Fills `values[0..n)` with a uniformly random permutation of `0..n-1` (Fisher-Yates, from the
  /// last position down): the one shuffle every random op of symbatch uses.
  void permutation(std::int64_t* values, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) values[i] = i;
    for (std::int64_t i = n - 1; i > 0; --i) std::swap(values[i], values[below(static_cast<std::uint64_t>(i + 1))]);
  }
  /// A standard normal by the Box-Muller transform; the second value of each pair is kept for
  /// the next call.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double radius = std::sqrt(-2.0 * std::log(uniform_open()));
    const double angle = 2.0 * std::numbers::pi * uniform();
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

  /// Raw Philox4x64-10 block for a counter and key (the generator itself).
  static r123::Philox4x64::ctr_type block(const r123::Philox4x64::ctr_type& counter, const r123::Philox4x64::key_type& key) {
    return r123::Philox4x64()(counter, key);
  }

 private:
  void refill() {
    r123::Philox4x64::ctr_type counter = {{next_block_, state_.counter[1], state_.counter[2], state_.counter[3]}};
    r123::Philox4x64::key_type key = {{state_.key[0], state_.key[1]}};
    const auto out = block(counter, key);
    for (int i = 0; i < 4; ++i) block_[i] = out.v[i];
    ++next_block_;
    position_ = 0;
  }

  RngState state_;
  std::uint64_t next_block_ = 0;
  std::uint64_t block_[4] = {};
  int position_ = 4;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace symbatch
