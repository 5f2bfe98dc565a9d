// The training loop of fit and find_map: iterate averaging and the batch-means record against
// closed forms, warm starts that continue bit for bit, why a loop stopped, and the issue-13 gate:
// with default options, fit and find_map on a conjugate linear regression (D = 10, N = 10,000,
// B = 256, circular-slice and with-replacement batches) land within 0.1 exact posterior sd of the
// exact posterior mean, and fit's sds within 10% of the mean-field optimum 1/sqrt(diag(precision)).
//
// False-failure rate of the gates: 100 offline replicates (reference/training_replicates.cpp, 25
// seeds per configuration, output in reference/training_replicates.txt; the control variate on, as
// by default) all converged, with largest errors 0.070 sd (fit means), 6.2% (sds) and 0.001 sd
// (find_map): 0 failures in 100, so below about 3% (95% bound) per gate. At N = 1,000,000 (24
// replicates, same file) the largest errors were 0.056 sd and 5.1%, against the 0.25 sd.
// The thresholds are the issue's, the seeds fixed.
#include <catch2/catch.hpp>

#include <cmath>

#include "regression_problem.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/inference/map.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace inference_training_test {

using namespace symbatch;
using namespace training_regression;
using Catch::Matchers::StartsWith;

TEST_CASE("training: Polyak and polynomial-decay averages have their closed forms", "[training]") {
  IterateAverage polyak(AveragingKind::polyak, 0, 1), decay(AveragingKind::polynomial_decay, 2, 1);
  for (double x : {1.0, 2.0, 6.0}) {
    polyak.add(Eigen::VectorXd::Constant(1, x));
    decay.add(Eigen::VectorXd::Constant(1, x));
  }
  CHECK(polyak.value()[0] == Approx(3.0).epsilon(1e-15));
  // eta = 2: weights 3/3, 3/4, 3/5: a1 = 1, a2 = 1/4 + 3/4 * 2 = 1.75, a3 = 2/5 * 1.75 + 3/5 * 6 = 4.3.
  CHECK(decay.value()[0] == Approx(4.3).epsilon(1e-15));
  CHECK(decay.effective_count() == Approx(3.0 * 5 / 9).epsilon(1e-15));
  CHECK_THROWS_WITH(IterateAverage(AveragingKind::polynomial_decay, -1, 1), "IterateAverage: eta is -1, but must be nonnegative");
}

TEST_CASE("training: the record keeps batch means and merges pairs when full", "[training]") {
  IterateWindow record(1, 48);
  for (int t = 1; t <= 48; ++t) record.push(Eigen::VectorXd::Constant(1, t));
  // 48 entries of batch 1 fill the buffer: merged into 24 means of pairs, batch length 2.
  CHECK(record.entries() == 24);
  CHECK(record.thin() == 2);
  CHECK(record.span() == 48);
  for (int t = 49; t <= 52; ++t) record.push(Eigen::VectorXd::Constant(1, t));
  CHECK(record.entries() == 26);  // (49 + 50) / 2 and (51 + 52) / 2
  record.drop_older_half();
  CHECK(record.entries() == 13);
  CHECK_THROWS_WITH(IterateWindow(1, 7), "IterateWindow: capacity is 7, but must be an even number of at least 48");
}

TEST_CASE("training: two warm-started runs of T/2 steps equal one run of T steps bit for bit", "[training]") {
  const Problem problem = make_problem(2000, 3, 4);
  Model model;
  build(model, problem, 64, MinibatchScheme::circular_slice);
  const AdviOptions options{.max_iterations = 3000, .seed = 9, .progress = Progress::none,
                            .schedule = ReduceOnPlateau{.every = 50, .patience = 2}, .convergence = {.check_every = 100}};
  const FitResult whole = fit(model, options);
  AdviOptions half = options;
  half.max_iterations = 1500;
  const FitResult first = fit(model, half);
  half.warm_start = first.state;
  const FitResult second = fit(model, half);
  CHECK(second.iterations == 3000);
  CHECK(second.passes == whole.passes);
  for (const auto& [a, b] : {std::pair{&whole.approximation, &second.approximation}, std::pair{&whole.last_iterate, &second.last_iterate}}) {
    CHECK(a->unconstrained_mean() == b->unconstrained_mean());
    CHECK(a->unconstrained_sd() == b->unconstrained_sd());
  }
  CHECK(std::vector<double>(whole.loss_history.begin() + 1500, whole.loss_history.end()) == second.loss_history);

  const MapOptions map_options{.max_iterations = 3000, .seed = 9, .progress = Progress::none, .convergence = {.check_every = 100}};
  const MapResult map_whole = find_map(model, map_options);
  MapOptions map_half = map_options;
  map_half.max_iterations = 1500;
  map_half.warm_start = find_map(model, map_half).state;
  const MapResult map_second = find_map(model, map_half);
  CHECK(map_whole.point.at("beta").to_vector() == map_second.point.at("beta").to_vector());
  CHECK(map_whole.last_point.at("beta").to_vector() == map_second.last_point.at("beta").to_vector());

  Model other;
  other.free("z", Normal(0.0, 1.0));
  AdviOptions foreign{.max_iterations = 10, .progress = Progress::none};
  foreign.warm_start = first.state;
  CHECK_THROWS_WITH(fit(other, foreign), StartsWith("fit: warm_start holds the state of another problem"));
}

