/// @file convergence.hpp
/// @brief The stopping rule of `fit` and `find_map`: are the iterates stationary, and is the
/// average of them accurate enough? After Dhaka, Catalina, Welandawe, Andersen, Huggins and
/// Vehtari (2020, "Robust, accurate stochastic optimization for variational inference").
///
/// The loop keeps a record of batch means of the iterates since the warm-up began (`IterateWindow`:
/// a fixed buffer whose batches double in length as it fills, so it spans the whole stretch). Every
/// `check_every` steps, once the record holds `window / 2` entries or more, it computes per
/// parameter p:
/// - the split R-hat (`rhat_basic`, BDA3) of the record cut into `chains` consecutive pieces (each
///   split again): near 1 when the record has no trend, so the iterates are stationary. During the
///   warm-up a record that fails `warmup_rhat` loses its older half (the warm-up then covers at
///   least the first half of the run, as in Stan's warm-up); one that passes ends the warm-up and
///   averaging starts;
/// - the Monte Carlo standard error of the averaged estimate,
///   @f$ \mathrm{MCSE}_p = \mathrm{mcse}_{\text{record}} \sqrt{S / n_{\text{eff}}} @f$, where
///   @f$ \mathrm{mcse}_{\text{record}} = \mathrm{sd}/\sqrt{\mathrm{ESS}} @f$ of the record's entries
///   (`mcse_mean`), S the steps the record spans and @f$ n_{\text{eff}} @f$ the averaged iterate count
///   (averaging.hpp): the record's autocorrelation time, in steps, stands for the averaged stretch.
///
/// It stops (converged) when the largest R-hat is below `rhat_threshold` and every MCSE is below
/// its bound, supplied by the family (for ADVI `mcse_tolerance` times the fitted sd for a mean,
/// `sd_tolerance` relative error for a scale; see advi.hpp and map.hpp). The basic split R-hat is
/// used, not the rank-normalised one: it needs no sort and keeps a check cheap.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "symbatch/core/error.hpp"
#include "symbatch/inference/ess.hpp"
#include "symbatch/inference/rhat.hpp"

namespace symbatch {

/// @brief The stopping rule's settings (see the file comment). The defaults are the ones whose
/// accuracy the tests measure (docs-notes/training.md).
struct ConvergenceOptions {
  bool enabled = true;              ///< false: run to `max_iterations` (or a callback)
  std::int64_t window = 1000;       ///< entries kept per parameter (thinned as the record grows)
  std::int64_t chains = 4;          ///< pieces the record is cut into (each split in halves again) for the split R-hat
  std::int64_t check_every = 1000;  ///< steps between checks
  double rhat_threshold = 1.1;      ///< stationarity of the record for stopping
  double warmup_rhat = 1.2;         ///< stationarity that ends the automatic warm-up of averaging
  double mcse_tolerance = 0.03;     ///< MCSE of an averaged location, as a fraction of its posterior sd
  double sd_tolerance = 0.05;       ///< relative MCSE of a fitted sd (families with scale parameters)
};

/// @brief Why a training loop stopped.
enum class StopReason {
  cap_reached,  ///< `max_iterations` steps ran without the stopping rule being met
  converged,    ///< the stopping rule was met
  callback,     ///< a callback returned false
};

namespace detail {
inline void check_convergence_options(const char* function, const ConvergenceOptions& options) {
  if (options.chains < 1) throw_invalid(function, "convergence.chains is ", options.chains, ", but must be at least 1");
  if (options.window < 48 || options.window % 2 != 0 || options.window / 2 < 12 * options.chains)
    throw_invalid(function, "convergence.window is ", options.window, ", but must be even and at least 48 and 24 times chains (",
                  24 * options.chains, ")");
  if (options.check_every < 1) throw_invalid(function, "convergence.check_every is ", options.check_every, ", but must be at least 1");
  if (!(options.rhat_threshold > 1))
    throw_domain(function, "convergence.rhat_threshold is ", format_number(options.rhat_threshold), ", but must be greater than 1");
  if (!(options.warmup_rhat > 1))
    throw_domain(function, "convergence.warmup_rhat is ", format_number(options.warmup_rhat), ", but must be greater than 1");
  check_positive(function, "convergence.mcse_tolerance", options.mcse_tolerance);
  check_positive(function, "convergence.sd_tolerance", options.sd_tolerance);
}
}  // namespace detail

/// @brief A record of batch means of the iterates since its start, in a fixed buffer of
/// `capacity` entries per parameter: each entry is the mean of `thin()` consecutive iterates; when
/// the buffer fills, consecutive pairs of entries are merged and `thin()` doubles, so the record
/// always covers every iterate since its start at a fixed memory and check cost. Batch means (not
/// one iterate in `thin()`) keep the information of every step: once a batch spans several
/// autocorrelation times, its means are nearly independent and the ESS of the record gives the
/// batch-means MCSE. All buffers are allocated at construction; `push`,
/// `drop_older_half` and `check` (after its first call) never allocate.
class IterateWindow {
 public:
  /// @throws std::invalid_argument `IterateWindow: capacity is 7, but must be an even number of at least 48`.
  IterateWindow(Eigen::Index parameters, std::int64_t capacity)
      : buffer_(capacity, parameters), pending_(Eigen::VectorXd::Zero(parameters)), rhat_(parameters), mcse_(parameters) {
    if (capacity < 48 || capacity % 2 != 0)
      throw_invalid("IterateWindow", "capacity is ", capacity, ", but must be an even number of at least 48");
  }

