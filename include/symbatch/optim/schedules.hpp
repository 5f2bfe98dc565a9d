/// @file schedules.hpp
/// @brief Learning-rate schedules: the rate of step t as run-time state (`LearningRate`), which a
/// training loop writes into the optimizer's shared learning-rate scalar before every step, so a
/// changing rate never recompiles the step function.
///
/// With base rate @f$ a @f$ (the optimizer's `learning_rate`) and step @f$ t = 0, 1, \dots @f$:
/// - `ConstantRate`: @f$ a @f$.
/// - `StepDecay`: @f$ a\, f^{\lfloor t / k \rfloor} @f$ (factor f every k steps).
/// - `PolynomialDecay` (Robbins and Monro 1951): @f$ a\,(b + t)^{-\gamma} @f$ with
///   @f$ \gamma \in (0.5, 1] @f$, the range in which @f$ \sum_t \eta_t = \infty @f$ and
///   @f$ \sum_t \eta_t^2 < \infty @f$; the first rate is @f$ a\, b^{-\gamma} @f$.
/// - `CosineDecay` (Loshchilov and Hutter 2017, one cycle):
///   @f$ \eta_{min} + \tfrac12 (a - \eta_{min})(1 + \cos(\pi \min(t, T) / T)) @f$, @f$ \eta_{min} = m\,a @f$.
/// - `ReduceOnPlateau` (PyTorch's `ReduceLROnPlateau`; pymc#7010): the loss is averaged over
///   blocks of `every` steps (the smoothed loss); when `patience` consecutive block averages fail
///   to improve on the best by the relative `threshold`, the rate is multiplied by `factor`
///   (never below `minimum_fraction * a`).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <variant>

#include "symbatch/core/error.hpp"

namespace symbatch {

/// @brief The base rate at every step.
struct ConstantRate {};

/// @brief The rate times `factor` every `every` steps.
struct StepDecay {
  double factor = 0.5;
  std::int64_t every = 1000;
};

/// @brief Robbins-Monro decay @f$ a\,(b + t)^{-\gamma} @f$: `offset` is b, `exponent` gamma.
struct PolynomialDecay {
  double offset = 1.0;
  double exponent = 0.6;
};

/// @brief Half a cosine from the base rate down to `minimum_fraction` times it over `period` steps,
/// then constant.
struct CosineDecay {
  std::int64_t period = 10000;
  double minimum_fraction = 0.0;
};

/// @brief Multiply the rate by `factor` when the block-averaged loss stops improving.
struct ReduceOnPlateau {
  double factor = 0.5;            ///< in (0, 1)
  std::int64_t every = 100;       ///< steps per block average of the loss
  std::int64_t patience = 5;      ///< blocks without improvement before a reduction
  double threshold = 1e-4;        ///< relative improvement that counts: below best * (1 - threshold) (|best| for negative losses)
  double minimum_fraction = 0.0;  ///< the rate never falls below this fraction of the base rate
};

/// @brief Any of the schedules.
using Schedule = std::variant<ConstantRate, StepDecay, PolynomialDecay, CosineDecay, ReduceOnPlateau>;

namespace detail {

inline void check_fraction_open(const char* function, const char* name, double value) {
  if (!(value > 0 && value < 1)) throw_domain(function, name, " is ", format_number(value), ", but must be in the interval (0, 1)");
}
inline void check_steps(const char* function, const char* name, std::int64_t value) {
  if (value < 1) throw_invalid(function, name, " is ", value, ", but must be at least 1");
}

inline void check_schedule(const ConstantRate&) {}
inline void check_schedule(const StepDecay& s) {
  check_fraction_open("StepDecay", "factor", s.factor);
  check_steps("StepDecay", "every", s.every);
}
inline void check_schedule(const PolynomialDecay& s) {
  check_positive("PolynomialDecay", "offset", s.offset);
  if (!(s.exponent > 0.5 && s.exponent <= 1))
    throw_domain("PolynomialDecay", "exponent is ", format_number(s.exponent), ", but must be in the interval (0.5, 1]");
}
inline void check_schedule(const CosineDecay& s) {
  check_steps("CosineDecay", "period", s.period);
  check_bounded("CosineDecay", "minimum_fraction", s.minimum_fraction, 0, 1);
}
inline void check_schedule(const ReduceOnPlateau& s) {
  check_fraction_open("ReduceOnPlateau", "factor", s.factor);
  check_steps("ReduceOnPlateau", "every", s.every);
  check_steps("ReduceOnPlateau", "patience", s.patience);
  check_nonnegative("ReduceOnPlateau", "threshold", s.threshold);
  check_bounded("ReduceOnPlateau", "minimum_fraction", s.minimum_fraction, 0, 1);
}

}  // namespace detail

/// @brief A schedule's run-time state: the rate of the next step. `rate()` is the rate of step
/// `step()`; `advance(loss)` records that step's loss and moves to the next. Plain values only,
/// so copying it saves the schedule for a warm start.
class LearningRate {
 public:
  /// @throws std::domain_error `LearningRate: base rate is -1, but must be positive`, and for a
  /// schedule's bad values, e.g. `PolynomialDecay: exponent is 0.5, but must be in the interval (0.5, 1]`,
  /// `StepDecay: factor is 0, but must be in the interval (0, 1)`, `CosineDecay: minimum_fraction is 2,
  /// but must be in the interval [0, 1]`, `ReduceOnPlateau: threshold is -1, but must be nonnegative`.
  /// @throws std::invalid_argument for a step count below 1: `StepDecay: every is 0, but must be at least 1`.
  LearningRate(Schedule schedule, double base_rate) : schedule_(schedule), base_(base_rate), plateau_rate_(base_rate) {
    check_positive("LearningRate", "base rate", base_rate);
    check_finite("LearningRate", "base rate", base_rate);
    std::visit([](const auto& s) { detail::check_schedule(s); }, schedule_);
  }

