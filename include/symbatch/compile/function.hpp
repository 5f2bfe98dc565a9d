/// @file function.hpp
/// @brief `Function`, a compiled graph, and the options of `compile` (compile.hpp builds it);
/// this header is the one to include for both.
#pragma once

#include <atomic>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "symbatch/compile/fusion.hpp"
#include "symbatch/compile/row_block.hpp"
#include "symbatch/compile/rewrite.hpp"
#include "symbatch/graph/walk.hpp"
#include "symbatch/random/philox.hpp"

namespace symbatch {

/// @brief `shared ← value`, applied after every call of a compiled function.
struct Update {
  Variable shared;
  Variable value;
};

/// @brief Options of `compile`.
struct CompileOptions {
  /// Shared-variable updates, at most one per shared variable, all applied after the outputs
  /// are computed (each reads the values from before the call).
  std::vector<Update> updates = {};
  /// When set, every RNG state the function reaches is reseeded: the i-th distinct state in
  /// topological order gets `seed_rng_state(seed, i)`.
  std::optional<std::uint64_t> seed = std::nullopt;
  /// When true (the default), each RNG state moves to its `next_rng` after every call, so each
  /// call draws anew. When false, every call sees the same draws until `Function::advance`.
  bool advance_rngs = true;
  /// Graph rewrites applied before scheduling (merging, constant folding, identities); they
  /// change the work, never the values.
  Rewrites rewrites = {};
  /// Fuse chains of elementwise ops into single loops (see `FusedElemwise`).
  bool fuse = true;
  /// With `fuse`, also run a GLM-shaped `X W` - loops - `X^T r` as one pass over the rows of X
  /// (see `RowBlockFused`). Off by default: measured 4-5% faster for a linear model at B = 16384,
  /// but 15% slower for a logistic one at B = 1024.
  bool row_blocks = false;
  /// When true, the function holds private copies of the RNG states it reads instead of
  /// reading and advancing the shared RNG variables: the i-th state in seeding order starts at
  /// `seed_rng_state(seed, i)` (key `(seed, i)`, counter zero, the state a shared RNG gets from
  /// `seed`), so `seed` is required. The shared RNG variables are neither read nor written;
  /// functions compiled this way with distinct seeds draw independent streams and may run on
  /// different threads (parallel chains).
  bool own_rng_states = false;
};

namespace detail {

/// Marks a `Function` busy for the lifetime of the guard; a second concurrent user throws.
/// One atomic exchange per call: cheap enough to be always on.
class ExclusiveUse {
 public:
  explicit ExclusiveUse(std::atomic<bool>& busy) : busy_(busy) {
    if (busy_.exchange(true, std::memory_order_acquire))
      throw_invalid("Function", "called from two threads at once; a Function is not thread-safe (compile one per thread)");
  }
  ~ExclusiveUse() { busy_.store(false, std::memory_order_release); }
  ExclusiveUse(const ExclusiveUse&) = delete;
  ExclusiveUse& operator=(const ExclusiveUse&) = delete;

 private:
  std::atomic<bool>& busy_;
};

}  // namespace detail

/// @brief A compiled graph: runs a precomputed schedule of ops over buffers kept between calls.
///
/// Buffers are allocated on the first call for a given set of shapes and reused afterwards, so
/// a call in steady state allocates nothing. The returned values stay valid until the next
/// call; copy an `Array` (`Array::copy`) to keep it longer. Holding a returned `Array` is safe:
/// the function then writes a fresh buffer instead of the one you hold, and the results of one
/// call may be passed back as the inputs of the next (`f(f(x))`).
///
/// Threads: a `Function` is used by one thread at a time. A call (or `advance`, `reseed`) made
/// while another is running throws "Function: called from two threads at once" (an atomic
/// flag, checked on every call). Distinct functions may run concurrently when they share no
/// mutable shared variable: a shared variable that an update writes (optimizer state, a
/// parameter) and every RNG state the functions advance. Two functions compiled from one
/// minibatch graph therefore share one RNG stream and must not run concurrently, unless they
/// are compiled with `CompileOptions::own_rng_states`, which gives each its own copy of the
/// states. Reading shared data (the arrays a minibatch views) from several functions at once is
/// safe as long as nobody calls `set_value` meanwhile.
class Function {
 public:
  Function(Function&&) noexcept = default;
  Function& operator=(Function&&) noexcept = default;

