#include <catch2/catch.hpp>

#include "support/gradcheck.hpp"
#include "symbatch/ops/blas.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace ops_blas_test {

using namespace symbatch;

namespace {

Array matrix(std::vector<double> values, std::int64_t rows, std::int64_t cols) { return Array::from(values, Shape{rows, cols}); }

std::vector<double> evaluate(const Variable& output, const std::vector<Variable>& inputs, const std::vector<Array>& values) {
  Function f = compile(inputs, {output});
  return f(values)[0].to_vector();
}

}  // namespace

TEST_CASE("matmul: matrix times matrix, vector and the vector cases follow NumPy", "[ops][blas]") {
  Variable a = input("a", DType::f64, {2, 3});
  Variable b = input("b", DType::f64, {3, 2});
  Variable v = input("v", DType::f64, {3});
  Variable u = input("u", DType::f64, {2});
  const Array A = matrix({1, 2, 3, 4, 5, 6}, 2, 3);
  const Array B = matrix({7, 8, 9, 10, 11, 12}, 3, 2);
  const Array V = Array::from({1.0, -1.0, 2.0});
  const Array U = Array::from({3.0, -2.0});
  // [[1,2,3],[4,5,6]] @ [[7,8],[9,10],[11,12]] = [[58,64],[139,154]]
  CHECK(evaluate(matmul(a, b), {a, b}, {A, B}) == std::vector<double>{58, 64, 139, 154});
  CHECK(matmul(a, b).type().shape == std::vector<std::int64_t>{2, 2});
  // A v = [1-2+6, 4-5+12]
  CHECK(evaluate(matmul(a, v), {a, v}, {A, V}) == std::vector<double>{5, 11});
  CHECK(matmul(a, v).type().shape == std::vector<std::int64_t>{2});
  // u A = [3*1-2*4, 3*2-2*5, 3*3-2*6]
  CHECK(evaluate(matmul(u, a), {u, a}, {U, A}) == std::vector<double>{-5, -4, -3});
  // v . v = 1 + 1 + 4, a scalar
  CHECK(evaluate(dot(v, v), {v}, {V}) == std::vector<double>{6});
  CHECK(dot(v, v).rank() == 0);
}

TEST_CASE("matmul: transposed variants equal the product with an explicit transpose", "[ops][blas]") {
  Variable a = input("a", DType::f64, {3, 2});
  Variable b = input("b", DType::f64, {3, 2});
  const Array A = matrix({1, 2, 3, 4, 5, 6}, 3, 2);
  const Array B = matrix({7, 8, 9, 10, 11, 12}, 3, 2);
  // A^T B = [[1*7+3*9+5*11, 1*8+3*10+5*12], [2*7+4*9+6*11, 2*8+4*10+6*12]]
  CHECK(evaluate(matmul_transpose_a(a, b), {a, b}, {A, B}) == std::vector<double>{89, 98, 116, 128});
  // A B^T (3 x 3), first row: [1*7+2*8, 1*9+2*10, 1*11+2*12]
  const std::vector<double> abt = evaluate(matmul_transpose_b(a, b), {a, b}, {A, B});
  REQUIRE(abt.size() == 9);
  CHECK(std::vector<double>(abt.begin(), abt.begin() + 3) == std::vector<double>{23, 29, 35});
  Variable r = input("r", DType::f64, {3});
  // A^T r with r = (1, 0, -1): [1-5, 2-6]
  CHECK(evaluate(matmul_transpose_a(a, r), {a, r}, {A, Array::from({1.0, 0.0, -1.0})}) == std::vector<double>{-4, -4});
}

TEST_CASE("matmul: short rows times a vector (the SIMD kernel) equal the written-out sums", "[ops][blas]") {
  // Every row count mod 4 and column counts around the packet widths (2, 4, 8) and the kernel's
  // limit of 32 (33 takes Eigen's path); integer-valued entries, so every sum is exact.
  for (const std::int64_t rows : {1, 2, 3, 4, 5, 7, 9, 64, 67}) {
    for (const std::int64_t cols : {1, 2, 3, 5, 8, 9, 16, 17, 31, 32, 33}) {
      INFO(rows << " x " << cols);
      std::vector<double> a(static_cast<std::size_t>(rows * cols)), v(static_cast<std::size_t>(cols));
      for (std::size_t k = 0; k < a.size(); ++k) a[k] = static_cast<double>(static_cast<std::int64_t>(k * 7 % 13) - 6);
      for (std::size_t j = 0; j < v.size(); ++j) v[j] = static_cast<double>(static_cast<std::int64_t>(j % 5) - 2);
      std::vector<double> expected(static_cast<std::size_t>(rows));
      for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j) expected[static_cast<std::size_t>(i)] += a[static_cast<std::size_t>(i * cols + j)] * v[static_cast<std::size_t>(j)];
      Variable x = input("x", DType::f64, {rows, cols});
      Variable w = input("w", DType::f64, {cols});
      const Array X = matrix(a, rows, cols), W = Array::from(v);
      CHECK(evaluate(matmul(x, w), {x, w}, {X, W}) == expected);
      CHECK(evaluate(matmul_transpose_b(w, x), {w, x}, {W, X}) == expected);  // v X^T: the same rows
    }
  }
}