  /// The rate of the current step.
  double rate() const {
    const double t = static_cast<double>(step_);
    return std::visit(
        [&](const auto& s) -> double {
          using S = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<S, ConstantRate>) return base_;
          else if constexpr (std::is_same_v<S, StepDecay>) return base_ * std::pow(s.factor, static_cast<double>(step_ / s.every));
          else if constexpr (std::is_same_v<S, PolynomialDecay>) return base_ * std::pow(s.offset + t, -s.exponent);
          else if constexpr (std::is_same_v<S, CosineDecay>) {
            const double progress = std::min(t, static_cast<double>(s.period)) / static_cast<double>(s.period);
            const double minimum = s.minimum_fraction * base_;
            return minimum + 0.5 * (base_ - minimum) * (1 + std::cos(std::numbers::pi * progress));
          } else return plateau_rate_;
        },
        schedule_);
  }

  /// Records the loss of the current step and moves to the next (the plateau rule acts at the end
  /// of every block of `every` steps).
  void advance(double loss) {
    ++step_;
    const auto* plateau = std::get_if<ReduceOnPlateau>(&schedule_);
    if (!plateau) return;
    block_total_ += loss;
    if (step_ % plateau->every != 0) return;
    const double average = block_total_ / static_cast<double>(plateau->every);
    block_total_ = 0;
    if (average < best_ - plateau->threshold * std::abs(best_) || std::isinf(best_)) {
      best_ = average;
      bad_blocks_ = 0;
    } else if (++bad_blocks_ >= plateau->patience) {
      plateau_rate_ = std::max(plateau_rate_ * plateau->factor, plateau->minimum_fraction * base_);
      bad_blocks_ = 0;
    }
  }

  std::int64_t step() const { return step_; }
  double base_rate() const { return base_; }
  /// The plateau rule's best block average (infinite before the first block).
  double best_average_loss() const { return best_; }

 private:
  Schedule schedule_;
  double base_;
  std::int64_t step_ = 0;
  double plateau_rate_;
  double block_total_ = 0;
  double best_ = std::numeric_limits<double>::infinity();
  std::int64_t bad_blocks_ = 0;
};

}  // namespace symbatch
