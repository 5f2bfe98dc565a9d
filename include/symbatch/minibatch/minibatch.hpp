/// @file minibatch.hpp
/// @brief `minibatch(batch_size, {X, y, ...})`: one view per array, every view driven by ONE
/// shared random node, so the batches of all arrays hold the same rows by construction; and the
/// queries on those views (`as_minibatch_view`, `minibatch_indices`, `replace_minibatch_views`).
#pragma once

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "symbatch/minibatch/draw.hpp"

namespace symbatch {

/// @brief Options of `minibatch`.
struct MinibatchOptions {
  MinibatchScheme scheme = MinibatchScheme::circular_slice;
  /// Visit the rows of all arrays in one fixed random order (a permutation of 0..N-1 drawn from
  /// `shuffle_seed`), as if the arrays had been shuffled together once. Use it with
  /// `circular_slice` when the data are ordered (by time, by group): consecutive rows are then
  /// correlated and a contiguous window is not a representative sample. The data are never
  /// copied: the views gather their rows through the permutation, which is a function of
  /// (`shuffle_seed`, N) made at run time. So a `set_value` is seen on the next call, and arrays
  /// whose length is unknown when the minibatch is built (inputs) work too.
  bool shuffle_once = false;
  std::uint64_t shuffle_seed = 0;  ///< seed of the one-time shuffle
  LastBatch last_batch = LastBatch::keep_short;
  std::string name = {};  ///< prefix of the names of the RNG state and the views
  /// Draws of minibatch calls with different streams are independent even when their RNG states
  /// are seeded alike: in a sharded MPI run (`mpi::DistributedOptions::sharded`) every process
  /// builds the same model over its own shard and passes its rank here, so that the processes
  /// draw their batches independently while sharing one seed. 0 by default.
  std::uint64_t stream = 0;
};


/// @brief One view per array, all driven by one shared random node (see `MinibatchScheme`).
///
/// The arrays must have a leading dimension, the same length N, and must not depend on a random
/// variable. The node's RNG state is a shared variable of its own, so `compile(..., {.seed})`
/// reseeds it and each call of the compiled function draws a new batch (or the same one with
/// `advance_rngs = false`, until `Function::advance`).
///
/// @throws std::invalid_argument when no arrays are given, `batch_size <= 0`, an array has rank
/// 0 or depends on a random variable, the leading dimensions differ (at construction when they
/// are known, otherwise on the first call that sees them), an array has no rows, or
/// `batch_size > N` for a scheme that needs distinct rows.
inline std::vector<Variable> minibatch(std::int64_t batch_size, std::vector<Variable> arrays, MinibatchOptions options = {}) {
  if (arrays.empty()) throw_invalid("minibatch", "no arrays given");
  if (batch_size <= 0) throw_invalid("minibatch", "batch_size is ", batch_size, ", but must be positive");
  // The draw holds up to batch_size i64 row numbers: refuse a size whose bytes overflow now, at
  // build time, rather than at the first call.
  if (batch_size > std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(sizeof(std::int64_t)))
    throw_invalid("minibatch", "batch_size is ", batch_size, ", but a batch of that many row numbers needs 2^63 bytes or more");
  std::vector<std::string> names;
  std::optional<std::int64_t> rows;
  std::size_t rows_from = 0;
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    const Variable& array = arrays[i];
    if (!array) throw_invalid("minibatch", "array ", i + 1, " is a null variable");
    names.push_back(array.name().empty() ? "array " + std::to_string(i + 1) : array.name());
    if (array.rank() == 0) throw_invalid("minibatch", "array '", names.back(), "' has rank 0; minibatch needs arrays with a leading dimension");
    if (const ApplyNode* random = detail::random_ancestor(array))
      throw_invalid("minibatch", "array '", names.back(), "' depends on the random variable ", random->op().describe(),
                    "; minibatch views must be views of fixed data");
    std::optional<std::int64_t> length;
    if (array.type().shape[0] != Type::unknown) length = array.type().shape[0];
    else if (array.is_shared()) length = get_value(array).shape()[0];
    if (length && rows && *length != *rows)
      throw_invalid("minibatch", "arrays '", names[rows_from], "' and '", names.back(), "' have different leading dimensions (", *rows, " and ",
                    *length, ")");
    if (length && !rows) {
      rows = length;
      rows_from = i;
    }
  }
  if (rows) detail::MinibatchDraw::check_batch_size(batch_size, *rows, options.scheme, names[rows_from]);

