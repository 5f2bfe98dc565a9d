/// @file row_reduction.hpp
/// @brief The deterministic chunked reduction of a model's observed terms over the rows of its
/// batch, shared by threads and by processes (MPI).
///
/// With a `RowReduction` set on a `Model` (`Model::set_row_reduction`), the observed terms that
/// read minibatch views are evaluated as one node, `chunked_observed_sum`: the rows of the batch
/// (rows `0..R-1`, in the batch's own order) are cut into chunks of `chunk_rows` rows, a fixed
/// size that does not depend on the number of threads or processes. For each chunk, a compiled
/// function evaluates the chunk's part of the scaled observed terms and its gradient; the
/// partials are then added in chunk order, one chunk after another. The result is therefore the
/// same bits whichever thread or process computed which chunk: for any thread count and, in the
/// `exact` mode, for any number of MPI processes, and equal to a single-process run with the
/// same chunk size and seed.
///
/// The scale of each term (`total_size / rows`) is computed once from the whole batch, outside
/// the chunks, so a chunk's term is `scale * sum(its rows)`, and a process whose share of a small
/// batch is empty contributes 0. Priors, Jacobians, unbatched terms and everything after the
/// log-probability (ADVI's entropy and draws, the optimizer) stay outside the node: every process
/// computes them once, identically.
///
/// Only terms that are sums over rows can be split into chunks. A batched term's graph may reach
/// the batch's rows only through ops that keep row i of the batch in row i of the result:
/// elementwise ops, casts, data checks, `matmul(rows, W)`, `take(parameters, row indices)` and
/// reductions over axes other than the rows. Anything else (a mean over the batch, a sort, a
/// reshape of the rows) is refused, naming the op, as is a potential that reads the batch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/core/thread_pool.hpp"
#include "symbatch/distributions/data_support.hpp"
#include "symbatch/distributions/distribution.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/ops/blas.hpp"
#include "symbatch/ops/elemwise/where.hpp"
#include "symbatch/ops/reduce.hpp"

namespace symbatch {

/// @brief How a distributed reduction combines the processes' chunk partials.
enum class ReductionMode {
  /// Every process receives every chunk's partial (an all-gather) and adds them in chunk order:
  /// bit-identical for any number of processes and equal to one process.
  exact,
  /// Every process adds its own chunks in order, then the processes' sums are added by the
  /// communicator's all-reduce (MPI_Allreduce, whose order the MPI library chooses): one message
  /// of P + 2 doubles per process instead of all partials; equal to `exact` to about 1e-15
  /// relative, and the same on every process.
  fast,
};

/// @brief What the chunked reduction needs from a group of processes (MPI, in symbatch/mpi).
/// Every call is collective: every process of the group makes it, in the same order.
class ChunkCommunicator {
 public:
  virtual ~ChunkCommunicator() = default;
  /// This process's number, 0-based, and the number of processes.
  virtual int rank() const = 0;
  virtual int ranks() const = 0;
  /// Process r has written `values[offsets[r] .. offsets[r+1])`; on return every process holds
  /// every process's part (`offsets` has `ranks() + 1` entries, in doubles).
  virtual void allgather(double* values, std::span<const std::int64_t> offsets) const = 0;
  /// Element-wise sum over the processes of `values[0..count)`, the same result on every one.
  virtual void allreduce_sum(double* values, std::int64_t count) const = 0;
};

/// @brief How `Model::logp` evaluates its batched observed terms: in chunks of `chunk_rows` rows,
/// over `threads` threads, and across the processes of `communicator` (null: this process only).
struct RowReduction {
  /// Rows per chunk: fixed, so the partial sums (and the result's bits) do not depend on how the
  /// chunks are shared out. Small chunks split small batches finely; each chunk costs one call
  /// of a compiled function (about a microsecond on top of its rows' work).
  std::int64_t chunk_rows = 1024;
  /// Threads of this process that evaluate chunks (each a contiguous run of them).
  int threads = 1;
  ReductionMode mode = ReductionMode::exact;
  std::shared_ptr<const ChunkCommunicator> communicator = {};
  /// Each process holds only its own shard of the rows and draws its own batch from it (pass the
  /// rank as `MinibatchOptions::stream`), each observed term scaled by its shard's own
  /// `total_size / rows`; the processes' sums are added (in rank order in the exact mode). The
  /// stratified estimator: unbiased for the sum over all shards, and a different estimator from
  /// the global batch's (false: every process holds all rows and shares out one global batch).
  bool sharded = false;

