// R-hat against posterior 1.4.0 (R) on the deterministic data sets of reference/make_draws.py;
// constants printed by reference/rhat_ess.R with 17 significant digits.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "inference/reference/draws.hpp"
#include "symbatch/inference/rhat.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace inference_rhat_test {

using namespace symbatch;

namespace {

struct ChainReference {
  std::string name;
  double rhat, rhat_basic, ess_bulk, ess_basic, mcse_mean;
};

Eigen::MatrixXd data_set(const std::string& name) {
  using namespace test_reference;
  if (name == "ar1_4x1000") return ar1_4x1000();
  if (name == "ar1_shifted_3x1003") return ar1_shifted_3x1003();
  if (name == "antithetic_1x2000") return antithetic_1x2000();
  if (name == "heavy_2x501") return heavy_2x501();
  return ties_4x250();
}

// Agreement is to rounding (about 1e-14); 1e-10 is the brief's bound.
constexpr double tolerance = 1e-10;

}  // namespace

TEST_CASE("reference draws: the C++ generator reproduces make_draws.py bit for bit", "[rhat]") {
  // First and last values as make_draws.py prints them (repr: exact round trip).
  CHECK(test_reference::ar1_4x1000()(0, 0) == 0.8935039818736952);
  CHECK(test_reference::ar1_4x1000()(999, 3) == 1.2800584056023045);
  CHECK(test_reference::ar1_shifted_3x1003()(1002, 2) == -2.202314566137284);
  CHECK(test_reference::antithetic_1x2000()(1999, 0) == -1.2840137286033744);
  CHECK(test_reference::heavy_2x501()(500, 1) == 1.2594756032470933);
  CHECK(test_reference::ties_4x250()(249, 3) == -2.0);
  CHECK(test_reference::iterates_3000x3()(0, 0) == -0.06165740184896471);
  CHECK(test_reference::iterates_3000x3()(2999, 2) == 1.9958725403381539);
  CHECK(test_reference::log_ratios_k06_4000()[3999] == 0.19136760031414224);
  CHECK(test_reference::log_ratios_20()[19] == 0.004422988927015025);
}

TEST_CASE("rhat, rhat_basic: posterior's values on AR(1), heavy-tailed, tied and odd-length chains", "[rhat]") {
  const ChainReference references[] = {
      {"ar1_4x1000", 1.0301073214945213, 1.0297918415566705, 159.58657511297403, 159.31090466294543, 0.18455120115454079},
      {"ar1_shifted_3x1003", 1.0051471817000317, 1.0028981855419798, 301.19376058383159, 302.27436308745558, 0.098179630078628469},
      {"antithetic_1x2000", 0.99959045637144783, 0.99958127182169731, 6602.0599913279621, 6602.0599913279621, 0.015734253399354924},
      {"heavy_2x501", 1.0199328078765182, 1.0138451977797394, 269.02848294717859, 351.76418057602558, 0.15081690137430553},
      {"ties_4x250", 1.005235284988973, 1.0052829718305374, 555.91020578505163, 556.34734145161315, 0.044869851607575686},
  };
  RankWorkspace workspace;  // one workspace across data sets of different shapes
  for (const auto& reference : references) {
    const Eigen::MatrixXd draws = data_set(reference.name);
    INFO(reference.name);
    CHECK(rhat(draws, workspace) == Approx(reference.rhat).epsilon(tolerance).margin(0));
    CHECK(rhat_basic(draws, workspace) == Approx(reference.rhat_basic).epsilon(tolerance).margin(0));
    CHECK(rhat(draws) == Approx(reference.rhat).epsilon(tolerance).margin(0));
  }
}

