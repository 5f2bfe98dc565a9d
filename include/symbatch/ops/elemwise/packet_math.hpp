/// @file packet_math.hpp
/// @brief Vectorised forms of exp, log, sqrt and the logistic functions (sigmoid, softplus,
/// log-sigmoid and the Bernoulli-logit log-mass) on Eigen's SIMD packets, and the loops that
/// apply an elementwise function's packet form over contiguous arrays (the tail as one
/// zero-padded packet). Where Eigen's packet functions are not accurate (exp of a subnormal
/// result, log of a subnormal, sqrt under Eigen's fast math), the scalar function's value is used.
///
/// Each uses one vectorised exponential and at most one vectorised logarithm per element:
/// @f$ e = \exp(-|x|) @f$, @f$ u = 1 + e @f$ (rounded), and
/// @f$ \log(1 + e) = \log u - ((u - 1) - e) / u @f$, which corrects the rounding of `u` to first
/// order and is exact (`e`) when `u` rounds to 1. Accuracy: a few ulps, as the scalar forms in
/// scalar_math.hpp; where `e` is subnormal (|x| > 708) and for non-finite inputs, what the scalar
/// forms give (tested).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace symbatch::detail {

namespace packet {
namespace ei = Eigen::internal;
using Packet = ei::packet_traits<double>::type;
inline constexpr std::int64_t width = ei::packet_traits<double>::size;

/// True when some lane of `mask` (a comparison's result: all bits set or none) is set.
inline bool any_lane(const Packet& mask) {
#if defined(EIGEN_VECTORIZE_AVX512)
  return _mm512_cmp_pd_mask(mask, mask, _CMP_UNORD_Q) != 0;  // a set lane reads as a NaN
#elif defined(EIGEN_VECTORIZE_AVX)
  return _mm256_movemask_pd(mask) != 0;
#elif defined(EIGEN_VECTORIZE_SSE2)
  return _mm_movemask_pd(mask) != 0;
#else
  return ei::predux_any(mask);
#endif
}

/// `value` with the lanes set in `mask` replaced by `scalar(x)` for their `x`: the scalar
/// function where the packet one is not accurate. The test costs a compare per packet; the
/// replacement runs only for the rare packets that need it.
template <class Scalar>
inline Packet scalar_where(const Packet& mask, const Packet& x, const Packet& value, Scalar scalar) {
  if (!any_lane(mask)) return value;
  alignas(64) double arguments[width], values[width], flags[width];
  ei::pstore(arguments, x);
  ei::pstore(values, value);
  ei::pstore(flags, mask);
  for (std::int64_t k = 0; k < width; ++k)
    if (flags[k] != 0.0) values[k] = scalar(arguments[k]);  // a set lane has all bits set (a NaN)
  return ei::pload<Packet>(values);
}
/// exp(x). Eigen's pexp clamps its argument at about -709.8, so below -708, where the exact value
/// is subnormal or 0, it would give 5.6e-309 all the way down to -inf; those lanes take std::exp.
inline Packet exp(const Packet& x) {
  return scalar_where(ei::pcmp_lt(x, ei::pset1<Packet>(-708.0)), x, ei::pexp(x), [](double v) { return std::exp(v); });
}
/// log(x). Eigen's plog reads a subnormal x as the smallest normal (log 4.9e-324 would be
/// -708.4, not -744.4); those lanes take std::log.
inline Packet log(const Packet& x) {
  const Packet subnormal = ei::pand(ei::pcmp_lt(ei::pset1<Packet>(0.0), x), ei::pcmp_lt(x, ei::pset1<Packet>(std::numeric_limits<double>::min())));
  return scalar_where(subnormal, x, ei::plog(x), [](double v) { return std::log(v); });
}
/// sqrt(x), correctly rounded: the hardware square root (Eigen's psqrt, under its fast-math
/// default, is an approximation for AVX-512 that flushes subnormals to 0).
inline Packet sqrt(const Packet& x) {
#if defined(EIGEN_VECTORIZE_AVX512)
  return _mm512_sqrt_pd(x);
#elif defined(EIGEN_VECTORIZE_AVX)
  return _mm256_sqrt_pd(x);
#elif defined(EIGEN_VECTORIZE_SSE2)
  return _mm_sqrt_pd(x);
#else
  return ei::psqrt(x);
#endif
}

/// e = exp(-|x|) and log(1 + e), for every lane.
inline void shared_terms(const Packet& x, Packet& e, Packet& u, Packet& log1p_e) {
  const Packet one = ei::pset1<Packet>(1.0);
  const Packet minus_abs = ei::pnegate(ei::pabs(x));
  e = exp(minus_abs);
  u = ei::padd(one, e);
  log1p_e = ei::psub(ei::plog(u), ei::pdiv(ei::psub(ei::psub(u, one), e), u));
}
/// max(x, 0), NaN when x is NaN (the hardware max may return either operand for a NaN).
inline Packet positive_part(const Packet& x) {
  const Packet zero = ei::pset1<Packet>(0.0);
  return ei::pselect(ei::pcmp_le(x, zero), zero, x);
}
inline Packet sigmoid(const Packet& x) {
  Packet e, u, log1p_e;
  shared_terms(x, e, u, log1p_e);
  const Packet r = ei::pdiv(ei::pset1<Packet>(1.0), u);
  return ei::pselect(ei::pcmp_le(ei::pset1<Packet>(0.0), x), r, ei::pmul(e, r));  // NaN: e * r, NaN
}
inline Packet softplus(const Packet& x) {
  Packet e, u, log1p_e;
  shared_terms(x, e, u, log1p_e);
  return ei::padd(positive_part(x), log1p_e);
}
inline Packet log_sigmoid(const Packet& x) { return ei::pnegate(softplus(ei::pnegate(x))); }
/// The Bernoulli-logit log-mass of `y` given log-odds `eta`: -softplus(-eta) at 1, -softplus(eta)
/// at 0, -inf at any other value (NaN when eta is NaN).
inline Packet bernoulli_logit(const Packet& y, const Packet& eta) {
  Packet e, u, log1p_e;
  shared_terms(eta, e, u, log1p_e);
  const Packet zero = ei::pset1<Packet>(0.0), one = ei::pset1<Packet>(1.0);
  const Packet at_one = ei::psub(ei::pnegate(positive_part(ei::pnegate(eta))), log1p_e);
  const Packet at_zero = ei::psub(ei::pnegate(positive_part(eta)), log1p_e);
  const Packet elsewhere = ei::pselect(ei::pcmp_eq(eta, eta), ei::pset1<Packet>(-std::numeric_limits<double>::infinity()), eta);
  return ei::pselect(ei::pcmp_eq(y, one), at_one, ei::pselect(ei::pcmp_eq(y, zero), at_zero, elsewhere));
}
}  // namespace packet

