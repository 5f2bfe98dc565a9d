/// @file averaging.hpp
/// @brief Iterate averaging for stochastic optimisation: Polyak-Ruppert tail averaging and
/// polynomial-decay averaging, over a flat vector of parameters, without allocation per step.
///
/// With a constant (or slowly decaying) step, minibatch iterates @f$ \theta_t @f$ fluctuate around
/// the optimum by about @f$ \sqrt{\eta} @f$ times the gradient noise, which with large N exceeds the
/// posterior sd; their average does not: its error shrinks like @f$ 1/\sqrt{T} @f$ (Polyak and
/// Juditsky 1992). With @f$ s = 1, 2, \dots @f$ counting the averaged iterates:
/// - `AveragingKind::polyak`: @f$ \bar\theta_s = \bar\theta_{s-1} + (\theta_s - \bar\theta_{s-1}) / s @f$,
///   the plain mean of every iterate after the warm-up;
/// - `AveragingKind::polynomial_decay` (Shamir and Zhang 2013):
///   @f$ \bar\theta_s = (1 - w_s)\bar\theta_{s-1} + w_s \theta_s @f$, @f$ w_s = (\eta + 1)/(s + \eta) @f$,
///   which weights recent iterates more (about @f$ (\eta+1) u^\eta @f$ at fraction u of the run), so a
///   warm-up that ended too early is forgotten; it averages
///   @f$ n_{\text{eff}} = n (2\eta + 1)/(\eta + 1)^2 @f$ iterates' worth of noise away;
/// - `AveragingKind::none`: the estimate is the last iterate.
#pragma once

#include <Eigen/Core>
#include <cstdint>

#include "symbatch/core/error.hpp"

namespace symbatch {

/// @brief How a training loop averages its iterates.
enum class AveragingKind {
  polyak,            ///< plain mean of the iterates after the warm-up (the default)
  polynomial_decay,  ///< weights (eta + 1) / (s + eta): recent iterates count more
  none,              ///< return the last iterate
};

/// @brief Averaging options of `fit` and `find_map`.
struct AveragingOptions {
  AveragingKind kind = AveragingKind::polyak;
  double eta = 3.0;  ///< polynomial-decay exponent (Shamir and Zhang's choice); unused by the others
  /// Iterations before averaging starts; -1 (the default) chooses it at run time: averaging starts
  /// at the first stationarity check (convergence.hpp) whose split R-hat is below
  /// `ConvergenceOptions::warmup_rhat`, that is, when the iterates stop drifting.
  std::int64_t warmup = -1;
  /// With the automatic warm-up, averaging starts at the latest after this many steps (counted
  /// over all runs continued by warm starts), even if the iterates still drift: a run whose scales
  /// keep wandering (plain minibatch gradients with a large N/B) then still averages the second
  /// half of the default 200,000-step cap instead of returning its last iterate. -1: no limit.
  std::int64_t max_warmup = 100'000;
};

/// @brief Running average of a parameter vector (see the file comment); preallocated, so `add`
/// never allocates.
class IterateAverage {
 public:
  /// @throws std::domain_error `IterateAverage: eta is -1, but must be nonnegative`.
  IterateAverage(AveragingKind kind, double eta, Eigen::Index size) : kind_(kind), eta_(eta), mean_(Eigen::VectorXd::Zero(size)) {
    check_nonnegative("IterateAverage", "eta", eta);
    check_finite("IterateAverage", "eta", eta);
  }
  /// Adds one iterate (size as constructed).
  void add(const Eigen::Ref<const Eigen::VectorXd>& iterate) {
    ++count_;
    const double n = static_cast<double>(count_);
    const double weight = kind_ == AveragingKind::polynomial_decay ? (eta_ + 1) / (n + eta_) : 1 / n;
    mean_ += weight * (iterate - mean_);
  }
  /// Iterates averaged so far.
  std::int64_t count() const { return count_; }
  /// The average (zeros before the first `add`).
  const Eigen::VectorXd& value() const { return mean_; }
  /// How many independent iterates the average is worth in variance: `count` for Polyak,
  /// @f$ n (2\eta+1)/(\eta+1)^2 @f$ for polynomial decay.
  double effective_count() const {
    const double n = static_cast<double>(count_);
    return kind_ == AveragingKind::polynomial_decay ? n * (2 * eta_ + 1) / ((eta_ + 1) * (eta_ + 1)) : n;
  }

 private:
  AveragingKind kind_;
  double eta_;
  Eigen::VectorXd mean_;
  std::int64_t count_ = 0;
};

}  // namespace symbatch
