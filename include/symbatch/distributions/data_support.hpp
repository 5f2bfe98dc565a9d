/// @file data_support.hpp
/// @brief Observed data checked against their distribution's support, once per data array.
///
/// A value outside the support (1.5 for a Poisson, NaN for a Normal) makes the log-density
/// `-inf` or NaN, and a training loop would then blame the parameters. `check_observed_data`
/// names the data instead:
///
///     Model::observed: the data of 'y' hold 1.5 at row 3, outside the support of poisson (nonnegative integers)
///
/// Constant data are checked when the model is built. Other data are checked by a pass-through
/// op when a compiled function first reads them, and again only when the array changes: the op
/// remembers the array it checked (buffer, offset, shape) and keeps a reference to it, so its
/// address cannot be reused by another array. In steady state a call costs one comparison and
/// allocates nothing. A `set_value` gives a new array and so a new check; an array written in
/// place after it was checked is not checked again. For a minibatch view the whole array it
/// selects from is checked (every row of it is data of the term), once, and the row named is
/// the row of that array. Data computed by other ops (whose buffers are reused with new contents)
/// are checked on every call. Data of dtype f32 (storage only, e.g. a mapped float32 file) are
/// checked in place, each value widened to double, and a distribution reads them as f64.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "symbatch/distributions/distribution.hpp"
#include "symbatch/minibatch/minibatch.hpp"

namespace symbatch {

namespace detail {

/// The static part of a distribution's support that observed data must lie in.
struct DataSupport {
  Support support = Support::real;
  double lower = 0, upper = 0;
  bool zero_excluded = false;

  static DataSupport of(const Distribution& distribution) {
    return {distribution.support, distribution.lower, distribution.upper, distribution.zero_excluded};
  }
  bool contains(double value) const {
    switch (support) {
      case Support::real: return std::isfinite(value);
      case Support::positive: return value < std::numeric_limits<double>::infinity() && (zero_excluded ? value > 0 : value >= 0);
      case Support::interval: return value >= lower && value <= upper;
      case Support::nonnegative_integer: return value >= 0 && value < std::numeric_limits<double>::infinity() && value == std::floor(value);
      case Support::binary: return value == 0 || value == 1;
    }
    return false;
  }
  /// True when no value of `dtype` can fall outside (integers are finite reals; bools are 0 or 1).
  bool contains_every(DType dtype) const {
    if (dtype == DType::boolean) return support != Support::interval && !(support == Support::positive && zero_excluded);
    return dtype == DType::i64 && support == Support::real;
  }
  std::string describe() const {
    switch (support) {
      case Support::real: return "real numbers";
      case Support::positive: return zero_excluded ? "positive real numbers" : "nonnegative real numbers";
      case Support::interval: return "the interval [" + format_number(lower) + ", " + format_number(upper) + "]";
      case Support::nonnegative_integer: return "nonnegative integers";
      case Support::binary: return "0 and 1";
    }
    return "?";
  }
  bool operator==(const DataSupport&) const = default;
};

/// Passes the observed data (input 1) through after checking the array they come from (the
/// last input: the data themselves, or the whole array a minibatch view selects from). When
/// `keyed`, that array is a graph input or shared variable, checked again only when it is a
/// different array; otherwise it is computed and checked on every call.
class CheckObservedData final : public Op {
 public:
  CheckObservedData(std::string observed, std::string distribution, DataSupport support, bool keyed)
      : observed_(std::move(observed)), distribution_(std::move(distribution)), support_(support), keyed_(keyed) {}
  std::string name() const override { return "check_data"; }
  OpParameters parameters() const override {
    return {{"observed", observed_}, {"distribution", distribution_}, {"support", support_.describe()}, {"keyed", keyed_}};
  }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override { return {inputs[0].type()}; }

  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    const Array& source = *in.back();
    if (!keyed_) {
      check(source);
    } else {
      if (scratch.arrays.empty()) scratch.arrays.resize(1);
      Array& checked = scratch.arrays[0];
      if (!(std::as_const(checked).raw_data() == source.raw_data() && checked.has_buffer() && checked.shape() == source.shape() &&
            checked.dtype() == source.dtype())) {
        check(source);
        checked = source;  // held, so no other array can take this address while it is the key
      }
    }
    *out[0] = *in[0];
  }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override {
    std::vector<InputGrad> result(node.inputs().size());
    result[0] = InputGrad::of(output_grads[0]);
    return result;
  }
  std::optional<int> view_of(int) const override { return 0; }

  /// Throws `std::domain_error` naming the data, the row and the value of the first element of
  /// `values` outside the support.
  void check(const Array& values) const {
    if (!values.has_buffer()) return;  // no elements to read
    switch (values.dtype()) {
      case DType::f64: check_elements(values, values.data<double>()); break;
      case DType::i64: check_elements(values, values.data<std::int64_t>()); break;
      case DType::boolean: check_elements(values, values.data<bool>()); break;
      case DType::f32: check_elements(values, values.data<float>()); break;
      case DType::rng: break;
    }
  }

 private:
  template <class T>
  void check_elements(const Array& values, const T* elements) const {
    const std::int64_t count = values.size();
    for (std::int64_t k = 0; k < count; ++k)
      if (!support_.contains(static_cast<double>(elements[k]))) fail(values, k, elements[k]);
  }
  template <class T>
  [[noreturn]] void fail(const Array& values, std::int64_t index, T value) const {
    const std::string shown = std::is_floating_point_v<T> ? format_number(static_cast<double>(value)) : std::to_string(static_cast<std::int64_t>(value));
    std::string where;
    if (values.rank() >= 1) where = " at row " + std::to_string(index / (values.size() / values.shape()[0]));
    throw_domain("Model::observed", "the data of '", observed_, "' hold ", shown, where, ", outside the support of ", distribution_, " (",
                 support_.describe(), ")");
  }

  std::string observed_, distribution_;
  DataSupport support_;
  bool keyed_;
};

}  // namespace detail

/// @brief The observed data `data` of `name`, checked against the support of `distribution`
/// (see the file comment): constant data now, other data when a compiled function reads them.
/// @throws std::domain_error for constant data outside the support:
/// `Model::observed: the data of 'y' hold 1.5 at row 3, outside the support of poisson (nonnegative integers)`.
inline Variable check_observed_data(const std::string& name, const Distribution& distribution, const Variable& data) {
  const detail::DataSupport support = detail::DataSupport::of(distribution);
  Variable source = data;
  if (auto view = as_minibatch_view(data); view && !view->array.owner()) source = view->array;
  if (support.contains_every(source.dtype())) return data;
  const detail::CheckObservedData check(name, distribution.name, support, !source.owner());
  if (source.is_constant()) {
    check.check(source.constant_value());
    return data;
  }
  if (source == data) return make_apply<detail::CheckObservedData>({data}, name, distribution.name, support, !source.owner());
  return make_apply<detail::CheckObservedData>({data, source}, name, distribution.name, support, true);
}

}  // namespace symbatch