  /// Evaluates the outputs for `inputs` (one value per declared input, in order), then applies
  /// the updates. Throws `std::invalid_argument` for a wrong count, dtype or shape of inputs,
  /// an input without a buffer, an update value that does not fit its shared variable's type
  /// (then no update is applied), a moved-from function or a concurrent call; the function
  /// stays usable after any error.
  const std::vector<Array>& operator()(std::span<const Array> inputs) { return call(inputs); }
  const std::vector<Array>& operator()(std::initializer_list<Array> inputs) {
    return call(std::span<const Array>(inputs.begin(), inputs.size()));
  }
  const std::vector<Array>& operator()() { return call({}); }
  const std::vector<Array>& call(std::span<const Array> inputs);

  /// Moves every RNG state this function reads to the state after one call, without evaluating
  /// anything: the explicit "next batch" when the function was compiled with
  /// `advance_rngs = false`.
  void advance();
  /// Reseeds the function's RNG states as `compile` does with `CompileOptions::seed`.
  void reseed(std::uint64_t seed);

  const std::vector<Variable>& inputs() const { return checked_impl().inputs; }
  const std::vector<Variable>& outputs() const { return checked_impl().outputs; }
  /// The distinct RNG states (shared variables of dtype rng) the function reads, in seeding
  /// order. With `own_rng_states` the function reads private copies of them instead.
  const std::vector<Variable>& rng_states() const { return checked_impl().rngs; }
  /// The applies the schedule runs, in order.
  std::vector<const ApplyNode*> schedule() const {
    std::vector<const ApplyNode*> nodes;
    for (const auto& step : checked_impl().steps) nodes.push_back(step.apply.get());
    return nodes;
  }

 private:
  friend Function compile(std::vector<Variable> inputs, std::vector<Variable> outputs, CompileOptions options);
  Function() : impl_(std::make_unique<Impl>()) {}

  struct Step {
    std::shared_ptr<ApplyNode> apply;
    const Op* op = nullptr;
    std::vector<const Array*> in;
    std::vector<Array*> out;
    std::vector<std::size_t> out_slots;
    bool may_alias = false;
    Scratch scratch;
  };
  // Where a shared variable's value lives for this function: in the variable, or (an RNG state
  // under `own_rng_states`) in the function's private copy.
  struct SharedSlot {
    Variable variable;
    Array* value;
    std::size_t slot;
  };
  struct PendingUpdate {
    Variable shared;
    Array* target;
    std::size_t slot;
    bool swap;        // the slot is a buffer of the function's own: exchange instead of sharing
    bool check_type;  // the value's static type does not prove it fits the shared variable's type
  };
  struct RngChain {
    Array* value;
    std::vector<const Op*> ops;  // the random ops that consume the state in turn
  };
  struct Impl {
    std::vector<Variable> inputs, outputs, rngs;
    std::vector<Array> own_rng_values;  // private RNG states, one per `rngs` entry, or empty
    std::vector<Array> slots;
    std::vector<std::size_t> input_slots, output_slots;
    std::vector<SharedSlot> shared_slots;
    std::vector<Step> steps;
    std::vector<Step*> view_steps;  ///< the steps whose op may return a view of an input, latest first
    std::vector<PendingUpdate> updates;
    std::vector<RngChain> rng_chains;
    std::vector<Array> results;
    std::atomic<bool> busy{false};
  };

  Impl& checked_impl() const {
    if (!impl_) throw_invalid("Function", "this function was moved from");
    return *impl_;
  }
  void release_transients();

