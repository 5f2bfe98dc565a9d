// Offline replicates of the family gates in tests/inference/training.test.cpp (not part of the
// suite): full-rank and low-rank (rank 4) fits with default options on the correlated
// regression (N = 10,000, D = 4, B = 256). Build from the repository root:
//   g++ -std=c++20 -O2 -DNDEBUG -Iinclude -Itests/inference -I/usr/include/eigen3 tests/inference/reference/family_replicates.cpp -o family_replicates
//   ./family_replicates 100 12 0   # 0: full rank (1: low rank 4, which does not converge with defaults yet)
// Errors: largest over coordinates, means in exact posterior sd, sds relative, correlations absolute.
#include <cstdio>
#include <cstdlib>
#include "regression_problem.hpp"
#include "symbatch/inference/advi.hpp"
using namespace training_regression;
int main(int argc, char** argv) {
  const std::uint64_t first = std::atoi(argv[1]), count = std::atoi(argv[2]);
  const int which = std::atoi(argv[3]);
  const std::int64_t n = 10000, d = 4;
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    const Problem p = correlated_problem(n, d, 2000 + seed);
    const Eigen::MatrixXd covariance = (p.x.transpose() * p.x + Eigen::MatrixXd::Identity(d, d)).inverse();
    Model model;
    build(model, p, 256, MinibatchScheme::circular_slice);
    const Family family = which == 0 ? Family{FullRankFamily{}} : Family{LowRankFamily{.rank = 4}};
    const FitResult r = fit(model, {.seed = seed, .progress = Progress::none, .family = family});
    const Eigen::MatrixXd fitted = r.approximation.covariance();
    double mean_err = 0, sd_err = 0, corr_err = 0;
    for (int i = 0; i < d; ++i) {
      mean_err = std::max(mean_err, std::abs(r.approximation.unconstrained_mean()[i] - p.post_mean[i]) / p.post_sd[i]);
      sd_err = std::max(sd_err, std::abs(std::sqrt(fitted(i, i)) / p.post_sd[i] - 1));
      for (int j = 0; j < i; ++j)
        corr_err = std::max(corr_err, std::abs(fitted(i, j) / std::sqrt(fitted(i, i) * fitted(j, j)) -
                                               covariance(i, j) / std::sqrt(covariance(i, i) * covariance(j, j))));
    }
    std::printf("%d seed %llu mean_err %.4f sd_err %.4f corr_err %.4f it %lld conv %d\n", which, (unsigned long long)seed, mean_err, sd_err,
                corr_err, (long long)r.iterations, r.converged);
    std::fflush(stdout);
  }
}
