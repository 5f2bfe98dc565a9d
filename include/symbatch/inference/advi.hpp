/// @file advi.hpp
/// @brief Mean-field ADVI: a Gaussian over the flattened unconstrained parameters, fitted by
/// stochastic optimisation of a reparameterised (minibatch) ELBO.
#pragma once

#include <unistd.h>

#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "symbatch/model/model.hpp"
#include "symbatch/ops/shape.hpp"
#include "symbatch/ops/subtensor.hpp"
#include "symbatch/optim/optimizers.hpp"
#include "symbatch/random/variable.hpp"

namespace symbatch {

/// @brief What `fit` prints while it runs.
enum class Progress {
  automatic,  ///< a live progress line when stderr is a terminal, else a final summary line
  live,       ///< a progress line, redrawn a few times a second, and the summary
  summary,    ///< only a final summary line
  none,       ///< nothing
};

/// @brief Options of `fit`.
struct AdviOptions {
  std::int64_t n_mc = 1;                  ///< reparameterised draws per ELBO estimate
  Optimizer optimizer = AdagradWindow{};  ///< PyMC's default for ADVI
  std::uint64_t seed = 0;                 ///< seeds the minibatch draws and ADVI's own RNG (distinct streams)
  double initial_sd = std::log(2.0);      ///< initial sd of every factor (PyMC's: softplus(0))
  Progress progress = Progress::automatic;
  std::FILE* progress_stream = nullptr;   ///< where progress goes (stderr when null)
};

/// @brief A fully factorised Gaussian over a model's unconstrained parameters: for each free
/// variable, a mean and a scale @f$ \sigma = \log(1 + e^{\rho}) @f$ per element.
class MeanField {
 public:
  /// One free variable's factor, in the unconstrained space.
  struct Factor {
    std::string name;
    Array mu;  ///< means
    Array sd;  ///< standard deviations
  };
  /// Posterior mean and standard deviation of one free variable in the constrained space.
  struct Moments {
    Array mean;
    Array sd;
  };

  MeanField(std::vector<FreeVariable> free, std::vector<Factor> factors) : free_(std::move(free)), factors_(std::move(factors)) {}

  /// @brief The factors, in the order of the model's free variables.
  const std::vector<Factor>& factors() const { return factors_; }

  /// @brief `draws` samples of every free variable in the constrained space: arrays of shape
  /// `(draws,) + shape`, by name. Draws are deterministic in `seed`.
  std::map<std::string, Array> sample(std::int64_t draws, std::uint64_t seed = 0) const {
    if (draws < 1) throw_invalid("MeanField::sample", "draws is ", draws, ", but must be at least 1");
    std::vector<Variable> values, constrained;
    for (const FreeVariable& free : free_) {
      values.push_back(free.value);
      constrained.push_back(free.constrained);
    }
    Function transform = compile(values, constrained);
    std::map<std::string, Array> samples;
    std::vector<Array> point;
    for (const Factor& factor : factors_) {
      std::vector<std::int64_t> shape{draws};
      for (std::int64_t dim : factor.mu.shape()) shape.push_back(dim);
      samples[factor.name] = Array::empty(DType::f64, Shape(std::span<const std::int64_t>(shape)));
      point.push_back(factor.mu.copy());
    }
    PhiloxStream stream(seed_rng_state(seed, 0));
    for (std::int64_t draw = 0; draw < draws; ++draw) {
      for (std::size_t i = 0; i < factors_.size(); ++i)
        for (std::int64_t k = 0; k < point[i].size(); ++k)
          point[i].data<double>()[k] = factors_[i].mu.flat<double>(k) + factors_[i].sd.flat<double>(k) * stream.normal();
      const std::vector<Array>& result = transform(point);
      for (std::size_t i = 0; i < factors_.size(); ++i) {
        Array& out = samples[factors_[i].name];
        const std::int64_t size = result[i].size();
        for (std::int64_t k = 0; k < size; ++k) out.data<double>()[draw * size + k] = result[i].flat<double>(k);
      }
    }
    return samples;
  }