  /// Adds one iterate (every step) to the current batch; a full batch becomes an entry.
  void push(const Eigen::Ref<const Eigen::VectorXd>& iterate) {
    pending_ += iterate;
    if (++pending_count_ < thin_) return;
    buffer_.row(entries_++) = pending_.transpose() / static_cast<double>(thin_);
    pending_.setZero();
    pending_count_ = 0;
    if (entries_ < buffer_.rows()) return;
    for (Eigen::Index k = 0; k < entries_ / 2; ++k) buffer_.row(k) = 0.5 * (buffer_.row(2 * k) + buffer_.row(2 * k + 1));
    entries_ /= 2;
    thin_ *= 2;
  }
  /// Forgets the older half of the record (the warm-up is not over: its start moves to the middle).
  void drop_older_half() {
    const Eigen::Index kept = entries_ - entries_ / 2;
    for (Eigen::Index k = 0; k < kept; ++k) buffer_.row(k) = buffer_.row(entries_ / 2 + k);
    entries_ = kept;
  }
  std::int64_t entries() const { return entries_; }
  std::int64_t thin() const { return thin_; }
  /// Steps the record spans: entries times the batch length.
  std::int64_t span() const { return entries_ * thin_; }

  /// Computes per-parameter split R-hat (`rhat_basic`) of the record cut into `chains` pieces,
  /// and its MCSE of the mean (`mcse_mean`); returns the largest R-hat. A constant parameter,
  /// whose R-hat is undefined, counts as 1 and has MCSE 0. Needs `entries() >= 6 * chains`.
  double check(std::int64_t chains) {
    const std::int64_t length = entries_ / chains;
    double worst = 1;
    for (Eigen::Index p = 0; p < buffer_.cols(); ++p) {
      const double* column = buffer_.col(p).data();
      const Eigen::Map<const Eigen::MatrixXd> pieces(column + (entries_ - length * chains), length, chains);
      const double r = rhat_basic(pieces, rank_workspace_);
      rhat_[p] = std::isnan(r) ? 1.0 : r;
      const Eigen::Map<const Eigen::MatrixXd> all(column, entries_, 1);
      const double m = mcse_mean(all, ess_workspace_);
      mcse_[p] = std::isnan(m) ? 0.0 : m;
      worst = std::max(worst, rhat_[p]);
    }
    return worst;
  }
  /// Per-parameter R-hat and MCSE of the record's mean, from the last `check`.
  const Eigen::VectorXd& rhat() const { return rhat_; }
  const Eigen::VectorXd& record_mcse() const { return mcse_; }

 private:
  Eigen::MatrixXd buffer_;
  Eigen::VectorXd pending_;
  std::int64_t entries_ = 0, thin_ = 1, pending_count_ = 0;
  Eigen::VectorXd rhat_, mcse_;
  RankWorkspace rank_workspace_;
  EssWorkspace ess_workspace_;
};

}  // namespace symbatch
