/// @file blas.hpp
/// @brief `matmul`/`dot` for f64 vectors and matrices (NumPy semantics) through Eigen, with
/// transposed variants so that gradients never copy a transpose.
#pragma once

#include <Eigen/Core>

#include "symbatch/core/eigen.hpp"
#include "symbatch/ops/elemwise.hpp"

namespace symbatch {

namespace detail {

/// The widest row for which `short_row_gemv` beats Eigen's row-major GEMV (measured on
/// AVX-512 and SSE2 builds, 1,024 rows read from memory: at 16 columns 6.9 us against 9-12 and
/// 8.3 against 11.1, at 32 columns 14.5 against 30 and 17.7 against 37).
inline constexpr std::int64_t short_row_limit = 32;

/// out = A v for a row-major `rows` x `cols` matrix A with short rows: four rows at a time,
/// each a dot product over SIMD packets, so every row is read once, in order. (Eigen's
/// row-major kernel is tuned for long rows; with a few columns it spends its time on
/// reductions.)
inline void short_row_gemv(const double* a, std::int64_t rows, std::int64_t cols, const double* v, double* out) {
  namespace ei = Eigen::internal;
  using Packet = ei::packet_traits<double>::type;
  constexpr std::int64_t width = ei::packet_traits<double>::size;
  std::int64_t i = 0;
  for (; i + 4 <= rows; i += 4) {
    const double* r = a + i * cols;
    Packet s0 = ei::pset1<Packet>(0.0), s1 = s0, s2 = s0, s3 = s0;
    std::int64_t j = 0;
    for (; j + width <= cols; j += width) {
      const Packet x = ei::ploadu<Packet>(v + j);
      s0 = ei::pmadd(ei::ploadu<Packet>(r + j), x, s0);
      s1 = ei::pmadd(ei::ploadu<Packet>(r + cols + j), x, s1);
      s2 = ei::pmadd(ei::ploadu<Packet>(r + 2 * cols + j), x, s2);
      s3 = ei::pmadd(ei::ploadu<Packet>(r + 3 * cols + j), x, s3);
    }
    double d0 = ei::predux(s0), d1 = ei::predux(s1), d2 = ei::predux(s2), d3 = ei::predux(s3);
    for (; j < cols; ++j) {
      d0 += r[j] * v[j];
      d1 += r[cols + j] * v[j];
      d2 += r[2 * cols + j] * v[j];
      d3 += r[3 * cols + j] * v[j];
    }
    out[i] = d0, out[i + 1] = d1, out[i + 2] = d2, out[i + 3] = d3;
  }
  for (; i < rows; ++i) {
    double d = 0;
    for (std::int64_t j = 0; j < cols; ++j) d += a[i * cols + j] * v[j];
    out[i] = d;
  }
}

}  // namespace detail

/// @brief `op(a) @ op(b)` where `op` transposes a matrix when its flag is set.
///
/// Shapes follow NumPy's `matmul` for ranks 1 and 2: `(n,k)@(k,m) -> (n,m)`,
/// `(n,k)@(k,) -> (n,)`, `(k,)@(k,m) -> (m,)`, `(k,)@(k,) -> ()`. Evaluated with Eigen on
/// row-major maps of the inputs (no copies), into a buffer reused between calls.
///
/// Either input (not both) may be `f32` data; the result is then still `f64`, computed in double:
/// the f32 operand is widened one block of rows at a time into a small buffer reused between
/// calls (`Scratch`), so no converted copy of the data is ever made. The gradient with respect
/// to an f32 input is disconnected (data are not differentiated); the other input's gradient is
/// a product with the f32 input, computed the same way.
class MatMul final : public Op {
 public:
  MatMul(bool transpose_a = false, bool transpose_b = false) : transpose_a_(transpose_a), transpose_b_(transpose_b) {}
  std::string name() const override { return "matmul"; }
  bool transpose_a() const { return transpose_a_; }
  bool transpose_b() const { return transpose_b_; }
  /// The transposes, declared only when set (plain `matmul` prints without parameters).
  OpParameters parameters() const override {
    OpParameters declared;
    if (transpose_a_) declared.push_back({"transpose_a", true});
    if (transpose_b_) declared.push_back({"transpose_b", true});
    return declared;
  }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 2) throw_invalid(name(), "expected 2 inputs, got ", inputs.size());
    for (std::size_t i = 0; i < 2; ++i) {
      if (inputs[i].dtype() != DType::f64 && inputs[i].dtype() != DType::f32)
        throw_invalid(name(), "input ", i + 1, "/2 has dtype ", dtype_name(inputs[i].dtype()), ", expected f64 or f32");
      if (i == 1 && inputs[0].dtype() == DType::f32 && inputs[1].dtype() == DType::f32)
        throw_invalid(name(), "input 2/2 has dtype f32 and so has input 1/2, expected f64 for at least one of them");
      if (inputs[i].rank() < 1 || inputs[i].rank() > 2)
        throw_invalid(name(), "input ", i + 1, "/2 has shape ", inputs[i].type().shape_str(), ", expected a vector or a matrix");
    }
    const auto a = oriented(inputs[0].type().shape, transpose_a_);
    const auto b = oriented(inputs[1].type().shape, transpose_b_);
    // Contracted dimensions: last of a, first of b.
    const std::int64_t ka = a.back();
    const std::int64_t kb = b.front();
    if (ka != Type::unknown && kb != Type::unknown && ka != kb) {
      std::vector<std::int64_t> expected = b;
      expected.front() = ka;
      throw_invalid(name(), "input 2/2 has shape ", Type{DType::f64, b}.shape_str(), ", expected ", Type{DType::f64, expected}.shape_str());
    }
    std::vector<std::int64_t> out;
    if (a.size() == 2) out.push_back(a[0]);
    if (b.size() == 2) out.push_back(b[1]);
    return {Type{DType::f64, out}};
  }

  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    const Array& a = *in[0];
    const Array& b = *in[1];
    using Map = Eigen::Map<const RowMatrix<double>>;
    const bool a_matrix = a.rank() == 2, b_matrix = b.rank() == 2;
    if (a.dtype() == DType::f32 || b.dtype() == DType::f32) {
      perform_single(a, b, *out[0], scratch);
      return;
    }
    // Each operand as a row-major matrix: a vector a is a row (1 x k), a vector b a column (k x 1).
    const Eigen::Index a_rows = a_matrix ? a.shape()[0] : 1, a_cols = a_matrix ? a.shape()[1] : a.shape()[0];
    const Eigen::Index b_rows = b_matrix ? b.shape()[0] : b.shape()[0], b_cols = b_matrix ? b.shape()[1] : 1;
    const Map ma(a.data<double>(), a_rows, a_cols);
    const Map mb(b.data<double>(), b_rows, b_cols);
    const Eigen::Index k_a = transpose_a_ && a_matrix ? a_rows : a_cols;
    const Eigen::Index k_b = transpose_b_ && b_matrix ? b_cols : b_rows;
    if (k_a != k_b)
      throw_invalid(name(), "shapes ", a.shape().str(), " and ", b.shape().str(), " do not align (", k_a, " != ", k_b, ")");
    const Eigen::Index n = a_matrix ? (transpose_a_ ? a_cols : a_rows) : 1;
    const Eigen::Index m = b_matrix ? (transpose_b_ ? b_rows : b_cols) : 1;
    Shape shape;
    if (a_matrix) shape.push_back(n);
    if (b_matrix) shape.push_back(m);
    Array& result = *out[0];
    result.ensure(DType::f64, shape);
    double* o = result.data<double>();
    if (!b_matrix) {  // matrix-vector or vector-vector: a GEMV
      Eigen::Map<Eigen::VectorXd> target(o, n);
      const Eigen::Map<const Eigen::VectorXd> v(b.data<double>(), b_rows);
      if (!a_matrix) target(0) = Eigen::Map<const Eigen::VectorXd>(a.data<double>(), a_cols).dot(v);
      else if (transpose_a_) target.noalias() = ma.transpose() * v;
      else if (a_cols <= detail::short_row_limit) detail::short_row_gemv(a.data<double>(), a_rows, a_cols, v.data(), o);
      else target.noalias() = ma * v;
      return;
    }
    if (!a_matrix) {  // vector-matrix: (b^T or b)^T v
      Eigen::Map<Eigen::VectorXd> target(o, m);
      const Eigen::Map<const Eigen::VectorXd> v(a.data<double>(), a_cols);
      if (!transpose_b_) target.noalias() = mb.transpose() * v;
      else if (b_cols <= detail::short_row_limit) detail::short_row_gemv(b.data<double>(), b_rows, b_cols, v.data(), o);
      else target.noalias() = mb * v;
      return;
    }
    Eigen::Map<RowMatrix<double>> target(o, n, m);
    if (transpose_a_ && transpose_b_) target.noalias() = ma.transpose() * mb.transpose();
    else if (transpose_a_) target.noalias() = ma.transpose() * mb;
    else if (transpose_b_) target.noalias() = ma * mb.transpose();
    else target.noalias() = ma * mb;
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;


 private:
  /// Rows of an f32 operand widened per block: about 32 KiB of doubles, so a block stays in L1/L2.
  static Eigen::Index block_rows(Eigen::Index columns) { return std::max<Eigen::Index>(1, 4096 / std::max<Eigen::Index>(1, columns)); }

  /// `op(a) @ op(b)` when one operand is f32: each block of its rows is widened to double in
  /// `scratch` and multiplied; the result rows (or the accumulated sum over the contracted
  /// rows) are written to an f64 result.
  void perform_single(const Array& a, const Array& b, Array& result, Scratch& scratch) const {
    const bool a_matrix = a.rank() == 2, b_matrix = b.rank() == 2;
    const bool ta = transpose_a_ && a_matrix, tb = transpose_b_ && b_matrix;
    const Eigen::Index a_rows = a_matrix ? a.shape()[0] : 1, a_cols = a_matrix ? a.shape()[1] : a.shape()[0];
    const Eigen::Index b_rows = b.shape()[0], b_cols = b_matrix ? b.shape()[1] : 1;
    const Eigen::Index k_a = ta ? a_rows : a_cols, k_b = tb ? b_cols : b_rows;
    if (k_a != k_b)
      throw_invalid(name(), "shapes ", a.shape().str(), " and ", b.shape().str(), " do not align (", k_a, " != ", k_b, ")");
    const Eigen::Index n = ta ? a_cols : a_rows, m = tb ? b_rows : b_cols;
    Shape shape;
    if (a_matrix) shape.push_back(n);
    if (b_matrix) shape.push_back(m);
    result.ensure(DType::f64, shape);
    Eigen::Map<RowMatrix<double>> target(result.data<double>(), n, m);
    if (scratch.arrays.empty()) scratch.arrays.resize(1);
    Array& block = scratch.arrays[0];
    const bool a_single = a.dtype() == DType::f32;
    const Array& single = a_single ? a : b;
    const Eigen::Index rows = a_single ? a_rows : b_rows, cols = a_single ? a_cols : b_cols;
    const Eigen::Index step = block_rows(cols);
    if (!block.unique() || block.dtype() != DType::f64 || block.size() < step * cols) block.ensure(DType::f64, Shape{step * cols});
    const Eigen::Map<const RowMatrix<float>> source(single.data<float>(), rows, cols);
    const Eigen::Map<const RowMatrix<double>> other(a_single ? b.data<double>() : a.data<double>(), a_single ? b_rows : a_rows,
                                                   a_single ? b_cols : a_cols);
    // Products whose every block contributes to a sum over the contracted rows start from zero.
    const bool accumulates = a_single ? ta : !tb;
    if (accumulates) target.setZero();
    for (Eigen::Index start = 0; start < rows; start += step) {
      const Eigen::Index count = std::min(step, rows - start);
      Eigen::Map<RowMatrix<double>> widened(block.data<double>(), count, cols);
      widened = source.middleRows(start, count).cast<double>();
      if (a_single && !ta) {  // rows of op(a) are rows of the result
        if (tb) target.middleRows(start, count).noalias() = widened * other.transpose();
        else target.middleRows(start, count).noalias() = widened * other;
      } else if (a_single) {  // a^T: rows of a are contracted
        if (tb) target.noalias() += widened.transpose() * other.transpose().middleRows(start, count);
        else target.noalias() += widened.transpose() * other.middleRows(start, count);
      } else if (tb) {  // op(b) = b^T: rows of b are columns of the result
        if (ta) target.middleCols(start, count).noalias() = other.transpose() * widened.transpose();
        else target.middleCols(start, count).noalias() = other * widened.transpose();
      } else {  // rows of b are contracted
        if (ta) target.noalias() += other.transpose().middleCols(start, count) * widened;
        else target.noalias() += other.middleCols(start, count) * widened;
      }
    }
  }

  static std::vector<std::int64_t> oriented(std::vector<std::int64_t> shape, bool transpose) {
    if (transpose && shape.size() == 2) std::swap(shape[0], shape[1]);
    return shape;
  }
  bool transpose_a_, transpose_b_;
};

