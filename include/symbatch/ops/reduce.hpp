/// @file reduce.hpp
/// @brief Reductions over one axis or all axes: `sum`, `mean`, `logsumexp`, `max`, with their
/// gradients (through `unreduce`, which spreads a reduced gradient back over the axis).
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <optional>

#include "symbatch/ops/axis.hpp"
#include "symbatch/ops/elemwise.hpp"

namespace symbatch {

/// @brief What a `Reduce` op computes along its axis.
enum class Reduction { sum, mean, logsumexp, max };

namespace detail {

inline const char* reduction_name(Reduction kind) {
  switch (kind) {
    case Reduction::sum: return "sum";
    case Reduction::mean: return "mean";
    case Reduction::logsumexp: return "logsumexp";
    case Reduction::max: return "max";
  }
  return "?";
}

}  // namespace detail

/// @brief Reduction of an `f64` (or, for sum and max, `i64`) array over one axis or all axes.
///
/// `sum` and `mean` also read `f32` data in place: each element is widened to double and the
/// total accumulated in double, so the result is `f64` (dtype rule: f32 in, f64 out) and no
/// converted copy of the data is made.
///
/// `sum` and `mean` of an empty axis are 0 and NaN; `max` of an empty axis throws (as NumPy does); `logsumexp` is @f$ \log \sum_i e^{x_i} @f$
/// computed with the maximum subtracted (so it does not overflow), `-inf` for an empty axis.
class Reduce final : public Op {
 public:
  Reduce(Reduction kind, std::optional<int> axis) : kind_(kind), axis_(axis) {}
  std::string name() const override { return detail::reduction_name(kind_); }
  OpParameters parameters() const override {
    if (!axis_) return {};
    return {{"axis", std::int64_t{*axis_}}};
  }
  Reduction kind() const { return kind_; }
  std::optional<int> axis() const { return axis_; }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 1) throw_invalid(name(), "expected 1 input, got ", inputs.size());
    const DType dtype = inputs[0].dtype();
    const bool integer_ok = kind_ == Reduction::sum || kind_ == Reduction::max;
    const bool single_ok = kind_ == Reduction::sum || kind_ == Reduction::mean;
    if (!(dtype == DType::f64 || (integer_ok && dtype == DType::i64) || (single_ok && dtype == DType::f32)))
      throw_invalid(name(), "input 1/1 has dtype ", dtype_name(dtype), ", expected ",
                    integer_ok && single_ok ? "f64, f32 or i64" : integer_ok ? "f64 or i64" : single_ok ? "f64 or f32" : "f64");
    const std::optional<int> axis = detail::resolve_axis(name(), axis_, inputs[0].rank());
    std::vector<std::int64_t> shape;
    if (axis)
      for (int i = 0; i < inputs[0].rank(); ++i)
        if (i != *axis) shape.push_back(inputs[0].type().shape[static_cast<std::size_t>(i)]);
    return {Type{dtype == DType::f32 ? DType::f64 : dtype, shape}};
  }

  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& x = *in[0];
    const std::optional<int> axis = axis_ ? std::optional<int>(*axis_ < 0 ? *axis_ + x.rank() : *axis_) : std::nullopt;
    if (x.dtype() == DType::f64) run<double>(x, axis, *out[0]);
    else if (x.dtype() == DType::f32) run_single(x, axis, *out[0]);
    else run<std::int64_t>(x, axis, *out[0]);
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;


 private:
  template <class T>
  void run(const Array& x, std::optional<int> axis, Array& result) const {
    const auto [outer, length, inner] = detail::split_axis(x.shape(), axis);
    // NumPy raises here too: a maximum over no elements has no value (-inf would be silently wrong).
    if (kind_ == Reduction::max && length == 0 && outer * inner > 0)
      throw_invalid(name(), "input 1/1 of shape ", x.shape().str(), " has no elements along the reduced ",
                    axis ? "axis " + std::to_string(*axis) : std::string("axes"), "; the maximum of nothing is undefined");
    result.ensure(dtype_of<T>(), detail::reduced_shape(x.shape(), axis));
    const T* p = x.data<T>();
    T* o = result.data<T>();
    if (inner == 1) {  // contiguous runs: vectorised by Eigen
      for (std::int64_t i = 0; i < outer; ++i) o[i] = reduce_run<T>(p + i * length, length);
      return;
    }
    for (std::int64_t i = 0; i < outer; ++i)
      for (std::int64_t j = 0; j < inner; ++j) {
        const T* base = p + i * length * inner + j;
        o[i * inner + j] = reduce_strided<T>(base, length, inner);
      }
  }
  /// Sum or mean of f32 data, each element widened to double and accumulated in double.
  void run_single(const Array& x, std::optional<int> axis, Array& result) const {
    const auto [outer, length, inner] = detail::split_axis(x.shape(), axis);
    result.ensure(DType::f64, detail::reduced_shape(x.shape(), axis));
    const float* p = x.data<float>();
    double* o = result.data<double>();
    const double divisor = kind_ == Reduction::mean ? static_cast<double>(length) : 1.0;
    for (std::int64_t i = 0; i < outer; ++i)
      for (std::int64_t j = 0; j < inner; ++j) {
        double total = 0;
        if (inner == 1) total = Eigen::Map<const Eigen::ArrayXf>(p + i * length, length).cast<double>().sum();
        else
          for (std::int64_t k = 0; k < length; ++k) total += static_cast<double>(p[(i * length + k) * inner + j]);
        // The mean of nothing is NaN, as for f64 (0 / 0).
        o[i * inner + j] = kind_ == Reduction::mean && length == 0 ? std::numeric_limits<double>::quiet_NaN() : total / divisor;
      }
  }
  template <class T>
  T reduce_run(const T* p, std::int64_t n) const {
    using Map = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
    const Map values(p, n);
    switch (kind_) {
      case Reduction::sum:
        if constexpr (std::is_same_v<T, double>) return values.sum();
        else return checked_sum(p, n, 1);
      case Reduction::mean: return static_cast<T>(n == 0 ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(values.sum()) / static_cast<double>(n));
      case Reduction::max: return max_of(p, n, 1);
      case Reduction::logsumexp: {
        if constexpr (std::is_same_v<T, double>) {
          if (n == 0) return -std::numeric_limits<double>::infinity();
          const double top = max_of(p, n, 1);
          if (!std::isfinite(top)) return top;
          return top + std::log((values - top).exp().sum());
        }
      }
    }
    return T{};
  }
  template <class T>
  T reduce_strided(const T* p, std::int64_t n, std::int64_t stride) const {
    switch (kind_) {
      case Reduction::sum:
      case Reduction::mean: {
        if constexpr (!std::is_same_v<T, double>) return checked_sum(p, n, stride);  // i64: sum only
        T total{0};
        for (std::int64_t k = 0; k < n; ++k) total += p[k * stride];
        if (kind_ == Reduction::sum) return total;
        return static_cast<T>(n == 0 ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(total) / static_cast<double>(n));
      }
      case Reduction::max: return max_of(p, n, stride);
      case Reduction::logsumexp: {
        if constexpr (std::is_same_v<T, double>) {
          if (n == 0) return -std::numeric_limits<double>::infinity();
          const double top = max_of(p, n, stride);
          if (!std::isfinite(top)) return top;
          double total = 0;
          for (std::int64_t k = 0; k < n; ++k) total += std::exp(p[k * stride] - top);
          return top + std::log(total);
        }
      }
    }
    return T{};
  }
  /// An i64 sum that throws on overflow instead of wrapping.
  static std::int64_t checked_sum(const std::int64_t* p, std::int64_t n, std::int64_t stride) {
    std::int64_t total = 0;
    for (std::int64_t k = 0; k < n; ++k)
      if (__builtin_add_overflow(total, p[k * stride], &total)) throw_domain("sum", "integer overflow in the sum of i64 elements");
    return total;
  }
  template <class T>
  static T max_of(const T* p, std::int64_t n, std::int64_t stride) {
    T best = p[0];
    for (std::int64_t k = 1; k < n; ++k) {
      const T value = p[k * stride];
      if (value != value) return value;  // NaN propagates
      if (value > best) best = value;
    }
    return best;
  }

  Reduction kind_;
  std::optional<int> axis_;
};