  /// @brief Posterior means and standard deviations in the constrained space, by name. Exact
  /// for untransformed variables; for transformed ones, estimated from `draws` samples.
  std::map<std::string, Moments> moments(std::int64_t draws = 4000, std::uint64_t seed = 0) const {
    std::map<std::string, Moments> result;
    bool any_transformed = false;
    for (const FreeVariable& free : free_) any_transformed |= free.transform.kind != TransformKind::none;
    const std::map<std::string, Array> samples = any_transformed ? sample(draws, seed) : std::map<std::string, Array>{};
    for (std::size_t i = 0; i < free_.size(); ++i) {
      const Factor& factor = factors_[i];
      if (free_[i].transform.kind == TransformKind::none) {
        result[factor.name] = {factor.mu.copy(), factor.sd.copy()};
        continue;
      }
      const Array& drawn = samples.at(factor.name);
      Array mean = Array::zeros(DType::f64, factor.mu.shape()), sd = Array::zeros(DType::f64, factor.mu.shape());
      const std::int64_t size = mean.size();
      for (std::int64_t k = 0; k < size; ++k) {
        double total = 0, squares = 0;
        for (std::int64_t d = 0; d < draws; ++d) total += drawn.data<double>()[d * size + k];
        const double average = total / static_cast<double>(draws);
        for (std::int64_t d = 0; d < draws; ++d) squares += std::pow(drawn.data<double>()[d * size + k] - average, 2);
        mean.data<double>()[k] = average;
        sd.data<double>()[k] = std::sqrt(squares / static_cast<double>(draws - 1));
      }
      result[factor.name] = {mean, sd};
    }
    return result;
  }

  /// @brief Posterior means in the constrained space, by name (see `moments`).
  std::map<std::string, Array> mean(std::int64_t draws = 4000, std::uint64_t seed = 0) const {
    std::map<std::string, Array> result;
    for (auto& [name, moment] : moments(draws, seed)) result[name] = moment.mean;
    return result;
  }
  /// @brief Posterior standard deviations in the constrained space, by name (see `moments`).
  std::map<std::string, Array> sd(std::int64_t draws = 4000, std::uint64_t seed = 0) const {
    std::map<std::string, Array> result;
    for (auto& [name, moment] : moments(draws, seed)) result[name] = moment.sd;
    return result;
  }

 private:
  std::vector<FreeVariable> free_;
  std::vector<Factor> factors_;
};

/// @brief The graph `fit` optimises: the negative ELBO of a mean-field Gaussian over a model.
struct MeanFieldObjective {
  std::vector<Variable> mu;   ///< shared means, one per free variable
  std::vector<Variable> rho;  ///< shared pre-softplus scales
  Variable loss;              ///< @f$ -\big(\frac{1}{S}\sum_s \log p(\mu + \sigma\epsilon_s) + \sum \log\sigma\big) @f$ + const
};

/// @brief Builds the negative-ELBO graph of a mean-field approximation to `model`.
///
/// The `n_mc` draws @f$ \epsilon_s @f$ come from one standard-normal node over an RNG of its
/// own; every draw's log-probability reuses the same minibatch node, so all draws of one call
/// see the same batch. The entropy term is exact: @f$ \sum_i \log\sigma_i + \frac{n}{2}(1 + \log 2\pi) @f$.
inline MeanFieldObjective mean_field_objective(const Model& model, std::int64_t n_mc = 1, double initial_sd = std::log(2.0)) {
  if (n_mc < 1) throw_invalid("fit", "n_mc is ", n_mc, ", but must be at least 1");
  check_positive("fit", "initial_sd", initial_sd);
  if (model.free_variables().empty()) throw_invalid("fit", "the model has no free variables to fit");
  const Variable logp = model.logp();
  const std::vector<Array> start = model.initial_point();
  const double rho0 = initial_sd > 30 ? initial_sd : std::log(std::expm1(initial_sd));  // softplus^-1
  MeanFieldObjective objective;
  Variable entropy = constant(0.5 * static_cast<double>(model.size()) * (1 + std::log(2 * std::numbers::pi)));
  std::vector<Variable> sds;
  for (std::size_t i = 0; i < start.size(); ++i) {
    const std::string& name = model.free_variables()[i].name;
    objective.mu.push_back(shared(start[i], name + "_mu"));
    objective.rho.push_back(shared(Array::full<double>(start[i].shape(), rho0), name + "_rho"));
    sds.push_back(softplus(objective.rho.back()));
    entropy = entropy + sum(log(sds.back()));
  }
  const Variable noise = random::normal(random::rng("advi_rng"), 0.0, 1.0, {n_mc * model.size()}).value;
  const std::vector<Variable> values = model.value_variables();
  Variable expected = constant(0.0);
  std::int64_t offset = 0;
  for (std::int64_t draw = 0; draw < n_mc; ++draw) {
    std::vector<std::pair<Variable, Variable>> point;
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::int64_t size = start[i].size();
      const std::vector<std::int64_t> shape(start[i].shape().begin(), start[i].shape().end());
      const Variable epsilon = reshape(slice(noise, offset, offset + size), shape);
      point.emplace_back(values[i], objective.mu[i] + sds[i] * epsilon);
      offset += size;
    }
    expected = expected + replace(logp, point);
  }
  objective.loss = -(expected / static_cast<double>(n_mc) + entropy);
  objective.loss.set_name("loss");
  return objective;
}