/// @brief NumPy `matmul` of vectors and matrices (see `MatMul`); the result is f64. Integer
/// and bool inputs are converted to f64; an f32 input is read in place, block by block (when
/// both are f32, the second is converted to f64).
inline Variable matmul(const Variable& a, const Variable& b) {
  detail::check_not_null("matmul", a, 1, 2);
  detail::check_not_null("matmul", b, 2, 2);
  const Variable left = a.dtype() == DType::f32 ? a : cast(a, DType::f64);
  const Variable right = b.dtype() == DType::f32 && a.dtype() != DType::f32 ? b : cast(b, DType::f64);
  return make_apply<MatMul>({left, right});
}
/// @brief `a^T @ b` for a matrix `a`, without copying the transpose.
inline Variable matmul_transpose_a(const Variable& a, const Variable& b) { return make_apply<MatMul>({a, b}, true, false); }
/// @brief `a @ b^T` for a matrix `b`, without copying the transpose.
inline Variable matmul_transpose_b(const Variable& a, const Variable& b) { return make_apply<MatMul>({a, b}, false, true); }
/// @brief Dot product for vectors; the same as `matmul` for vectors and matrices.
inline Variable dot(const Variable& a, const Variable& b) { return matmul(a, b); }

namespace detail {

/// Outer product u v^T of two vectors, as the gradient of vector-vector and vector-matrix cases.
class Outer final : public Op {
 public:
  std::string name() const override { return "outer"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 2 || inputs[0].rank() != 1 || inputs[1].rank() != 1)
      throw_invalid(name(), "expected two f64 vectors");
    return {Type{DType::f64, {inputs[0].type().shape[0], inputs[1].type().shape[0]}}};
  }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const auto u = map_vector(*in[0]);
    const auto v = map_vector(*in[1]);
    Array& result = *out[0];
    result.ensure(DType::f64, Shape{u.size(), v.size()});
    Eigen::Map<RowMatrix<double>>(result.data<double>(), u.size(), v.size()).noalias() = u * v.transpose();
  }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override {
    const Variable& g = output_grads[0];
    return {InputGrad::of(make_apply<MatMul>({g, node.input(1)}, false, false)),
            InputGrad::of(make_apply<MatMul>({g, node.input(0)}, true, false))};
  }
};

}  // namespace detail