  /// True for the process that prints progress and writes files (rank 0, or no communicator).
  bool is_root() const { return !communicator || communicator->rank() == 0; }
};

namespace detail {

inline void check_row_reduction(const char* function, const RowReduction& reduction) {
  if (reduction.chunk_rows < 1) throw_invalid(function, "chunk_rows is ", reduction.chunk_rows, ", but must be at least 1");
  if (reduction.threads < 1) throw_invalid(function, "threads is ", reduction.threads, ", but must be at least 1");
  if (reduction.threads > 1024) throw_invalid(function, "threads is ", reduction.threads, ", but must be at most 1024");
}

/// The rows `lo .. min(hi, R)` of a batch, where the batch is (by `kind`) the circular window of
/// `batch_size` rows starting at a row, the rows at an index vector, or the whole array.
/// Inputs: the array, then (window, gather) the start or the indices, then lo and hi (i64
/// scalars). Output: those rows (a view when they are contiguous in the array).
class ChunkRows final : public Op {
 public:
  enum class Kind { window, gather, whole };
  /// `rows`: the chunk's row count when it is known when the graph is built (every chunk but
  /// the last has `chunk_rows` rows), so the compiled chunk function keeps static shapes.
  ChunkRows(Kind kind, std::int64_t batch_size, std::int64_t rows) : kind_(kind), batch_size_(batch_size), rows_(rows) {}
  std::string name() const override { return "chunk_rows"; }
  OpParameters parameters() const override {
    return {{"kind", std::string(kind_ == Kind::window ? "window" : kind_ == Kind::gather ? "gather" : "whole")}, {"batch_size", batch_size_}, {"rows", rows_}};
  }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    Type type = inputs[0].type();
    type.shape[0] = rows_;
    return {type};
  }
  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    const Array& array = *in[0];
    const std::int64_t n = array.shape()[0];
    const std::size_t bound = kind_ == Kind::whole ? 1 : 2;
    const std::int64_t lo = in[bound]->item<std::int64_t>();
    const std::int64_t rows = kind_ == Kind::whole ? n : kind_ == Kind::window ? batch_size_ : in[1]->shape()[0];
    const std::int64_t hi = std::min(in[bound + 1]->item<std::int64_t>(), rows);
    const std::int64_t count = std::max<std::int64_t>(hi - lo, 0);
    if (rows_ != Type::unknown && count != rows_)
      throw std::logic_error("chunk_rows: a chunk of " + std::to_string(count) + " rows where " + std::to_string(rows_) + " were planned");
    Array& result = *out[0];
    result.reset();  // drop last call's reference so the scratch buffer can be reused
    if (kind_ == Kind::whole || count == 0) {
      result = array.slice_rows(std::min(lo, n), std::min(lo, n) + count);
      return;
    }
    if (scratch.arrays.empty()) scratch.arrays.resize(1);
    Array& joined = scratch.arrays[0];
    Shape shape = array.shape();
    shape[0] = count;
    const std::size_t row_bytes = n == 0 ? 0 : array.bytes() / static_cast<std::size_t>(n);
    if (kind_ == Kind::window) {
      const std::int64_t start = (in[1]->item<std::int64_t>() + lo) % n;
      if (start + count <= n) {
        result = array.slice_rows(start, start + count);
        return;
      }
      joined.ensure(array.dtype(), shape);
      const std::int64_t first = n - start;
      std::memcpy(joined.raw_data(), array.raw_data() + static_cast<std::size_t>(start) * row_bytes, static_cast<std::size_t>(first) * row_bytes);
      std::memcpy(joined.raw_data() + static_cast<std::size_t>(first) * row_bytes, array.raw_data(), static_cast<std::size_t>(count - first) * row_bytes);
      result = joined;
      return;
    }
    const std::int64_t* index = in[1]->data<std::int64_t>() + lo;
    for (std::int64_t k = 0; k < count; ++k)
      if (index[k] < 0 || index[k] >= n) throw_invalid(name(), "index ", index[k], " is out of range for axis 0 of size ", n);
    joined.ensure(array.dtype(), shape);
    if (row_bytes > 0) gather_rows(array.raw_data(), index, count, row_bytes, joined.raw_data());
    result = joined;
  }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable>) const override {
    return std::vector<InputGrad>(node.inputs().size(), InputGrad::disconnected());  // data, not parameters
  }
  std::optional<int> view_of(int) const override { return 0; }

 private:
  Kind kind_;
  std::int64_t batch_size_, rows_;
};

/// One batched observed term: its unscaled pointwise log-likelihood (a graph that reads
/// minibatch views, or with `whole` the views' arrays), its scale, and its name for messages.
struct ChunkedTerm {
  std::string name;
  Variable pointwise;
  Variable scale;
};