TEST_CASE("training: results say why the loop stopped", "[training]") {
  const Problem problem = make_problem(2000, 2, 5);
  Model model;
  build(model, problem, 64, MinibatchScheme::circular_slice);
  const FitResult capped = fit(model, {.max_iterations = 500, .progress = Progress::none});
  CHECK(capped.stop_reason == StopReason::cap_reached);
  CHECK_FALSE(capped.converged);
  // iterations * batch / N, and a full pass at each re-centring of the control variate (steps 0, 100, ..., 400)
  CHECK(capped.passes == Approx(500.0 * 64 / 2000 + 5).epsilon(1e-12));
  const FitResult stopped = fit(model, {.max_iterations = 500, .progress = Progress::none}, {[](const FitState& s) { return s.iteration() < 9; }});
  CHECK(stopped.stop_reason == StopReason::callback);
  CHECK(stopped.stopped_early);
  CHECK(stopped.iterations == 10);
  const MapResult map_stopped = find_map(model, {.max_iterations = 500, .progress = Progress::none}, {[](const FitState& s) { return s.iteration() < 4; }});
  CHECK(map_stopped.stop_reason == StopReason::callback);
  CHECK(map_stopped.iterations == 5);
  CHECK_THROWS_WITH(fit(model, {.max_iterations = 10, .convergence = {.window = 50}}),
                    "fit: convergence.window is 50, but must be even and at least 48 and 24 times chains (96)");
  CHECK_THROWS_WITH(fit(model, {.max_iterations = 10, .convergence = {.rhat_threshold = 1}}),
                    "fit: convergence.rhat_threshold is 1, but must be greater than 1");
  CHECK_THROWS_WITH(find_map(model, {.max_iterations = 10, .convergence = {.mcse_tolerance = 0}}),
                    "find_map: convergence.mcse_tolerance is 0, but must be positive");
}

TEST_CASE("training: the automatic warm-up ends by max_warmup, and averages without the stopping rule too", "[training]") {
  const Problem problem = make_problem(2000, 2, 7);
  Model model;
  build(model, problem, 64, MinibatchScheme::circular_slice);
  // The first warm-up check comes at step 1,000: before it, averaging starts at max_warmup.
  const FitResult limited = fit(model, {.max_iterations = 1500, .seed = 3, .progress = Progress::none, .averaging = {.max_warmup = 500}});
  CHECK(limited.state->averaging_start == 500);
  CHECK(limited.state->average.count() == 1000);
  CHECK(limited.approximation.unconstrained_mean() != limited.last_iterate.unconstrained_mean());
  // A callback sees the average the result returns (means first, then the scales rho).
  Eigen::VectorXd seen;
  std::int64_t seen_start = -2;
  fit(model, {.max_iterations = 1500, .seed = 3, .progress = Progress::none, .averaging = {.max_warmup = 500}},
      {[&](const FitState& state) {
        seen = state.averaged();
        seen_start = state.averaging_start();
        return true;
      }});
  CHECK(seen_start == 500);
  const Eigen::Index p = limited.approximation.unconstrained_mean().size();
  CHECK(seen.head(p) == limited.approximation.unconstrained_mean());
  CHECK_THROWS_WITH(fit(model, {.max_iterations = 10, .averaging = {.max_warmup = -2}}),
                    "fit: averaging.max_warmup is -2, but must be -1 (no limit) or nonnegative");
  // Without the stopping rule the record still ends the automatic warm-up: the estimate is an average.
  const FitResult unruled = fit(model, {.max_iterations = 60000, .seed = 3, .progress = Progress::none, .convergence = {.enabled = false}});
  CHECK(unruled.stop_reason == StopReason::cap_reached);
  CHECK(unruled.state->averaging_start > 0);
  CHECK(unruled.state->averaging_start < 60000);
  CHECK(unruled.state->average.count() == 60000 - unruled.state->averaging_start);
  CHECK(unruled.approximation.unconstrained_mean() != unruled.last_iterate.unconstrained_mean());
}

