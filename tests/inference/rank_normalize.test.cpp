// Rank normalization, folding and splitting against R (posterior 1.4.0, R's qnorm); constants
// printed by tests/inference/reference/rhat_ess.R and the one-liners quoted below.
#include <catch2/catch.hpp>

#include <cmath>

#include "symbatch/inference/rank_normalize.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace inference_rank_normalize_test {

using namespace symbatch;

TEST_CASE("normal_quantile: agrees with R's qnorm to the last digits from 1e-300 to 1 - 1e-10", "[rank_normalize]") {
  const double p[] = {1e-300, 1e-20, 1e-10, 0.001, 0.075, 0.3, 0.5, 0.7, 0.925, 0.999, 1 - 1e-10};
  const double qnorm[] = {-37.047096299361201, -9.2623400897984052, -6.3613409024040557, -3.0902323061678132,
                          -1.4395314709384557, -0.52440051270804067, 0,  0.52440051270804067, 1.4395314709384559,
                          3.0902323061678132,  6.3613408896974208};
  for (int i = 0; i < 11; ++i) {
    INFO("p = " << p[i]);
    CHECK(normal_quantile(p[i]) == Approx(qnorm[i]).epsilon(1e-15).margin(0));
  }
  CHECK(normal_quantile(0.0) == -INFINITY);
  CHECK(normal_quantile(1.0) == INFINITY);
  CHECK(std::isnan(normal_quantile(1.5)));
  CHECK(std::isnan(normal_quantile(NAN)));
}

TEST_CASE("rank_normalize: pooled ranks with ties averaged, as posterior's z_scale", "[rank_normalize]") {
  // R: x <- matrix(c(3, 1, 3, 2, 5, 0.5), 3, 2); posterior:::z_scale(x)
  Eigen::MatrixXd draws(3, 2);
  draws << 3, 2, 1, 5, 3, 0.5;
  const double expected[] = {0.41246312944140484, -0.64334540539291685, 0.41246312944140484,
                             -0.20189347914185091, 1.2815515655446008,  -1.2815515655446008};
  Eigen::MatrixXd out;
  std::vector<std::pair<double, std::int64_t>> sorted;
  rank_normalize(draws, out, sorted);
  for (int i = 0; i < 6; ++i) CHECK(out.data()[i] == Approx(expected[i]).epsilon(1e-15).margin(0));
}

TEST_CASE("fold_draws: distance from the median of all draws", "[rank_normalize]") {
  // R: posterior:::fold_draws(x) for the matrix above (even count: median 2.5) and for c(4,1,7,2,9).
  Eigen::MatrixXd draws(3, 2);
  draws << 3, 2, 1, 5, 3, 0.5;
  Eigen::MatrixXd out;
  std::vector<double> scratch;
  fold_draws(draws, out, scratch);
  const double expected[] = {0.5, 1.5, 0.5, 0.5, 2.5, 2};
  for (int i = 0; i < 6; ++i) CHECK(out.data()[i] == expected[i]);
  Eigen::MatrixXd odd(5, 1);
  odd << 4, 1, 7, 2, 9;
  fold_draws(odd, out, scratch);
  CHECK(out(0, 0) == 0);
  CHECK(out(4, 0) == 5);
  CHECK_THROWS_WITH(fold_draws(Eigen::MatrixXd(0, 2), out, scratch), "fold_draws: draws is empty, but its median is needed");
}

TEST_CASE("split_chains: halves become chains and an odd chain drops its middle draw", "[rank_normalize]") {
  // R: posterior:::.split_chains(matrix(c(4, 1, 7, 2, 9), 5, 1)) is rbind(c(4, 2), c(1, 9)).
  Eigen::MatrixXd draws(5, 1);
  draws << 4, 1, 7, 2, 9;
  Eigen::MatrixXd out;
  split_chains(draws, out);
  REQUIRE(out.rows() == 2);
  REQUIRE(out.cols() == 2);
  CHECK(out(0, 0) == 4);
  CHECK(out(1, 0) == 1);
  CHECK(out(0, 1) == 2);
  CHECK(out(1, 1) == 9);
}

TEST_CASE("check_finite_draws: names the first non-finite draw", "[rank_normalize]") {
  Eigen::MatrixXd draws = Eigen::MatrixXd::Zero(4, 2);
  draws(2, 1) = NAN;
  CHECK_THROWS_WITH(check_finite_draws("rhat", draws), "rhat: draws(2, 1) is nan, but must be finite");
  draws(2, 1) = -INFINITY;
  CHECK_THROWS_AS(check_finite_draws("rhat", draws), std::domain_error);
}

}  // namespace inference_rank_normalize_test
