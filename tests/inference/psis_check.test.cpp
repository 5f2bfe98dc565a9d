// psis_check against the closed-form tail of Gaussian importance ratios: for a posterior
// N(0, I) and an approximation N(0, s^2 I), the ratios p/q = exp(|u|^2 (1 - s^2) / 2) (up to a
// constant, u ~ N(0, I)) have a Pareto tail of shape k = 1 - s^2 when s < 1 (0.96 at s = 0.2)
// and are bounded when s > 1 (k <= 0). Offline over seeds 0-19: s = 0.2 with 20,000 draws gave
// k-hat 0.85 to 1.17 (sd about 0.09: the check k-hat > 0.7 sits 3.7 sd below the mean, a
// false-failure rate near 1e-4); s = 1.5 with 4,000 draws gave -0.68 to -0.43 (check < 0.5).
#include <catch2/catch.hpp>

#include "symbatch/distributions/continuous.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/inference/mean_field.hpp"
#include "symbatch/inference/psis_check.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace inference_psis_check_test {

using namespace symbatch;

namespace {
MeanField isotropic(const Model& model, double sd) {
  return MeanField(model.free_variables(), {{"z", Array::full<double>(Shape{3}, 0.0), Array::full<double>(Shape{3}, sd)}});
}
}  // namespace

TEST_CASE("psis_check: too narrow an approximation is flagged, a wider one is not", "[psis_check]") {
  Model model;
  model.free("z", Normal(0.0, 1.0), {.shape = {3}});
  const PsisCheck narrow = psis_check(model, isotropic(model, 0.2), 20000, 1);
  CHECK(narrow.khat > 0.7);
  CHECK_FALSE(narrow.reliable());
  const PsisCheck wide = psis_check(model, isotropic(model, 1.5), 4000, 1);
  CHECK(wide.khat < 0.5);
  CHECK(wide.reliable());
  CHECK(wide.draws == 4000);
  CHECK(wide.threshold == Approx(0.7));
}

TEST_CASE("psis_check: bad arguments are refused by name", "[psis_check]") {
  Model model;
  model.free("z", Normal(0.0, 1.0), {.shape = {3}});
  CHECK_THROWS_WITH(psis_check(model, isotropic(model, 1.0), 5), "psis_check: draws is 5, but must be at least 20");
  Model other;
  other.free("z", Normal(0.0, 1.0), {.shape = {2}});
  CHECK_THROWS_WITH(psis_check(other, isotropic(model, 1.0)), "psis_check: the approximation has 3 parameters, but the model has 2");
}

TEST_CASE("psis_check: fit reports k-hat when asked, and refuses too few draws", "[psis_check]") {
  // One Gaussian parameter (prior N(0, 10^2), four rows of N(mu, 1)): the posterior is
  // N(0.748, 0.499^2), which mean-field represents exactly, so a converged fit is reliable.
  Model model;
  const Variable mu = model.free("mu", Normal(0.0, 10.0));
  model.observed("y", Normal(mu, 1.0), constant(Array::from(std::vector<double>{0.5, 1.5, 1.0, 0.0})));
  const FitResult result = fit(model, {.seed = 3, .progress = Progress::none, .psis_draws = 1000});
  REQUIRE(result.psis.has_value());
  CHECK(result.psis->draws == 1000);
  CHECK(result.psis->reliable());
  CHECK_FALSE(fit(model, {.max_iterations = 10, .progress = Progress::none}).psis.has_value());
  CHECK_THROWS_WITH(fit(model, {.max_iterations = 10, .psis_draws = 5}), "fit: psis_draws is 5, but must be 0 (no check) or at least 20");
}

}  // namespace inference_psis_check_test
