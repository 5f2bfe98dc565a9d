/// @file mean_field.hpp
/// @brief `MeanField`: a fully factorised Gaussian over a model's unconstrained parameters, as
/// `fit` returns it: its factors, samples and moments in the constrained space.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/random/philox.hpp"

namespace symbatch {

/// @brief A fully factorised Gaussian over a model's unconstrained parameters: for each free
/// variable, a mean and a scale @f$ \sigma = \log(1 + e^{\rho}) @f$ per element.
class MeanField {
 public:
  /// One free variable's factor, in the unconstrained space.
  struct Factor {
    std::string name;
    Array mu;  ///< means
    Array sd;  ///< standard deviations
  };
  /// Posterior mean and standard deviation of one free variable in the constrained space.
  struct Moments {
    Array mean;
    Array sd;
  };

  MeanField(std::vector<FreeVariable> free, std::vector<Factor> factors) : free_(std::move(free)), factors_(std::move(factors)) {}

  /// @brief The factors, in the order of the model's free variables.
  const std::vector<Factor>& factors() const { return factors_; }

  /// @brief `draws` samples of every free variable in the constrained space: arrays of shape
  /// `(draws,) + shape`, by name. Draws are deterministic in `seed`.
  std::map<std::string, Array> sample(std::int64_t draws, std::uint64_t seed = 0) const {
    if (draws < 1) throw_invalid("MeanField::sample", "draws is ", draws, ", but must be at least 1");
    std::vector<Variable> values, constrained;
    for (const FreeVariable& free : free_) {
      values.push_back(free.value);
      constrained.push_back(free.constrained);
    }
    Function transform = compile(values, constrained);
    std::map<std::string, Array> samples;
    std::vector<Array> point;
    for (const Factor& factor : factors_) {
      std::vector<std::int64_t> shape{draws};
      for (std::int64_t dim : factor.mu.shape()) shape.push_back(dim);
      samples[factor.name] = Array::empty(DType::f64, Shape(std::span<const std::int64_t>(shape)));
      point.push_back(factor.mu.copy());
    }
    PhiloxStream stream(seed_rng_state(seed, 0));
    for (std::int64_t draw = 0; draw < draws; ++draw) {
      for (std::size_t i = 0; i < factors_.size(); ++i)
        for (std::int64_t k = 0; k < point[i].size(); ++k)
          point[i].data<double>()[k] = factors_[i].mu.flat<double>(k) + factors_[i].sd.flat<double>(k) * stream.normal();
      const std::vector<Array>& result = transform(point);
      for (std::size_t i = 0; i < factors_.size(); ++i) {
        Array& out = samples[factors_[i].name];
        const std::int64_t size = result[i].size();
        for (std::int64_t k = 0; k < size; ++k) out.data<double>()[draw * size + k] = result[i].flat<double>(k);
      }
    }
    return samples;
  }

  /// @brief Posterior means and standard deviations in the constrained space, by name. Exact
  /// for untransformed variables; for transformed ones, estimated from `draws` samples.
  std::map<std::string, Moments> moments(std::int64_t draws = 4000, std::uint64_t seed = 0) const {
    if (draws < 2) throw_invalid("MeanField::moments", "draws is ", draws, ", but a standard deviation needs at least 2");
    std::map<std::string, Moments> result;
    bool any_transformed = false;
    for (const FreeVariable& free : free_) any_transformed |= free.transform.kind != TransformKind::none;
    const std::map<std::string, Array> samples = any_transformed ? sample(draws, seed) : std::map<std::string, Array>{};
    for (std::size_t i = 0; i < free_.size(); ++i) {
      const Factor& factor = factors_[i];
      if (free_[i].transform.kind == TransformKind::none) {
        result[factor.name] = {factor.mu.copy(), factor.sd.copy()};
        continue;
      }
      const Array& drawn = samples.at(factor.name);
      Array mean = Array::zeros(DType::f64, factor.mu.shape()), sd = Array::zeros(DType::f64, factor.mu.shape());
      const std::int64_t size = mean.size();
      for (std::int64_t k = 0; k < size; ++k) {
        double total = 0, squares = 0;
        for (std::int64_t d = 0; d < draws; ++d) total += drawn.data<double>()[d * size + k];
        const double average = total / static_cast<double>(draws);
        for (std::int64_t d = 0; d < draws; ++d) squares += std::pow(drawn.data<double>()[d * size + k] - average, 2);
        mean.data<double>()[k] = average;
        sd.data<double>()[k] = std::sqrt(squares / static_cast<double>(draws - 1));
      }
      result[factor.name] = {mean, sd};
    }
    return result;
  }

  /// @brief Posterior means in the constrained space, by name (see `moments`).
  std::map<std::string, Array> mean(std::int64_t draws = 4000, std::uint64_t seed = 0) const {
    std::map<std::string, Array> result;
    for (auto& [name, moment] : moments(draws, seed)) result[name] = moment.mean;
    return result;
  }
  /// @brief Posterior standard deviations in the constrained space, by name (see `moments`).
  std::map<std::string, Array> sd(std::int64_t draws = 4000, std::uint64_t seed = 0) const {
    std::map<std::string, Array> result;
    for (auto& [name, moment] : moments(draws, seed)) result[name] = moment.sd;
    return result;
  }

 private:
  std::vector<FreeVariable> free_;
  std::vector<Factor> factors_;
};

}  // namespace symbatch
