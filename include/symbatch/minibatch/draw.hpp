/// @file draw.hpp
/// @brief The ops behind `minibatch`: the one random draw of a minibatch call, the circular
/// window it drives, the permutation of `shuffle_once`, and the row numbers of a window.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "symbatch/graph/walk.hpp"
#include "symbatch/ops/shape.hpp"
#include "symbatch/ops/subtensor.hpp"
#include "symbatch/random/draws.hpp"

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

namespace detail {

/// A uniformly random permutation of 0..rows-1 (Fisher-Yates, from the last position down).
inline void random_permutation(PhiloxStream& stream, std::int64_t rows, std::vector<std::int64_t>& permutation) {
  permutation.resize(static_cast<std::size_t>(rows));
  stream.permutation(permutation.data(), rows);
}

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
  MinibatchDraw(MinibatchScheme scheme, std::int64_t batch_size, LastBatch last_batch, std::vector<std::string> names, std::uint64_t stream = 0)
      : scheme_(scheme), batch_size_(batch_size), last_batch_(last_batch), names_(std::move(names)), stream_(stream) {}
  std::string name() const override { return "minibatch"; }
  /// Declared for printing and messages; like every random op, a draw is equal only to itself.
  OpParameters parameters() const override { return {{"scheme", std::string(scheme_name(scheme_))}, {"batch_size", batch_size_}}; }
  MinibatchScheme scheme() const { return scheme_; }
  std::int64_t batch_size() const { return batch_size_; }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != names_.size() + 1) throw_invalid(name(), "expected ", names_.size() + 1, " inputs, got ", inputs.size());
    if (scheme_ == MinibatchScheme::circular_slice) return {Type{DType::rng, {}}, Type{DType::i64, {}}};
    const bool fixed = scheme_ != MinibatchScheme::epoch_reshuffle || last_batch_ == LastBatch::drop;
    return {Type{DType::rng, {}}, Type{DType::i64, {fixed ? batch_size_ : Type::unknown}}};
  }

  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    const RngState given = in[0]->data<RngState>()[0];
    // A stream other than 0 moves the draws to Philox counters of their own (counter word 3),
    // independent of stream 0's; the state passed on is the given one, advanced.
    RngState state = given;
    state.counter[3] ^= stream_;
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
    write_next_state(given, *out[0]);
  }


  /// Throws when the scheme needs distinct rows and there are fewer than `batch_size`.
  /// An empty array is reported as such under every scheme, before any batch-size comparison.
  static void check_batch_size(std::int64_t batch_size, std::int64_t rows, MinibatchScheme scheme, const std::string& first) {
    if (rows == 0) throw_invalid("minibatch", "array '", first, "' has no rows");
    if (scheme != MinibatchScheme::with_replacement && batch_size > rows)
      throw_invalid("minibatch", "batch_size ", batch_size, " exceeds the ", rows, " rows of '", first, "'; the ", scheme_name(scheme),
                    " scheme needs distinct rows");
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
      epoch_state.counter = {0, static_cast<std::uint64_t>(epoch), 1, state.counter[3]};
      PhiloxStream stream(epoch_state);
      random_permutation(stream, rows, permutation);
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
  std::uint64_t stream_;
};

/// Rows `start..start+B-1` (mod N) of an array: a zero-copy view when the window does not wrap,
/// the two pieces joined into a buffer of the op's own when it does.
class CircularWindow final : public Op {
 public:
  explicit CircularWindow(std::int64_t batch_size) : batch_size_(batch_size) {}
  std::string name() const override { return "circular_window"; }
  OpParameters parameters() const override { return {{"batch_size", batch_size_}}; }
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

 private:
  std::int64_t batch_size_;
};

/// The permutation of `shuffle_once`: input the row count N (an i64 scalar), output a random
/// permutation of 0..N-1 that depends only on (`seed`, N). It is drawn on the first call that
/// sees N and kept in `scratch`, so every later call with the same N costs nothing, and a
/// `set_value` to data of another length gets a permutation of its own length. Not a random op:
/// it is a fixed function of its input, like a constant that knows N only at run time.
class RowPermutation final : public Op {
 public:
  explicit RowPermutation(std::uint64_t seed) : seed_(seed) {}
  std::string name() const override { return "row_permutation"; }
  OpParameters parameters() const override { return {{"seed", static_cast<std::int64_t>(seed_)}}; }
  std::vector<Type> output_types(std::span<const Variable>) const override { return {Type{DType::i64, {Type::unknown}}}; }
  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    const std::int64_t rows = in[0]->item<std::int64_t>();
    if (scratch.arrays.empty()) scratch.arrays.resize(1);
    Array& permutation = scratch.arrays[0];
    if (!permutation.has_buffer() || permutation.size() != rows) {
      PhiloxStream stream(seed_rng_state(seed_, 0));
      std::vector<std::int64_t>& order = scratch.indices;
      random_permutation(stream, rows, order);
      permutation = Array::empty(DType::i64, Shape{rows});
      std::copy(order.begin(), order.end(), permutation.data<std::int64_t>());
    }
    *out[0] = permutation;
  }
  std::vector<InputGrad> grad(const ApplyNode&, std::span<const Variable>) const override { return {InputGrad::disconnected()}; }

 private:
  std::uint64_t seed_;
};

/// The row numbers of a circular window: inputs the start and the row count N (i64 scalars),
/// output `(start + k) mod N` for k < B. `minibatch_indices` of an unshuffled circular slice.
class CircularRows final : public Op {
 public:
  explicit CircularRows(std::int64_t batch_size) : batch_size_(batch_size) {}
  std::string name() const override { return "circular_rows"; }
  OpParameters parameters() const override { return {{"batch_size", batch_size_}}; }
  std::vector<Type> output_types(std::span<const Variable>) const override { return {Type{DType::i64, {batch_size_}}}; }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const std::int64_t start = in[0]->item<std::int64_t>(), rows = in[1]->item<std::int64_t>();
    out[0]->ensure(DType::i64, Shape{batch_size_});
    std::int64_t* result = out[0]->data<std::int64_t>();
    for (std::int64_t k = 0; k < batch_size_; ++k) result[k] = (start + k) % rows;
  }
  std::vector<InputGrad> grad(const ApplyNode&, std::span<const Variable>) const override {
    return {InputGrad::disconnected(), InputGrad::disconnected()};
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

}  // namespace detail
}  // namespace symbatch
