/// @file error.hpp
/// @brief The one way symbatch checks arguments and formats its messages.
///
/// Bad values throw `std::domain_error`; bad sizes, shapes and dtypes throw
/// `std::invalid_argument`. Every message starts with the function's name:
/// `normal: Scale parameter is -1, but must be positive`.
#pragma once

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace symbatch {

namespace detail {

/// Streams any number of arguments into one string.
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  out.precision(17);
  (out << ... << args);
  return out.str();
}

/// Formats a double the way messages show it: shortest form that round-trips.
inline std::string format_number(double value) {
  std::ostringstream out;
  out.precision(15);
  out << value;
  if (std::stod(out.str()) != value && std::isfinite(value)) {
    out.str("");
    out.precision(17);
    out << value;
  }
  return out.str();
}

}  // namespace detail

/// @brief Throws `std::invalid_argument("<function>: <message...>")`.
template <class... Args>
[[noreturn]] void throw_invalid(std::string_view function, const Args&... message) {
  throw std::invalid_argument(detail::concat(function, ": ", message...));
}

/// @brief Throws `std::domain_error("<function>: <message...>")`.
template <class... Args>
[[noreturn]] void throw_domain(std::string_view function, const Args&... message) {
  throw std::domain_error(detail::concat(function, ": ", message...));
}

/// @brief Throws `std::domain_error` unless `value > 0`:
/// `function: name is value, but must be positive`.
inline void check_positive(std::string_view function, std::string_view name, double value) {
  if (!(value > 0)) throw_domain(function, name, " is ", detail::format_number(value), ", but must be positive");
}

/// @brief Throws `std::domain_error` unless `value` is finite.
inline void check_finite(std::string_view function, std::string_view name, double value) {
  if (!std::isfinite(value)) throw_domain(function, name, " is ", detail::format_number(value), ", but must be finite");
}

/// @brief Throws `std::domain_error` unless `value >= 0`.
inline void check_nonnegative(std::string_view function, std::string_view name, double value) {
  if (!(value >= 0)) throw_domain(function, name, " is ", detail::format_number(value), ", but must be nonnegative");
}

/// @brief Throws `std::domain_error` unless `low <= value <= high`.
inline void check_bounded(std::string_view function, std::string_view name, double value, double low, double high) {
  if (!(value >= low && value <= high))
    throw_domain(function, name, " is ", detail::format_number(value), ", but must be in the interval [",
                 detail::format_number(low), ", ", detail::format_number(high), "]");
}

}  // namespace symbatch