  std::unique_ptr<Impl> impl_;
};

/// @brief Compiles the graphs of `outputs` into a `Function` of `inputs`.
///
/// Shared variables and constants are implicit inputs. Throws `std::invalid_argument` when an
/// output depends on an input that is not listed, when an input is not a graph input, when an
/// update is invalid (not a shared variable, a second update of one variable, a static type
/// that cannot fit the variable's), or when `own_rng_states` is set without a `seed`.
Function compile(std::vector<Variable> inputs, std::vector<Variable> outputs, CompileOptions options = {});

inline void Function::reseed(std::uint64_t seed) {
  Impl& impl = checked_impl();
  const detail::ExclusiveUse exclusive(impl.busy);
  for (std::size_t stream = 0; stream < impl.rngs.size(); ++stream) {
    Array state = Array::scalar(seed_rng_state(seed, stream));
    if (impl.own_rng_values.empty()) set_value(impl.rngs[stream], std::move(state));
    else impl.own_rng_values[stream] = std::move(state);
  }
}

inline void Function::advance() {
  Impl& impl = checked_impl();
  const detail::ExclusiveUse exclusive(impl.busy);
  for (const RngChain& chain : impl.rng_chains) {
    if (chain.ops.empty()) continue;
    Array& value = *chain.value;
    RngState state = value.data<RngState>()[0];
    for (std::size_t i = 0; i < chain.ops.size(); ++i) state = next_rng_state(state);
    if (!value.unique()) value = value.copy();
    value.data<RngState>()[0] = state;
  }
}

inline void Function::release_transients() {
  // A view slot is dropped only when it really views one of its op's inputs (an op that may
  // alias can also have written a buffer of its own, which is kept for the next call). Later
  // steps go first, so a view of a view is compared with its input before that is dropped.
  for (const Step* step : impl_->view_steps) {
    for (Array* out : step->out)
      for (const Array* in : step->in)
        if (out->shares_buffer(*in)) {
          out->reset();
          break;
        }
  }
  for (std::size_t slot : impl_->input_slots) impl_->slots[slot].reset();
  for (const SharedSlot& shared : impl_->shared_slots) impl_->slots[shared.slot].reset();
}

inline const std::vector<Array>& Function::call(std::span<const Array> values) {
  Impl& impl = checked_impl();
  const detail::ExclusiveUse exclusive(impl.busy);
  if (values.size() != impl.inputs.size())
    throw_invalid("Function", "expected ", impl.inputs.size(), " input", impl.inputs.size() == 1 ? "" : "s", ", got ", values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const Type& type = impl.inputs[i].type();
    if (!values[i].has_buffer())
      throw_invalid("Function", "input ", i + 1, "/", values.size(), " ('", impl.inputs[i].label(), "') is an Array without a buffer");
    if (!type.accepts(values[i])) {
      const bool dtype_wrong = values[i].dtype() != type.dtype;
      throw_invalid("Function", "input ", i + 1, "/", values.size(), " ('", impl.inputs[i].label(), "') has ",
                    dtype_wrong ? "dtype " : "shape ", dtype_wrong ? std::string(dtype_name(values[i].dtype())) : values[i].shape().str(),
                    ", expected ", dtype_wrong ? std::string(dtype_name(type.dtype)) : type.shape_str());
    }
  }
  // The inputs are held before the previous results are dropped: an input may be one of those
  // results (`f(f(x))`), and the slots' references keep its buffer from being overwritten.
  for (std::size_t i = 0; i < values.size(); ++i) impl.slots[impl.input_slots[i]] = values[i];
  for (Array& result : impl.results) result.reset();
  try {
    for (const SharedSlot& shared : impl.shared_slots) impl.slots[shared.slot] = *shared.value;
    for (Step& step : impl.steps) step.op->perform(step.in, step.out, step.scratch);
    for (const PendingUpdate& update : impl.updates) {
      const Array& value = impl.slots[update.slot];
      if (update.check_type && !update.shared.type().accepts(value))
        throw_invalid("Function", "the update of '", update.shared.label(), "' got a value of dtype ", dtype_name(value.dtype()),
                      " and shape ", value.shape().str(), ", which does not fit its type ", update.shared.type().str(),
                      "; no update was applied");
    }
  } catch (...) {
    release_transients();
    throw;
  }
  for (std::size_t i = 0; i < impl.results.size(); ++i) impl.results[i] = impl.slots[impl.output_slots[i]];
  // Every update reads the values from before the call: the shared slots still hold them.
  for (const PendingUpdate& update : impl.updates) {
    Array& source = impl.slots[update.slot];
    if (update.swap) std::swap(*update.target, source);
    else *update.target = source;
  }
  release_transients();
  return impl.results;
}

}  // namespace symbatch

// The definition of `compile`, the builder of a Function's schedule, lives in its own header.
#include "symbatch/compile/compile.hpp"
