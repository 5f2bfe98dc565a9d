/// @file distribution.hpp
/// @brief `Distribution`: a log-density graph builder with its support, and the parameter
/// checks every distribution shares.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "symbatch/distributions/unconstrained_log.hpp"
#include "symbatch/ops/elemwise.hpp"

namespace symbatch {

/// @brief Where a distribution puts its mass (decides the default transform of a free variable).
enum class Support {
  real,                 ///< the real line
  positive,             ///< (0, inf)
  interval,             ///< (lower, upper)
  nonnegative_integer,  ///< 0, 1, 2, ...
  binary,               ///< {0, 1}
};

/// @brief A distribution: its name, support, value dtype, and `logp(value)`, the elementwise
/// log-density broadcast over the parameters.
///
/// `logp` is `-inf` at every value outside the support, as SciPy's `logpdf`/`logpmf` give it:
/// below 0 or above 1 for a probability, off the integers for a count, outside `[lower, upper]`
/// for an interval. Observed data are checked against `support` (with `zero_excluded`) when a
/// compiled function first reads them (see `check_observed_data`); bounds that depend on the
/// parameters (a binomial count above `n`, a class label from `K` on) stay `-inf` in `logp`.
struct Distribution {
  std::string name;
  Support support = Support::real;
  double lower = 0, upper = 0;  ///< bounds of an `interval` support
  DType dtype = DType::f64;
  std::function<Variable(const Variable& value)> logp;
  /// For a `positive` support: true when the density vanishes at 0 whatever the parameters
  /// (LogNormal, InverseGamma), so data equal to 0 lie outside the support; false when 0 belongs
  /// to it (Exponential, HalfNormal, Gamma with shape 1).
  bool zero_excluded = false;
};

/// @brief A distribution parameter: a variable or a number (made a constant).
struct Param {
  Param(double value) : variable(constant(value)) {}
  Param(int value) : variable(constant(static_cast<double>(value))) {}
  /// A null variable stays null here, so that the distribution names it (`normal: Location
  /// parameter is a null variable`) instead of an internal cast.
  Param(Variable value) : variable(value ? cast(value, DType::f64) : Variable{}) {}
  Variable variable;
};

namespace detail {

/// Passes its input through, throwing `std::domain_error` at call time when an element fails
/// the check (`normal: Scale parameter is -1, but must be positive`).
class CheckParameter final : public Op {
 public:
  enum class Rule { positive, unit_interval, finite, count };
  CheckParameter(std::string function, std::string parameter, Rule rule)
      : function_(std::move(function)), parameter_(std::move(parameter)), rule_(rule) {}
  std::string name() const override { return "check"; }
  OpParameters parameters() const override {
    return {{"function", function_}, {"parameter", parameter_}, {"rule", std::int64_t{static_cast<int>(rule_)}}};
  }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override { return {inputs[0].type()}; }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& x = *in[0];
    const double* values = x.data<double>();
    for (std::int64_t k = 0; k < x.size(); ++k) check(values[k], x.size() == 1 ? -1 : k);
    *out[0] = x;
  }
  std::vector<InputGrad> grad(const ApplyNode&, std::span<const Variable> output_grads) const override {
    return {InputGrad::of(output_grads[0])};
  }
  std::optional<int> view_of(int) const override { return 0; }

  /// Throws for a bad value; `index >= 0` adds the element position to the name. The name is
  /// only built on failure: this runs for every element on every call.
  void check(double value, std::int64_t index) const {
    const bool ok = rule_ == Rule::positive        ? value > 0 && std::isfinite(value)
                    : rule_ == Rule::unit_interval ? value >= 0 && value <= 1
                    : rule_ == Rule::count         ? value >= 0 && std::isfinite(value) && value == std::floor(value)
                                                   : std::isfinite(value);
    if (ok) return;
    const std::string name = index < 0 ? parameter_ : parameter_ + "[" + std::to_string(index) + "]";
    switch (rule_) {
      case Rule::positive:
        check_positive(function_, name, value);
        check_finite(function_, name, value);
        break;
      case Rule::unit_interval: check_bounded(function_, name, value, 0, 1); break;
      case Rule::finite: check_finite(function_, name, value); break;
      case Rule::count:
        throw_domain(function_, name, " is ", detail::format_number(value), ", but must be a nonnegative integer");
    }
  }

