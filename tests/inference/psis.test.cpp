// PSIS against loo 2.5.1 (R) on the deterministic log-ratios of reference/make_draws.py;
// constants printed by reference/psis.R with 17 significant digits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "inference/reference/draws.hpp"
#include "symbatch/inference/psis.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace inference_psis_test {

using namespace symbatch;

namespace {

struct PsisReference {
  const char* name;
  Eigen::VectorXd (*log_ratios)();
  double relative_efficiency, pareto_k;
  std::int64_t tail_length;
  int indices[6];  // the 3 largest log-ratios, the first of the tail, the 2 smallest
  double smoothed[6];
  double log_sum_exp;
};

double log_sum_exp(const Eigen::VectorXd& x) {
  const double top = x.maxCoeff();
  return top + std::log((x.array() - top).exp().sum());
}

// Agreement is to rounding (about 1e-14); 1e-10 is the brief's bound.
constexpr double tolerance = 1e-10;

}  // namespace

TEST_CASE("psis: k-hat and smoothed log-weights as loo::psis computes them", "[psis]") {
  using namespace test_reference;
  constexpr double inf = std::numeric_limits<double>::infinity();
  // Log-ratios a theta^2 with theta ~ N(0, 1) (approximately) have tail index 2a: 0.3, 0.6, 0.9.
  // log_ratios_50 has a tail of 10 draws; log_ratios_20 one of 4, too short to fit (k = inf).
  const PsisReference references[] = {
      {"log_ratios_k03_1000", log_ratios_k03_1000, 1, 0.20416445414137957, 95, {132, 373, 986, 911, 546, 497},
       {1.4754135738400551, 1.4047341914090441, 1.2893381553482777, 0.41544004591284533, 9.4886005386207728e-07, 2.2277819047289427e-06},
       7.0808275985808082},
      {"log_ratios_k06_4000", log_ratios_k06_4000, 1, 0.60529644398203453, 190, {2607, 2977, 2221, 3512, 2901, 1932},
       {4.3759182848112843, 3.7235640856070606, 3.4236834491649022, 1.17140217845462, 8.429433595580349e-08, 1.4501396883304096e-07},
       8.7315714558980524},
      {"log_ratios_k09_1000", log_ratios_k09_1000, 1, 0.70809506805175526, 95, {305, 438, 617, 608, 854, 430},
       {4.8752917383822005, 4.10940286342408, 3.7485092756297442, 1.2086042976760973, 3.1223313801120867e-07, 3.3097280738303425e-07},
       7.6800035378098137},
      {"log_ratios_k03_1000 with r_eff 0.5", log_ratios_k03_1000, 0.5, 0.2271229572297721, 135, {132, 373, 986, 968, 546, 497},
       {1.4754135738400551, 1.4144440907203113, 1.2941853353270565, 0.33025560454751335, 9.4886005386207728e-07, 2.2277819047289427e-06},
       7.0806833341116846},
      {"log_ratios_50", log_ratios_50, 1, 0.75924004947508272, 10, {26, 41, 42, 18, 1, 2},
       {1.4639998545738528, 0.96917393881103053, 0.77224364434881509, 0.42597853915332529, 4.2558919455260025e-07, 0.00016501310555883109},
       4.1818661104679702},
      {"log_ratios_20", log_ratios_20, 1, inf, 4, {17, 1, 2, 4, 6, 15},
       {2.06391598036276, 1.6062673221167332, 1.0542735488104524, 0.90668428510833698, 1.8950594774302942e-05, 0.0015208017220151859},
       3.6105350229335995},
  };
  PsisWorkspace workspace;  // one workspace across lengths
  for (const auto& reference : references) {
    const Eigen::VectorXd log_ratios = reference.log_ratios();
    Eigen::VectorXd smoothed(log_ratios.size());
    const PsisResult result = psis(log_ratios, smoothed, workspace, reference.relative_efficiency);
    INFO(reference.name);
    CHECK(result.tail_length == reference.tail_length);
    if (std::isinf(reference.pareto_k)) {
      CHECK(result.pareto_k == inf);
    } else {
      CHECK(result.pareto_k == Approx(reference.pareto_k).epsilon(tolerance).margin(0));
    }
    for (int i = 0; i < 6; ++i) {
      INFO("index " << reference.indices[i]);
      CHECK(smoothed[reference.indices[i]] == Approx(reference.smoothed[i]).epsilon(tolerance).margin(0));
    }
    CHECK(log_sum_exp(smoothed) == Approx(reference.log_sum_exp).epsilon(tolerance).margin(0));
  }
}

