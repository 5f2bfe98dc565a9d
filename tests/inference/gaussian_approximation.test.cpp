// The Gaussian families' approximations (MeanField, FullRank, LowRank): exact constrained
// moments with their method, covariance and entropy against explicit closed forms, sampling
// statistics with fixed seeds, and the constructors' errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>

#include "symbatch/distributions/continuous.hpp"
#include "symbatch/inference/full_rank.hpp"
#include "symbatch/inference/low_rank.hpp"
#include "symbatch/inference/mean_field.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace inference_gaussian_approximation_test {

using namespace symbatch;

namespace {

// Free variables a (Normal, shape (2,), untransformed), s (HalfNormal: log transform) and
// p (Uniform(0, 1): interval transform): P = 4 unconstrained coordinates.
Model three_kinds() {
  Model model;
  model.free("a", Normal(0.0, 1.0), {.shape = {2}});
  model.free("s", HalfNormal(1.0));
  model.free("p", Uniform(0.0, 1.0));
  return model;
}

// The determinant of a 4 x 4 matrix by cofactor expansion (a reference independent of Eigen's
// factorisations).
double determinant(const Eigen::MatrixXd& m) {
  if (m.rows() == 1) return m(0, 0);
  double total = 0;
  for (Eigen::Index j = 0; j < m.cols(); ++j) {
    Eigen::MatrixXd minor(m.rows() - 1, m.cols() - 1);
    for (Eigen::Index r = 1; r < m.rows(); ++r)
      for (Eigen::Index c = 0, k = 0; c < m.cols(); ++c)
        if (c != j) minor(r - 1, k++) = m(r, c);
    total += (j % 2 == 0 ? 1 : -1) * m(0, j) * determinant(minor);
  }
  return total;
}

double gaussian_entropy(const Eigen::MatrixXd& covariance) {
  const double p = static_cast<double>(covariance.rows());
  return 0.5 * std::log(determinant(covariance)) + 0.5 * p * (1 + std::log(2 * std::numbers::pi));
}

const Eigen::Vector4d mean_vector(0.5, -1.0, 0.2, 0.7);

Eigen::MatrixXd cholesky_example() {
  Eigen::MatrixXd l(4, 4);
  l << 0.5, 0, 0, 0,  //
      0.3, 2.0, 0, 0,  //
      -0.2, 0.1, 0.3, 0,  //
      0.4, 0.0, 0.5, 0.9;
  return l;
}

}  // namespace

TEST_CASE("MeanField: constrained moments are exact and say how they were computed", "[families][moments]") {
  const Model model = three_kinds();
  const MeanField q(model.free_variables(), {{"a", Array::from({1.0, -1.0}), Array::from({0.5, 2.0})},
                                              {"s", Array::scalar(0.2), Array::scalar(0.3)},
                                              {"p", Array::scalar(0.7), Array::scalar(1.0)}});
  const auto moments = q.moments();
  CHECK(moments.at("a").method == MomentMethod::exact);
  CHECK(moments.at("a").mean.to_vector() == std::vector<double>{1.0, -1.0});
  CHECK(moments.at("a").sd.to_vector() == std::vector<double>{0.5, 2.0});
  // Log-normal: mean e^(0.2 + 0.045), sd mean sqrt(e^0.09 - 1) (20 digits by mpmath).
  CHECK(moments.at("s").method == MomentMethod::closed_form);
  CHECK(moments.at("s").mean.item() == Approx(1.2776213132048866107).epsilon(1e-15));
  CHECK(moments.at("s").sd.item() == Approx(0.39207424143227569617).epsilon(1e-14));
  // Logistic-normal (mu 0.7, sigma 1): mpmath's 0.64115588112722934012 and variance 0.038116657944549194584.
  CHECK(moments.at("p").method == MomentMethod::quadrature);
  CHECK(moments.at("p").mean.item() == Approx(0.64115588112722934012).epsilon(1e-14));
  CHECK(moments.at("p").sd.item() == Approx(std::sqrt(0.038116657944549194584)).epsilon(1e-13));
  // symbatch 0.1's signature still compiles and gives the same exact numbers.
  CHECK(q.moments(20000, 4).at("s").mean.item() == moments.at("s").mean.item());
  CHECK(q.mean(100).at("p").item() == moments.at("p").mean.item());
  CHECK(q.sd().at("s").item() == moments.at("s").sd.item());
  CHECK(q.family() == "MeanField");
}

