/// @file minibatch.hpp
/// @brief `minibatch(batch_size, {X, y, ...})`: one view per array, every view driven by ONE
/// shared random node, so the batches of all arrays hold the same rows by construction.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "symbatch/graph/walk.hpp"
#include "symbatch/ops/shape.hpp"
#include "symbatch/ops/subtensor.hpp"
#include "symbatch/random/variable.hpp"

namespace symbatch {

/// @brief How a minibatch draws its rows.
enum class MinibatchScheme {
  /// Start `s ~ U{0..N-1}`, rows `s..s+B-1` mod N: a zero-copy view unless the window wraps.
  /// Every row has inclusion probability exactly B/N, so the N/B-scaled sum is unbiased.
  circular_slice,
  with_replacement,     ///< B iid uniform indices in [0, N), gathered (PyMC's scheme)
  without_replacement,  ///< B distinct indices per step, gathered (NumPyro/Pyro's scheme)
  /// A permutation per epoch cut into consecutive batches (PyTorch's DataLoader); see `LastBatch`.
  epoch_reshuffle,
};

/// @brief What `epoch_reshuffle` does with the last `N mod B` rows of an epoch.
enum class LastBatch {
  keep_short,  ///< a shorter last batch (its observed terms are scaled by its own length)
  drop,        ///< dropped: every batch has B rows
};

/// @brief Options of `minibatch`.
struct MinibatchOptions {
  MinibatchScheme scheme = MinibatchScheme::circular_slice;
  /// Shuffle the rows of all arrays once, together, when the minibatch is built. Use it with
  /// `circular_slice` when the data are ordered (by time, by group): consecutive rows are then
  /// correlated and a contiguous window is not a representative sample. It keeps a shuffled
  /// copy of each array.
  bool shuffle_once = false;
  std::uint64_t shuffle_seed = 0;  ///< seed of the one-time shuffle
  LastBatch last_batch = LastBatch::keep_short;
  std::string name = {};  ///< prefix of the names of the RNG state and the views
};

namespace detail {

inline const char* scheme_name(MinibatchScheme scheme) {
  switch (scheme) {
    case MinibatchScheme::circular_slice: return "circular_slice";
    case MinibatchScheme::with_replacement: return "with_replacement";
    case MinibatchScheme::without_replacement: return "without_replacement";
    case MinibatchScheme::epoch_reshuffle: return "epoch_reshuffle";
  }
  return "?";
}

/// The single random node of one `minibatch` call. Inputs: the RNG state and the leading
/// dimension of every array (checked equal on each call). Outputs: the next state, and the
/// draw (the window start for the circular slice, the row indices otherwise).
class MinibatchDraw final : public random::RandomOp {
 public:
  MinibatchDraw(MinibatchScheme scheme, std::int64_t batch_size, LastBatch last_batch, std::vector<std::string> names)
      : scheme_(scheme), batch_size_(batch_size), last_batch_(last_batch), names_(std::move(names)) {}
  std::string name() const override { return "minibatch"; }
  std::string describe() const override {
    return std::string("minibatch{") + scheme_name(scheme_) + ", batch_size=" + std::to_string(batch_size_) + "}";
  }
  MinibatchScheme scheme() const { return scheme_; }
  std::int64_t batch_size() const { return batch_size_; }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != names_.size() + 1) throw_invalid(name(), "expected ", names_.size() + 1, " inputs, got ", inputs.size());
    if (scheme_ == MinibatchScheme::circular_slice) return {Type{DType::rng, {}}, Type{DType::i64, {}}};
    const bool fixed = scheme_ != MinibatchScheme::epoch_reshuffle || last_batch_ == LastBatch::drop;
    return {Type{DType::rng, {}}, Type{DType::i64, {fixed ? batch_size_ : Type::unknown}}};
  }

  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    const RngState state = in[0]->data<RngState>()[0];
    const std::int64_t rows = in[1]->item<std::int64_t>();
    for (std::size_t i = 2; i < in.size(); ++i) {
      const std::int64_t other = in[i]->item<std::int64_t>();
      if (other != rows)
        throw_invalid("minibatch", "arrays '", names_[0], "' and '", names_[i - 1], "' have different leading dimensions (", rows,
                      " and ", other, ")");
    }
    check_batch_size(batch_size_, rows, scheme_, names_[0]);
    PhiloxStream stream(state);
    Array& draw = *out[1];
    switch (scheme_) {
      case MinibatchScheme::circular_slice:
        draw.ensure(DType::i64, Shape{});
        draw.data<std::int64_t>()[0] = static_cast<std::int64_t>(stream.below(static_cast<std::uint64_t>(rows)));
        break;
      case MinibatchScheme::with_replacement: {
        draw.ensure(DType::i64, Shape{batch_size_});
        std::int64_t* indices = draw.data<std::int64_t>();
        for (std::int64_t k = 0; k < batch_size_; ++k) indices[k] = static_cast<std::int64_t>(stream.below(static_cast<std::uint64_t>(rows)));
        break;
      }
      case MinibatchScheme::without_replacement: draw_distinct(stream, rows, draw, scratch); break;
      case MinibatchScheme::epoch_reshuffle: draw_epoch(state, rows, draw, scratch); break;
    }
    write_next_state(state, *out[0]);
  }

  bool equals(const Op& other) const override { return this == &other; }  // each minibatch call is its own node

  /// Throws when the scheme needs distinct rows and there are fewer than `batch_size`.
  static void check_batch_size(std::int64_t batch_size, std::int64_t rows, MinibatchScheme scheme, const std::string& first) {
    if (scheme != MinibatchScheme::with_replacement && batch_size > rows)
      throw_invalid("minibatch", "batch_size ", batch_size, " exceeds the ", rows, " rows of '", first, "'; the ", scheme_name(scheme),
                    " scheme needs distinct rows");
    if (rows == 0) throw_invalid("minibatch", "array '", first, "' has no rows");
  }

 private:
  /// Partial Fisher-Yates over an identity permutation kept in `scratch`, undone afterwards:
  /// O(B) per call once the O(N) identity exists.
  void draw_distinct(PhiloxStream& stream, std::int64_t rows, Array& draw, Scratch& scratch) const {
    std::vector<std::int64_t>& identity = scratch.indices;
    if (static_cast<std::int64_t>(identity.size()) != rows + batch_size_) {
      identity.resize(static_cast<std::size_t>(rows + batch_size_));
      for (std::int64_t i = 0; i < rows; ++i) identity[static_cast<std::size_t>(i)] = i;
    }
    std::int64_t* swaps = identity.data() + rows;  // the partner of each swap, to undo them
    draw.ensure(DType::i64, Shape{batch_size_});
    std::int64_t* indices = draw.data<std::int64_t>();
    for (std::int64_t k = 0; k < batch_size_; ++k) {
      const std::int64_t j = k + static_cast<std::int64_t>(stream.below(static_cast<std::uint64_t>(rows - k)));
      std::swap(identity[static_cast<std::size_t>(k)], identity[static_cast<std::size_t>(j)]);
      swaps[k] = j;
      indices[k] = identity[static_cast<std::size_t>(k)];
    }
    for (std::int64_t k = batch_size_ - 1; k >= 0; --k) std::swap(identity[static_cast<std::size_t>(k)], identity[static_cast<std::size_t>(swaps[k])]);
  }

  /// Call `c` (the state's call counter) is batch `c mod P` of epoch `c / P`, P batches per
  /// epoch. The epoch's permutation comes from its own Philox stream (counter word 2 = 1) and
  /// is cached in `scratch`, so it is drawn once per epoch.
  void draw_epoch(const RngState& state, std::int64_t rows, Array& draw, Scratch& scratch) const {
    const std::int64_t per_epoch = last_batch_ == LastBatch::drop ? rows / batch_size_ : (rows + batch_size_ - 1) / batch_size_;
    const auto call = static_cast<std::int64_t>(state.counter[1]);
    const std::int64_t epoch = call / per_epoch, position = call % per_epoch;
    if (scratch.arrays.empty()) scratch.arrays.resize(1);
    Array& key = scratch.arrays[0];
    std::vector<std::int64_t>& permutation = scratch.indices;
    const std::int64_t wanted[4] = {epoch, static_cast<std::int64_t>(state.key[0]), static_cast<std::int64_t>(state.key[1]), rows};
    if (!(key.has_buffer() && key.size() == 4 && std::equal(wanted, wanted + 4, key.data<std::int64_t>()))) {
      RngState epoch_state = state;
      epoch_state.counter = {0, static_cast<std::uint64_t>(epoch), 1, 0};
      PhiloxStream stream(epoch_state);
      permutation.resize(static_cast<std::size_t>(rows));
      for (std::int64_t i = 0; i < rows; ++i) permutation[static_cast<std::size_t>(i)] = i;
      for (std::int64_t i = rows - 1; i > 0; --i)
        std::swap(permutation[static_cast<std::size_t>(i)], permutation[static_cast<std::size_t>(stream.below(static_cast<std::uint64_t>(i + 1)))]);
      key.ensure(DType::i64, Shape{4});
      std::copy(wanted, wanted + 4, key.data<std::int64_t>());
    }
    const std::int64_t begin = position * batch_size_;
    const std::int64_t end = std::min(begin + batch_size_, rows);
    draw.ensure(DType::i64, Shape{end - begin});
    std::copy(permutation.begin() + begin, permutation.begin() + end, draw.data<std::int64_t>());
  }

  MinibatchScheme scheme_;
  std::int64_t batch_size_;
  LastBatch last_batch_;
  std::vector<std::string> names_;
};

