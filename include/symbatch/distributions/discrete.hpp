/// @file discrete.hpp
/// @brief Discrete distributions: Bernoulli (probability and logit forms), Poisson.
#pragma once

#include "symbatch/distributions/distribution.hpp"

namespace symbatch {

/// @brief Bernoulli with success probability `p`: @f$ y \log p + (1 - y) \log(1 - p) @f$.
inline Distribution Bernoulli(Param p) {
  const Variable q = detail::checked("bernoulli", "Probability parameter", p, detail::CheckParameter::Rule::unit_interval);
  return {"bernoulli", Support::binary, 0, 0, DType::f64, [q](const Variable& y) {
            const Variable value = cast(y, DType::f64);
            return where(eq(value, constant(1.0)), log(q), where(eq(value, constant(0.0)), log1p(-q), constant(-std::numeric_limits<double>::infinity())));
          }};
}

/// @brief Bernoulli with log-odds `logit_p`: @f$ y \log\sigma(\eta) + (1 - y)\log\sigma(-\eta) @f$,
/// stable for any @f$ \eta @f$.
inline Distribution BernoulliLogit(Param logit_p) {
  const Variable eta = detail::checked("bernoulli_logit", "Logit parameter", logit_p, detail::CheckParameter::Rule::finite);
  return {"bernoulli_logit", Support::binary, 0, 0, DType::f64, [eta](const Variable& y) {
            const Variable value = cast(y, DType::f64);
            const Variable ok = logical_or(eq(value, constant(0.0)), eq(value, constant(1.0)));
            return detail::in_support(ok, value * log_sigmoid(eta) + (1.0 - value) * log_sigmoid(-eta));
          }};
}

/// @brief Poisson with mean `mu`: @f$ k \log\mu - \mu - \log k! @f$ for integers @f$ k \ge 0 @f$.
inline Distribution Poisson(Param mu) {
  const Variable m = detail::checked("poisson", "Mean parameter", mu, detail::CheckParameter::Rule::positive);
  return {"poisson", Support::nonnegative_integer, 0, 0, DType::i64, [m](const Variable& k) {
            const Variable value = cast(k, DType::f64);
            return detail::in_support(ge(value, constant(0.0)), value * log(m) - m - lgamma(value + 1.0));
          }};
}

}  // namespace symbatch