TEST_CASE("psis: weights below the tail are unchanged and none exceeds the largest raw ratio", "[psis]") {
  const Eigen::VectorXd log_ratios = test_reference::log_ratios_k09_1000().array() - 1234.5;  // shift-invariant
  Eigen::VectorXd smoothed(log_ratios.size());
  const PsisResult result = psis(log_ratios, smoothed);
  int changed = 0;
  for (Eigen::Index s = 0; s < log_ratios.size(); ++s) {
    if (smoothed[s] != log_ratios[s]) ++changed;
    CHECK(smoothed[s] <= log_ratios.maxCoeff());
  }
  CHECK(changed <= result.tail_length);
  CHECK(result.pareto_k == Approx(0.70809506805175526).epsilon(1e-9));
}

TEST_CASE("generalized_pareto_fit: Zhang-Stephens with loo's weakly informative prior", "[psis]") {
  // R: loo::gpdfit(sort(exp(lr[1:20]) - exp(lr[21]))), lr the decreasingly sorted log_ratios_k06_4000.
  Eigen::VectorXd sorted = test_reference::log_ratios_k06_4000();
  std::sort(sorted.data(), sorted.data() + sorted.size(), std::greater<>());
  Eigen::VectorXd exceedances(20);
  for (int j = 0; j < 20; ++j) exceedances[j] = std::exp(sorted[19 - j]) - std::exp(sorted[20]);
  PsisWorkspace workspace;
  const GeneralizedParetoFit fit = generalized_pareto_fit(exceedances, workspace);
  CHECK(fit.k == Approx(0.63591833081867333).epsilon(tolerance).margin(0));
  CHECK(fit.sigma == Approx(5.2358190671925797).epsilon(tolerance).margin(0));
}

TEST_CASE("generalized_pareto_fit: bad arguments are named", "[psis]") {
  PsisWorkspace workspace;
  Eigen::VectorXd one(1), unsorted(4), negative(3);
  one << 1.0;
  unsorted << 0.1, 0.75, 0.75, 0.5;
  negative << -0.5, 1.0, 2.0;
  CHECK_THROWS_WITH(generalized_pareto_fit(one, workspace), "generalized_pareto_fit: exceedances has length 1, but needs at least 2");
  CHECK_THROWS_WITH(generalized_pareto_fit(unsorted, workspace),
                    "generalized_pareto_fit: exceedances[3] is 0.5, but must be at least exceedances[2] = 0.75 (sorted "
                    "ascending) and nonnegative");
  CHECK_THROWS_WITH(generalized_pareto_fit(negative, workspace),
                    "generalized_pareto_fit: exceedances[0] is -0.5, but must be at least 0 (sorted ascending) and nonnegative");
}

TEST_CASE("psis: smooths in place when the output is the input", "[psis]") {
  Eigen::VectorXd in_place = test_reference::log_ratios_k06_4000();
  Eigen::VectorXd separate(in_place.size());
  psis(in_place, separate);
  psis(in_place, in_place);
  CHECK(in_place == separate);
}

TEST_CASE("psis_khat_threshold: min(1 - 1/log10(S), 0.7)", "[psis]") {
  CHECK(psis_khat_threshold(100) == Approx(0.5).epsilon(1e-15));
  CHECK(psis_khat_threshold(1000) == Approx(2.0 / 3.0).epsilon(1e-15));
  CHECK(psis_khat_threshold(2000) == Approx(1 - 1 / std::log10(2000.0)).epsilon(1e-15));
  CHECK(psis_khat_threshold(2154) < 0.7);
  CHECK(psis_khat_threshold(2155) == 0.7);
  CHECK(psis_khat_threshold(2200) == 0.7);
  CHECK(psis_khat_threshold(100000) == 0.7);
}

TEST_CASE("psis: bad arguments are named", "[psis]") {
  Eigen::VectorXd one(1), out1(1), three(3), out2(2);
  one << 0.5;
  three << 0.1, NAN, 0.3;
  CHECK_THROWS_WITH(psis(one, out1), "psis: log_ratios has length 1, but needs at least 2");
  CHECK_THROWS_WITH(psis(three, out2), "psis: smoothed_log_weights has length 2, but log_ratios has length 3");
  Eigen::VectorXd out3(3);
  CHECK_THROWS_WITH(psis(three, out3), "psis: log_ratios[1] is nan, but must be finite");
  three[1] = -INFINITY;
  CHECK_THROWS_WITH(psis(three, out3), "psis: log_ratios[1] is -inf, but must be finite");
  three[1] = 0.2;
  CHECK_THROWS_WITH(psis(three, out3, 0.0), "psis: relative_efficiency is 0, but must be positive");
}

}  // namespace inference_psis_test