 private:
  std::string function_, parameter_;
  Rule rule_;
};

/// Checks a parameter now when it is a constant, and on every call otherwise. A check its
/// producer satisfies by construction (a unit-interval check on a sigmoid) is left out, so the
/// density sees the sigmoid itself and can take its logarithms in the unconstrained space.
inline Variable checked(const std::string& function, const std::string& parameter, const Param& value, CheckParameter::Rule rule) {
  if (!value.variable) throw_invalid(function, parameter, " is a null variable");
  if (rule == CheckParameter::Rule::unit_interval && provably_in_unit_interval(value.variable)) return value.variable;
  const CheckParameter check(function, parameter, rule);
  // A symbolic location or logit is not checked on every call: a non-finite one gives a
  // non-finite logp, which the training loop reports by name.
  if (rule == CheckParameter::Rule::finite && !value.variable.is_constant()) return value.variable;
  if (value.variable.is_constant()) {
    const Array& array = value.variable.constant_value();
    for (std::int64_t k = 0; k < array.size(); ++k) check.check(array.flat<double>(k), array.size() == 1 ? -1 : k);
    return value.variable;
  }
  return make_apply<CheckParameter>({value.variable}, function, parameter, rule);
}

/// `a * log(x)`, taken as 0 where `a == 0` (so a density's `(alpha - 1) log x` is finite at
/// `x = 0` when `alpha = 1`, as in `scipy.special.xlogy`); `log x` by `log_of`, so a
/// transformed `x` is not rounded first.
inline Variable xlogy(const Variable& a, const Variable& x) { return where(eq(a, constant(0.0)), constant(0.0), a * log_of(x)); }

/// `a * log(1 - x)`, taken as 0 where `a == 0`; `log(1 - x)` by `log1m_of`.
inline Variable xlog1my(const Variable& a, const Variable& x) {
  return where(eq(a, constant(0.0)), constant(0.0), a * log1m_of(x));
}

/// @f$ \log\Gamma(x + a) - \log\Gamma(x) @f$ for @f$ x > 0, a \ge 0 @f$, without the
/// cancellation of two large lgamma values: at x = 1e15, lgamma(x) is 3.3e16, rounded to a
/// multiple of 4, and a Student-t's log-density with nu = 1e15 came out 3 too large. For
/// @f$ x \ge 10 @f$, Stirling's series: @f$ (x - \tfrac12)\,\mathrm{log1p}(a/x) + a \log(x + a) - a
/// + r(x + a) - r(x) @f$, with @f$ r(y) = \log\Gamma(y) - (y - \tfrac12)\log y + y - \tfrac12\log 2\pi
/// = \sum_k B_{2k} / (2k(2k-1) y^{2k-1}) @f$ to the @f$ y^{-13} @f$ term (the first term left out is
/// below 3e-17 at y = 10); below 10, the two lgamma values, which are small there.
inline Variable lgamma_ratio(const Variable& x, const Variable& a) {
  const Variable large = ge(x, constant(10.0));
  // The series' branch reads 10 where lgamma's is taken, so neither it nor its gradient overflows.
  const Variable y = where(large, x, constant(10.0));
  const auto remainder = [](const Variable& v) {
    const Variable u = 1.0 / v;
    const Variable w = square(u);
    return u * (1.0 / 12 + w * (-1.0 / 360 + w * (1.0 / 1260 + w * (-1.0 / 1680 + w * (1.0 / 1188 + w * (-691.0 / 360360 + w * (1.0 / 156)))))));
  };
  const Variable series = (y - 0.5) * log1p(a / y) + (a * log(y + a) - a) + (remainder(y + a) - remainder(y));
  return where(large, series, lgamma(x + a) - lgamma(x));
}

/// `value` where `condition`, `-inf` elsewhere (values outside the support).
inline Variable in_support(const Variable& condition, const Variable& value) {
  return where(condition, value, constant(-std::numeric_limits<double>::infinity()));
}

}  // namespace detail

}  // namespace symbatch
