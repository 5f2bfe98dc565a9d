// FFT autocovariance against posterior's (R, constants from tests/inference/reference/rhat_ess.R)
// and against the defining sum evaluated directly.
#include <catch2/catch.hpp>

#include <cmath>

#include "inference/reference/draws.hpp"
#include "symbatch/inference/autocovariance.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace inference_autocovariance_test {

using namespace symbatch;

TEST_CASE("autocovariance: posterior's values for an AR(1) chain", "[autocovariance]") {
  // R: posterior:::autocovariance(ar1_4x1000[, 1]) at lags 0, 1, 2, 10, 100, 999.
  const Eigen::VectorXd chain = test_reference::ar1_4x1000().col(0);
  const Eigen::VectorXd gamma = autocovariance(chain);
  const int lags[] = {0, 1, 2, 10, 100, 999};
  const double expected[] = {5.111273626664798,    4.5791686240185578,    4.0896307382433124,
                             2.3278592034868835,   -0.31144979786552263,  0.0027062048862711531};
  // Every lag carries an absolute rounding error of about 1e-16 log2(m) gamma_0 (file comment),
  // so lags with small autocovariance are compared relative to gamma_0.
  for (int i = 0; i < 6; ++i) {
    INFO("lag " << lags[i]);
    CHECK(std::abs(gamma[lags[i]] - expected[i]) < 1e-13 * expected[0]);
  }
}

TEST_CASE("autocovariance: equals the direct sum for short and odd lengths", "[autocovariance]") {
  test_reference::Stream stream(99);
  AutocovarianceWorkspace workspace;  // reused across lengths: regrows and recomputes its twiddles
  for (const int n : {1, 2, 3, 7, 64, 100, 129}) {
    Eigen::VectorXd x(n);
    for (int i = 0; i < n; ++i) x[i] = stream.normal_like() + 3.0;
    const double mean = x.mean();
    Eigen::VectorXd gamma(n);
    autocovariance(x, gamma, workspace);
    double scale = 0;
    for (int i = 0; i < n; ++i) scale += (x[i] - mean) * (x[i] - mean) / n;
    for (int t = 0; t < n; ++t) {
      double direct = 0;
      for (int i = 0; i + t < n; ++i) direct += (x[i] - mean) * (x[i + t] - mean);
      direct /= n;
      INFO("n = " << n << ", lag " << t);
      CHECK(std::abs(gamma[t] - direct) <= 1e-14 * scale);
    }
  }
}

TEST_CASE("autocovariance: bad sizes are named", "[autocovariance]") {
  AutocovarianceWorkspace workspace;
  Eigen::VectorXd empty(0), out(0), three = Eigen::VectorXd::Ones(3), two(2);
  CHECK_THROWS_WITH(autocovariance(empty, out, workspace), "autocovariance: sequence has length 0, but must not be empty");
  CHECK_THROWS_WITH(autocovariance(three, two, workspace),
                    "autocovariance: out has length 2, but the sequence has length 3");
}

}  // namespace inference_autocovariance_test
