// Conversions between Array and Eigen: element (i, j) must land at at(i, j) whatever the Eigen
// storage order. Expected values are the hand-filled Eigen entries.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "symbatch/core/eigen.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace core_eigen_test {

using namespace symbatch;

namespace {

/// Entry (i, j) = 10 * i + j, easy to recognise in any layout.
template <class Matrix>
Matrix labelled(Eigen::Index rows, Eigen::Index cols) {
  Matrix m(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = static_cast<typename Matrix::Scalar>(10 * i + j);
  return m;
}

}  // namespace

TEST_CASE("eigen: a column-major MatrixXd arrives with element (i, j) at at(i, j)", "[core][eigen]") {
  const Eigen::MatrixXd m = labelled<Eigen::MatrixXd>(3, 4);
  // Eigen stores it column by column: its raw memory starts 0, 10, 20, 1, ...
  REQUIRE(m.data()[1] == 10.0);
  const Array a = to_array(m);
  CHECK(a.dtype() == DType::f64);
  CHECK(a.shape() == Shape{3, 4});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) CHECK(a.at(i, j) == 10.0 * i + j);
  // And the array itself is in C order.
  CHECK(a.to_vector() == std::vector<double>{0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23});
}

TEST_CASE("eigen: a row-major matrix arrives unchanged", "[core][eigen]") {
  const RowMatrix<double> m = labelled<RowMatrix<double>>(2, 3);
  const Array a = to_array(m);
  CHECK(a.shape() == Shape{2, 3});
  CHECK(a.to_vector() == std::vector<double>{0, 1, 2, 10, 11, 12});
  CHECK(a.at(1, 2) == 12.0);
}

TEST_CASE("eigen: fixed-size matrices and expressions convert", "[core][eigen]") {
  Eigen::Matrix2d fixed;
  fixed << 1, 2, 3, 4;
  CHECK(to_array(fixed).to_vector() == std::vector<double>{1, 2, 3, 4});
  const Eigen::MatrixXd m = labelled<Eigen::MatrixXd>(2, 3);
  const Array transposed = to_array(m.transpose());
  CHECK(transposed.shape() == Shape{3, 2});
  CHECK(transposed.at(2, 1) == 12.0);
  // A matrix with one column at run time only stays a matrix.
  const Array column = to_array(labelled<Eigen::MatrixXd>(3, 1));
  CHECK(column.shape() == Shape{3, 1});
}

TEST_CASE("eigen: integer matrices become i64 arrays", "[core][eigen]") {
  const Eigen::MatrixXi m = labelled<Eigen::MatrixXi>(2, 2);
  const Array a = to_array(m);
  CHECK(a.dtype() == DType::i64);
  CHECK(a.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 10, 11});
  Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1> v(3);
  v << -1, 5, 1'000'000'000'000;
  const Array b = to_array(v);
  CHECK(b.dtype() == DType::i64);
  CHECK(b.shape() == Shape{3});
  CHECK(b.to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, 5, 1'000'000'000'000});
}

TEST_CASE("eigen: bool matrices become bool arrays", "[core][eigen]") {
  Eigen::Matrix<bool, 2, 2> m;
  m << true, false, false, true;
  const Array a = to_array(m);
  CHECK(a.dtype() == DType::boolean);
  CHECK(a.to_vector<bool>() == std::vector<bool>{true, false, false, true});
}

TEST_CASE("eigen: column and row vectors become rank-1 arrays", "[core][eigen]") {
  Eigen::VectorXd column(3);
  column << 1.5, -2, 4;
  const Array a = to_array(column);
  CHECK(a.shape() == Shape{3});
  CHECK(a.to_vector() == std::vector<double>{1.5, -2, 4});
  Eigen::RowVectorXd row(2);
  row << 7, 8;
  const Array b = to_array(row);
  CHECK(b.shape() == Shape{2});
  CHECK(b.to_vector() == std::vector<double>{7, 8});
  CHECK(to_array(Eigen::VectorXd(0)).shape() == Shape{0});
}

TEST_CASE("eigen: map_vector and map_matrix view the array without copying", "[core][eigen]") {
  const Array v = Array::from({1.0, 2.0, 3.0});
  const auto mapped = map_vector(v);
  CHECK(mapped.size() == 3);
  CHECK(mapped.data() == v.data<double>());
  CHECK(mapped.sum() == 6.0);

  const Array m = Array::from(std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, Shape{4, 3});
  const auto matrix = map_matrix(m);
  CHECK(matrix.rows() == 4);
  CHECK(matrix.cols() == 3);
  CHECK(matrix(2, 1) == 7.0);
  CHECK(matrix.data() == m.data<double>());

  // A slice maps from its own first row.
  const Array rows = m.slice_rows(2, 4);
  const auto slice = map_matrix(rows);
  CHECK(slice.rows() == 2);
  CHECK(slice(0, 0) == 6.0);
  CHECK(slice(1, 2) == 11.0);
  CHECK(map_vector(Array::from({5.0, 6.0, 7.0}).slice_rows(1, 3))(0) == 6.0);

  const Array ints = Array::from(std::vector<std::int64_t>{4, 5});
  CHECK(map_vector<std::int64_t>(ints)(1) == 5);
}

TEST_CASE("eigen: map_vector and map_matrix check rank and dtype", "[core][eigen]") {
  const Array m = Array::zeros(DType::f64, Shape{2, 2});
  CHECK_THROWS_WITH(map_vector(m), "map_vector: array has shape (2, 2), expected rank 1");
  CHECK_THROWS_WITH(map_matrix(Array::from({1.0})), "map_matrix: array has shape (1,), expected rank 2");
  CHECK_THROWS_WITH(map_vector<std::int64_t>(Array::from({1.0})), "Array::data: array has dtype f64, requested i64");
  CHECK_THROWS_AS(map_matrix(Array::scalar(1.0)), std::invalid_argument);
}

TEST_CASE("eigen: to_eigen_vector and to_eigen_matrix round-trip", "[core][eigen]") {
  const Eigen::MatrixXd m = labelled<Eigen::MatrixXd>(3, 2);
  const Eigen::MatrixXd back = to_eigen_matrix(to_array(m));
  CHECK(back == m);
  const RowMatrix<double> r = labelled<RowMatrix<double>>(2, 4);
  CHECK(to_eigen_matrix(to_array(r)) == Eigen::MatrixXd(r));

  Eigen::VectorXd v(4);
  v << 0.25, -1, 3, 1e300;
  CHECK(to_eigen_vector(to_array(v)) == v);

  // Integer arrays convert to doubles; any rank flattens into a vector in C order.
  const Array ints = Array::from(std::vector<std::int64_t>{1, 2, 3, 4}, Shape{2, 2});
  const Eigen::MatrixXd from_ints = to_eigen_matrix(ints);
  CHECK(from_ints(1, 0) == 3.0);
  CHECK(to_eigen_vector(ints) == Eigen::Vector4d(1, 2, 3, 4));
  // A sliced array converts its own rows only.
  CHECK(to_eigen_matrix(to_array(m).slice_rows(1, 3)) == m.bottomRows(2));
  CHECK_THROWS_WITH(to_eigen_matrix(Array::from({1.0})), "to_eigen_matrix: array has shape (1,), expected rank 2");
}

}  // namespace core_eigen_test
