/// @file autocovariance.hpp
/// @brief Autocovariance of a sequence at every lag by FFT, in O(n log n) time and without
/// allocating once its workspace has grown to the sequence's length.
///
/// The biased estimate (Geyer 1992, recommended for MCMC because it keeps the autocovariance
/// sequence positive definite):
/// @f$ \hat\gamma_t = \frac{1}{n} \sum_{i=0}^{n-1-t} (x_i - \bar x)(x_{i+t} - \bar x) @f$,
/// @f$ t = 0, \dots, n-1 @f$.
/// The centred sequence is zero-padded to a power of two @f$ m \ge 2n @f$ (so the circular
/// correlation equals the linear one), transformed, squared in modulus and transformed back:
/// two complex radix-2 FFTs of length @f$ m < 4n @f$, about @f$ 10\, m \log_2 m @f$ flops.
/// For @f$ n = 10^4 @f$: @f$ m = 32768 @f$. The rounding error of every lag is about
/// @f$ \epsilon \log_2 m \cdot \hat\gamma_0 @f$ (absolute), so the small autocovariances of large
/// lags are accurate relative to the variance, not relative to themselves.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <utility>
#include <vector>

#include "symbatch/core/error.hpp"

namespace symbatch {

/// @brief Buffers reused by `autocovariance` across calls: the padded sequence and the twiddle
/// factors of the current FFT length. Grows on demand; once it has seen the longest sequence,
/// calls allocate nothing.
struct AutocovarianceWorkspace {
  std::vector<double> real;        ///< real parts of the padded sequence / its transform
  std::vector<double> imag;        ///< imaginary parts
  std::vector<double> twiddle_cos; ///< cos(2 pi k / m), k < m / 2
  std::vector<double> twiddle_sin; ///< sin(2 pi k / m), k < m / 2
  std::int64_t fft_length = 0;     ///< m, the length the twiddles were computed for
};

namespace detail {

/// The smallest power of two that is at least `n`.
inline std::int64_t next_power_of_two(std::int64_t n) {
  std::int64_t m = 1;
  while (m < n) m *= 2;
  return m;
}

/// Sizes the workspace for an FFT of length `m` (a power of two) and fills the twiddles, each
/// from its own cos/sin call so that their error does not accumulate along k.
inline void prepare_fft(AutocovarianceWorkspace& workspace, std::int64_t m) {
  if (workspace.fft_length == m) return;
  workspace.real.resize(static_cast<std::size_t>(m));
  workspace.imag.resize(static_cast<std::size_t>(m));
  workspace.twiddle_cos.resize(static_cast<std::size_t>(m / 2));
  workspace.twiddle_sin.resize(static_cast<std::size_t>(m / 2));
  for (std::int64_t k = 0; k < m / 2; ++k) {
    const double angle = 2 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(m);
    workspace.twiddle_cos[static_cast<std::size_t>(k)] = std::cos(angle);
    workspace.twiddle_sin[static_cast<std::size_t>(k)] = std::sin(angle);
  }
  workspace.fft_length = m;
}

/// In-place iterative radix-2 FFT of length `workspace.fft_length`:
/// @f$ X_k = \sum_j x_j e^{\mp 2 \pi i j k / m} @f$ (minus sign forward, plus inverse; unnormalised).
inline void fft_in_place(AutocovarianceWorkspace& workspace, bool inverse) {
  const std::int64_t m = workspace.fft_length;
  double* re = workspace.real.data();
  double* im = workspace.imag.data();
  for (std::int64_t i = 1, j = 0; i < m; ++i) {  // bit-reversal permutation
    std::int64_t bit = m >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      std::swap(re[i], re[j]);
      std::swap(im[i], im[j]);
    }
  }
  const double sign = inverse ? 1.0 : -1.0;
  for (std::int64_t length = 2; length <= m; length *= 2) {
    const std::int64_t half = length / 2, stride = m / length;
    for (std::int64_t start = 0; start < m; start += length) {
      for (std::int64_t k = 0; k < half; ++k) {
        const double wr = workspace.twiddle_cos[static_cast<std::size_t>(k * stride)];
        const double wi = sign * workspace.twiddle_sin[static_cast<std::size_t>(k * stride)];
        const std::int64_t a = start + k, b = a + half;
        const double vr = re[b] * wr - im[b] * wi, vi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - vr;
        im[b] = im[a] - vi;
        re[a] += vr;
        im[a] += vi;
      }
    }
  }
}

}  // namespace detail

/// @brief Biased autocovariance @f$ \hat\gamma_t @f$ of `sequence` at lags @f$ 0..n-1 @f$,
/// written to `out` (length n), by FFT (see the file comment for the formula and the cost).
/// @throws std::invalid_argument `autocovariance: sequence has length 0, but must not be empty`,
///   or when `out` has another length than `sequence`.
inline void autocovariance(const Eigen::Ref<const Eigen::VectorXd>& sequence, Eigen::Ref<Eigen::VectorXd> out,
                           AutocovarianceWorkspace& workspace) {
  const std::int64_t n = sequence.size();
  if (n == 0) throw_invalid("autocovariance", "sequence has length 0, but must not be empty");
  if (out.size() != n)
    throw_invalid("autocovariance", "out has length ", out.size(), ", but the sequence has length ", n);
  const std::int64_t m = detail::next_power_of_two(2 * n);
  detail::prepare_fft(workspace, m);
  const double mean = sequence.mean();
  for (std::int64_t i = 0; i < n; ++i) workspace.real[static_cast<std::size_t>(i)] = sequence[i] - mean;
  std::fill(workspace.real.begin() + n, workspace.real.end(), 0.0);
  std::fill(workspace.imag.begin(), workspace.imag.end(), 0.0);
  detail::fft_in_place(workspace, false);
  for (std::int64_t k = 0; k < m; ++k) {  // |X_k|^2: the transform of the circular autocorrelation
    const auto index = static_cast<std::size_t>(k);
    workspace.real[index] = workspace.real[index] * workspace.real[index] + workspace.imag[index] * workspace.imag[index];
    workspace.imag[index] = 0.0;
  }
  detail::fft_in_place(workspace, true);
  const double scale = 1.0 / (static_cast<double>(m) * static_cast<double>(n));
  for (std::int64_t t = 0; t < n; ++t) out[t] = workspace.real[static_cast<std::size_t>(t)] * scale;
}

/// @brief Allocating convenience form of `autocovariance`.
inline Eigen::VectorXd autocovariance(const Eigen::Ref<const Eigen::VectorXd>& sequence) {
  AutocovarianceWorkspace workspace;
  Eigen::VectorXd out(sequence.size());
  autocovariance(sequence, out, workspace);
  return out;
}

}  // namespace symbatch