/// Rows `start..start+B-1` (mod N) of an array: a zero-copy view when the window does not wrap,
/// the two pieces joined into a buffer of the op's own when it does.
class CircularWindow final : public Op {
 public:
  explicit CircularWindow(std::int64_t batch_size) : batch_size_(batch_size) {}
  std::string name() const override { return "circular_window"; }
  std::string describe() const override { return "circular_window{" + std::to_string(batch_size_) + "}"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    Type type = inputs[0].type();
    type.shape[0] = batch_size_;
    return {type};
  }
  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    const Array& array = *in[0];
    const std::int64_t rows = array.shape()[0];
    const std::int64_t start = in[1]->item<std::int64_t>();
    Array& result = *out[0];
    result.reset();  // drop last call's reference so the scratch buffer can be reused
    if (start + batch_size_ <= rows) {
      result = array.slice_rows(start, start + batch_size_);
      return;
    }
    if (scratch.arrays.empty()) scratch.arrays.resize(1);
    Array& joined = scratch.arrays[0];
    Shape shape = array.shape();
    shape[0] = batch_size_;
    joined.ensure(array.dtype(), shape);
    const std::size_t row_bytes = array.bytes() / static_cast<std::size_t>(rows);
    const std::int64_t first = rows - start;
    std::memcpy(joined.raw_data(), array.raw_data() + static_cast<std::size_t>(start) * row_bytes, static_cast<std::size_t>(first) * row_bytes);
    std::memcpy(joined.raw_data() + static_cast<std::size_t>(first) * row_bytes, array.raw_data(),
                static_cast<std::size_t>(batch_size_ - first) * row_bytes);
    result = joined;
  }
  std::vector<InputGrad> grad(const ApplyNode&, std::span<const Variable>) const override {
    return {InputGrad::disconnected(), InputGrad::disconnected()};  // data, not parameters
  }
  std::optional<int> view_of(int) const override { return 0; }
  bool equals(const Op& other) const override {
    auto* op = dynamic_cast<const CircularWindow*>(&other);
    return op && op->batch_size_ == batch_size_;
  }

 private:
  std::int64_t batch_size_;
};