/// Refuses a term whose graph mixes the batch's rows (see the file comment); the views (or, for
/// the full data, their arrays) are the row-carrying roots.
inline void check_rows_separate(const std::string& term, const Variable& pointwise, const std::unordered_set<const VariableNode*>& roots) {
  std::unordered_set<const VariableNode*> carries(roots.begin(), roots.end());
  const Variable root[] = {pointwise};
  for (ApplyNode* node : toposort(root)) {
    std::vector<bool> input_rows;
    bool any = false;
    for (const Variable& input : node->inputs()) {
      input_rows.push_back(carries.count(input.get()) > 0);
      any = any || input_rows.back();
    }
    if (!any || carries.count(node->output(0).get())) continue;
    const Op& op = node->op();
    const int rank = node->output(0).rank();
    bool keeps = false;
    if (op_is<ElemwiseKernel>(op) || op_is<Where>(op) || op_is<Cast>(op) || op_is<CheckObservedData>(op) || op_is<CheckParameter>(op)) {
      keeps = rank > 0;
      for (std::size_t i = 0; i < input_rows.size(); ++i)
        if (input_rows[i] && node->input(i).rank() != rank) keeps = false;  // a broadcast would move the rows off axis 0
    } else if (op_is<MatMul>(op)) {
      keeps = input_rows[0] && !input_rows[1] && node->input(0).rank() == 2;
    } else if (op_is<Take>(op)) {
      keeps = !input_rows[0] && input_rows[1];  // parameters gathered per row
    } else if (const auto* reduce = op_as<Reduce>(op)) {
      const std::optional<int> axis = reduce->axis();
      const int input_rank = node->input(0).rank();
      keeps = axis && (*axis < 0 ? *axis + input_rank : *axis) > 0;
    }
    if (!keeps)
      throw_invalid("Model::logp", "the observed term '", term, "' reads the batch's rows through ", op.describe(),
                    ", which mixes rows; a row reduction splits only terms that are sums over rows (elementwise ops, matmul(rows, W), "
                    "take(parameters, row indices), reductions over other axes)");
    for (std::size_t i = 0; i < node->num_outputs(); ++i) carries.insert(node->output(i).get());
  }
  if (!carries.count(pointwise.get()) || pointwise.rank() == 0)
    throw_invalid("Model::logp", "the observed term '", term, "' has no axis of batch rows; a row reduction splits only terms that are sums over rows");
}

/// The compiled chunk functions of a chunked node and a pool of their instances, one per thread
/// that runs chunks (each instance owns its schedule and buffers). The inner graph's last two
/// inputs are the chunk's first row and its end (i64 scalars).
class ChunkFunctions {
 public:
  struct Graph {
    std::vector<Variable> inner_inputs;  // the node's inputs' stand-ins, then lo, hi
    // When the batch's row count R is known at build time, `inner_outputs` is built for chunks of
    // min(chunk_rows, R) rows and `tail_outputs` (if R is not a multiple) for the last chunk,
    // number `tail_chunk`: both with static shapes. Otherwise `inner_outputs` takes any rows.
    std::vector<Variable> inner_outputs;
    std::vector<Variable> tail_outputs;
    std::int64_t tail_chunk = -1;
  };
  struct Worker {
    Function function;
    std::optional<Function> tail;
    std::vector<Array> inputs;
  };

  ChunkFunctions(Graph graph, std::int64_t chunk_rows) : graph_(std::move(graph)), chunk_rows_(chunk_rows) {}

  /// A worker whose first `count` inputs are `in`'s (the node's inputs, in order).
  std::unique_ptr<Worker> acquire(InputValues in, std::size_t count) const {
    std::unique_ptr<Worker> worker;
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        worker = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!worker) {
      worker = std::make_unique<Worker>(Worker{compile(graph_.inner_inputs, graph_.inner_outputs), std::nullopt, {}});
      if (!graph_.tail_outputs.empty()) worker->tail = compile(graph_.inner_inputs, graph_.tail_outputs);
      worker->inputs.resize(graph_.inner_inputs.size());
      worker->inputs[graph_.inner_inputs.size() - 2] = Array::scalar<std::int64_t>(0);
      worker->inputs[graph_.inner_inputs.size() - 1] = Array::scalar<std::int64_t>(0);
    }
    for (std::size_t i = 0; i < count; ++i) worker->inputs[i] = *in[i];
    return worker;
  }
  void release(std::unique_ptr<Worker> worker) const {
    // Drop the references to this call's values, so the caller's buffers stay its own.
    for (std::size_t i = 0; i + 2 < worker->inputs.size(); ++i) worker->inputs[i].reset();
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(worker));
  }
  /// The chunk's outputs (valid until the worker's next evaluation).
  const std::vector<Array>& evaluate(Worker& worker, std::int64_t chunk) const {
    const std::size_t lo = worker.inputs.size() - 2;
    worker.inputs[lo].data<std::int64_t>()[0] = chunk * chunk_rows_;
    worker.inputs[lo + 1].data<std::int64_t>()[0] = (chunk + 1) * chunk_rows_;
    return chunk == graph_.tail_chunk ? (*worker.tail)(worker.inputs) : worker.function(worker.inputs);
  }

 private:
  Graph graph_;
  std::int64_t chunk_rows_;
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<Worker>> idle_;
};

