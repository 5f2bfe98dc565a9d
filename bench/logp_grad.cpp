// Minibatch logp + gradient: symbatch's compiled function against a hand-written Eigen loop
// doing the same work (draw a batch, N/B-scaled log-likelihood plus Normal(0, 1) priors with
// all normalising constants, analytic gradient), measured in one run. After Google
// Benchmark's table it prints one line per case:
//   RATIO <linear|logistic> <slice|indices> <B> <symbatch median / hand-written median>
#include <benchmark/benchmark.h>

#include "median_reporter.hpp"

#include <Eigen/Core>
#include <cmath>
#include <cstdio>
#include <map>
#include <numbers>
#include <string>

#include "workload.hpp"
#include "symbatch/symbatch.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/distributions/discrete.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"

namespace {

using namespace symbatch;
using namespace workload;

/// The hand-written implementation: preallocated buffers, Eigen GEMV, one fused loop.
class HandWritten {
 public:
  HandWritten(Likelihood likelihood, Scheme scheme, std::int64_t batch)
      : likelihood_(likelihood), scheme_(scheme), batch_(batch), xb_(batch, features), yb_(batch), r_(batch), indices_(batch) {}

  /// Evaluates at `beta` (and `log_sigma` for the linear model) on the batch drawn from
  /// `state`; returns the logp and writes the gradient (beta first, then log_sigma).
  double logp_grad(const Eigen::VectorXd& beta, double log_sigma, const RngState& state, Eigen::VectorXd& gradient) {
    const Data& d = data(likelihood_);
    const double* x = d.x.data<double>();
    const double* y = d.y.data<double>();
    PhiloxStream stream(state);
    using RowMap = Eigen::Map<const RowMatrix<double>>;
    // Draw the batch; a non-wrapping slice is used in place, like symbatch's zero-copy view.
    const double* xs = xb_.data();
    const double* ys = yb_.data();
    if (scheme_ == Scheme::slice) {
      const auto start = static_cast<std::int64_t>(stream.below(rows));
      if (start + batch_ <= rows) {
        xs = x + start * features;
        ys = y + start;
      } else {
        const std::int64_t first = rows - start;
        std::copy_n(x + start * features, first * features, xb_.data());
        std::copy_n(x, (batch_ - first) * features, xb_.data() + first * features);
        std::copy_n(y + start, first, yb_.data());
        std::copy_n(y, batch_ - first, yb_.data() + first);
      }
    } else {
      for (std::int64_t k = 0; k < batch_; ++k) {
        const auto i = static_cast<std::int64_t>(stream.below(rows));
        std::copy_n(x + i * features, features, xb_.data() + k * features);
        yb_[k] = y[i];
      }
    }
    const RowMap xb(xs, batch_, features);
    const Eigen::Map<const Eigen::VectorXd> yb(ys, batch_);
    const double scale = static_cast<double>(rows) / static_cast<double>(batch_);
    r_.noalias() = xb * beta;  // r holds the linear predictor, then d logp / d predictor
    double loglik = 0, dlog_sigma = 0;
    if (likelihood_ == Likelihood::linear) {
      const double sigma = std::exp(log_sigma);
      for (std::int64_t k = 0; k < batch_; ++k) {
        const double z = (yb[k] - r_[k]) / sigma;
        loglik += -0.5 * z * z - log_sigma - log_sqrt_2pi;
        dlog_sigma += z * z - 1;
        r_[k] = z / sigma;
      }
    } else {
      for (std::int64_t k = 0; k < batch_; ++k) {
        const double eta = r_[k];
        loglik += yb[k] * math::log_sigmoid(eta) + (1 - yb[k]) * math::log_sigmoid(-eta);
        r_[k] = yb[k] - math::sigmoid(eta);
      }
    }
    gradient.head(features).noalias() = scale * (xb.transpose() * r_) - beta;
    double prior = -0.5 * beta.squaredNorm() - features * log_sqrt_2pi;
    if (likelihood_ == Likelihood::linear) {
      gradient[features] = scale * dlog_sigma - log_sigma;
      prior += -0.5 * log_sigma * log_sigma - log_sqrt_2pi;
    }
    return scale * loglik + prior;
  }