/// @brief What a callback sees after each iteration.
class FitState {
 public:
  FitState(std::int64_t iteration, const std::vector<double>& losses, const MeanFieldObjective& objective)
      : iteration_(iteration), losses_(losses), objective_(objective) {}
  /// The iteration just done (0-based).
  std::int64_t iteration() const { return iteration_; }
  /// Every loss so far; the last is this iteration's.
  const std::vector<double>& losses() const { return losses_; }
  /// The current parameters, flattened: all means, then all pre-softplus scales `rho`.
  Eigen::VectorXd parameters() const {
    std::int64_t size = 0;
    for (const Variable& mu : objective_.mu) size += get_value(mu).size();
    Eigen::VectorXd flat(2 * size);
    std::int64_t k = 0;
    for (const auto* group : {&objective_.mu, &objective_.rho})
      for (const Variable& parameter : *group) {
        const Array& value = get_value(parameter);
        for (std::int64_t j = 0; j < value.size(); ++j) flat[k++] = value.flat<double>(j);
      }
    return flat;
  }

 private:
  std::int64_t iteration_;
  const std::vector<double>& losses_;
  const MeanFieldObjective& objective_;
};

/// @brief A callback run after every iteration; returning false stops the fit.
using Callback = std::function<bool(const FitState&)>;

/// @brief Stops the fit when the parameters stop moving: every `every` iterations, compares
/// them with those of the previous check and stops when
/// @f$ \|\theta - \theta_{prev}\|_\infty / \|\theta_{prev}\|_\infty < @f$ `tolerance`.
class CheckParametersConvergence {
 public:
  explicit CheckParametersConvergence(std::int64_t every = 100, double tolerance = 1e-3) : every_(every), tolerance_(tolerance) {
    if (every < 1) throw_invalid("CheckParametersConvergence", "every is ", every, ", but must be at least 1");
    check_positive("CheckParametersConvergence", "tolerance", tolerance);
  }
  bool operator()(const FitState& state) {
    if ((state.iteration() + 1) % every_ != 0) return true;
    Eigen::VectorXd current = state.parameters();
    const bool first = previous_.size() == 0;
    const double change = first ? INFINITY : (current - previous_).lpNorm<Eigen::Infinity>() / std::max(previous_.lpNorm<Eigen::Infinity>(), 1e-300);
    previous_ = std::move(current);
    return !(change < tolerance_);
  }

 private:
  std::int64_t every_;
  double tolerance_;
  Eigen::VectorXd previous_;
};

/// @brief The result of `fit`.
struct FitResult {
  MeanField approximation;
  std::vector<double> loss_history;  ///< the negative ELBO estimate at every iteration
  bool stopped_early = false;        ///< a callback stopped the fit
};

namespace detail {

/// Average of the last `count` losses (or all of them).
inline double recent_average(const std::vector<double>& losses, std::size_t count = 100) {
  const std::size_t n = std::min(count, losses.size());
  double total = 0;
  for (std::size_t i = losses.size() - n; i < losses.size(); ++i) total += losses[i];
  return n ? total / static_cast<double>(n) : NAN;
}

/// The names of the shared parameters holding a non-finite value, quoted and joined.
inline std::string nonfinite_names(const std::vector<Variable>& parameters) {
  std::string names;
  for (const Variable& parameter : parameters) {
    const Array& value = get_value(parameter);
    for (std::int64_t k = 0; k < value.size(); ++k)
      if (!std::isfinite(value.flat<double>(k))) {
        names += (names.empty() ? "'" : ", '") + parameter.name() + "'";
        break;
      }
  }
  return names;
}

}  // namespace detail

