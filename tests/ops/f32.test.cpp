// f32 inputs (storage only) to the ops a minibatch model reads: every result equals the same op on
// the f64 conversion of the data, checked against references computed here in double.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "symbatch/compile/compile.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/ops/blas.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/ops/subtensor.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace ops_f32_test {

using namespace symbatch;

namespace {

/// Floats that are not short dyadic numbers (so rounding would show): sin(0.7 k + phase) in f32.
Array wavy_f32(const Shape& shape, double phase = 0) {
  Array result = Array::empty(DType::f32, shape);
  for (std::int64_t k = 0; k < result.size(); ++k) result.data<float>()[k] = static_cast<float>(std::sin(0.7 * static_cast<double>(k) + phase));
  return result;
}
/// Multiples of 1/8 in [-1, 1]: every product and sum of a few thousand of them is exact in double,
/// so a reference computed in any order equals the op's result exactly.
Array dyadic_f32(const Shape& shape, std::int64_t salt = 0) {
  Array result = Array::empty(DType::f32, shape);
  for (std::int64_t k = 0; k < result.size(); ++k) result.data<float>()[k] = static_cast<float>((k * 7 + salt) % 17 - 8) / 8.0f;
  return result;
}
Array dyadic_f64(const Shape& shape, std::int64_t salt = 0) {
  Array result = Array::empty(DType::f64, shape);
  for (std::int64_t k = 0; k < result.size(); ++k) result.data<double>()[k] = static_cast<double>((k * 5 + salt) % 13 - 6) / 4.0;
  return result;
}
/// The f64 conversion of an f32 array, made here element by element.
Array widened(const Array& x) {
  Array result = Array::empty(DType::f64, x.shape());
  for (std::int64_t k = 0; k < x.size(); ++k) result.data<double>()[k] = static_cast<double>(x.data<float>()[k]);
  return result;
}
Variable input_like(const char* name, const Array& value) { auto dims = value.shape().dims();
  return input(name, value.dtype(), std::vector<std::int64_t>(dims.begin(), dims.end()));
}

/// Evaluates `build` on f32 `x` (and f64 `w`) and on the f64 conversion of `x`: both results must
/// be f64 and identical. Returns the f32 result.
template <class Build>
Array f32_equals_f64(const Array& x, const Array& w, Build build) {
  const Variable xs = input_like("x", x), ws = input_like("w", w);
  const Array& widened_x = widened(x);
  const Variable xd = input_like("x", widened_x);
  const Variable single = build(xs, ws), dbl = build(xd, ws);
  REQUIRE(single.dtype() == DType::f64);
  Function f = compile({xs, ws}, {single});
  Function g = compile({xd, ws}, {dbl});
  Array result = f({x, w})[0].copy();
  const Array reference = g({widened_x, w})[0];
  CHECK(result.dtype() == DType::f64);
  CHECK(result.shape() == reference.shape());
  CHECK(result.to_vector() == reference.to_vector());
  return result;
}

}  // namespace

TEST_CASE("f32 cast: to f64 is exact, from f64 rounds to nearest, to i64 refuses NaN", "[ops][f32][cast]") {
  const Variable x = input("x", DType::f32, {4});
  Function to_f64 = compile({x}, {cast(x, DType::f64)});
  const Array values = Array::from(std::vector<float>{0.1f, -3.0f, 1e-45f, std::numeric_limits<float>::infinity()}, Shape{4});
  const Array& out = to_f64({values})[0];
  CHECK(out.dtype() == DType::f64);
  CHECK(out.to_vector() == std::vector<double>{13421773.0 / 134217728.0, -3.0, 0x1p-149, std::numeric_limits<double>::infinity()});

  const Variable d = input("d", DType::f64, {4});
  Function to_f32 = compile({d}, {cast(d, DType::f32)});
  // 0.1 rounds to 13421773 / 2^27; 1 + 2^-24 is a tie that rounds to even (1); 1e300 overflows.
  const Array& single = to_f32({Array::from({0.1, 1.0 + 0x1p-24, 1e300, -2.5})})[0];
  CHECK(single.dtype() == DType::f32);
  CHECK(single.to_vector() == std::vector<double>{13421773.0 / 134217728.0, 1.0, std::numeric_limits<double>::infinity(), -2.5});

  Function to_i64 = compile({x}, {cast(x, DType::i64)});
  CHECK(to_i64({Array::from(std::vector<float>{2.75f, -1.5f, 0.0f, 7.0f}, Shape{4})})[0].to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{2, -1, 0, 7});
  CHECK_THROWS_WITH(to_i64({Array::from(std::vector<float>{1.0f, std::nanf(""), 0.0f, 0.0f}, Shape{4})}),
                    "cast: element 1 is nan, which has no i64 value");
  Function to_bool = compile({x}, {cast(x, DType::boolean)});
  CHECK(to_bool({Array::from(std::vector<float>{0.0f, -0.0f, 0.5f, 2.0f}, Shape{4})})[0].to_vector<bool>() == std::vector<bool>{false, false, true, true});
  const Variable i = input("i", DType::i64, {2});
  Function from_i64 = compile({i}, {cast(i, DType::f32)});
  CHECK(from_i64({Array::from(std::vector<std::int64_t>{16777217, -3})})[0].to_vector() == std::vector<double>{16777216.0, -3.0});
}