/// The node: inputs `[parameters..., scales..., row sources..., row counts...]`, outputs the
/// scaled sum of the terms and its gradient with respect to each f64 parameter.
class ChunkedObservedSum final : public Op {
 public:
  /// The inner graph's inputs: parameters, scales, row sources, lo, hi; its outputs: the chunk's
  /// value, then one gradient per f64 parameter.
  struct Layout {
    std::size_t parameters = 0, scales = 0, sources = 0, counts = 0;
    std::vector<std::size_t> differentiated;  // positions (among the parameters) of the f64 ones
  };

  ChunkedObservedSum(ChunkFunctions::Graph graph, Layout layout, RowReduction reduction, std::shared_ptr<ThreadPool> pool)
      : functions_(std::move(graph), reduction.chunk_rows), layout_(std::move(layout)), reduction_(std::move(reduction)), pool_(std::move(pool)) {}
  std::string name() const override { return "chunked_observed_sum"; }
  OpParameters parameters() const override {
    return {{"chunk_rows", reduction_.chunk_rows}, {"threads", std::int64_t{reduction_.threads}},
            {"ranks", std::int64_t{reduction_.communicator ? reduction_.communicator->ranks() : 1}}};
  }
  bool equals(const Op& other) const override { return this == &other; }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    std::vector<Type> types{Type{DType::f64, {}}};
    for (std::size_t position : layout_.differentiated) types.push_back(inputs[position].type());
    return types;
  }

  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    const std::size_t first_count = layout_.parameters + layout_.scales + layout_.sources;
    std::int64_t rows = 0;
    for (std::size_t k = 0; k < layout_.counts; ++k) rows = std::max(rows, in[first_count + k]->item<std::int64_t>());
    const std::int64_t chunks = (rows + reduction_.chunk_rows - 1) / reduction_.chunk_rows;
    std::int64_t gradient_size = 0;
    for (std::size_t position : layout_.differentiated) gradient_size += in[position]->size();
    const std::int64_t width = 2 + gradient_size;  // status, value, gradient
    const int ranks = reduction_.communicator ? reduction_.communicator->ranks() : 1;
    const int rank = reduction_.communicator ? reduction_.communicator->rank() : 0;
    const bool sharded = reduction_.sharded && ranks > 1;  // every process evaluates its own batch whole
    const auto share = [&](int r) { return sharded ? 0 : chunks * r / ranks; };  // first chunk of process r
    const std::int64_t begin = share(rank), end = sharded ? chunks : share(rank + 1);

    if (scratch.arrays.size() < 3) scratch.arrays.resize(3);
    Array& table_array = scratch.arrays[0];
    Array& sum_array = scratch.arrays[1];
    sum_array.ensure(DType::f64, Shape{width});
    double* sum = sum_array.data<double>();
    std::fill_n(sum, width, 0.0);
    const bool exact = reduction_.mode == ReductionMode::exact;
    std::exception_ptr error;

    // Evaluates chunks [from, to) into `rows` (one row of the table per chunk), in contiguous runs
    // over the threads; a failed chunk's status is 1. Keeps the first error.
    const auto evaluate_chunks = [&](std::int64_t from, std::int64_t to, double* rows) {
      const int tasks = static_cast<int>(std::min<std::int64_t>(reduction_.threads, to - from));
      std::vector<std::exception_ptr> errors(static_cast<std::size_t>(std::max(tasks, 1)));
      const auto run = [&](int task) {
        const std::int64_t first = from + (to - from) * task / tasks, last = from + (to - from) * (task + 1) / tasks;
        std::unique_ptr<ChunkFunctions::Worker> worker;
        std::int64_t c = first;
        try {
          worker = functions_.acquire(in, first_count);
          for (; c < last; ++c) evaluate(*worker, c, rows + (c - from) * width);
        } catch (...) {
          errors[static_cast<std::size_t>(task)] = std::current_exception();
          for (; c < last; ++c) rows[(c - from) * width] = 1;  // failed
        }
        if (worker) functions_.release(std::move(worker));
      };
      if (tasks > 1 && pool_) pool_->run(tasks, run);
      else
        for (int task = 0; task < tasks; ++task) run(task);
      for (const std::exception_ptr& e : errors)
        if (e && !error) error = e;
    };

    if (ranks == 1) {
      // One process: chunks in rounds of 64 per thread, each round's partials added in chunk
      // order before the next round, so the table stays small however many rows there are.
      const std::int64_t round = 64 * std::int64_t{reduction_.threads};
      table_array.ensure(DType::f64, Shape{std::max<std::int64_t>(std::min(chunks, round), 1) * width});
      double* table = table_array.data<double>();
      for (std::int64_t from = 0; from < chunks && !error; from += round) {
        const std::int64_t to = std::min(chunks, from + round);
        evaluate_chunks(from, to, table);
        add_rows(table, to - from, width, sum);
      }
      if (error) std::rethrow_exception(error);
    } else {
      // This process's chunks: all of them are in the table (the exact mode gathers every
      // process's rows; the fast mode adds its own, then all-reduces).
      const std::int64_t table_rows = exact && !sharded ? chunks : end - begin;
      table_array.ensure(DType::f64, Shape{std::max<std::int64_t>(table_rows, 1) * width});
      double* table = table_array.data<double>();
      double* mine = exact && !sharded ? table + begin * width : table;
      evaluate_chunks(begin, end, mine);
      if (sharded) {
        // This process's sum, then the processes' sums: in rank order (exact), or by the all-reduce.
        add_rows(mine, end - begin, width, sum);
        if (exact) {
          Array& all = scratch.arrays[2];
          all.ensure(DType::f64, Shape{ranks * width});
          double* sums = all.data<double>();
          std::copy_n(sum, width, sums + rank * width);
          std::vector<std::int64_t> offsets(static_cast<std::size_t>(ranks) + 1);
          for (int r = 0; r <= ranks; ++r) offsets[static_cast<std::size_t>(r)] = r * width;
          reduction_.communicator->allgather(sums, offsets);
          std::fill_n(sum, width, 0.0);
          add_rows(sums, ranks, width, sum);
        } else {
          reduction_.communicator->allreduce_sum(sum, width);
        }
      } else if (exact) {
        std::vector<std::int64_t> offsets(static_cast<std::size_t>(ranks) + 1);
        for (int r = 0; r <= ranks; ++r) offsets[static_cast<std::size_t>(r)] = share(r) * width;
        reduction_.communicator->allgather(table, offsets);
        add_rows(table, chunks, width, sum);
      } else {
        add_rows(mine, end - begin, width, sum);
        reduction_.communicator->allreduce_sum(sum, width);
      }
      if (error) std::rethrow_exception(error);
    }
    if (sum[0] != 0)
      throw std::runtime_error("chunked_observed_sum: another process failed to evaluate its share of the batch (its error is reported there)");

    out[0]->ensure(DType::f64, Shape{});
    out[0]->data<double>()[0] = sum[1];
    std::int64_t offset = 2;
    for (std::size_t g = 0; g < layout_.differentiated.size(); ++g) {
      const Array& parameter = *in[layout_.differentiated[g]];
      out[g + 1]->ensure(DType::f64, parameter.shape());
      std::copy_n(sum + offset, parameter.size(), out[g + 1]->data<double>());
      offset += parameter.size();
    }
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable> output_grads) const override {
    std::vector<InputGrad> grads(node.inputs().size(), InputGrad::disconnected());
    for (std::size_t g = 1; g < output_grads.size(); ++g)
      if (output_grads[g]) {
        for (std::size_t position : layout_.differentiated)
          grads[position] = InputGrad::undefined("second derivatives through a chunked row reduction are not available");
        return grads;
      }
    if (!output_grads[0]) return grads;
    for (std::size_t g = 0; g < layout_.differentiated.size(); ++g)
      grads[layout_.differentiated[g]] = InputGrad::of(output_grads[0] * node.output(g + 1));
    return grads;
  }

 private:
  static void add_rows(const double* rows, std::int64_t count, std::int64_t width, double* sum) {
    for (std::int64_t c = 0; c < count; ++c) {
      const double* row = rows + c * width;
      sum[0] += row[0];
      if (row[0] != 0) continue;  // a failed chunk's partial is not a number to add
      for (std::int64_t j = 1; j < width; ++j) sum[j] += row[j];
    }
  }

  void evaluate(ChunkFunctions::Worker& worker, std::int64_t chunk, double* row) const {
    const std::vector<Array>& values = functions_.evaluate(worker, chunk);
    row[0] = 0;
    row[1] = values[0].item();
    double* target = row + 2;
    for (std::size_t g = 1; g < values.size(); ++g) {
      const Array& gradient = values[g];
      for (std::int64_t j = 0; j < gradient.size(); ++j) *target++ = gradient.flat<double>(j);
    }
  }

  ChunkFunctions functions_;
  Layout layout_;
  RowReduction reduction_;
  std::shared_ptr<ThreadPool> pool_;
};