TEST_CASE("FullRank and LowRank: marginal moments, covariance and entropy against closed forms", "[families]") {
  const Model model = three_kinds();
  const Eigen::MatrixXd l = cholesky_example();
  const FullRank full(model.free_variables(), mean_vector, l);
  const Eigen::MatrixXd covariance = l * l.transpose();
  CHECK((full.covariance() - covariance).cwiseAbs().maxCoeff() < 1e-15);
  CHECK(full.entropy() == Approx(gaussian_entropy(covariance)).epsilon(1e-13));
  // Marginal of s: N(0.2, 0.2^2 + 0.1^2 + 0.3^2): log-normal moments of that sd.
  const double s_sd = std::sqrt(0.04 + 0.01 + 0.09 + 0.0);
  const auto moments = full.moments();
  CHECK(moments.at("s").mean.item() == Approx(std::exp(0.2 + s_sd * s_sd / 2)).epsilon(1e-15));
  CHECK(moments.at("a").sd.to_vector()[1] == Approx(std::sqrt(0.09 + 4.0)).epsilon(1e-15));
  CHECK(full.unconstrained_sd()[3] == Approx(std::sqrt(0.16 + 0.25 + 0.81)).epsilon(1e-15));

  Eigen::Vector4d diagonal(0.3, 0.5, 0.2, 0.4);
  Eigen::MatrixXd factor(4, 2);
  factor << 0.1, -0.3, 0.5, 0.2, 0.0, 0.4, -0.6, 0.1;
  const LowRank low(model.free_variables(), mean_vector, diagonal, factor);
  Eigen::MatrixXd low_covariance = factor * factor.transpose();
  for (int i = 0; i < 4; ++i) low_covariance(i, i) += diagonal[i] * diagonal[i];
  CHECK((low.covariance() - low_covariance).cwiseAbs().maxCoeff() < 1e-15);
  CHECK(low.entropy() == Approx(gaussian_entropy(low_covariance)).epsilon(1e-13));
  CHECK(low.rank() == 2);
  CHECK(low.moments().at("p").mean.item() ==
        Approx(transformed_normal_moments(Transform{TransformKind::interval, 0, 1}, 0.7, std::sqrt(low_covariance(3, 3))).mean).epsilon(1e-15));

  // Mean-field entropy: sum log sd + P/2 (1 + log 2 pi).
  const MeanField q(model.free_variables(), {{"a", Array::from({1.0, -1.0}), Array::from({0.5, 2.0})},
                                              {"s", Array::scalar(0.2), Array::scalar(0.3)},
                                              {"p", Array::scalar(0.7), Array::scalar(1.0)}});
  CHECK(q.entropy() == Approx(std::log(0.5 * 2.0 * 0.3 * 1.0) + 2 * (1 + std::log(2 * std::numbers::pi))).epsilon(1e-15));
}

