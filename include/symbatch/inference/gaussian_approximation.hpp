/// @file gaussian_approximation.hpp
/// @brief `GaussianApproximation`: a Gaussian over a model's flattened unconstrained parameters,
/// the one implementation of sampling, moments, covariance and entropy that the mean-field,
/// full-rank and low-rank families share.
///
/// Every family is @f$ z = \mu + d \odot \epsilon + F \eta @f$ with independent standard normals
/// @f$ \epsilon \in R^P @f$ (only when the family has a diagonal @f$ d @f$) and @f$ \eta \in R^m @f$,
/// so @f$ \Sigma = \mathrm{diag}(d^2) + F F^T @f$:
/// mean-field: @f$ d @f$ = the sds, @f$ m = 0 @f$; full-rank: no diagonal, @f$ F = L @f$ (lower
/// triangular, positive diagonal); low-rank: @f$ d @f$ and a @f$ P \times k @f$ factor @f$ F = U @f$.
/// The flat order is the model's free variables in order, each flattened in C order.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <map>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "symbatch/inference/transformed_normal.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/random/philox.hpp"

namespace symbatch {

/// @brief A Gaussian @f$ N(\mu, \mathrm{diag}(d^2) + F F^T) @f$ over the flattened unconstrained
/// parameters of a model (see the file comment), with constrained samples and exact moments.
class GaussianApproximation {
 public:
  /// Mean and standard deviation of one free variable in the constrained space, and how they
  /// were computed (exact for untransformed variables, log-normal closed form for log
  /// transforms, quadrature for intervals: see transformed_normal.hpp).
  struct Moments {
    Array mean;
    Array sd;
    MomentMethod method = MomentMethod::exact;
  };

  /// @brief The approximation `family` (the name messages use: `MeanField`, `FullRank`,
  /// `LowRank`) over `free`, with mean `mean`, diagonal `diagonal` (empty for none) and factor
  /// `factor` (@f$ P \times m @f$, @f$ m \ge 0 @f$). Without a diagonal the factor must be a
  /// @f$ P \times P @f$ lower-triangular matrix with a positive diagonal (a Cholesky factor).
  /// @throws std::invalid_argument when the sizes disagree with the free variables.
  /// @throws std::domain_error for a diagonal entry that is negative or not finite (zero is a
  /// degenerate coordinate: its entropy term is -inf), or a Cholesky factor that is not one.
  GaussianApproximation(std::string family, std::vector<FreeVariable> free, Eigen::VectorXd mean, Eigen::VectorXd diagonal,
                        Eigen::MatrixXd factor)
      : family_(std::move(family)), free_(std::move(free)), mean_(std::move(mean)), diagonal_(std::move(diagonal)), factor_(std::move(factor)) {
    const std::string function = family_ + "::" + family_;
    std::int64_t size = 0;
    for (const FreeVariable& variable : free_) size += element_count(variable);
    if (mean_.size() != size) throw_invalid(function, "the mean has ", mean_.size(), " entries, but the free variables have ", size);
    if (diagonal_.size() != 0 && diagonal_.size() != size)
      throw_invalid(function, "the diagonal has ", diagonal_.size(), " entries, expected ", size);
    if (factor_.rows() != size && !(factor_.cols() == 0 && diagonal_.size() == size))
      throw_invalid(function, "the factor has ", factor_.rows(), " rows, expected ", size);
    for (Eigen::Index i = 0; i < diagonal_.size(); ++i)
      if (!(diagonal_[i] >= 0 && std::isfinite(diagonal_[i])))
        throw_domain(function, "sd[", i, "] is ", detail::format_number(diagonal_[i]), ", but must be nonnegative and finite");
    if (diagonal_.size() == 0) {
      if (factor_.cols() != size) throw_invalid(function, "the Cholesky factor has shape (", factor_.rows(), ", ", factor_.cols(), "), expected (", size, ", ", size, ")");
      for (Eigen::Index i = 0; i < size; ++i) {
        if (!(factor_(i, i) > 0 && std::isfinite(factor_(i, i))))
          throw_domain(function, "the Cholesky factor's diagonal entry ", i, " is ", detail::format_number(factor_(i, i)), ", but must be positive and finite");
        for (Eigen::Index j = i + 1; j < size; ++j)
          if (factor_(i, j) != 0) throw_domain(function, "the Cholesky factor has entry (", i, ", ", j, ") = ", detail::format_number(factor_(i, j)), " above the diagonal");
      }
    }
  }