/// The sum of an f64 scalar over the processes of a reduction's communicator (in rank order in
/// the exact mode, so every process gets the same bits), for quantities every process must agree
/// on: the data scale a sharded run counts its passes with.
class ProcessSum final : public Op {
 public:
  explicit ProcessSum(RowReduction reduction) : reduction_(std::move(reduction)) {}
  std::string name() const override { return "process_sum"; }
  bool equals(const Op& other) const override { return this == &other; }
  std::vector<Type> output_types(std::span<const Variable>) const override { return {Type{DType::f64, {}}}; }
  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    const double value = in[0]->item();
    out[0]->ensure(DType::f64, Shape{});
    double& result = out[0]->data<double>()[0];
    const ChunkCommunicator* communicator = reduction_.communicator.get();
    if (!communicator || communicator->ranks() == 1) {
      result = value;
      return;
    }
    if (reduction_.mode == ReductionMode::fast) {
      result = value;
      communicator->allreduce_sum(&result, 1);
      return;
    }
    const int ranks = communicator->ranks();
    if (scratch.arrays.empty()) scratch.arrays.resize(1);
    scratch.arrays[0].ensure(DType::f64, Shape{ranks});
    double* values = scratch.arrays[0].data<double>();
    values[communicator->rank()] = value;
    std::vector<std::int64_t> offsets(static_cast<std::size_t>(ranks) + 1);
    for (int r = 0; r <= ranks; ++r) offsets[static_cast<std::size_t>(r)] = r;
    communicator->allgather(values, offsets);
    result = 0;
    for (int r = 0; r < ranks; ++r) result += values[r];
  }
  std::vector<InputGrad> grad(const ApplyNode&, std::span<const Variable>) const override {
    return {InputGrad::undefined("a sum over processes has no gradient here")};
  }

 private:
  RowReduction reduction_;
};