/// @brief Fits a mean-field ADVI approximation to `model` with `iterations` optimizer steps,
/// one minibatch per step (all MC draws of a step share it). Callbacks run after every step;
/// one returning false stops the fit.
/// @throws std::domain_error when the loss becomes NaN, naming the parameters that went NaN.
inline FitResult fit(const Model& model, std::int64_t iterations, AdviOptions options = {}, std::vector<Callback> callbacks = {}) {
  if (iterations < 0) throw_invalid("fit", "iterations is ", iterations, ", but must be nonnegative");
  MeanFieldObjective objective = mean_field_objective(model, options.n_mc, options.initial_sd);
  std::vector<Variable> parameters = objective.mu;
  parameters.insert(parameters.end(), objective.rho.begin(), objective.rho.end());
  Function step = compile({}, {objective.loss}, {.updates = updates(options.optimizer, objective.loss, parameters), .seed = options.seed});

  std::FILE* stream = options.progress_stream ? options.progress_stream : stderr;
  const bool live = options.progress == Progress::live || (options.progress == Progress::automatic && isatty(fileno(stream)));
  const bool summary = options.progress != Progress::none;
  FitResult result{MeanField({}, {}), {}, false};
  result.loss_history.reserve(static_cast<std::size_t>(iterations));
  const auto start = std::chrono::steady_clock::now();
  auto last_draw = start;
  std::int64_t done = 0;
  for (; done < iterations && !result.stopped_early; ++done) {
    const double loss = step()[0].item();
    if (std::isnan(loss)) {
      if (live) std::fputc('\n', stream);
      const std::string names = detail::nonfinite_names(parameters);
      throw_domain("fit", "the loss is NaN at iteration ", done,
                   names.empty() ? std::string("; every parameter is finite, so the model's log-probability is NaN there")
                                 : "; parameters that went NaN or infinite: " + names);
    }
    result.loss_history.push_back(loss);
    const FitState state(done, result.loss_history, objective);
    for (Callback& callback : callbacks)
      if (!callback(state)) result.stopped_early = true;
    const auto now = std::chrono::steady_clock::now();
    if (live && (now - last_draw > std::chrono::milliseconds(200) || done + 1 == iterations)) {
      last_draw = now;
      const double seconds = std::chrono::duration<double>(now - start).count();
      std::fprintf(stream, "\r%lld/%lld [%3.0f%%] %.0f it/s, average loss %.6g   ", static_cast<long long>(done + 1),
                   static_cast<long long>(iterations), 100.0 * static_cast<double>(done + 1) / static_cast<double>(iterations),
                   static_cast<double>(done + 1) / seconds, detail::recent_average(result.loss_history));
      std::fflush(stream);
    }
  }
  if (summary) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stream, "%sfit: %lld iterations in %.2f s (%.0f it/s)%s, average loss %.6g over the last %zu\n", live ? "\n" : "",
                 static_cast<long long>(done), seconds, seconds > 0 ? static_cast<double>(done) / seconds : 0.0,
                 result.stopped_early ? ", stopped early by a callback" : "", detail::recent_average(result.loss_history),
                 std::min<std::size_t>(100, result.loss_history.size()));
  }
  std::vector<MeanField::Factor> factors;
  for (std::size_t i = 0; i < objective.mu.size(); ++i) {
    Array sd = get_value(objective.rho[i]).copy();
    for (std::int64_t k = 0; k < sd.size(); ++k) {
      const double rho = sd.flat<double>(k);
      sd.data<double>()[k] = rho > 30 ? rho : std::log1p(std::exp(rho));
    }
    factors.push_back({model.free_variables()[i].name, get_value(objective.mu[i]).copy(), sd});
  }
  result.approximation = MeanField(model.free_variables(), std::move(factors));
  return result;
}

}  // namespace symbatch
