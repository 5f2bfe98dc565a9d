// Offline replicates of the default-convergence gates in tests/inference/training.test.cpp (not part
// of the suite). Build from the repository root:
//   g++ -std=c++20 -O2 -DNDEBUG -Iinclude -Itests/inference -I/usr/include/eigen3 tests/inference/reference/training_replicates.cpp -o replicates
//   for w in 0 1 2 3; do ./replicates 100 25 $w; done   # w: 0/1 fit circular/with replacement, 2/3 find_map
//   for w in 0 1 2 3; do ./replicates 200 6 $w 1000000 10; done   # N = 1,000,000, D = 10
// Errors are the largest over the 10 coefficients, in exact posterior sd (means) or relative (sds).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include "symbatch/inference/advi.hpp"
#include "symbatch/inference/map.hpp"
#include "regression_problem.hpp"
using namespace training_regression;
int main(int argc, char** argv) {
  const std::uint64_t first = std::atoi(argv[1]), count = std::atoi(argv[2]);
  const int which = std::atoi(argv[3]);  // 0 circular fit, 1 replacement fit, 2 circular map, 3 replacement map
  const std::int64_t n = argc > 4 ? std::atoll(argv[4]) : 10000, d = argc > 5 ? std::atoll(argv[5]) : 10;
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    const Problem p = make_problem(n, d, 1000 + seed);
    Model model;
    build(model, p, 256, which % 2 ? MinibatchScheme::with_replacement : MinibatchScheme::circular_slice);
    auto t0 = std::chrono::steady_clock::now();
    double mean_err = 0, last_err = 0, sd_err = 0; std::int64_t it; double passes, rh, mc; int conv;
    if (which < 2) {
      const FitResult r = fit(model, {.seed = seed, .progress = Progress::none});
      const Array m = r.approximation.mean().at("beta"), s = r.approximation.sd().at("beta"), l = r.last_iterate.mean().at("beta");
      for (int j = 0; j < d; ++j) {
        mean_err = std::max(mean_err, std::abs(m.flat<double>(j) - p.post_mean[j]) / p.post_sd[j]);
        last_err = std::max(last_err, std::abs(l.flat<double>(j) - p.post_mean[j]) / p.post_sd[j]);
        sd_err = std::max(sd_err, std::abs(s.flat<double>(j) / p.mean_field_sd[j] - 1));
      }
      it = r.iterations; passes = r.passes; rh = r.max_rhat; mc = r.max_mcse_ratio; conv = r.converged;
    } else {
      const MapResult r = find_map(model, {.seed = seed, .progress = Progress::none});
      for (int j = 0; j < d; ++j) {
        mean_err = std::max(mean_err, std::abs(r.point.at("beta").flat<double>(j) - p.post_mean[j]) / p.post_sd[j]);
        last_err = std::max(last_err, std::abs(r.last_point.at("beta").flat<double>(j) - p.post_mean[j]) / p.post_sd[j]);
      }
      it = r.iterations; passes = r.passes; rh = r.max_rhat; mc = r.max_mcse_ratio; conv = r.converged;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%d seed %llu mean_err %.4f last_err %.3f sd_err %.4f it %lld passes %.1f rhat %.4f mcse %.4f conv %d %.2fs\n", which,
                (unsigned long long)seed, mean_err, last_err, sd_err, (long long)it, passes, rh, mc, conv, secs);
    std::fflush(stdout);
  }
}