/// @brief `unreduce(g, x)`: spreads `g` (the shape of `x` reduced over `axis`, or a scalar for
/// all axes) back to `x`'s shape, repeating it along the axis; divided by the axis length when
/// `mean` is set. The gradient partner of `Reduce`.
class Unreduce final : public Op {
 public:
  Unreduce(std::optional<int> axis, bool mean) : axis_(axis), mean_(mean) {}
  std::optional<int> axis() const { return axis_; }
  bool is_mean() const { return mean_; }
  std::string name() const override { return "unreduce"; }
  OpParameters parameters() const override {
    OpParameters declared;
    if (axis_) declared.push_back({"axis", std::int64_t{*axis_}});
    declared.push_back({"mean", mean_});
    return declared;
  }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 2) throw_invalid(name(), "expected 2 inputs, got ", inputs.size());
    if (inputs[0].dtype() != DType::f64) throw_invalid(name(), "input 1/2 has dtype ", dtype_name(inputs[0].dtype()), ", expected f64");
    const int expected = axis_ ? inputs[1].rank() - 1 : 0;
    if (inputs[0].rank() != expected) throw_invalid(name(), "input 1/2 has rank ", inputs[0].rank(), ", expected ", expected);
    return {Type{DType::f64, inputs[1].type().shape}};
  }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& g = *in[0];
    const Shape& shape = in[1]->shape();
    const auto [outer, length, inner] = detail::split_axis(shape, axis_);
    if (!(g.shape() == detail::reduced_shape(shape, axis_)))
      throw_invalid(name(), "input 1/2 has shape ", g.shape().str(), ", expected ", detail::reduced_shape(shape, axis_).str());
    Array& result = *out[0];
    result.ensure(DType::f64, shape);
    const double* source = g.data<double>();
    double* target = result.data<double>();
    const double scale = mean_ ? 1.0 / static_cast<double>(length) : 1.0;
    for (std::int64_t i = 0; i < outer; ++i)
      for (std::int64_t k = 0; k < length; ++k)
        for (std::int64_t j = 0; j < inner; ++j) target[(i * length + k) * inner + j] = source[i * inner + j] * scale;
  }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override {
    Variable g = make_apply<Reduce>({output_grads[0]}, mean_ ? Reduction::mean : Reduction::sum, axis_);
    (void)node;
    return {InputGrad::of(g), InputGrad::disconnected()};
  }

 private:
  std::optional<int> axis_;
  bool mean_;
};

