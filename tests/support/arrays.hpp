// Small array helpers shared by the shape-op tests.
#pragma once

#include <cstdint>
#include <vector>

#include "symbatch/core/array.hpp"

namespace symbatch::testing {

/// `start, start+1, ...` as an f64 array of the given shape.
inline Array counting(const Shape& shape, double start = 0) {
  Array result = Array::empty(DType::f64, shape);
  for (std::int64_t i = 0; i < result.size(); ++i) result.data<double>()[i] = start + static_cast<double>(i);
  return result;
}
inline std::vector<double> values(const Array& array) { return array.to_vector<double>(); }
inline std::vector<std::int64_t> integers(const Array& array) { return array.to_vector<std::int64_t>(); }

}  // namespace symbatch::testing
