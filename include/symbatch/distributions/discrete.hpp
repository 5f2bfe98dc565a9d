/// @file discrete.hpp
/// @brief Discrete distributions: Bernoulli and Binomial (probability and logit forms), Poisson,
/// NegativeBinomial (mean and dispersion), Categorical (logits).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "symbatch/distributions/distribution.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/ops/shape.hpp"

namespace symbatch {

namespace detail {

/// True for the elements that are nonnegative integers (finite, whole, at least 0): the
/// support test of every count distribution, one pass and as cheap as the `k >= 0` it replaces.
struct IsNonnegativeIntegerFn {
  static constexpr const char* name = "is_nonnegative_integer";
  static constexpr int arity = 1;
  static constexpr Domain domain = Domain::compare;
  static bool apply(double k) { return k >= 0 && k < std::numeric_limits<double>::infinity() && k == std::floor(k); }
  static bool apply(std::int64_t k) { return k >= 0; }
  static std::vector<Variable> grad(const std::vector<Variable>&, const Variable&, const Variable&) { return {Variable{}}; }
};
inline Variable is_nonnegative_integer(const Variable& k) { return unary<IsNonnegativeIntegerFn>(k); }

/// The Bernoulli-logit log-mass as one elementwise op of `(y, eta)`: both log-sigmoids share
/// one `log1p(exp(-|eta|))`, and a value other than 0 or 1 gives `-inf`, so the log-likelihood
/// of a batch is one pass with one exponential per element (and its gradient another).
struct BernoulliLogitFn {
  static constexpr const char* name = "bernoulli_logit_logpmf";
  static constexpr int arity = 2;
  static constexpr Domain domain = Domain::floating;
  static double apply(double y, double eta) {
    const double shared = std::log1p(std::exp(-std::abs(eta)));
    if (y == 1) return std::min(eta, 0.0) - shared;
    if (y == 0) return std::min(-eta, 0.0) - shared;
    return std::isnan(eta) ? eta : -std::numeric_limits<double>::infinity();
  }
  static auto packet(const auto& y, const auto& eta) { return packet::bernoulli_logit(y, eta); }
  /// d/d eta = y - sigmoid(eta); the value y is data (no gradient).
  static std::vector<Variable> grad(const std::vector<Variable>& x, const Variable&, const Variable& g) {
    return {Variable{}, g * (x[0] - sigmoid(x[1]))};
  }
};

}  // namespace detail

/// @brief Bernoulli with success probability `p`: @f$ y \log p + (1 - y) \log(1 - p) @f$ for
/// @f$ y \in \{0, 1\} @f$, `-inf` at any other value (0.5, 2, -1), as SciPy. When `p` is a
/// sigmoid (a free variable on [0, 1], or `sigmoid(eta)`), the mass is BernoulliLogit's, exact
/// for any log-odds.
inline Distribution Bernoulli(Param p) {
  const Variable q = detail::checked("bernoulli", "Probability parameter", p, detail::CheckParameter::Rule::unit_interval);
  return {"bernoulli", Support::binary, 0, 0, DType::f64, [q](const Variable& y) {
            const Variable value = cast(y, DType::f64);
            if (const auto scaled = detail::as_scaled_sigmoid(q); scaled && scaled->offset == 0 && scaled->scale == 1)
              return detail::binary<detail::BernoulliLogitFn>(value, scaled->argument);
            return where(eq(value, constant(1.0)), detail::log_of(q),
                         where(eq(value, constant(0.0)), detail::log1m_of(q), constant(-std::numeric_limits<double>::infinity())));
          }};
}

/// @brief Bernoulli with log-odds `logit_p`: @f$ y \log\sigma(\eta) + (1 - y)\log\sigma(-\eta) @f$,
/// stable for any @f$ \eta @f$; `-inf` at any value other than 0 and 1.
inline Distribution BernoulliLogit(Param logit_p) {
  const Variable eta = detail::checked("bernoulli_logit", "Logit parameter", logit_p, detail::CheckParameter::Rule::finite);
  return {"bernoulli_logit", Support::binary, 0, 0, DType::f64,
          [eta](const Variable& y) { return detail::binary<detail::BernoulliLogitFn>(cast(y, DType::f64), eta); }};
}

namespace detail {
/// @f$ \log\binom{n}{k} @f$ (meaningful where `binomial_support` holds).
inline Variable log_binomial_coefficient(const Variable& n, const Variable& k) {
  return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0);
}
/// @f$ k \in \{0, 1, \dots, n\} @f$.
inline Variable binomial_support(const Variable& n, const Variable& k) { return logical_and(is_nonnegative_integer(k), le(k, n)); }
}  // namespace detail

/// @brief Binomial with `n` trials and success probability `p`:
/// @f$ \log\binom{n}{k} + k\log p + (n-k)\log(1-p) @f$ for integers @f$ 0 \le k \le n @f$, `-inf` at
/// other values (non-integers included, as SciPy). `log p`, `log(1 - p)` of a sigmoid are taken
/// as log-sigmoids of its argument (exact for any log-odds).
inline Distribution Binomial(Param n, Param p) {
  const Variable trials = detail::checked("binomial", "Number of trials", n, detail::CheckParameter::Rule::count);
  const Variable q = detail::checked("binomial", "Probability parameter", p, detail::CheckParameter::Rule::unit_interval);
  return {"binomial", Support::nonnegative_integer, 0, 0, DType::i64, [trials, q](const Variable& k) {
            const Variable value = cast(k, DType::f64);
            const Variable logp = detail::log_binomial_coefficient(trials, value) + detail::xlogy(value, q) + detail::xlog1my(trials - value, q);
            return detail::in_support(detail::binomial_support(trials, value), logp);
          }};
}