inline std::vector<InputGrad> MatMul::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  const Variable& a = node.input(0);
  const Variable& b = node.input(1);
  const Variable& g = output_grads[0];
  const bool a_matrix = a.rank() == 2, b_matrix = b.rank() == 2;
  // An f32 input is data: its gradient is disconnected, and an outer product reads it as f64.
  const auto as_f64 = [](const Variable& x) { return x.dtype() == DType::f32 ? cast(x, DType::f64) : x; };
  Variable ga, gb;
  if (a_matrix && b_matrix) {
    // C = A' B' with A' = op(A), B' = op(B): dA' = G B'^T, dB' = A'^T G.
    ga = transpose_a_ ? make_apply<MatMul>({b, g}, transpose_b_, true) : make_apply<MatMul>({g, b}, false, !transpose_b_);
    gb = transpose_b_ ? make_apply<MatMul>({g, a}, true, transpose_a_) : make_apply<MatMul>({a, g}, !transpose_a_, false);
  } else if (a_matrix) {  // c = op(A) v: dA' = g v^T, dv = op(A)^T g
    ga = transpose_a_ ? make_apply<detail::Outer>({as_f64(b), g}) : make_apply<detail::Outer>({g, as_f64(b)});
    gb = make_apply<MatMul>({a, g}, !transpose_a_, false);
  } else if (b_matrix) {  // c = u op(B): du = op(B) g, dB' = u g^T
    gb = transpose_b_ ? make_apply<detail::Outer>({g, as_f64(a)}) : make_apply<detail::Outer>({as_f64(a), g});
    ga = make_apply<MatMul>({b, g}, transpose_b_, false);
  } else {  // c = u . v
    ga = mul(g, b);
    gb = mul(g, a);
  }
  return {a.dtype() == DType::f64 ? InputGrad::of(ga) : InputGrad::disconnected(),
          b.dtype() == DType::f64 ? InputGrad::of(gb) : InputGrad::disconnected()};
}

}  // namespace symbatch
