/// @file linalg.hpp
/// @brief `log_det_spd` and its gradient partner `inverse_spd`: the log-determinant and the
/// inverse of a small symmetric positive-definite matrix through an in-place Cholesky
/// factorisation (the entropy of a low-rank Gaussian needs @f$ \log\det(I_k + W^T W) @f$).
///
/// Both read the symmetric part @f$ S = (A + A^T)/2 @f$ of their input, so they are functions of
/// every entry and their gradients hold for any perturbation, symmetric or not:
/// @f$ \partial \log\det S / \partial A = S^{-1} @f$ and, for @f$ B = S^{-1} @f$,
/// @f$ \bar A = -\mathrm{sym}(B \bar B B) @f$.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>

#include "symbatch/core/eigen.hpp"
#include "symbatch/ops/blas.hpp"
#include "symbatch/ops/transpose.hpp"

namespace symbatch {

namespace detail {

/// Checks one square f64 matrix input of `op`.
inline Type square_matrix_type(const std::string& op, std::span<const Variable> inputs) {
  if (inputs.size() != 1) throw_invalid(op, "expected 1 input, got ", inputs.size());
  const Type& type = inputs[0].type();
  if (type.dtype != DType::f64 || type.rank() != 2 ||
      (type.shape[0] != Type::unknown && type.shape[1] != Type::unknown && type.shape[0] != type.shape[1]))
    throw_invalid(op, "input 1/1 has type ", type.str(), ", expected a square f64 matrix");
  return type;
}

/// The Cholesky factor of the symmetric part of `a`, in place in `scratch`; throws naming `op`
/// when `a` is not square or not positive definite. No allocation once `scratch` has its size.
inline Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>> symmetric_cholesky(const std::string& op, const Array& a, Array& scratch) {
  if (a.rank() != 2 || a.shape()[0] != a.shape()[1]) throw_invalid(op, "input 1/1 has shape ", a.shape().str(), ", expected a square matrix");
  const Eigen::Index n = a.shape()[0];
  scratch.ensure(DType::f64, Shape{n, n});
  Eigen::Map<Eigen::MatrixXd> symmetric(scratch.data<double>(), n, n);
  const auto input = map_matrix(a);
  symmetric = 0.5 * (input + input.transpose());
  Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>> cholesky(symmetric);
  if (cholesky.info() != Eigen::Success) throw_domain(op, "the matrix is not positive definite");
  return cholesky;
}

}  // namespace detail

/// @brief @f$ \log\det S @f$ of the symmetric part @f$ S @f$ of a square matrix: a scalar.
class LogDetSpd final : public Op {
 public:
  std::string name() const override { return "log_det_spd"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    detail::square_matrix_type(name(), inputs);
    return {Type{DType::f64, {}}};
  }
  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    if (scratch.arrays.empty()) scratch.arrays.resize(1);
    auto cholesky = detail::symmetric_cholesky(name(), *in[0], scratch.arrays[0]);
    out[0]->ensure(DType::f64, Shape{});
    out[0]->data<double>()[0] = 2 * cholesky.matrixLLT().diagonal().array().log().sum();
  }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;
};

/// @brief @f$ S^{-1} @f$ for the symmetric part @f$ S @f$ of a square matrix.
class InverseSpd final : public Op {
 public:
  std::string name() const override { return "inverse_spd"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override { return {detail::square_matrix_type(name(), inputs)}; }
  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    if (scratch.arrays.empty()) scratch.arrays.resize(1);
    auto cholesky = detail::symmetric_cholesky(name(), *in[0], scratch.arrays[0]);
    const Eigen::Index n = in[0]->shape()[0];
    out[0]->ensure(DType::f64, Shape{n, n});
    Eigen::Map<Eigen::MatrixXd> inverse(out[0]->data<double>(), n, n);  // symmetric: storage order is moot
    inverse.setIdentity();
    cholesky.solveInPlace(inverse);
  }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override;
};

/// @brief @f$ \log\det((A + A^T)/2) @f$ for a square f64 matrix `a` (see the file comment).
/// @throws std::invalid_argument `log_det_spd: input 1/1 has type f64(3,), expected a square f64 matrix`.
/// @throws std::domain_error `log_det_spd: the matrix is not positive definite` (at run time).
inline Variable log_det_spd(const Variable& a) {
  detail::check_not_null("log_det_spd", a, 1, 1);
  return make_apply<LogDetSpd>({a});
}
/// @brief @f$ ((A + A^T)/2)^{-1} @f$ for a square f64 matrix `a` (see the file comment).
/// @throws the errors of `log_det_spd`, naming `inverse_spd`.
inline Variable inverse_spd(const Variable& a) {
  detail::check_not_null("inverse_spd", a, 1, 1);
  return make_apply<InverseSpd>({a});
}

inline std::vector<InputGrad> LogDetSpd::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  return {InputGrad::of(mul(output_grads[0], inverse_spd(node.input(0))))};
}

inline std::vector<InputGrad> InverseSpd::grad(const ApplyNode& node, std::span<const Variable> output_grads) const {
  const Variable& inverse = node.output(0);
  const Variable product = matmul(inverse, matmul(output_grads[0], inverse));
  return {InputGrad::of(-0.5 * (product + transpose(product)))};
}

}  // namespace symbatch