 private:
  Likelihood likelihood_;
  Scheme scheme_;
  std::int64_t batch_;
  RowMatrix<double> xb_;
  Eigen::VectorXd yb_, r_;
  std::vector<std::int64_t> indices_;
};

void bench_hand(benchmark::State& state, Likelihood likelihood, Scheme scheme) {
  const std::int64_t batch = state.range(0);
  HandWritten hand(likelihood, scheme, batch);
  const Eigen::VectorXd point = start_point(likelihood);
  const Eigen::VectorXd beta = point.head(features);
  const double log_sigma = likelihood == Likelihood::linear ? point[features] : 0.0;
  Eigen::VectorXd gradient(point.size());
  RngState rng = seed_rng_state(7, 0);
  for (auto _ : state) {
    benchmark::DoNotOptimize(hand.logp_grad(beta, log_sigma, rng, gradient));
    rng = next_rng_state(rng);
  }
}

void bench_symbatch(benchmark::State& state, Likelihood likelihood, Scheme scheme) {
  const std::int64_t batch = state.range(0);
  Symbolic symbolic = build_symbatch(likelihood, scheme, batch);
  const Eigen::VectorXd point = start_point(likelihood);
  std::vector<Array> inputs{to_array(Eigen::VectorXd(point.head(features)))};
  if (likelihood == Likelihood::linear) inputs.push_back(Array::scalar(point[features]));
  for (auto _ : state) benchmark::DoNotOptimize(symbolic.function(inputs)[0].raw_data());
}

/// Before timing: both implementations give the same logp and gradient on the same batch.
void check_agreement() {
  for (Likelihood likelihood : {Likelihood::linear, Likelihood::logistic})
    for (Scheme scheme : {Scheme::slice, Scheme::indices}) {
      const std::int64_t batch = 1024;
      Symbolic symbolic = build_symbatch(likelihood, scheme, batch);
      const RngState rng = get_value(symbolic.rng_state).data<RngState>()[0];
      HandWritten hand(likelihood, scheme, batch);
      const Eigen::VectorXd point = start_point(likelihood);
      Eigen::VectorXd gradient(point.size());
      const double expected = hand.logp_grad(point.head(features), likelihood == Likelihood::linear ? point[features] : 0.0, rng, gradient);
      std::vector<Array> inputs{to_array(Eigen::VectorXd(point.head(features)))};
      if (likelihood == Likelihood::linear) inputs.push_back(Array::scalar(point[features]));
      const auto& results = symbolic.function(inputs);
      double worst = std::abs(results[0].item() - expected) / std::abs(expected);
      for (std::int64_t j = 0; j < features; ++j)
        worst = std::max(worst, std::abs(results[1].flat<double>(j) - gradient[j]) / std::max(1.0, std::abs(gradient[j])));
      if (likelihood == Likelihood::linear)
        worst = std::max(worst, std::abs(results[2].item() - gradient[features]) / std::max(1.0, std::abs(gradient[features])));
      std::printf("CHECK %s %s logp %.12g vs %.12g, worst relative difference %.2e\n",
                  likelihood == Likelihood::linear ? "linear" : "logistic", scheme == Scheme::slice ? "slice" : "indices",
                  results[0].item(), expected, worst);
      if (!(worst <= 1e-10)) {
        std::fprintf(stderr, "symbatch and the hand-written loop disagree\n");
        std::exit(1);
      }
    }
}

}  // namespace

int main(int argc, char** argv) {
  check_agreement();
  const std::vector<std::int64_t> batches{64, 1024, 16384};
  for (Likelihood likelihood : {Likelihood::linear, Likelihood::logistic})
    for (Scheme scheme : {Scheme::slice, Scheme::indices}) {
      const std::string name = std::string(likelihood == Likelihood::linear ? "linear" : "logistic") + "/" +
                               (scheme == Scheme::slice ? "slice" : "indices");
      for (std::int64_t batch : batches) {
        benchmark::RegisterBenchmark(("hand/" + name).c_str(), bench_hand, likelihood, scheme)->Arg(batch)->Repetitions(5)->ReportAggregatesOnly(true);
        benchmark::RegisterBenchmark(("symbatch/" + name).c_str(), bench_symbatch, likelihood, scheme)->Arg(batch)->Repetitions(5)->ReportAggregatesOnly(true);
      }
    }
  benchmark::Initialize(&argc, argv);
  MedianReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\n");  // the console reporter may end on a colour escape without a newline
  for (const char* likelihood : {"linear", "logistic"})
    for (const char* scheme : {"slice", "indices"})
      for (std::int64_t batch : batches) {
        const std::string suffix = std::string(likelihood) + "/" + scheme + "/" + std::to_string(batch);
        auto hand = reporter.medians.find("hand/" + suffix);
        auto ours = reporter.medians.find("symbatch/" + suffix);
        if (hand != reporter.medians.end() && ours != reporter.medians.end())
          std::printf("RATIO %s %s %lld %.3f\n", likelihood, scheme, static_cast<long long>(batch), ours->second / hand->second);
      }
}