template <class Fn>
concept HasPacketForm1 = requires(const packet::Packet& a) { Fn::packet(a); };
template <class Fn>
concept HasPacketForm2 = requires(const packet::Packet& a) { Fn::packet(a, a); };

/// A packet holding `a[0 .. count)` (count < the packet's width) and zeros after them.
inline packet::Packet partial_packet(const double* a, std::int64_t count) {
  alignas(64) double lanes[packet::width] = {};
  std::copy_n(a, count, lanes);
  return packet::ei::pload<packet::Packet>(lanes);
}
/// Stores the first `count` lanes of `value` at `out`.
inline void store_partial(double* out, const packet::Packet& value, std::int64_t count) {
  alignas(64) double lanes[packet::width];
  packet::ei::pstore(lanes, value);
  std::copy_n(lanes, count, out);
}

/// out[k] = Fn(a[k]) over contiguous arrays, a packet at a time; the tail through one packet
/// padded with zeros, so every element gets the packet form's value wherever it sits (and a
/// short vector no scalar transcendental calls).
template <HasPacketForm1 Fn>
void packet_loop(const double* a, double* out, std::int64_t count) {
  std::int64_t k = 0;
  for (; k + packet::width <= count; k += packet::width)
    packet::ei::pstoreu(out + k, Fn::packet(packet::ei::ploadu<packet::Packet>(a + k)));
  if (k < count) store_partial(out + k, Fn::packet(partial_packet(a + k, count - k)), count - k);
}
/// out[k] = Fn(a[k], b[k]) over contiguous arrays.
template <HasPacketForm2 Fn>
void packet_loop(const double* a, const double* b, double* out, std::int64_t count) {
  std::int64_t k = 0;
  for (; k + packet::width <= count; k += packet::width)
    packet::ei::pstoreu(out + k, Fn::packet(packet::ei::ploadu<packet::Packet>(a + k), packet::ei::ploadu<packet::Packet>(b + k)));
  if (k < count) store_partial(out + k, Fn::packet(partial_packet(a + k, count - k), partial_packet(b + k, count - k)), count - k);
}

}  // namespace symbatch::detail