  const std::string prefix = options.name.empty() ? "minibatch" : options.name;
  std::vector<Variable> inputs{random::rng(prefix + "_rng")};
  for (const Variable& array : arrays) inputs.push_back(dim(array, 0));
  auto node = ApplyNode::make(std::make_shared<const detail::MinibatchDraw>(options.scheme, batch_size, options.last_batch, names, options.stream), inputs);
  const Variable draw = node->output(1);
  draw.set_name(prefix + "_draw");
  const bool circular = options.scheme == MinibatchScheme::circular_slice;
  // Under shuffle_once the draw picks positions in the permuted order; the rows they stand for
  // are gathered from the permutation, and every view gathers those rows from its array.
  Variable shuffled_rows;
  if (options.shuffle_once) {
    const Variable permutation = make_apply<detail::RowPermutation>({dim(arrays[0], 0)}, options.shuffle_seed);
    permutation.set_name(prefix + "_permutation");
    shuffled_rows = circular ? make_apply<detail::CircularWindow>({permutation, draw}, batch_size) : take(permutation, draw);
    shuffled_rows.set_name(prefix + "_rows");
  }
  std::vector<Variable> views;
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    Variable view = shuffled_rows ? take(arrays[i], shuffled_rows)
                    : circular    ? make_apply<detail::CircularWindow>({arrays[i], draw}, batch_size)
                                  : take(arrays[i], draw);
    view.set_name(names[i] + "_batch");
    views.push_back(view);
  }
  return views;
}

/// @brief A minibatch view: the view, the whole array it views, and the one random node shared
/// by every view of the same `minibatch` call.
struct MinibatchView {
  Variable view;
  Variable array;
  const ApplyNode* source;
};

/// @brief True for the random node that a `minibatch` call creates.
inline bool is_minibatch_source(const ApplyNode& node) { return op_is<detail::MinibatchDraw>(node.op()); }

namespace detail {
/// The minibatch draw behind the row input of a view: the draw itself, or (under shuffle_once)
/// the permutation's rows at the drawn positions.
inline const ApplyNode* minibatch_draw_behind(const Variable& rows) {
  const ApplyNode* owner = rows.owner();
  if (!owner) return nullptr;
  if (is_minibatch_source(*owner)) return owner;
  const bool gathers = op_is<CircularWindow>(owner->op()) || op_is<Take>(owner->op());
  if (!gathers || owner->inputs().size() != 2 || !owner->input(0).owner() ||
      !op_is<RowPermutation>(owner->input(0).owner()->op()))
    return nullptr;
  const ApplyNode* draw = owner->input(1).owner();
  return draw && is_minibatch_source(*draw) ? draw : nullptr;
}
}  // namespace detail

/// @brief The view information when `variable` is directly a view returned by `minibatch`.
inline std::optional<MinibatchView> as_minibatch_view(const Variable& variable) {
  const ApplyNode* owner = variable ? variable.owner() : nullptr;
  if (!owner || owner->inputs().size() != 2) return std::nullopt;
  const bool view_op = op_is<detail::CircularWindow>(owner->op()) || op_is<Take>(owner->op());
  const ApplyNode* source = view_op ? detail::minibatch_draw_behind(owner->input(1)) : nullptr;
  if (!source) return std::nullopt;
  return MinibatchView{variable, owner->input(0), source};
}

/// @brief The original row numbers (0..N-1 in the arrays as given) of the rows a minibatch view
/// holds, as an i64 vector variable: row k of the view is row `minibatch_indices(view)[k]` of
/// its array, under every scheme and under `shuffle_once`. It reads the same draw as the view,
/// so compiled as a further output of the same function it shows the batch of that call.
/// @throws std::invalid_argument if `view` is not a view returned by `minibatch`.
inline Variable minibatch_indices(const Variable& view) {
  const std::optional<MinibatchView> found = as_minibatch_view(view);
  if (!found) throw_invalid("minibatch_indices", "'", view ? view.label() : std::string("null"), "' is not a view returned by minibatch");
  const ApplyNode& owner = *view.owner();
  Variable rows = owner.input(1);
  // A gathered view's row input already holds the row numbers (the draw, or under shuffle_once
  // the permutation's rows), shared by every view of the call: it is returned as it is, never
  // renamed. A circular window's rows are computed from its start.
  if (rows.owner() == found->source && op_is<detail::CircularWindow>(owner.op())) {
    auto* draw = op_as<detail::MinibatchDraw>(found->source->op());
    rows = make_apply<detail::CircularRows>({rows, dim(found->array, 0)}, draw->batch_size());
    rows.set_name((view.name().empty() ? std::string("view") : view.name()) + "_indices");
  }
  return rows;
}

/// @brief Every minibatch view in the graphs of `outputs`.
inline std::vector<MinibatchView> minibatch_views(std::span<const Variable> outputs) {
  std::vector<MinibatchView> result;
  for (const Variable& variable : ancestors(outputs))
    if (auto view = as_minibatch_view(variable)) result.push_back(*view);
  return result;
}

/// @brief The same graphs with every minibatch view replaced by its whole array (full data).
/// `replace_batch_selections` (model/batch_selection.hpp) also replaces hand-built random slices.
inline std::vector<Variable> replace_minibatch_views(std::span<const Variable> outputs) {
  std::vector<std::pair<Variable, Variable>> pairs;
  for (const MinibatchView& view : minibatch_views(outputs)) pairs.emplace_back(view.view, view.array);
  return replace(outputs, pairs);
}

}  // namespace symbatch