/// The random op (other than a minibatch draw) that `variable` depends on, if any.
inline const ApplyNode* random_ancestor(const Variable& variable) {
  for (const Variable& ancestor : ancestors({variable}))
    if (ancestor.owner() && ancestor.owner()->op().is_random()) return ancestor.owner();
  return nullptr;
}

/// A copy of `value` with its rows permuted by `permutation`.
inline Array permute_rows(const Array& value, const std::vector<std::int64_t>& permutation) {
  Array result = Array::empty(value.dtype(), value.shape());
  const std::size_t row_bytes = value.shape()[0] == 0 ? 0 : value.bytes() / static_cast<std::size_t>(value.shape()[0]);
  for (std::size_t i = 0; i < permutation.size(); ++i)
    std::memcpy(result.raw_data() + i * row_bytes, value.raw_data() + static_cast<std::size_t>(permutation[i]) * row_bytes, row_bytes);
  return result;
}

}  // namespace detail

/// @brief One view per array, all driven by one shared random node (see `MinibatchScheme`).
///
/// The arrays must have a leading dimension, the same length N, and must not depend on a random
/// variable. The node's RNG state is a shared variable of its own, so `compile(..., {.seed})`
/// reseeds it and each call of the compiled function draws a new batch (or the same one with
/// `advance_rngs = false`, until `Function::advance`).
///
/// @throws std::invalid_argument when no arrays are given, `batch_size <= 0`, an array has rank
/// 0 or depends on a random variable, the leading dimensions differ (at construction when they
/// are known, otherwise on the first call that sees them), or `batch_size > N` for a scheme
/// that needs distinct rows.
inline std::vector<Variable> minibatch(std::int64_t batch_size, std::vector<Variable> arrays, MinibatchOptions options = {}) {
  if (arrays.empty()) throw_invalid("minibatch", "no arrays given");
  if (batch_size <= 0) throw_invalid("minibatch", "batch_size is ", batch_size, ", but must be positive");
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
  if (options.shuffle_once) {
    if (!rows) throw_invalid("minibatch", "shuffle_once needs arrays whose length is known when the minibatch is built");
    PhiloxStream stream(seed_rng_state(options.shuffle_seed, 0));
    std::vector<std::int64_t> permutation(static_cast<std::size_t>(*rows));
    for (std::int64_t i = 0; i < *rows; ++i) permutation[static_cast<std::size_t>(i)] = i;
    for (std::int64_t i = *rows - 1; i > 0; --i)
      std::swap(permutation[static_cast<std::size_t>(i)], permutation[static_cast<std::size_t>(stream.below(static_cast<std::uint64_t>(i + 1)))]);
    for (std::size_t i = 0; i < arrays.size(); ++i) {
      Array value;
      if (arrays[i].is_shared()) value = get_value(arrays[i]);
      else if (arrays[i].is_constant()) value = arrays[i].constant_value();
      else throw_invalid("minibatch", "shuffle_once needs shared or constant arrays; '", names[i], "' is computed");
      arrays[i] = shared(detail::permute_rows(value, permutation), names[i] + "_shuffled");
    }
  }

  std::vector<Variable> inputs{random::rng(prefix + "_rng")};
  for (const Variable& array : arrays) inputs.push_back(dim(array, 0));
  auto node = ApplyNode::make(std::make_shared<const detail::MinibatchDraw>(options.scheme, batch_size, options.last_batch, names), inputs);
  const Variable draw = node->output(1);
  draw.set_name(prefix + "_draw");
  std::vector<Variable> views;
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    Variable view = options.scheme == MinibatchScheme::circular_slice ? make_apply<detail::CircularWindow>({arrays[i], draw}, batch_size)
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
inline bool is_minibatch_source(const ApplyNode& node) { return dynamic_cast<const detail::MinibatchDraw*>(&node.op()) != nullptr; }

/// @brief The view information when `variable` is directly a view returned by `minibatch`.
inline std::optional<MinibatchView> as_minibatch_view(const Variable& variable) {
  const ApplyNode* owner = variable ? variable.owner() : nullptr;
  if (!owner || owner->inputs().size() != 2) return std::nullopt;
  const bool view_op = dynamic_cast<const detail::CircularWindow*>(&owner->op()) || owner->op().name() == "take";
  const ApplyNode* source = owner->input(1).owner();
  if (!view_op || !source || !is_minibatch_source(*source)) return std::nullopt;
  return MinibatchView{variable, owner->input(0), source};
}

/// @brief Every minibatch view in the graphs of `outputs`.
inline std::vector<MinibatchView> minibatch_views(std::span<const Variable> outputs) {
  std::vector<MinibatchView> result;
  for (const Variable& variable : ancestors(outputs))
    if (auto view = as_minibatch_view(variable)) result.push_back(*view);
  return result;
}

/// @brief The same graphs with every minibatch view replaced by its whole array (full data).
inline std::vector<Variable> replace_minibatch_views(std::span<const Variable> outputs) {
  std::vector<std::pair<Variable, Variable>> pairs;
  for (const MinibatchView& view : minibatch_views(outputs)) pairs.emplace_back(view.view, view.array);
  return replace(outputs, pairs);
}

}  // namespace symbatch