TEST_CASE("f32 slice, take and circular windows keep f32, and a slice stays a zero-copy view", "[ops][f32][subtensor]") {
  const Array data = wavy_f32(Shape{10, 3});
  const Variable x = shared(data, "X");
  const Variable start = input("start", DType::i64);
  const Variable indices = input("indices", DType::i64, {3});
  Function f = compile({start, indices}, {slice(x, start, add(start, constant(Array::scalar(std::int64_t{4})))), take(x, indices)});
  const auto& out = f({Array::scalar(std::int64_t{5}), Array::from(std::vector<std::int64_t>{9, 0, 9})});
  const Array& window = out[0];
  CHECK(window.dtype() == DType::f32);
  CHECK(window.shares_buffer(get_value(x)));
  CHECK(window.raw_data() == get_value(x).raw_data() + 5 * 3 * sizeof(float));
  CHECK(window.to_vector() == data.slice_rows(5, 9).to_vector());
  const Array& gathered = out[1];
  CHECK(gathered.dtype() == DType::f32);
  const std::vector<double> all = data.to_vector();
  CHECK(gathered.to_vector() == std::vector<double>{all[27], all[28], all[29], all[0], all[1], all[2], all[27], all[28], all[29]});
}

TEST_CASE("f32 elementwise: an f32 operand is read as f64 and every result is f64", "[ops][f32][elemwise]") {
  const Array x = wavy_f32(Shape{4, 3});
  const Array w = Array::from({0.5, -2.0, 3.25});
  const std::vector<double> xs = widened(x).to_vector();
  const Array sums = f32_equals_f64(x, w, [](const Variable& a, const Variable& b) { return add(a, b); });
  const Array products = f32_equals_f64(x, w, [](const Variable& a, const Variable& b) { return mul(a, a) * b; });
  const Array exps = f32_equals_f64(x, w, [](const Variable& a, const Variable&) { return exp(a); });
  const Array negated = f32_equals_f64(x, w, [](const Variable& a, const Variable&) { return neg(a); });
  const Array differences = f32_equals_f64(x, w, [](const Variable& a, const Variable&) { return sub(a, constant(Array::scalar(std::int64_t{2}))); });
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const double v = w.flat<double>(static_cast<std::int64_t>(k % 3));
    CHECK(sums.flat<double>(static_cast<std::int64_t>(k)) == xs[k] + v);
    CHECK(products.flat<double>(static_cast<std::int64_t>(k)) == xs[k] * xs[k] * v);
    CHECK(exps.flat<double>(static_cast<std::int64_t>(k)) == Approx(std::exp(xs[k])).epsilon(1e-15));
    CHECK(negated.flat<double>(static_cast<std::int64_t>(k)) == -xs[k]);
    CHECK(differences.flat<double>(static_cast<std::int64_t>(k)) == xs[k] - 2);
  }
  // f32 with f32 is f64 too: arithmetic never rounds to single precision.
  const Variable a = input("a", DType::f32, {2}), b = input("b", DType::f32, {2});
  CHECK(add(a, b).dtype() == DType::f64);
  CHECK(lt(a, b).dtype() == DType::boolean);
  Function f = compile({a, b}, {add(a, b), where(lt(a, b), a, b)});
  const auto& out = f({Array::from(std::vector<float>{1.0f, 0.1f}, Shape{2}), Array::from(std::vector<float>{0x1p-24f, 0.2f}, Shape{2})});
  CHECK(out[0].to_vector() == std::vector<double>{1.0 + 0x1p-24, double(0.1f) + double(0.2f)});  // not representable in f32
  CHECK(out[1].dtype() == DType::f64);
  CHECK(out[1].to_vector() == std::vector<double>{double(0x1p-24f), double(0.1f)});
}