TEST_CASE("FullRank and LowRank: samples have the stated means and covariances", "[families][statistical]") {
  // 40,000 draws per family. Each check is a sample mean or covariance held to 4.5 standard
  // errors: a two-sided normal tail of 6.8e-6 per check, 18 checks, so a false failure with
  // probability below 1.3e-4 for a seed chosen blindly (the seeds are fixed: the outcome is
  // deterministic).
  const Model model = three_kinds();
  const std::int64_t draws = 40000;
  Eigen::Vector4d diagonal(0.3, 0.5, 0.2, 0.4);
  Eigen::MatrixXd factor(4, 2);
  factor << 0.1, -0.3, 0.5, 0.2, 0.0, 0.4, -0.6, 0.1;
  const FullRank full(model.free_variables(), mean_vector, cholesky_example());
  const LowRank low(model.free_variables(), mean_vector, diagonal, factor);
  for (const GaussianApproximation* q : {static_cast<const GaussianApproximation*>(&full), static_cast<const GaussianApproximation*>(&low)}) {
    INFO(q->family());
    const auto samples = q->sample(draws, 17);
    REQUIRE(samples.at("a").shape() == Shape{draws, 2});
    // Back to the unconstrained coordinates: a, log s, logit p.
    Eigen::MatrixXd z(draws, 4);
    for (std::int64_t d = 0; d < draws; ++d) {
      z(d, 0) = samples.at("a").flat<double>(2 * d);
      z(d, 1) = samples.at("a").flat<double>(2 * d + 1);
      z(d, 2) = std::log(samples.at("s").flat<double>(d));
      const double p = samples.at("p").flat<double>(d);
      z(d, 3) = std::log(p / (1 - p));
    }
    const Eigen::MatrixXd sigma = q->covariance();
    const Eigen::RowVectorXd sample_mean = z.colwise().mean();
    const Eigen::MatrixXd centred = z.rowwise() - sample_mean;
    const Eigen::MatrixXd sample_covariance = centred.transpose() * centred / static_cast<double>(draws - 1);
    const double n = static_cast<double>(draws);
    for (int i = 0; i < 4; ++i) {
      INFO("coordinate " << i);
      CHECK(std::abs(sample_mean[i] - mean_vector[i]) < 4.5 * std::sqrt(sigma(i, i) / n));
      for (int j = 0; j <= i; ++j) {
        // Var of a sample covariance of a Gaussian pair: (s_ii s_jj + s_ij^2) / n.
        INFO("entry " << i << ", " << j);
        if (i == j || j == i - 1) CHECK(std::abs(sample_covariance(i, j) - sigma(i, j)) < 4.5 * std::sqrt((sigma(i, i) * sigma(j, j) + sigma(i, j) * sigma(i, j)) / n));
      }
    }
  }
}

TEST_CASE("Gaussian families: bad constructions are named", "[families][errors]") {
  const Model model = three_kinds();
  Eigen::MatrixXd upper = cholesky_example();
  upper(0, 2) = 0.1;
  CHECK_THROWS_WITH(FullRank(model.free_variables(), mean_vector, upper),
                    "FullRank::FullRank: the Cholesky factor has entry (0, 2) = 0.1 above the diagonal");
  Eigen::MatrixXd zero_diagonal = cholesky_example();
  zero_diagonal(1, 1) = 0;
  CHECK_THROWS_WITH(FullRank(model.free_variables(), mean_vector, zero_diagonal),
                    "FullRank::FullRank: the Cholesky factor's diagonal entry 1 is 0, but must be positive and finite");
  CHECK_THROWS_WITH(FullRank(model.free_variables(), Eigen::Vector3d(0, 0, 0), cholesky_example()),
                    "FullRank::FullRank: the mean has 3 entries, but the free variables have 4");
  CHECK_THROWS_WITH(LowRank(model.free_variables(), mean_vector, Eigen::Vector4d(1, 1, 1, 1), Eigen::MatrixXd(4, 0)),
                    "LowRank::LowRank: the factor has 0 columns, but the rank must be at least 1");
  CHECK_THROWS_WITH(LowRank(model.free_variables(), mean_vector, Eigen::Vector4d(1, 0, 1, 1), Eigen::MatrixXd::Ones(4, 1)),
                    "LowRank::LowRank: sd[1] is 0, but must be positive");
  CHECK_THROWS_WITH(MeanField(model.free_variables(), {{"a", Array::from({1.0, -1.0}), Array::from({0.5, 2.0})}}),
                    "MeanField::MeanField: got 1 factors for 3 free variables");
  CHECK_THROWS_WITH(MeanField(model.free_variables(), {{"a", Array::from({1.0}), Array::from({0.5})},
                                                       {"s", Array::scalar(0.2), Array::scalar(0.3)},
                                                       {"p", Array::scalar(0.7), Array::scalar(1.0)}}),
                    "MeanField::MeanField: factor 'a' has shape (1,), expected (2,)");
  const FullRank full(model.free_variables(), mean_vector, cholesky_example());
  CHECK_THROWS_WITH(full.sample(0), "FullRank::sample: draws is 0, but must be at least 1");
}

}  // namespace inference_gaussian_approximation_test