/// How the batched terms of a chunked node read their rows: the node's inputs and their
/// stand-ins in the chunk graph, and the terms over one chunk's rows.
class ChunkPlan {
 public:
  /// Plans `terms` (each reads the views of minibatch calls, or with `whole` is evaluated over the
  /// views' whole arrays); with `scaled`, each term's scale is an input of the node too. Refuses
  /// a term that mixes rows (check_rows_separate).
  ChunkPlan(const std::vector<ChunkedTerm>& terms, bool whole, bool scaled)
      : lo_(input("chunk_lo", DType::i64, {})), hi_(input("chunk_hi", DType::i64, {})) {
    // Graph inputs of the terms (value variables, data inputs): shared by the inner graph as they are.
    for (const ChunkedTerm& term : terms) pointwise_.push_back(term.pointwise);
    for (const Variable& root : graph_inputs(pointwise_))
      if (root.is_input()) {
        if (root.dtype() == DType::f64) layout_.differentiated.push_back(outer_.size());
        add_input(root, root);
      }
    layout_.parameters = outer_.size();
    if (scaled) {
      for (const ChunkedTerm& term : terms) {
        scales_.push_back(input(term.name + "_scale", DType::f64, {}));
        add_input(term.scale, scales_.back());
      }
      layout_.scales = terms.size();
    }

    // Row sources: the view's row input (a window start, or row numbers), an input of the inner graph.
    std::unordered_map<const VariableNode*, Variable> source_inputs;
    std::vector<Variable> counts;
    for (std::size_t k = 0; k < terms.size(); ++k) {
      const ChunkedTerm& term = terms[k];
      const Variable roots[] = {term.pointwise};
      std::unordered_set<const VariableNode*> row_roots;
      Variable count;
      std::int64_t term_rows = Type::unknown;
      for (const MinibatchView& view : minibatch_views(roots)) {
        const ApplyNode& owner = *view.view.owner();
        const bool window = op_is<CircularWindow>(owner.op());
        if (whole) {
          views_.push_back({view.view, view.array, {}, ChunkRows::Kind::whole, 0});
          if (!count) {
            count = dim(view.array, 0);
            term_rows = view.array.type().shape[0];
          }
        } else {
          const Variable source = owner.input(1);
          auto found = source_inputs.find(source.get());
          if (found == source_inputs.end()) {
            found = source_inputs.emplace(source.get(), input(source.name().empty() ? "rows" : source.name(), source.dtype(), source.type().shape)).first;
            add_input(source, found->second);
            ++layout_.sources;
          }
          const std::int64_t batch_size = window ? op_as<MinibatchDraw>(view.source->op())->batch_size() : 0;
          views_.push_back({view.view, view.array, found->second, window ? ChunkRows::Kind::window : ChunkRows::Kind::gather, batch_size});
          if (!count) {
            count = window ? constant(std::int64_t{batch_size}) : dim(source, 0);
            term_rows = window ? batch_size : source.type().shape[0];
          }
        }
        row_roots.insert(view.view.get());
      }
      check_rows_separate(term.name, term.pointwise, row_roots);
      counts.push_back(count);
      static_rows_ = k == 0 || term_rows == static_rows_ ? term_rows : Type::unknown;
    }
    for (const Variable& count : counts) outer_.push_back(count);
    layout_.counts = counts.size();
    inner_inputs_.push_back(lo_);
    inner_inputs_.push_back(hi_);
  }