  /// @brief The family's name: `MeanField`, `FullRank` or `LowRank`.
  const std::string& family() const { return family_; }
  /// @brief The free variables the approximation covers, in the model's order.
  const std::vector<FreeVariable>& free_variables() const { return free_; }
  /// @brief The number P of unconstrained coordinates.
  std::int64_t size() const { return mean_.size(); }
  /// @brief The mean @f$ \mu @f$ of the unconstrained parameters (flat order, see the file comment).
  const Eigen::VectorXd& unconstrained_mean() const { return mean_; }
  /// @brief The marginal sds of the unconstrained parameters, @f$ \sqrt{d_i^2 + \|F_{i\cdot}\|^2} @f$.
  Eigen::VectorXd unconstrained_sd() const {
    Eigen::VectorXd sd(size());
    for (Eigen::Index i = 0; i < size(); ++i) sd[i] = marginal_sd(i);
    return sd;
  }
  /// @brief The covariance @f$ \mathrm{diag}(d^2) + F F^T @f$ of the unconstrained parameters
  /// (a P x P matrix: O(P^2) memory whatever the family).
  Eigen::MatrixXd covariance() const {
    Eigen::MatrixXd covariance = factor_ * factor_.transpose();
    if (diagonal_.size() != 0) covariance.diagonal() += diagonal_.array().square().matrix();
    return covariance;
  }
  /// @brief The exact entropy @f$ \frac12 \log\det\Sigma + \frac P2 (1 + \log 2\pi) @f$: with a
  /// Cholesky factor @f$ \sum_i \log L_{ii} @f$; with a diagonal, by the matrix determinant lemma
  /// @f$ \log\det(D^2 + F F^T) = 2\sum_i \log d_i + \log\det(I_m + W^T W) @f$, @f$ W = D^{-1} F @f$.
  double entropy() const {
    double half_log_det = 0;
    if (diagonal_.size() == 0) {
      half_log_det = factor_.diagonal().array().log().sum();
    } else {
      half_log_det = diagonal_.array().log().sum();
      if (factor_.cols() > 0) {
        const Eigen::MatrixXd whitened = diagonal_.cwiseInverse().asDiagonal() * factor_;
        Eigen::MatrixXd small = Eigen::MatrixXd::Identity(factor_.cols(), factor_.cols());
        small.noalias() += whitened.transpose() * whitened;
        half_log_det += Eigen::LLT<Eigen::MatrixXd>(small).matrixLLT().diagonal().array().log().sum();
      }
    }
    return half_log_det + 0.5 * static_cast<double>(size()) * (1 + std::log(2 * std::numbers::pi));
  }