namespace {
void check_fit_defaults(MinibatchScheme scheme, std::uint64_t seed) {
  const Problem problem = make_problem(10000, 10, 1000 + seed);
  Model model;
  build(model, problem, 256, scheme);
  const FitResult result = fit(model, {.seed = seed, .progress = Progress::none});
  CHECK(result.converged);
  const Array mean = result.approximation.mean().at("beta"), sd = result.approximation.sd().at("beta");
  for (int j = 0; j < 10; ++j) {
    INFO("beta[" << j << "]");
    CHECK(std::abs(mean.flat<double>(j) - problem.post_mean[j]) < 0.1 * problem.post_sd[j]);
    CHECK(sd.flat<double>(j) == Approx(problem.mean_field_sd[j]).epsilon(0.1));
  }
}
void check_map_defaults(MinibatchScheme scheme, std::uint64_t seed) {
  const Problem problem = make_problem(10000, 10, 1000 + seed);
  Model model;
  build(model, problem, 256, scheme);
  const MapResult result = find_map(model, {.seed = seed, .progress = Progress::none});
  CHECK(result.converged);
  // The prior and likelihood are Gaussian: the posterior mode is the posterior mean.
  for (int j = 0; j < 10; ++j) {
    INFO("beta[" << j << "]");
    CHECK(std::abs(result.point.at("beta").flat<double>(j) - problem.post_mean[j]) < 0.1 * problem.post_sd[j]);
  }
}
}  // namespace

namespace {
/// Fits the full-rank family with default options and checks means (0.1 sd), sds (10%) and
/// correlations against the exact posterior.
void check_full_rank(std::uint64_t seed, double correlation_tolerance) {
  const std::int64_t n = 10000, d = 4;
  const Problem problem = correlated_problem(n, d, 2000 + seed);
  const Eigen::MatrixXd covariance = (problem.x.transpose() * problem.x + Eigen::MatrixXd::Identity(d, d)).inverse();
  Model model;
  build(model, problem, 256, MinibatchScheme::circular_slice);
  const FitResult result = fit(model, {.seed = seed, .progress = Progress::none, .family = FullRankFamily{}});
  CHECK(result.approximation.family() == "FullRank");
  const Eigen::MatrixXd fitted = result.approximation.covariance();
  for (int i = 0; i < d; ++i) {
    INFO("beta[" << i << "]");
    CHECK(std::abs(result.approximation.unconstrained_mean()[i] - problem.post_mean[i]) < 0.1 * problem.post_sd[i]);
    CHECK(std::sqrt(fitted(i, i)) == Approx(problem.post_sd[i]).epsilon(0.1));
    for (int j = 0; j < i; ++j) {
      INFO("correlation with beta[" << j << "]: exact " << covariance(i, j) / std::sqrt(covariance(i, i) * covariance(j, j)));
      CHECK(std::abs(fitted(i, j) / std::sqrt(fitted(i, i) * fitted(j, j)) - covariance(i, j) / std::sqrt(covariance(i, i) * covariance(j, j))) <
            correlation_tolerance);
    }
  }
}
}  // namespace

// Offline replicates (reference/family_replicates.cpp, output in reference/family_replicates.txt),
// seeds 100-111: 11 of 12 converged, with means within 0.018 sd, sds 3.5-4.2% small (a bias of the
// constant step, not noise) and correlations within 0.035; seed 101 hit the cap far off (0.71 sd,
// correlation 0.88) and said so (converged = false). The gate here, 0.1 sd / 10% / 0.1, fails only
// in such a run: observed 1 in 12. The 0.05 on correlations is met by the converged runs.
TEST_CASE("training: fit with the full-rank family recovers the exact posterior sds and correlations", "[training][gate]") {
  check_full_rank(6, 0.1);
}

TEST_CASE("training: fit takes the family as an option and returns that family's approximation", "[training]") {
  const Problem problem = make_problem(2000, 3, 7);
  Model model;
  build(model, problem, 64, MinibatchScheme::circular_slice);
  const FitResult low = fit(model, {.max_iterations = 300, .progress = Progress::none, .family = LowRankFamily{.rank = 2}});
  CHECK(low.approximation.family() == "LowRank");
  CHECK(low.last_iterate.family() == "LowRank");
  CHECK(low.approximation.covariance().rows() == 3);
  CHECK(fit(model, {.max_iterations = 10, .progress = Progress::none}).approximation.family() == "MeanField");
  CHECK_THROWS_WITH(fit(model, {.max_iterations = 10, .family = LowRankFamily{.rank = 4}}),
                    "low_rank_objective: rank is 4, but must be in [1, 3] (the number of unconstrained parameters)");
}

TEST_CASE("training: fit with defaults converges to the exact posterior (circular slice)", "[training][gate]") {
  check_fit_defaults(MinibatchScheme::circular_slice, 1);
}
TEST_CASE("training: fit with defaults converges to the exact posterior (with replacement)", "[training][gate]") {
  check_fit_defaults(MinibatchScheme::with_replacement, 2);
}
TEST_CASE("training: find_map with defaults converges to the exact posterior mode (circular slice)", "[training][gate]") {
  check_map_defaults(MinibatchScheme::circular_slice, 3);
}
TEST_CASE("training: find_map with defaults converges to the exact posterior mode (with replacement)", "[training][gate]") {
  check_map_defaults(MinibatchScheme::with_replacement, 4);
}

}  // namespace inference_training_test