  /// The node's inputs: `[parameters..., scales..., row sources..., row counts...]`.
  const std::vector<Variable>& outer() const { return outer_; }
  const ChunkedObservedSum::Layout& layout() const { return layout_; }
  /// The row count of every term when known at build time and equal, else `Type::unknown`.
  std::int64_t static_rows() const { return static_rows_; }
  /// The inner stand-ins of the scales (with `scaled`), and of the differentiated parameters.
  const std::vector<Variable>& scales() const { return scales_; }
  std::vector<Variable> differentiated() const {
    std::vector<Variable> wrt;
    for (std::size_t position : layout_.differentiated) wrt.push_back(inner_inputs_[position]);
    return wrt;
  }

  /// The terms over a chunk of `rows` rows (`Type::unknown`: any number).
  std::vector<Variable> chunk_terms(std::int64_t rows) const {
    std::vector<std::pair<Variable, Variable>> replacements;
    for (const View& view : views_) {
      const Variable chunk = view.kind == ChunkRows::Kind::whole
                                 ? make_apply<ChunkRows>({view.array, lo_, hi_}, view.kind, 0, rows)
                                 : make_apply<ChunkRows>({view.array, view.source, lo_, hi_}, view.kind, view.batch_size, rows);
      replacements.emplace_back(view.view, chunk);
    }
    return replace(pointwise_, replacements);
  }

  /// The chunk graphs for chunks of `chunk_rows` rows, whose outputs `outputs(rows)` builds:
  /// static shapes (and a tail graph for a last, shorter chunk) when the row count is known.
  template <class Outputs>
  ChunkFunctions::Graph functions(std::int64_t chunk_rows, const Outputs& outputs) const {
    ChunkFunctions::Graph graph{inner_inputs_, {}, {}, -1};
    if (static_rows_ == Type::unknown) {
      graph.inner_outputs = outputs(Type::unknown);
    } else {
      graph.inner_outputs = outputs(std::min(chunk_rows, static_rows_));
      if (static_rows_ > chunk_rows && static_rows_ % chunk_rows != 0) {
        graph.tail_outputs = outputs(static_rows_ % chunk_rows);
        graph.tail_chunk = static_rows_ / chunk_rows;
      }
    }
    return graph;
  }

 private:
  struct View {
    Variable view, array, source;  // source: the inner input (null for whole arrays)
    ChunkRows::Kind kind;
    std::int64_t batch_size;
  };
  void add_input(const Variable& outer, const Variable& inner) {
    outer_.push_back(outer);
    inner_inputs_.push_back(inner);
  }

  Variable lo_, hi_;
  std::vector<Variable> outer_, inner_inputs_, pointwise_, scales_;
  ChunkedObservedSum::Layout layout_;
  std::vector<View> views_;
  std::int64_t static_rows_ = 0;  // R when every term's is known and they agree, else unknown
};

/// The node over `terms` (each reads the views of minibatch calls, or with `whole` is evaluated
/// over the views' whole arrays): returns the scaled sum of the terms. The terms' f64 graph
/// inputs (the model's value variables) are differentiated; other inputs pass through as data.
inline Variable chunked_observed_sum(const std::vector<ChunkedTerm>& terms, bool whole, const RowReduction& reduction,
                                     std::shared_ptr<ThreadPool> pool) {
  const ChunkPlan plan(terms, whole, true);
  // The inner value for chunks of `rows` rows: sum over the terms of scale * sum(the chunk's
  // pointwise terms), and its gradient.
  const auto chunk_outputs = [&](std::int64_t rows) {
    const std::vector<Variable> chunked = plan.chunk_terms(rows);
    Variable value = constant(0.0);
    for (std::size_t k = 0; k < terms.size(); ++k) value = value + plan.scales()[k] * sum(chunked[k]);
    std::vector<Variable> outputs{value};
    for (const Variable& gradient : grad(value, plan.differentiated())) outputs.push_back(gradient);
    return outputs;
  };
  auto op = std::make_shared<const ChunkedObservedSum>(plan.functions(reduction.chunk_rows, chunk_outputs), plan.layout(), reduction, std::move(pool));
  Variable result = ApplyNode::make(std::move(op), plan.outer())->output(0);
  result.set_name(whole ? "observed_full_data" : "observed_batch");
  return result;
}