  /// @brief `draws` samples of every free variable in the constrained space: arrays of shape
  /// `(draws,) + shape`, by name. Deterministic in `seed`: draw by draw, the diagonal's P
  /// standard normals (when there is a diagonal), then the factor's m, from one Philox stream.
  /// @throws std::invalid_argument `MeanField::sample: draws is 0, but must be at least 1`.
  std::map<std::string, Array> sample(std::int64_t draws, std::uint64_t seed = 0) const {
    if (draws < 1) throw_invalid(family_ + "::sample", "draws is ", draws, ", but must be at least 1");
    std::vector<Array> outputs;
    for (const FreeVariable& variable : free_) {
      std::vector<std::int64_t> shape{draws};
      shape.insert(shape.end(), variable.shape.begin(), variable.shape.end());
      outputs.push_back(Array::empty(DType::f64, Shape(std::span<const std::int64_t>(shape))));
    }
    PhiloxStream stream(seed_rng_state(seed, 0));
    Eigen::VectorXd point(size()), factor_noise(factor_.cols());
    for (std::int64_t draw = 0; draw < draws; ++draw) {
      point = mean_;
      for (Eigen::Index i = 0; i < diagonal_.size(); ++i) point[i] += diagonal_[i] * stream.normal();
      if (factor_.cols() > 0) {
        for (Eigen::Index j = 0; j < factor_noise.size(); ++j) factor_noise[j] = stream.normal();
        point.noalias() += factor_ * factor_noise;
      }
      std::int64_t offset = 0;
      for (std::size_t v = 0; v < free_.size(); ++v) {
        const std::int64_t count = element_count(free_[v]);
        double* out = outputs[v].data<double>() + draw * count;
        for (std::int64_t k = 0; k < count; ++k) out[k] = constrained_value(free_[v].transform, point[offset + k]);
        offset += count;
      }
    }
    std::map<std::string, Array> samples;
    for (std::size_t v = 0; v < free_.size(); ++v) samples[free_[v].name] = std::move(outputs[v]);
    return samples;
  }

  /// @brief Exact means and sds of every free variable in the constrained space, by name: each
  /// coordinate's marginal @f$ N(\mu_i, \Sigma_{ii}) @f$ pushed through its transform (see
  /// transformed_normal.hpp), with the method used per variable.
  std::map<std::string, Moments> moments() const {
    std::map<std::string, Moments> result;
    std::int64_t offset = 0;
    for (const FreeVariable& variable : free_) {
      const Shape shape(std::span<const std::int64_t>(variable.shape));
      Moments moments{Array::empty(DType::f64, shape), Array::empty(DType::f64, shape), moment_method(variable.transform.kind)};
      for (std::int64_t k = 0; k < shape.size(); ++k) {
        const TransformedMoments coordinate = transformed_normal_moments(variable.transform, mean_[offset + k], marginal_sd(offset + k));
        moments.mean.data<double>()[k] = coordinate.mean;
        moments.sd.data<double>()[k] = coordinate.sd;
      }
      offset += shape.size();
      result[variable.name] = std::move(moments);
    }
    return result;
  }
  /// @brief Exact constrained means, by name (see `moments`).
  std::map<std::string, Array> mean() const {
    std::map<std::string, Array> result;
    for (auto& [name, moment] : moments()) result[name] = moment.mean;
    return result;
  }
  /// @brief Exact constrained standard deviations, by name (see `moments`).
  std::map<std::string, Array> sd() const {
    std::map<std::string, Array> result;
    for (auto& [name, moment] : moments()) result[name] = moment.sd;
    return result;
  }

 protected:
  const Eigen::VectorXd& diagonal() const { return diagonal_; }
  const Eigen::MatrixXd& factor() const { return factor_; }

 private:
  static std::int64_t element_count(const FreeVariable& variable) {
    std::int64_t count = 1;
    for (std::int64_t dim : variable.shape) count *= dim;
    return count;
  }
  // Without a factor the diagonal is the sd itself (no round trip through a square root).
  double marginal_sd(Eigen::Index i) const {
    if (factor_.cols() == 0) return diagonal_[i];
    const double diagonal_variance = diagonal_.size() != 0 ? diagonal_[i] * diagonal_[i] : 0.0;
    return std::sqrt(diagonal_variance + factor_.row(i).squaredNorm());
  }

  std::string family_;
  std::vector<FreeVariable> free_;
  Eigen::VectorXd mean_, diagonal_;
  Eigen::MatrixXd factor_;
};

}  // namespace symbatch
