// Conjugate linear regression with known noise (issue 13 item 6): data, exact posterior, model.
#pragma once
#include <Eigen/Dense>
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/ops/blas.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/random/philox.hpp"

namespace training_regression {
using namespace symbatch;
/// beta ~ N(0, I_D), y ~ N(X beta, 1), X ~ N(0, 1): exact posterior precision X'X + I, mean
/// (X'X + I)^-1 X'y; mean-field optimum: the same means, sds 1/sqrt(diag(precision)).
struct Problem {
  Eigen::MatrixXd x;
  Eigen::VectorXd y, post_mean, post_sd, mean_field_sd;
};
inline Problem make_problem(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  PhiloxStream stream(seed_rng_state(seed, 0));
  Problem p{Eigen::MatrixXd(n, d), Eigen::VectorXd(n), {}, {}, {}};
  Eigen::VectorXd beta(d);
  for (std::int64_t j = 0; j < d; ++j) beta[j] = stream.normal();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j) p.x(i, j) = stream.normal();
  for (std::int64_t i = 0; i < n; ++i) p.y[i] = p.x.row(i).dot(beta) + stream.normal();
  const Eigen::MatrixXd precision = p.x.transpose() * p.x + Eigen::MatrixXd::Identity(d, d);
  const Eigen::LLT<Eigen::MatrixXd> llt(precision);
  p.post_mean = llt.solve(p.x.transpose() * p.y);
  p.post_sd = llt.solve(Eigen::MatrixXd::Identity(d, d)).diagonal().cwiseSqrt();
  p.mean_field_sd = precision.diagonal().cwiseInverse().cwiseSqrt();
  return p;
}
inline void build(Model& model, const Problem& p, std::int64_t batch, MinibatchScheme scheme) {
  const std::int64_t n = p.x.rows(), d = p.x.cols();
  Array xa = Array::empty(DType::f64, Shape{n, d}), ya = Array::empty(DType::f64, Shape{n});
  for (std::int64_t i = 0; i < n; ++i) {
    ya.data<double>()[i] = p.y[i];
    for (std::int64_t j = 0; j < d; ++j) xa.data<double>()[i * d + j] = p.x(i, j);
  }
  const auto views = minibatch(batch, {shared(xa, "X"), shared(ya, "y")}, {.scheme = scheme});
  const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {d}});
  model.observed("y", Normal(matmul(views[0], beta), 1.0), views[1], TotalSize(n));
}
/// A conjugate regression whose posterior is strongly correlated: features x_0 = z_0 and
/// x_j = z_j + 1.5 z_0 (correlations 0.83 with x_0, 0.69 among the others), beta ~ N(0, I),
/// y ~ N(X beta, 1) with beta = 0.5.
inline Problem correlated_problem(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  Problem p = make_problem(n, d, seed);
  for (std::int64_t i = 0; i < n; ++i) {
    const double shared_part = p.x(i, 0);
    for (std::int64_t j = 1; j < d; ++j) p.x(i, j) += 1.5 * shared_part;
  }
  PhiloxStream stream(seed_rng_state(seed, 1));
  for (std::int64_t i = 0; i < n; ++i) p.y[i] = p.x.row(i).sum() * 0.5 + stream.normal();
  const Eigen::MatrixXd precision = p.x.transpose() * p.x + Eigen::MatrixXd::Identity(d, d);
  const Eigen::LLT<Eigen::MatrixXd> llt(precision);
  p.post_mean = llt.solve(p.x.transpose() * p.y);
  p.post_sd = llt.solve(Eigen::MatrixXd::Identity(d, d)).diagonal().cwiseSqrt();
  return p;
}
}  // namespace training_regression