/// @brief Sum over `axis` (all axes when omitted). Bool inputs are summed as i64; f32 inputs
/// are summed in double, with an f64 result.
inline Variable sum(const Variable& x, std::optional<int> axis = std::nullopt) {
  detail::check_not_null("sum", x, 1, 1);
  const Variable input = x.dtype() == DType::boolean ? cast(x, DType::i64) : x;
  return make_apply<Reduce>({input}, Reduction::sum, detail::resolve_axis("sum", axis, x.rank()));
}
/// @brief Mean over `axis` (all axes when omitted); integers are converted to f64, f32 inputs
/// are read in place and accumulated in double.
inline Variable mean(const Variable& x, std::optional<int> axis = std::nullopt) {
  detail::check_not_null("mean", x, 1, 1);
  return make_apply<Reduce>({x.dtype() == DType::f32 ? x : cast(x, DType::f64)}, Reduction::mean, detail::resolve_axis("mean", axis, x.rank()));
}
/// @brief @f$ \log \sum e^{x} @f$ over `axis` (all axes when omitted), computed stably.
inline Variable logsumexp(const Variable& x, std::optional<int> axis = std::nullopt) {
  detail::check_not_null("logsumexp", x, 1, 1);
  return make_apply<Reduce>({cast(x, DType::f64)}, Reduction::logsumexp, detail::resolve_axis("logsumexp", axis, x.rank()));
}
/// @brief Maximum over `axis` (all axes when omitted); NaN propagates. Gradient goes to every
/// position equal to the maximum. f32 inputs are converted to f64 (the maximum is exact).
inline Variable max(const Variable& x, std::optional<int> axis = std::nullopt) {
  detail::check_not_null("max", x, 1, 1);
  const Variable input = x.dtype() == DType::boolean ? cast(x, DType::i64) : x.dtype() == DType::f32 ? cast(x, DType::f64) : x;
  return make_apply<Reduce>({input}, Reduction::max, detail::resolve_axis("max", axis, x.rank()));
}

inline std::vector<InputGrad> Reduce::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  const Variable& x = node.input(0);
  if (x.dtype() != DType::f64) return {InputGrad::disconnected()};
  const Variable& g = output_grads[0];
  switch (kind_) {
    case Reduction::sum: return {InputGrad::of(make_apply<Unreduce>({g, x}, axis_, false))};
    case Reduction::mean: return {InputGrad::of(make_apply<Unreduce>({g, x}, axis_, true))};
    case Reduction::logsumexp: {
      // softmax(x) = exp(x - lse) / sum(exp(x - lse)). The sum is 1 only while lse is exact:
      // where |x| is large (1e15) lse's rounding error is of order one, and exp(x - lse) alone
      // gave entries summing to 0.94, or 2 (log 2 lost at 1e17). Since lse >= max(x), no
      // entry overflows; an empty axis has no entry to divide.
      const Variable spread_out = make_apply<Unreduce>({node.output(0), x}, axis_, false);
      const Variable weights = exp(sub(x, spread_out));
      const Variable total = make_apply<Unreduce>({make_apply<Reduce>({weights}, Reduction::sum, axis_), x}, axis_, false);
      return {InputGrad::of(mul(make_apply<Unreduce>({g, x}, axis_, false), div(weights, total)))};
    }
    case Reduction::max: {
      const Variable spread_out = make_apply<Unreduce>({node.output(0), x}, axis_, false);
      return {InputGrad::of(where(eq(x, spread_out), make_apply<Unreduce>({g, x}, axis_, false), constant(0.0)))};
    }
  }
  return {InputGrad::disconnected()};
}

}  // namespace symbatch
