/// @file variational_objective.hpp
/// @brief `Family` (which Gaussian to fit) and `variational_objective`: one interface over the
/// mean-field, full-rank and low-rank objectives for a training loop (loss, parameters to
/// optimise, and the approximation at given parameter values).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>
#include <variant>
#include <vector>

#include "symbatch/inference/full_rank_objective.hpp"
#include "symbatch/inference/low_rank_objective.hpp"
#include "symbatch/inference/mean_field_objective.hpp"

namespace symbatch {

/// @brief A fully factorised Gaussian (`MeanField`): 2P parameters.
struct MeanFieldFamily {};
/// @brief A dense Gaussian with a Cholesky factor (`FullRank`): P(P+3)/2 effective parameters,
/// at most `full_rank_max_parameters` coordinates.
struct FullRankFamily {};
/// @brief A diagonal plus rank-`rank` Gaussian (`LowRank`): P(k+2) parameters; without a rank,
/// NumPyro's default @f$ \mathrm{round}(\sqrt P) @f$.
struct LowRankFamily {
  std::optional<std::int64_t> rank = std::nullopt;
};
/// @brief Which Gaussian family a variational fit uses.
using Family = std::variant<MeanFieldFamily, FullRankFamily, LowRankFamily>;

/// @brief A family's objective behind one interface: minimise `loss` over `parameters`, then
/// read the fit with `approximation()` (current values) or `approximation_from(values)` (e.g.
/// averaged iterates, in the order of `parameters`).
struct VariationalObjective {
  std::variant<MeanFieldObjective, FullRankObjective, LowRankObjective> objective;  ///< the family's own objective
  Variable loss;                     ///< the negative ELBO estimate (one call: one set of draws)
  std::vector<Variable> parameters;  ///< the shared variables to optimise, in a fixed order
  Variable noise;                    ///< the standard-normal draws of one evaluation

  /// @brief The approximation at `values` (see the families' `approximation_from`).
  /// @throws std::invalid_argument for values of the wrong count or shapes.
  GaussianApproximation approximation_from(std::span<const Array> values) const {
    return std::visit([&](const auto& family) -> GaussianApproximation { return family.approximation_from(values); }, objective);
  }
  /// @brief The approximation at the parameters' current values.
  GaussianApproximation approximation() const {
    return std::visit([](const auto& family) -> GaussianApproximation { return family.approximation(); }, objective);
  }
};

/// @brief The negative-ELBO objective of `family` over `model` (see `mean_field_objective`,
/// `full_rank_objective`, `low_rank_objective` for each graph and its errors). `logp_estimate`, when
/// given, replaces `model.logp()` (the control variate's estimator, control_variate.hpp).
inline VariationalObjective variational_objective(const Model& model, const Family& family, std::int64_t n_mc = 1, double initial_sd = std::log(2.0),
                                                  const Variable& logp_estimate = {}) {
  return std::visit(
      [&](const auto& chosen) -> VariationalObjective {
        using Chosen = std::decay_t<decltype(chosen)>;
        auto wrap = [](auto built) {
          VariationalObjective result{built, built.loss, built.parameters, built.noise};
          return result;
        };
        if constexpr (std::is_same_v<Chosen, MeanFieldFamily>) return wrap(mean_field_objective(model, n_mc, initial_sd, logp_estimate));
        else if constexpr (std::is_same_v<Chosen, FullRankFamily>) return wrap(full_rank_objective(model, n_mc, initial_sd, logp_estimate));
        else return wrap(low_rank_objective(model, chosen.rank, n_mc, initial_sd, logp_estimate));
      },
      family);
}

}  // namespace symbatch
