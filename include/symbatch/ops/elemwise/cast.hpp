/// @file cast.hpp
/// @brief `cast(x, dtype)`: elementwise conversion between f64, i64, bool and f32.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "symbatch/graph/apply.hpp"

namespace symbatch {

namespace detail {

/// Converts one element to `U`. A double converts to i64 only when it is finite and within
/// i64's range (then it truncates toward zero, as NumPy's `astype`); otherwise the conversion
/// would be undefined behaviour in C++, so it throws `std::domain_error`:
/// `cast: element 3 is nan, which has no i64 value`. A double converts to f32 by IEEE rounding
/// to nearest (overflowing to +-inf beyond f32's range, as NumPy's `astype('f4')`).
template <class U, class T>
U convert_element(T value, std::int64_t index) {
  if constexpr (std::is_floating_point_v<T> && std::is_same_v<U, std::int64_t>) {
    // [-2^63, 2^63) is exactly the doubles whose truncation fits in i64.
    if (!(value >= -0x1p63 && value < 0x1p63))
      throw_domain("cast", "element ", index, " is ", format_number(value), ", which has no i64 value");
  }
  if constexpr (std::is_same_v<U, bool>) return value != T{0};
  else return static_cast<U>(value);
}
// IEEE arithmetic makes double -> float rounding (and overflow to infinity) well defined.
static_assert(std::numeric_limits<float>::is_iec559 && std::numeric_limits<double>::is_iec559);

}  // namespace detail

/// @brief `cast(x, dtype)`: converts elements (f64 to i64 truncates toward zero, as NumPy's
/// `astype`; anything to bool is `x != 0`; f32 to f64 is exact). Gradient flows only from f64 to
/// f64: a cast from or to f32 is disconnected (f32 arrays are data, never differentiated).
class Cast final : public Op {
 public:
  explicit Cast(DType dtype) : dtype_(dtype) {}
  std::string name() const override { return "cast"; }
  OpParameters parameters() const override { return {{"dtype", std::string(dtype_name(dtype_))}}; }
  DType dtype() const { return dtype_; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 1) throw_invalid(name(), "expected 1 input, got ", inputs.size());
    if (!is_numeric(inputs[0].dtype()) || !is_numeric(dtype_))
      throw_invalid(name(), "cannot cast ", dtype_name(inputs[0].dtype()), " to ", dtype_name(dtype_));
    return {Type{dtype_, inputs[0].type().shape}};
  }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& x = *in[0];
    Array& result = *out[0];
    if (x.dtype() == dtype_) {
      result = x;
      return;
    }
    result.ensure(dtype_, x.shape());
    const std::int64_t n = x.size();
    switch (dtype_) {
      case DType::f64: convert<double>(x, result.data<double>(), n); break;
      case DType::i64: convert<std::int64_t>(x, result.data<std::int64_t>(), n); break;
      case DType::boolean: convert<bool>(x, result.data<bool>(), n); break;
      case DType::f32: convert<float>(x, result.data<float>(), n); break;
      case DType::rng: break;
    }
  }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override {
    if (dtype_ == DType::f64 && node.input(0).dtype() == DType::f64) return {InputGrad::of(output_grads[0])};
    return {InputGrad::disconnected()};
  }
  std::optional<int> view_of(int) const override { return 0; }

 private:
  template <class U>
  static void convert(const Array& x, U* out, std::int64_t n) {
    switch (x.dtype()) {
      case DType::f64: { const double* p = x.data<double>(); for (std::int64_t k = 0; k < n; ++k) out[k] = detail::convert_element<U>(p[k], k); break; }
      case DType::i64: { const std::int64_t* p = x.data<std::int64_t>(); for (std::int64_t k = 0; k < n; ++k) out[k] = detail::convert_element<U>(p[k], k); break; }
      case DType::boolean: { const bool* p = x.data<bool>(); for (std::int64_t k = 0; k < n; ++k) out[k] = detail::convert_element<U>(p[k], k); break; }
      case DType::f32: { const float* p = x.data<float>(); for (std::int64_t k = 0; k < n; ++k) out[k] = detail::convert_element<U>(p[k], k); break; }
      case DType::rng: break;
    }
  }
  DType dtype_;
};

/// @brief Converts `x` to `dtype` (no node when it already has that dtype; constants are
/// converted directly).
inline Variable cast(const Variable& x, DType dtype) {
  detail::check_not_null("cast", x, 1, 1);
  if (x.dtype() == dtype) return x;
  if (x.is_constant() && is_numeric(x.dtype()) && is_numeric(dtype)) {  // folded now, by the op's own conversion
    Array converted;
    const Array* in[] = {&x.constant_value()};
    Array* out[] = {&converted};
    Scratch scratch;
    Cast(dtype).perform(in, out, scratch);
    return constant(std::move(converted));
  }
  return make_apply<Cast>({x}, dtype);
}

}  // namespace symbatch
