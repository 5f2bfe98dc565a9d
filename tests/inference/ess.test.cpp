// ESS and MCSE against posterior 1.4.0 (R) on the deterministic data sets of
// reference/make_draws.py; constants printed by reference/rhat_ess.R with 17 significant digits.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "inference/reference/draws.hpp"
#include "symbatch/inference/ess.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace inference_ess_test {

using namespace symbatch;

namespace {

struct EssReference {
  const char* name;
  Eigen::MatrixXd (*draws)();
  double ess_bulk, ess_basic, mcse_mean;
};

// Agreement is to rounding (about 1e-13: FFT against R's FFT); 1e-10 is the brief's bound.
constexpr double tolerance = 1e-10;

}  // namespace

TEST_CASE("ess_bulk, ess_basic, mcse_mean: posterior's values on AR(1), antithetic, heavy-tailed and tied chains", "[ess]") {
  using namespace test_reference;
  // antithetic_1x2000 hits the cap ESS <= S log10(S) (posterior warns "The ESS has been capped").
  const EssReference references[] = {
      {"ar1_4x1000", ar1_4x1000, 159.58657511297403, 159.31090466294543, 0.18455120115454079},
      {"ar1_shifted_3x1003", ar1_shifted_3x1003, 301.19376058383159, 302.27436308745558, 0.098179630078628469},
      {"antithetic_1x2000", antithetic_1x2000, 6602.0599913279621, 6602.0599913279621, 0.015734253399354924},
      {"heavy_2x501", heavy_2x501, 269.02848294717859, 351.76418057602558, 0.15081690137430553},
      {"ties_4x250", ties_4x250, 555.91020578505163, 556.34734145161315, 0.044869851607575686},
  };
  EssWorkspace workspace;  // one workspace across data sets of different shapes
  for (const auto& reference : references) {
    const Eigen::MatrixXd draws = reference.draws();
    INFO(reference.name);
    CHECK(ess_bulk(draws, workspace) == Approx(reference.ess_bulk).epsilon(tolerance).margin(0));
    CHECK(ess_basic(draws, workspace) == Approx(reference.ess_basic).epsilon(tolerance).margin(0));
    CHECK(mcse_mean(draws, workspace) == Approx(reference.mcse_mean).epsilon(tolerance).margin(0));
    CHECK(mcse_mean(draws) == Approx(reference.mcse_mean).epsilon(tolerance).margin(0));
  }
}

TEST_CASE("ess_bulk, ess_basic, mcse_mean: posterior's values on the last 2000 iterates of an optimisation", "[ess]") {
  // One chain per parameter, read in place from the iterate matrix. Parameter 2 still drifts:
  // Geyer's sequence runs past the direct lags (8 log2(1000) = 80), so the FFT path is used.
  struct IterateReference {
    int parameter;
    double ess_bulk, ess_basic, mcse_mean;
  };
  const IterateReference references[] = {
      {0, 377.39735690509656, 373.61535873457211, 0.003737218646731814},
      {1, 229.79485386847674, 226.58619123567982, 0.0093340244990079459},
      {2, 11.663130884108377, 11.501823325456316, 0.066007006153438103},
  };
  const Eigen::MatrixXd iterates = test_reference::iterates_3000x3();
  EssWorkspace workspace;
  for (const auto& reference : references) {
    const auto window = iterates.col(reference.parameter).tail(2000);
    INFO("parameter " << reference.parameter);
    CHECK(ess_bulk(window, workspace) == Approx(reference.ess_bulk).epsilon(tolerance).margin(0));
    CHECK(ess_basic(window, workspace) == Approx(reference.ess_basic).epsilon(tolerance).margin(0));
    CHECK(mcse_mean(window, workspace) == Approx(reference.mcse_mean).epsilon(tolerance).margin(0));
  }
}

TEST_CASE("ess: one column of an iterate matrix is a chain, read in place", "[ess]") {
  // The same numbers as the first chain alone, passed as a block of a larger matrix.
  const Eigen::MatrixXd chains = test_reference::ar1_4x1000();
  const Eigen::MatrixXd first = chains.col(0);
  EssWorkspace workspace;
  CHECK(ess_basic(chains.col(0), workspace) == ess_basic(first, workspace));
  CHECK(mcse_mean(chains.col(0), workspace) == mcse_mean(first, workspace));
}

TEST_CASE("ess: constant draws have no ESS (NaN, posterior's NA)", "[ess]") {
  const Eigen::MatrixXd constant = Eigen::MatrixXd::Constant(10, 2, -0.25);
  CHECK(std::isnan(ess_bulk(constant)));
  CHECK(std::isnan(ess_basic(constant)));
  CHECK(std::isnan(mcse_mean(constant)));
}

TEST_CASE("ess_bulk, ess_basic, mcse_mean: bad arguments are named", "[ess]") {
  const Eigen::MatrixXd five_rows = Eigen::MatrixXd::Random(5, 2);
  CHECK_THROWS_WITH(ess_bulk(five_rows), "ess_bulk: draws has 5 rows (iterations), but needs at least 6");
  CHECK_THROWS_WITH(ess_basic(five_rows), "ess_basic: draws has 5 rows (iterations), but needs at least 6");
  CHECK_THROWS_WITH(mcse_mean(five_rows), "mcse_mean: draws has 5 rows (iterations), but needs at least 6");
  CHECK_THROWS_WITH(ess_basic(Eigen::MatrixXd(8, 0)), "ess_basic: draws has 0 columns (chains), but needs at least 1");
  Eigen::MatrixXd with_inf = Eigen::MatrixXd::Random(8, 1);
  with_inf(7, 0) = INFINITY;
  CHECK_THROWS_WITH(mcse_mean(with_inf), "mcse_mean: draws(7, 0) is inf, but must be finite");
}

}  // namespace inference_ess_test