TEST_CASE("f32 reductions: sum and mean accumulate in double with an f64 result", "[ops][f32][reduce]") {
  const Array x = wavy_f32(Shape{5, 4});
  const Array w = Array::from({1.0});
  const std::vector<double> xs = widened(x).to_vector();
  const Array total = f32_equals_f64(x, w, [](const Variable& a, const Variable&) { return sum(a); });
  const Array means = f32_equals_f64(x, w, [](const Variable& a, const Variable&) { return mean(a, 0); });
  const Array row_sums = f32_equals_f64(x, w, [](const Variable& a, const Variable&) { return sum(a, 1); });
  const Array maxima = f32_equals_f64(x, w, [](const Variable& a, const Variable&) { return max(a, 0); });
  const Array lse = f32_equals_f64(x, w, [](const Variable& a, const Variable&) { return logsumexp(a); });
  double reference_total = 0, reference_lse = 0;
  for (double v : xs) reference_total += v, reference_lse += std::exp(v);
  CHECK(total.item() == Approx(reference_total).epsilon(1e-15));
  CHECK(lse.item() == Approx(std::log(reference_lse)).epsilon(1e-15));
  for (std::int64_t j = 0; j < 4; ++j) {
    double column = 0, top = -INFINITY;
    for (std::int64_t i = 0; i < 5; ++i) column += xs[static_cast<std::size_t>(i * 4 + j)], top = std::max(top, xs[static_cast<std::size_t>(i * 4 + j)]);
    CHECK(means.flat<double>(j) == Approx(column / 5).epsilon(1e-15));
    CHECK(maxima.flat<double>(j) == top);
  }
  for (std::int64_t i = 0; i < 5; ++i)
    CHECK(row_sums.flat<double>(i) == Approx(xs[static_cast<std::size_t>(i * 4)] + xs[static_cast<std::size_t>(i * 4 + 1)] +
                                             xs[static_cast<std::size_t>(i * 4 + 2)] + xs[static_cast<std::size_t>(i * 4 + 3)]).epsilon(1e-15));
  // The sum of 2^24 + 1 ones is exact in double (in float it would stop at 2^24).
  const Variable ones = input("ones", DType::f32, {(1 << 24) + 1});
  Function f = compile({ones}, {sum(ones), mean(ones)});
  const auto& out = f({Array::full(Shape{(1 << 24) + 1}, 1.0f)});
  CHECK(out[0].item() == 16777217.0);
  CHECK(out[1].item() == 1.0);
  CHECK_THROWS_WITH(make_apply<Reduce>({ones}, Reduction::max, std::nullopt), "max: input 1/1 has dtype f32, expected f64 or i64");
  CHECK_THROWS_WITH(make_apply<Reduce>({ones}, Reduction::logsumexp, std::nullopt), "logsumexp: input 1/1 has dtype f32, expected f64");
}

TEST_CASE("f32 matmul: every orientation, one f32 operand, over several row blocks, equals the product in double", "[ops][f32][blas]") {
  // 3000 rows of 3 columns span three of the op's row blocks (4096 / 3 = 1365 rows each).
  const std::int64_t rows = 3000, cols = 3;
  const Array x = dyadic_f32(Shape{rows, cols});
  const std::vector<double> xs = widened(x).to_vector();
  const auto X = [&](std::int64_t i, std::int64_t j) { return xs[static_cast<std::size_t>(i * cols + j)]; };
  const Array v = dyadic_f64(Shape{cols}), u = dyadic_f64(Shape{rows}, 1);
  const Array m = dyadic_f64(Shape{cols, 2}, 2), mt = dyadic_f64(Shape{2, cols}, 3);
  const Array p = dyadic_f64(Shape{rows, 2}, 4), pt = dyadic_f64(Shape{2, rows}, 5);
  // x @ v and x @ m: rows of x are rows of the result
  const Array xv = f32_equals_f64(x, v, [](const Variable& a, const Variable& b) { return matmul(a, b); });
  const Array xm = f32_equals_f64(x, m, [](const Variable& a, const Variable& b) { return matmul(a, b); });
  const Array xmt = f32_equals_f64(x, mt, [](const Variable& a, const Variable& b) { return matmul_transpose_b(a, b); });
  // x^T u and x^T p: rows of x are contracted
  const Array xtu = f32_equals_f64(x, u, [](const Variable& a, const Variable& b) { return matmul_transpose_a(a, b); });
  const Array xtp = f32_equals_f64(x, p, [](const Variable& a, const Variable& b) { return matmul_transpose_a(a, b); });
  const Array ux = f32_equals_f64(x, u, [](const Variable& a, const Variable& b) { return matmul(b, a); });
  const Array ptx = f32_equals_f64(x, pt, [](const Variable& a, const Variable& b) { return matmul(b, a); });
  const Array ptx_t = f32_equals_f64(x, p, [](const Variable& a, const Variable& b) { return matmul_transpose_a(b, a); });
  // m^T x^T and v x^T: x is the second operand, transposed (its rows are columns of the result)
  const Array mxt = f32_equals_f64(x, mt, [](const Variable& a, const Variable& b) { return matmul_transpose_b(b, a); });
  const Array mxt_t = f32_equals_f64(x, m, [](const Variable& a, const Variable& b) { return make_apply<MatMul>({b, a}, true, true); });
  CHECK(xv.shape() == Shape{rows});
  CHECK(mxt.shape() == Shape{2, rows});
  for (std::int64_t i = 0; i < rows; ++i) {
    double dot_v = 0;
    for (std::int64_t j = 0; j < cols; ++j) dot_v += X(i, j) * v.flat<double>(j);
    CHECK(xv.flat<double>(i) == dot_v);
    for (std::int64_t c = 0; c < 2; ++c) {
      double dot_m = 0, dot_mt = 0;
      for (std::int64_t j = 0; j < cols; ++j) dot_m += X(i, j) * m.at(j, c), dot_mt += X(i, j) * mt.at(c, j);
      CHECK(xm.at(i, c) == dot_m);
      CHECK(xmt.at(i, c) == dot_mt);
      CHECK(mxt.at(c, i) == dot_mt);
      CHECK(mxt_t.at(c, i) == dot_m);
    }
  }
  for (std::int64_t j = 0; j < cols; ++j) {
    double dot_u = 0;
    for (std::int64_t i = 0; i < rows; ++i) dot_u += X(i, j) * u.flat<double>(i);
    CHECK(xtu.flat<double>(j) == dot_u);
    CHECK(ux.flat<double>(j) == dot_u);
    for (std::int64_t c = 0; c < 2; ++c) {
      double dot_p = 0, dot_pt = 0;
      for (std::int64_t i = 0; i < rows; ++i) dot_p += X(i, j) * p.at(i, c), dot_pt += X(i, j) * pt.at(c, i);
      CHECK(xtp.at(j, c) == dot_p);
      CHECK(ptx.at(c, j) == dot_pt);
      CHECK(ptx_t.at(c, j) == dot_p);
    }
  }
}