/// @brief Binomial with `n` trials and log-odds `logit_p`:
/// @f$ \log\binom{n}{k} + k\log\sigma(\eta) + (n-k)\log\sigma(-\eta) @f$ for integers @f$ 0 \le k \le n @f$,
/// stable for any @f$ \eta @f$; `-inf` at other values (non-integers included).
inline Distribution BinomialLogit(Param n, Param logit_p) {
  const Variable trials = detail::checked("binomial_logit", "Number of trials", n, detail::CheckParameter::Rule::count);
  const Variable eta = detail::checked("binomial_logit", "Logit parameter", logit_p, detail::CheckParameter::Rule::finite);
  return {"binomial_logit", Support::nonnegative_integer, 0, 0, DType::i64, [trials, eta](const Variable& k) {
            const Variable value = cast(k, DType::f64);
            const Variable logp = detail::log_binomial_coefficient(trials, value) + value * log_sigmoid(eta) + (trials - value) * log_sigmoid(-eta);
            return detail::in_support(detail::binomial_support(trials, value), logp);
          }};
}

/// @brief Poisson with mean `mu`: @f$ k \log\mu - \mu - \log k! @f$ for integers @f$ k \ge 0 @f$,
/// `-inf` at other values (1.5, -1), as SciPy.
inline Distribution Poisson(Param mu) {
  const Variable m = detail::checked("poisson", "Mean parameter", mu, detail::CheckParameter::Rule::positive);
  return {"poisson", Support::nonnegative_integer, 0, 0, DType::i64, [m](const Variable& k) {
            const Variable value = cast(k, DType::f64);
            return detail::in_support(detail::is_nonnegative_integer(value), value * log(m) - m - lgamma(value + 1.0));
          }};
}

/// @brief Negative binomial with mean `mu` and dispersion `alpha` (variance @f$ \mu + \mu^2/\alpha @f$):
/// @f$ \log\Gamma(k+\alpha) - \log\Gamma(\alpha) - \log k! - \alpha\log(1 + \mu/\alpha) + k\log\frac{\mu}{\mu+\alpha} @f$
/// for integers @f$ k \ge 0 @f$, `-inf` at other values (non-integers included, as SciPy).
inline Distribution NegativeBinomial(Param mu, Param alpha) {
  const Variable m = detail::checked("negative_binomial", "Mean parameter", mu, detail::CheckParameter::Rule::positive);
  const Variable a = detail::checked("negative_binomial", "Dispersion parameter", alpha, detail::CheckParameter::Rule::positive);
  return {"negative_binomial", Support::nonnegative_integer, 0, 0, DType::i64, [m, a](const Variable& k) {
            const Variable value = cast(k, DType::f64);
            const Variable logp = detail::lgamma_ratio(a, value) - lgamma(value + 1.0) - a * log1p(m / a) + value * (log(m) - log(m + a));
            return detail::in_support(detail::is_nonnegative_integer(value), logp);
          }};
}

/// @brief Categorical over `K` classes with unnormalised log-probabilities `logits` (last axis
/// of length `K`, known when the model is built): @f$ \eta_k - \log\sum_j e^{\eta_j} @f$ for
/// @f$ k \in \{0, \dots, K-1\} @f$, `-inf` at any other value (non-integers included).
/// `logits` is either one row `(K,)` shared by every value or one row per value (shape
/// `value.shape + (K,)`).
/// @throws std::invalid_argument if `logits` is a scalar or its last dimension is not static.
inline Distribution Categorical(Param logits) {
  const Variable eta = detail::checked("categorical", "Logits", logits, detail::CheckParameter::Rule::finite);
  if (eta.rank() == 0) throw_invalid("categorical", "Logits must have a class axis, got shape ", eta.type().shape_str());
  const std::int64_t classes = eta.type().shape.back();
  if (classes == Type::unknown)
    throw_invalid("categorical", "Logits have shape ", eta.type().shape_str(), ": the number of classes (last axis) must be known when the model is built");
  std::vector<double> labels(static_cast<std::size_t>(classes));
  for (std::int64_t j = 0; j < classes; ++j) labels[static_cast<std::size_t>(j)] = static_cast<double>(j);
  const Variable class_labels = constant(Array::from(labels));
  return {"categorical", Support::nonnegative_integer, 0, 0, DType::i64, [eta, classes, class_labels](const Variable& k) {
            const Variable value = cast(k, DType::f64);
            const Variable rows = eta.rank() == 1 ? eta : reshape(eta, {-1, classes});
            const Variable one_hot = eq(reshape(value, {-1, 1}), class_labels);  // (values, K)
            const Variable picked = sum(where(one_hot, rows, constant(0.0)), -1);
            const Variable logp = reshape_like(picked - logsumexp(rows, -1), value);
            const Variable inside = logical_and(detail::is_nonnegative_integer(value), lt(value, constant(static_cast<double>(classes))));
            return detail::in_support(inside, logp);
          }};
}

}  // namespace symbatch
