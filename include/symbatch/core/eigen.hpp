/// @file eigen.hpp
/// @brief Conversions between `Array` and Eigen vectors and matrices.
#pragma once

#include <Eigen/Core>

#include "symbatch/core/array.hpp"

namespace symbatch {

/// Row-major dynamic matrix, the layout of a rank-2 `Array`.
template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// @brief Copies an Eigen vector or matrix into a new `Array`.
///
/// A column vector (compile-time one column) becomes a rank-1 array; anything else becomes a
/// rank-2 array with element `(i, j)` at `at(i, j)` whatever the Eigen storage order.
template <class Derived>
Array to_array(const Eigen::DenseBase<Derived>& input) {
  using Scalar = typename Derived::Scalar;
  using T = std::conditional_t<std::is_integral_v<Scalar> && !std::is_same_v<Scalar, bool>, std::int64_t, Scalar>;
  const auto rows = static_cast<std::int64_t>(input.rows());
  const auto cols = static_cast<std::int64_t>(input.cols());
  const bool vector = Derived::ColsAtCompileTime == 1 || Derived::RowsAtCompileTime == 1;
  Array result = Array::empty(dtype_of<T>(), vector ? Shape{rows * cols} : Shape{rows, cols});
  T* out = result.data<T>();
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) out[i * cols + j] = static_cast<T>(input(i, j));
  return result;
}

/// @brief A read-only Eigen map of a rank-1 array (no copy).
template <class T = double>
Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>> map_vector(const Array& array) {
  if (array.rank() != 1) throw_invalid("map_vector", "array has shape ", array.shape().str(), ", expected rank 1");
  return {array.data<T>(), static_cast<Eigen::Index>(array.shape()[0])};
}

/// @brief A read-only row-major Eigen map of a rank-2 array (no copy).
template <class T = double>
Eigen::Map<const RowMatrix<T>> map_matrix(const Array& array) {
  if (array.rank() != 2) throw_invalid("map_matrix", "array has shape ", array.shape().str(), ", expected rank 2");
  return {array.data<T>(), static_cast<Eigen::Index>(array.shape()[0]), static_cast<Eigen::Index>(array.shape()[1])};
}

/// @brief Copies a rank-1 array (or any array, flattened) into an Eigen vector of doubles.
inline Eigen::VectorXd to_eigen_vector(const Array& array) {
  Eigen::VectorXd result(array.size());
  for (std::int64_t i = 0; i < array.size(); ++i) result[i] = array.flat<double>(i);
  return result;
}

/// @brief Copies a rank-2 array into a (column-major) Eigen matrix of doubles.
inline Eigen::MatrixXd to_eigen_matrix(const Array& array) {
  if (array.rank() != 2) throw_invalid("to_eigen_matrix", "array has shape ", array.shape().str(), ", expected rank 2");
  const auto rows = array.shape()[0], cols = array.shape()[1];
  Eigen::MatrixXd result(rows, cols);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) result(i, j) = array.flat<double>(i * cols + j);
  return result;
}

}  // namespace symbatch