TEST_CASE("f32 matmul: f32 with f32 converts the second operand, and other dtypes are refused by name", "[ops][f32][blas][errors]") {
  const Variable a = input("a", DType::f32, {2, 2}), b = input("b", DType::f32, {2});
  const Variable product = matmul(a, b);
  CHECK(product.dtype() == DType::f64);
  Function f = compile({a, b}, {product});
  CHECK(f({Array::from(std::vector<float>{1, 2, 3, 4}, Shape{2, 2}), Array::from(std::vector<float>{0.5f, 0.25f}, Shape{2})})[0].to_vector() ==
        std::vector<double>{1.0, 2.5});
  CHECK_THROWS_WITH(make_apply<MatMul>({a, b}), "matmul: input 2/2 has dtype f32 and so has input 1/2, expected f64 for at least one of them");
  const Variable i = input("i", DType::i64, {2});
  CHECK_THROWS_WITH(make_apply<MatMul>({a, i}), "matmul: input 2/2 has dtype i64, expected f64 or f32");
}

TEST_CASE("f32 gradients: data are not differentiated, and every gradient is f64", "[ops][f32][grad]") {
  const Array x = wavy_f32(Shape{6, 2});
  const std::vector<double> xs = widened(x).to_vector();
  const Variable data = input("X", DType::f32, {6, 2});
  const Variable w = input("w", DType::f64, {2});
  const Variable W = input("W", DType::f64, {3, 6});
  const Variable y = input("y", DType::f32, {2});
  // cost = sum(X w) + sum(W X) . 1 + sum(y * w) + sum(X) (the last is constant in w and W)
  const Variable cost = add(add(sum(matmul(data, w)), sum(matmul(W, data))), add(sum(mul(y, w)), sum(data)));
  const Variable wrt[] = {w, W};
  const std::vector<Variable> grads = grad(cost, wrt);
  for (const Variable& g : grads) CHECK(g.dtype() == DType::f64);
  Function f = compile({data, w, W, y}, grads);
  const Array y_value = Array::from(std::vector<float>{0.1f, -4.0f}, Shape{2});
  const auto& out = f({x, Array::from({1.0, 2.0}), Array::zeros(DType::f64, Shape{3, 6}), y_value});
  // d/dw = X^T 1 + y;  d/dW[r, i] = sum_j X[i, j]
  for (std::int64_t j = 0; j < 2; ++j) {
    double column = y_value.flat<double>(j);
    for (std::int64_t i = 0; i < 6; ++i) column += xs[static_cast<std::size_t>(i * 2 + j)];
    CHECK(out[0].flat<double>(j) == Approx(column).epsilon(1e-15));
  }
  for (std::int64_t r = 0; r < 3; ++r)
    for (std::int64_t i = 0; i < 6; ++i) CHECK(out[1].at(r, i) == Approx(xs[static_cast<std::size_t>(i * 2)] + xs[static_cast<std::size_t>(i * 2 + 1)]).epsilon(1e-15));
  const Variable data_wrt[] = {data};
  CHECK_THROWS_WITH(grad(cost, data_wrt), "grad: wrt 1 ('X') has dtype f32, expected f64");
}

}  // namespace ops_f32_test