/// One observed term's unscaled pointwise log-likelihood over the whole data, evaluated chunk by
/// chunk of rows (each chunk's terms written into their rows of the result), so the working
/// memory is O(chunk rows) beside the result. Inputs: `[parameters..., row counts...]`.
class ChunkedPointwise final : public Op {
 public:
  ChunkedPointwise(ChunkFunctions::Graph graph, std::size_t inputs, std::int64_t chunk_rows, std::string term, std::shared_ptr<ThreadPool> pool)
      : functions_(std::move(graph), chunk_rows), inputs_(inputs), chunk_rows_(chunk_rows), term_(std::move(term)), pool_(std::move(pool)) {}
  std::string name() const override { return "chunked_pointwise"; }
  OpParameters parameters() const override { return {{"term", term_}, {"chunk_rows", chunk_rows_}}; }
  bool equals(const Op& other) const override { return this == &other; }
  std::vector<Type> output_types(std::span<const Variable>) const override { return {type_}; }
  void set_type(Type type) { type_ = std::move(type); }

  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const std::int64_t rows = in[inputs_]->item<std::int64_t>();
    const std::int64_t chunks = std::max<std::int64_t>((rows + chunk_rows_ - 1) / chunk_rows_, 1);
    Array& result = *out[0];
    // The first chunk fixes the trailing shape; the other chunks write their rows in parallel.
    std::unique_ptr<ChunkFunctions::Worker> first = functions_.acquire(in, inputs_);
    try {
      const Array& terms = functions_.evaluate(*first, 0)[0];
      Shape shape = terms.shape();
      shape[0] = rows;
      result.ensure(DType::f64, shape);
      copy_rows(terms, 0, result);
    } catch (...) {
      functions_.release(std::move(first));
      throw;
    }
    functions_.release(std::move(first));
    const int tasks = static_cast<int>(std::min<std::int64_t>(pool_ ? pool_->threads() : 1, chunks - 1));
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(std::max(tasks, 1)));
    const auto run = [&](int task) {
      const std::int64_t from = 1 + (chunks - 1) * task / tasks, to = 1 + (chunks - 1) * (task + 1) / tasks;
      std::unique_ptr<ChunkFunctions::Worker> worker;
      try {
        worker = functions_.acquire(in, inputs_);
        for (std::int64_t c = from; c < to; ++c) copy_rows(functions_.evaluate(*worker, c)[0], c, result);
      } catch (...) {
        errors[static_cast<std::size_t>(task)] = std::current_exception();
      }
      if (worker) functions_.release(std::move(worker));
    };
    if (tasks > 1) pool_->run(tasks, run);
    else
      for (int task = 0; task < tasks; ++task) run(task);
    for (const std::exception_ptr& error : errors)
      if (error) std::rethrow_exception(error);
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable>) const override {
    std::vector<InputGrad> grads(node.inputs().size(), InputGrad::disconnected());
    for (std::size_t i = 0; i < inputs_; ++i)
      if (node.input(i).dtype() == DType::f64)
        grads[i] = InputGrad::undefined("the pointwise terms of '" + term_ +
                                        "' are evaluated over the whole data in chunks of rows, without a gradient; differentiate "
                                        "full_data_logp, or the batch's terms (batch_pointwise_loglik)");
    return grads;
  }

 private:
  void copy_rows(const Array& terms, std::int64_t chunk, Array& result) const {
    const std::int64_t row_size = result.shape()[0] == 0 ? 0 : result.size() / result.shape()[0];
    const std::int64_t count = terms.shape()[0];
    double* target = result.data<double>() + chunk * chunk_rows_ * row_size;
    for (std::int64_t j = 0; j < count * row_size; ++j) target[j] = terms.flat<double>(j);
  }

  ChunkFunctions functions_;
  std::size_t inputs_;
  std::int64_t chunk_rows_;
  std::string term_;
  std::shared_ptr<ThreadPool> pool_;
  Type type_;
};

/// The node giving `term`'s pointwise terms over the whole arrays of its minibatch views, in
/// chunks of `chunk_rows` rows (threads from `pool` when given).
inline Variable chunked_pointwise(const ChunkedTerm& term, std::int64_t chunk_rows, std::shared_ptr<ThreadPool> pool) {
  const ChunkPlan plan({term}, true, false);
  const auto chunk_outputs = [&](std::int64_t rows) {
    const Variable terms = plan.chunk_terms(rows)[0];
    return std::vector<Variable>{terms.dtype() == DType::f64 ? terms : cast(terms, DType::f64)};
  };
  auto op = std::make_shared<ChunkedPointwise>(plan.functions(chunk_rows, chunk_outputs), plan.layout().parameters, chunk_rows, term.name, std::move(pool));
  Type type = term.pointwise.type();
  type.dtype = DType::f64;
  type.shape[0] = plan.static_rows();
  op->set_type(std::move(type));
  Variable result = ApplyNode::make(std::move(op), plan.outer())->output(0);
  result.set_name(term.name + "_pointwise");
  return result;
}

}  // namespace detail
}  // namespace symbatch
