// The deterministic data sets of make_draws.py, reproduced bit for bit (integer arithmetic and
// IEEE +, *, / only), so the tests run on the very numbers R saw. Each data set is a matrix with
// one row per iteration and one column per chain (or parameter).
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <vector>

namespace symbatch::test_reference {

/// splitmix64, as make_draws.py's Stream.
class Stream {
 public:
  explicit Stream(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next_u64() {
    state_ += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
  double normal_like() {
    double total = 0.0;
    for (int i = 0; i < 12; ++i) total += uniform();
    return total - 6.0;
  }
  double heavy() {
    const double a = uniform();
    const double b = uniform();
    return (a - 0.5) / (b + 0.01);
  }

 private:
  std::uint64_t state_;
};

inline Eigen::MatrixXd ar1_chains(std::uint64_t seed, int chains, int iterations, double phi, double offset_step,
                                  bool heavy = false) {
  Eigen::MatrixXd out(iterations, chains);
  for (int c = 0; c < chains; ++c) {
    Stream stream(seed * 1000 + static_cast<std::uint64_t>(c));
    double previous = 0.0;
    for (int t = 0; t < iterations; ++t) {
      const double e = heavy ? stream.heavy() : stream.normal_like();
      previous = t == 0 ? e : phi * previous + e;
      out(t, c) = previous + offset_step * c;
    }
  }
  return out;
}

/// Rounds to multiples of 1/scale, half to even as Python's round().
inline Eigen::MatrixXd rounded(Eigen::MatrixXd values, double scale) {
  for (Eigen::Index i = 0; i < values.size(); ++i) values.data()[i] = std::nearbyint(values.data()[i] * scale) / scale;
  return values;
}

inline Eigen::MatrixXd iterates(std::uint64_t seed, int length, int parameters) {
  Stream stream(seed);
  Eigen::MatrixXd out(length, parameters);
  std::vector<double> noise(static_cast<std::size_t>(parameters), 0.0), level(static_cast<std::size_t>(parameters), 0.0);
  for (int t = 0; t < length; ++t) {
    for (int p = 0; p < parameters; ++p) {
      auto& n = noise[static_cast<std::size_t>(p)];
      auto& l = level[static_cast<std::size_t>(p)];
      n = 0.7 * n + 0.05 * (p + 1) * stream.normal_like();
      l = l + (p - l) / 500.0;
      out(t, p) = l + n;
    }
  }
  return out;
}

inline Eigen::VectorXd log_ratios(std::uint64_t seed, int draws, double a) {
  Stream stream(seed);
  Eigen::VectorXd out(draws);
  for (int s = 0; s < draws; ++s) {
    const double theta = stream.normal_like();
    out[s] = a * theta * theta;
  }
  return out;
}

// The data sets, named as make_draws.py names them.
inline Eigen::MatrixXd ar1_4x1000() { return ar1_chains(1, 4, 1000, 0.9, 0.0); }
inline Eigen::MatrixXd ar1_shifted_3x1003() { return ar1_chains(2, 3, 1003, 0.8, 0.15); }
inline Eigen::MatrixXd antithetic_1x2000() { return ar1_chains(3, 1, 2000, -0.6, 0.0); }
inline Eigen::MatrixXd heavy_2x501() { return ar1_chains(4, 2, 501, 0.5, 0.0, true); }
inline Eigen::MatrixXd ties_4x250() { return rounded(ar1_chains(5, 4, 250, 0.3, 0.0), 2.0); }
inline Eigen::MatrixXd iterates_3000x3() { return iterates(6, 3000, 3); }
inline Eigen::VectorXd log_ratios_k03_1000() { return log_ratios(7, 1000, 0.15); }
inline Eigen::VectorXd log_ratios_k06_4000() { return log_ratios(8, 4000, 0.3); }
inline Eigen::VectorXd log_ratios_k09_1000() { return log_ratios(9, 1000, 0.45); }
inline Eigen::VectorXd log_ratios_50() { return log_ratios(10, 50, 0.3); }
inline Eigen::VectorXd log_ratios_20() { return log_ratios(11, 20, 0.3); }

}  // namespace symbatch::test_reference