TEST_CASE("matmul: a batch with an unknown number of rows is checked at run time", "[ops][blas]") {
  Variable x = input("x", DType::f64, {Type::unknown, Type::unknown});
  Variable w = input("w", DType::f64, {3});
  Function f = compile({x, w}, {matmul(x, w)});
  CHECK(f({matrix({1, 2, 3, 4, 5, 6}, 2, 3), Array::from({1.0, 1.0, 1.0})})[0].to_vector() == std::vector<double>{6, 15});
  CHECK_THROWS_WITH(f({matrix({1, 2, 3, 4}, 2, 2), Array::from({1.0, 1.0, 1.0})}), "matmul: shapes (2, 2) and (3,) do not align (2 != 3)");
  CHECK(f({matrix({1, 0, 0, 0, 1, 0}, 2, 3), Array::from({1.0, 2.0, 3.0})})[0].to_vector() == std::vector<double>{1, 2});
}

TEST_CASE("matmul: construction errors name the input, its shape and what was expected", "[ops][blas]") {
  Variable a = input("a", DType::f64, {2, 3});
  CHECK_THROWS_AS(matmul(a, input("v", DType::f64, {5})), std::invalid_argument);
  CHECK_THROWS_WITH(matmul(a, input("v", DType::f64, {5})), "matmul: input 2/2 has shape (5,), expected (3,)");
  CHECK_THROWS_WITH(matmul(a, input("m", DType::f64, {4, 2})), "matmul: input 2/2 has shape (4, 2), expected (3, 2)");
  CHECK_THROWS_WITH(matmul(a, input("s", DType::f64, {})), "matmul: input 2/2 has shape (), expected a vector or a matrix");
  CHECK_THROWS_WITH(make_apply<MatMul>({input("i", DType::i64, {3}), input("v", DType::f64, {3})}),
                    "matmul: input 1/2 has dtype i64, expected f64 or f32");
}

TEST_CASE("matmul: gradients match finite differences for every shape combination", "[ops][blas][grad]") {
  auto values = [](std::int64_t rows, std::int64_t cols, double phase) {
    std::vector<double> v;
    for (std::int64_t i = 0; i < rows * cols; ++i) v.push_back(std::sin(phase * static_cast<double>(i + 1)));
    return cols == 0 ? Array::from(v, Shape{rows}) : Array::from(v, Shape{rows, cols});
  };
  auto vector = [](std::int64_t n, double phase) {
    std::vector<double> v;
    for (std::int64_t i = 0; i < n; ++i) v.push_back(std::cos(phase * static_cast<double>(i + 1)));
    return Array::from(v);
  };
  using testing::check_grad;
  auto product = [](const std::vector<Variable>& x) { return matmul(x[0], x[1]); };
  check_grad(product, {values(3, 4, 1), values(4, 2, 2)});
  check_grad(product, {values(3, 4, 1), vector(4, 2)});
  check_grad(product, {vector(3, 1), values(3, 4, 2)});
  check_grad(product, {vector(3, 1), vector(3, 2)});
  check_grad([](const std::vector<Variable>& x) { return matmul_transpose_a(x[0], x[1]); }, {values(4, 3, 1), values(4, 2, 2)});
  check_grad([](const std::vector<Variable>& x) { return matmul_transpose_b(x[0], x[1]); }, {values(3, 4, 1), values(2, 4, 2)});
  check_grad([](const std::vector<Variable>& x) { return matmul_transpose_a(x[0], x[1]); }, {values(4, 3, 1), vector(4, 2)});
  check_grad([](const std::vector<Variable>& x) { return matmul_transpose_b(x[0], x[1]); }, {vector(4, 1), values(2, 4, 2)});
}

TEST_CASE("matmul: a null variable is an error naming matmul, not an internal cast", "[ops][matmul][errors]") {
  CHECK_THROWS_WITH(matmul(Variable{}, input("v", DType::f64, {2})), "matmul: input 1/2 is a null variable");
  CHECK_THROWS_WITH(matmul(input("v", DType::f64, {2}), Variable{}), "matmul: input 2/2 is a null variable");
}

}  // namespace ops_blas_test