TEST_CASE("rhat_of_windows: split-R-hat of the last iterates per parameter, as posterior on the windows", "[rhat]") {
  // R: rhat(matrix(x[(T - K L + 1):T, p], L, K)) with L = floor(W / K).
  struct WindowReference {
    int window_length, windows, parameter;
    double rhat, rhat_basic;
  };
  const WindowReference references[] = {
      {2000, 1, 0, 1.000208237838047, 0.9999944117619658},   {2000, 1, 1, 1.0169041597714978, 1.0168958342306837},
      {2000, 1, 2, 1.0694595633577852, 1.0703040804783377},  {2000, 4, 0, 1.0054516947360082, 1.0055650968950809},
      {2000, 4, 1, 1.0304567956163511, 1.0305067271360009},  {2000, 4, 2, 1.1094023011786407, 1.1119441996328341},
      {999, 2, 0, 1.0045614758012085, 1.0049300213390557},   {999, 2, 1, 1.0046377582735089, 0.99971344389341632},
      {999, 2, 2, 1.0209135592481884, 1.0207366938585736},   {3000, 3, 0, 1.0045749932661063, 1.0045090181453442},
      {3000, 3, 1, 1.5236169625264617, 1.8268440283662748},  {3000, 3, 2, 1.7070936173789921, 2.1617682636108837},
  };
  const Eigen::MatrixXd iterates = test_reference::iterates_3000x3();
  RankWorkspace workspace;
  Eigen::VectorXd rank_normalized(3), basic(3);
  for (const auto& reference : references) {
    rhat_of_windows(iterates, reference.window_length, reference.windows, RhatKind::rank_normalized, rank_normalized, workspace);
    rhat_of_windows(iterates, reference.window_length, reference.windows, RhatKind::basic, basic, workspace);
    INFO("window " << reference.window_length << ", windows " << reference.windows << ", parameter " << reference.parameter);
    CHECK(rank_normalized[reference.parameter] == Approx(reference.rhat).epsilon(tolerance).margin(0));
    CHECK(basic[reference.parameter] == Approx(reference.rhat_basic).epsilon(tolerance).margin(0));
  }
}

TEST_CASE("rhat: constant draws have no R-hat (NaN, posterior's NA)", "[rhat]") {
  const Eigen::MatrixXd constant = Eigen::MatrixXd::Constant(10, 2, 1.5);
  CHECK(std::isnan(rhat(constant)));
  CHECK(std::isnan(rhat_basic(constant)));
  // Symmetric around the median: the folded draws are all equal, so the tail R-hat is undefined.
  Eigen::MatrixXd two_values(4, 1);
  two_values << -1, 1, -1, 1;
  CHECK(std::isnan(rhat(two_values)));
  CHECK(std::isfinite(rhat_basic(two_values)));
}

TEST_CASE("rhat, rhat_of_windows: bad arguments are named", "[rhat]") {
  const Eigen::MatrixXd three_rows = Eigen::MatrixXd::Random(3, 2);
  CHECK_THROWS_WITH(rhat(three_rows), "rhat: draws has 3 rows (iterations), but needs at least 4");
  CHECK_THROWS_WITH(rhat_basic(three_rows), "rhat_basic: draws has 3 rows (iterations), but needs at least 4");
  CHECK_THROWS_WITH(rhat(Eigen::MatrixXd(5, 0)), "rhat: draws has 0 columns (chains), but needs at least 1");
  Eigen::MatrixXd with_nan = Eigen::MatrixXd::Random(6, 2);
  with_nan(4, 0) = NAN;
  CHECK_THROWS_WITH(rhat(with_nan), "rhat: draws(4, 0) is nan, but must be finite");

  const Eigen::MatrixXd iterates = Eigen::MatrixXd::Random(400, 3);
  Eigen::VectorXd out(3), short_out(2);
  RankWorkspace workspace;
  CHECK_THROWS_WITH(rhat_of_windows(iterates, 100, 0, RhatKind::basic, out, workspace),
                    "rhat_of_windows: windows is 0, but must be at least 1");
  CHECK_THROWS_WITH(rhat_of_windows(iterates, 500, 1, RhatKind::basic, out, workspace),
                    "rhat_of_windows: window_length is 500, but iterates has only 400 rows");
  CHECK_THROWS_WITH(rhat_of_windows(iterates, 6, 2, RhatKind::basic, out, workspace),
                    "rhat_of_windows: window_length 6 gives windows of 3 iterations, but each needs at least 4");
  CHECK_THROWS_WITH(rhat_of_windows(iterates, 100, 1, RhatKind::basic, short_out, workspace),
                    "rhat_of_windows: out has length 2, but iterates has 3 columns (parameters)");
}

}  // namespace inference_rhat_test
