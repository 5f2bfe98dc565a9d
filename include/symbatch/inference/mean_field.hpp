/// @file mean_field.hpp
/// @brief `MeanField`: a fully factorised Gaussian over a model's unconstrained parameters, as
/// `fit` returns it: its factors, samples and exact moments in the constrained space.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "symbatch/inference/gaussian_approximation.hpp"

namespace symbatch {

/// @brief A fully factorised Gaussian over a model's unconstrained parameters: for each free
/// variable, a mean and a scale per element (the diagonal of a `GaussianApproximation`, whose
/// sampling, moments, covariance and entropy it uses).
class MeanField : public GaussianApproximation {
 public:
  /// One free variable's factor, in the unconstrained space.
  struct Factor {
    std::string name;
    Array mu;  ///< means
    Array sd;  ///< standard deviations
  };

  /// @brief The factors of `free`, one per free variable and in their order.
  /// @throws std::invalid_argument when the factors do not match the free variables.
  /// @throws std::domain_error for a negative or non-finite sd.
  MeanField(std::vector<FreeVariable> free, std::vector<Factor> factors)
      : GaussianApproximation("MeanField", free, flatten(free, factors, &Factor::mu), flatten(free, factors, &Factor::sd), {}),
        factors_(std::move(factors)) {}

  /// @brief The factors, in the order of the model's free variables.
  const std::vector<Factor>& factors() const { return factors_; }

  using GaussianApproximation::moments;
  using GaussianApproximation::mean;
  using GaussianApproximation::sd;
  /// @brief The exact moments (see `GaussianApproximation::moments`). `draws` and `seed` are
  /// ignored: symbatch 0.1 estimated the moments of transformed variables from `draws` samples
  /// and this signature is kept so that its code compiles; `draws` below 2 is still rejected
  /// as it was then.
  /// @throws std::invalid_argument `MeanField::moments: draws is 1, but a standard deviation needs at least 2`.
  std::map<std::string, Moments> moments(std::int64_t draws, std::uint64_t seed = 0) const {
    (void)seed;
    if (draws < 2) throw_invalid("MeanField::moments", "draws is ", draws, ", but a standard deviation needs at least 2");
    return moments();
  }
  /// @brief Exact constrained means (see `moments(draws, seed)` for the ignored arguments).
  std::map<std::string, Array> mean(std::int64_t draws, std::uint64_t seed = 0) const {
    (void)moments(draws, seed);
    return mean();
  }
  /// @brief Exact constrained sds (see `moments(draws, seed)` for the ignored arguments).
  std::map<std::string, Array> sd(std::int64_t draws, std::uint64_t seed = 0) const {
    (void)moments(draws, seed);
    return sd();
  }

 private:
  static Eigen::VectorXd flatten(const std::vector<FreeVariable>& free, const std::vector<Factor>& factors, Array Factor::*member) {
    if (factors.size() != free.size())
      throw_invalid("MeanField::MeanField", "got ", factors.size(), " factors for ", free.size(), " free variables");
    std::vector<double> values;
    for (std::size_t i = 0; i < factors.size(); ++i) {
      const Array& array = factors[i].*member;
      if (factors[i].name != free[i].name)
        throw_invalid("MeanField::MeanField", "factor ", i, " is named '", factors[i].name, "', expected '", free[i].name, "'");
      if (array.shape() != Shape(std::span<const std::int64_t>(free[i].shape)))
        throw_invalid("MeanField::MeanField", "factor '", factors[i].name, "' has shape ", array.shape().str(), ", expected ",
                      Shape(std::span<const std::int64_t>(free[i].shape)).str());
      for (std::int64_t k = 0; k < array.size(); ++k) values.push_back(array.flat<double>(k));
    }
    return Eigen::Map<const Eigen::VectorXd>(values.data(), static_cast<Eigen::Index>(values.size()));
  }

  std::vector<Factor> factors_;
};

}  // namespace symbatch
