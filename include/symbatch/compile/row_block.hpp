/// @file row_block.hpp
/// @brief One pass over the rows of a matrix for a GLM-shaped graph: `eta = X W`, the fused
/// elementwise loops that read eta, and the gradient `X^T r` of one of their outputs, evaluated
/// block of rows by block of rows while each block is in L1. Built by `compile` after
/// elementwise fusion (`fuse_row_blocks`).
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "symbatch/compile/fused_elemwise.hpp"
#include "symbatch/compile/fusion_plan.hpp"
#include "symbatch/graph/walk.hpp"
#include "symbatch/ops/blas.hpp"

namespace symbatch {

/// @brief `eta = X W`, a chain of fused loops over eta's elements (each reads eta or an
/// earlier loop's outputs), and `t = X^T r` for an output `r` of one of them, in one pass over
/// the rows of X.
///
/// Inputs: `X` (n, d), `W` (d,) or (d, k), then the loops' other inputs. Outputs: the loops'
/// outputs in order, then eta, then t (W's shape). For each block of rows (as many as fill one
/// block of a loop), the op computes the rows' eta (as `matmul` does: the same bits), runs each
/// loop's program over their elements, then adds `X_block^T r_block` to t, so each row of X is
/// read from memory once instead of twice. t is accumulated in block order, the same on every
/// call: it differs from one `X^T r` only by the rounding of the sum. When the run-time shapes
/// do not fit (X not an f64 matrix whose columns match W's rows, a loop not one loop over eta's
/// elements, rows of W wider than a block), the ops run one after another over whole arrays, as
/// in the unfused graph, with their values and their errors.
class RowBlockFused final : public Op {
 public:
  /// Where a loop's input comes from.
  struct Source {
    enum class Kind { input, eta, output } kind;
    std::size_t index = 0;  ///< input: the op's input; output: the output of loop `loop`
    std::size_t loop = 0;
  };
  struct Loop {
    std::shared_ptr<const FusedElemwise> op;
    std::vector<Source> inputs;
  };

  RowBlockFused(std::vector<Loop> loops, std::size_t r_loop, std::size_t r_output)
      : loops_(std::move(loops)), r_loop_(r_loop), r_output_(r_output) {
    for (const Loop& loop : loops_) {
      first_output_.push_back(total_outputs_);
      total_outputs_ += loop.op->outputs().size();
    }
  }

  std::string name() const override { return "row_block"; }
  std::string describe() const override {
    std::string text = "row_block{";
    for (std::size_t l = 0; l < loops_.size(); ++l) text += (l ? "; " : "") + loops_[l].op->describe();
    return text + "}";
  }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() < 2) throw_invalid(name(), "expected at least 2 inputs, got ", inputs.size());
    std::vector<Type> types;
    for (const Loop& loop : loops_) {
      const std::vector<Variable> counted(loop.inputs.size(), inputs[0]);  // a loop's types depend only on its count of inputs
      for (const Type& type : loop.op->output_types(counted)) types.push_back(type);
    }
    types.push_back(MatMul().output_types(inputs.first(2))[0]);
    types.push_back(Type{DType::f64, inputs[1].type().shape});
    return types;
  }

  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    const Array& x = *in[0];
    const Array& w = *in[1];
    Array& eta = *out[total_outputs_];
    Array& t = *out[total_outputs_ + 1];
    if (scratch.parts.size() != loops_.size()) scratch.parts.resize(loops_.size());
    const bool shapes_fit = x.dtype() == DType::f64 && w.dtype() == DType::f64 && x.rank() == 2 && (w.rank() == 1 || w.rank() == 2) &&
                            x.shape()[1] == w.shape()[0] && (w.rank() == 1 || (w.shape()[1] >= 1 && w.shape()[1] <= FusedElemwise::block));
    if (!shapes_fit) {
      run_ops(in, out, scratch);
      return;
    }
    const std::int64_t rows = x.shape()[0], columns = x.shape()[1], width = w.rank() == 2 ? w.shape()[1] : 1;
    eta.ensure(DType::f64, w.rank() == 2 ? Shape{rows, width} : Shape{rows});
    std::array<FusedElemwise::Operand, FusedElemwise::max_registers> operands;  // every loop's, one after another
    std::array<FusedElemwise::BlockRun, max_loops> runs;
    std::array<const Array*, FusedElemwise::max_registers> values;
    for (std::size_t l = 0, used = 0; l < loops_.size(); ++l) {
      runs[l].operands = std::span<FusedElemwise::Operand>(operands).subspan(used, loops_[l].op->registers());
      used += loops_[l].op->registers();
      const FusedElemwise& loop = *loops_[l].op;
      const InputValues loop_values = gather_inputs(l, in, out, values);
      Scratch& part = scratch.parts[l];
      if (!loop.blockwise(loop_values, part) || !(loop.loop_shape(part) == eta.shape())) {
        run_ops(in, out, scratch);
        return;
      }
      loop.begin_blocks(loop_values, loop_outputs(l, out), eta.shape(), part, runs[l]);
    }
    t.ensure(DType::f64, w.shape());
    using Matrix = Eigen::Map<RowMatrix<double>>;
    using ConstMatrix = Eigen::Map<const RowMatrix<double>>;
    Matrix gradient(t.data<double>(), columns, width);
    gradient.setZero();
    const double* xs = x.data<double>();
    const double* ws = w.data<double>();
    double* etas = eta.data<double>();
    const FusedElemwise::Operand& r = runs[r_loop_].operands[static_cast<std::size_t>(loops_[r_loop_].op->output_register(r_output_))];
    // A multiple of 4 rows, so the short-row GEMV groups rows as it does over the whole matrix.
    const std::int64_t block_rows = std::max<std::int64_t>(1, FusedElemwise::block / width / 4 * 4);
    for (std::int64_t first = 0; first < rows; first += block_rows) {
      const std::int64_t count = std::min(block_rows, rows - first);
      const double* block = xs + first * columns;
      double* block_eta = etas + first * width;
      if (width == 1 && columns <= detail::short_row_limit) detail::short_row_gemv(block, count, columns, ws, block_eta);
      else Matrix(block_eta, count, width).noalias() = ConstMatrix(block, count, columns) * ConstMatrix(ws, columns, width);
      for (std::size_t l = 0; l < loops_.size(); ++l) loops_[l].op->run_block(runs[l], first * width, count * width, scratch.parts[l]);
      const double* block_r = r.base + r.advance * first * width;
      if (width == 1) gradient.col(0).noalias() += ConstMatrix(block, count, columns).transpose() * Eigen::Map<const Eigen::VectorXd>(block_r, count);
      else gradient.noalias() += ConstMatrix(block, count, columns).transpose() * ConstMatrix(block_r, count, width);
    }
    for (std::size_t l = 0; l < loops_.size(); ++l) loops_[l].op->end_blocks(runs[l]);
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable>) const override {
    return std::vector<InputGrad>(node.inputs().size(), InputGrad::undefined("row blocks are built by compile, after differentiation"));
  }
  bool equals(const Op& other) const override { return this == &other; }

  /// The longest chain of loops one row block runs (with at most `FusedElemwise::max_registers`
  /// registers between them).
  static constexpr std::size_t max_loops = 8;

 private:
  /// Loop `l`'s inputs, from the op's inputs, eta, and the earlier loops' outputs.
  InputValues gather_inputs(std::size_t l, InputValues in, OutputValues out, std::array<const Array*, FusedElemwise::max_registers>& values) const {
    const std::vector<Source>& sources = loops_[l].inputs;
    for (std::size_t i = 0; i < sources.size(); ++i) {
      const Source& source = sources[i];
      switch (source.kind) {
        case Source::Kind::input: values[i] = in[source.index]; break;
        case Source::Kind::eta: values[i] = out[total_outputs_]; break;
        case Source::Kind::output: values[i] = out[first_output_[source.loop] + source.index]; break;
      }
    }
    return InputValues(values.data(), sources.size());
  }
  OutputValues loop_outputs(std::size_t l, OutputValues out) const {
    return out.subspan(first_output_[l], loops_[l].op->outputs().size());
  }

  /// The unfused ops in turn: `matmul`, each loop (blockwise or op by op, as it decides), then
  /// `matmul` with X transposed.
  void run_ops(InputValues in, OutputValues out, Scratch& scratch) const {
    Scratch products;
    Array* eta = out[total_outputs_];
    const std::array<const Array*, 2> forward{in[0], in[1]};
    MatMul().perform(forward, std::span<Array* const>(&eta, 1), products);
    std::array<const Array*, FusedElemwise::max_registers> values;
    for (std::size_t l = 0; l < loops_.size(); ++l) loops_[l].op->perform(gather_inputs(l, in, out, values), loop_outputs(l, out), scratch.parts[l]);
    Array* t = out[total_outputs_ + 1];
    const std::array<const Array*, 2> backward{in[0], out[first_output_[r_loop_] + r_output_]};
    MatMul(true, false).perform(backward, std::span<Array* const>(&t, 1), products);
  }

  std::vector<Loop> loops_;
  std::size_t r_loop_;
  std::size_t r_output_;
  std::vector<std::size_t> first_output_;  ///< each loop's first output among the op's
  std::size_t total_outputs_ = 0;
};

namespace detail {

/// True when `loop` reads its input `i` only for its shape, and that shape is eta's (static
/// types): eta can stand in for it, so the value need not be computed before the row block.
inline bool stands_in_for_eta(const FusedElemwise& loop, std::size_t i, const Variable& input, const Variable& eta) {
  return !loop.reads_value(i) && input.type().is_static() && input.type() == eta.type();
}

/// An apply of a row block's chain and the loop it runs.
struct ChainMember {
  ApplyNode* apply;
  std::shared_ptr<const FusedElemwise> loop;
};

/// The loop an apply runs in a row block: its own when it is fused, a loop of one instruction
/// when it is a single f64 elementwise op (or a fill, or a `sum_to` that is a copy), else null.
inline std::shared_ptr<const FusedElemwise> loop_of(ApplyNode& apply) {
  if (auto loop = std::dynamic_pointer_cast<const FusedElemwise>(apply.op_ptr())) return loop;
  if (apply.num_outputs() != 1) return nullptr;
  const Type type = apply.output(0).type();
  const auto kind = fusable_kind(apply, type);
  if (!kind) return nullptr;
  FusedElemwise::Instruction instruction{apply.op_ptr(), op_as<ElemwiseKernel>(apply.op()), {}, *kind};
  for (std::size_t i = 0; i < apply.inputs().size(); ++i) instruction.args.push_back(static_cast<int>(i));
  return std::make_shared<const FusedElemwise>(std::vector<FusedElemwise::Instruction>{std::move(instruction)}, apply.inputs().size(), type);
}

/// Adds to `chain` (in an order where each loop comes after the loops it reads) the loop of
/// `apply` and the loops its eta-dependent inputs come from; false when one of them is not a
/// loop (`loop_of`), is the sum of one, or the chain would be longer than
/// `RowBlockFused::max_loops` or hold more registers than `FusedElemwise::max_registers`.
inline bool collect_loops(ApplyNode* apply, const Variable& eta, std::vector<ChainMember>& chain) {
  for (const ChainMember& member : chain)
    if (member.apply == apply) return true;
  const std::shared_ptr<const FusedElemwise> loop = loop_of(*apply);
  if (!loop) return false;
  for (std::size_t i = 0; i < apply->inputs().size(); ++i) {
    const Variable& input = apply->input(i);
    if (input == eta || !depends_on(input, eta) || stands_in_for_eta(*loop, i, input, eta)) continue;
    ApplyNode* producer = input.owner();
    if (!producer || !collect_loops(producer, eta, chain)) return false;
    std::size_t k = 0;
    while (!(producer->output(k) == input)) ++k;
    if (chain.back().apply == producer && chain.back().loop->outputs()[k].reduce_sum) return false;
    for (const ChainMember& member : chain)
      if (member.apply == producer && member.loop->outputs()[k].reduce_sum) return false;
  }
  std::size_t registers = loop->registers();
  for (const ChainMember& member : chain) registers += member.loop->registers();
  if (chain.size() >= RowBlockFused::max_loops || registers > FusedElemwise::max_registers) return false;
  chain.push_back({apply, loop});
  return true;
}

/// Adds to `chain` the loops that read eta or the chain's arrays and nothing else computed from
/// eta (the forward terms beside the gradient's, a scale's gradient sum), so they too run while
/// each block is in L1 instead of reading the whole arrays again afterwards.
inline void add_followers(std::span<const Variable> outputs, const Variable& eta, std::vector<ChainMember>& chain) {
  std::size_t registers = 0;
  for (const ChainMember& member : chain) registers += member.loop->registers();
  const auto in_chain = [&](const ApplyNode* apply) {
    return std::any_of(chain.begin(), chain.end(), [&](const ChainMember& member) { return member.apply == apply; });
  };
  for (ApplyNode* apply : toposort(outputs)) {
    if (chain.size() >= RowBlockFused::max_loops) return;
    if (in_chain(apply) || !std::any_of(apply->inputs().begin(), apply->inputs().end(), [&](const Variable& input) { return depends_on(input, eta); }))
      continue;
    const std::shared_ptr<const FusedElemwise> loop = loop_of(*apply);
    if (!loop || registers + loop->registers() > FusedElemwise::max_registers) continue;
    bool reads_chain_only = true;
    for (std::size_t i = 0; i < apply->inputs().size() && reads_chain_only; ++i) {
      const Variable& input = apply->input(i);
      if (input == eta || !depends_on(input, eta) || stands_in_for_eta(*loop, i, input, eta)) continue;
      const auto producer = std::find_if(chain.begin(), chain.end(), [&](const ChainMember& member) { return member.apply == input.owner(); });
      if (producer == chain.end()) {
        reads_chain_only = false;
        break;
      }
      std::size_t k = 0;
      while (!(producer->apply->output(k) == input)) ++k;
      reads_chain_only = !producer->loop->outputs()[k].reduce_sum;
    }
    if (!reads_chain_only) continue;
    chain.push_back({apply, loop});
    registers += loop->registers();
  }
}

/// The first GLM-shaped group of the graph of `outputs` (see `fuse_row_blocks`), as the
/// replacements that put a `RowBlockFused` apply in its place; empty when there is none.
inline std::vector<std::pair<Variable, Variable>> find_row_block(std::span<const Variable> outputs) {
  for (ApplyNode* backward : toposort(outputs)) {
    const auto* transposed = op_as<MatMul>(backward->op());
    if (!transposed || !transposed->transpose_a() || transposed->transpose_b()) continue;
    const Variable& x = backward->input(0);
    const Variable& r = backward->input(1);
    if (x.rank() != 2 || x.dtype() != DType::f64 || !r.owner() || !loop_of(*r.owner())) continue;
    for (const Variable& eta : r.owner()->inputs()) {
      ApplyNode* forward = eta.owner();
      const auto* product = forward ? op_as<MatMul>(forward->op()) : nullptr;
      if (!product || product->transpose_a() || product->transpose_b() || !(forward->input(0) == x)) continue;
      const Variable& w = forward->input(1);
      if (w.dtype() != DType::f64 || w.rank() != r.rank() || !(eta.type() == r.type())) continue;
      std::vector<ChainMember> chain;
      if (!collect_loops(r.owner(), eta, chain)) continue;
      add_followers(outputs, eta, chain);
      // The op's inputs: X, W, then each loop's inputs that do not depend on eta, once each.
      std::vector<Variable> inputs{x, w};
      std::vector<RowBlockFused::Loop> loops;
      std::size_t r_loop = 0, r_output = 0;
      bool acyclic = true;
      for (std::size_t l = 0; l < chain.size(); ++l) {
        ApplyNode* member = chain[l].apply;
        RowBlockFused::Loop loop{chain[l].loop, {}};
        for (std::size_t i = 0; i < member->inputs().size(); ++i) {
          const Variable& input = member->input(i);
          if (input == eta || (depends_on(input, eta) && stands_in_for_eta(*loop.op, i, input, eta))) {
            loop.inputs.push_back({RowBlockFused::Source::Kind::eta});
            continue;
          }
          const auto producer = std::find_if(chain.begin(), chain.end(), [&](const ChainMember& other) { return other.apply == input.owner(); });
          if (producer != chain.end()) {
            std::size_t k = 0;
            while (!(producer->apply->output(k) == input)) ++k;
            loop.inputs.push_back({RowBlockFused::Source::Kind::output, k, static_cast<std::size_t>(producer - chain.begin())});
            continue;
          }
          // An outside input must not read any loop's output (the op would then feed itself).
          for (const ChainMember& other : chain)
            for (const Variable& output : other.apply->outputs()) acyclic = acyclic && !depends_on(input, output);
          auto known = std::find(inputs.begin(), inputs.end(), input);
          if (known == inputs.end()) known = inputs.insert(inputs.end(), input);
          loop.inputs.push_back({RowBlockFused::Source::Kind::input, static_cast<std::size_t>(known - inputs.begin())});
        }
        if (member == r.owner())
          for (r_loop = l, r_output = 0; !(member->output(r_output) == r); ++r_output) {}
        loops.push_back(std::move(loop));
      }
      if (!acyclic || chain[r_loop].loop->outputs()[r_output].reduce_sum) continue;
      auto block = ApplyNode::make(std::make_shared<const RowBlockFused>(std::move(loops), r_loop, r_output), std::move(inputs));
      std::vector<std::pair<Variable, Variable>> replacements;
      std::size_t next = 0;
      for (const ChainMember& member : chain)
        for (const Variable& output : member.apply->outputs()) replacements.emplace_back(output, block->output(next++));
      replacements.emplace_back(eta, block->output(next));
      replacements.emplace_back(backward->output(0), block->output(next + 1));
      for (auto& [old_variable, new_variable] : replacements) new_variable.set_name(old_variable.name());
      return replacements;
    }
  }
  return {};
}

}  // namespace detail

/// @brief Replaces each GLM-shaped group — `eta = matmul(X, W)` (f64, W a vector or a matrix),
/// the fused loops that read eta (directly or through one another, at most
/// `RowBlockFused::max_loops`), and `matmul(X^T, r)` of an output of one of them, with the same
/// X — by one `RowBlockFused` apply that reads each row of X once. Run by `compile` after
/// `fuse_elemwise` (switched with it by `CompileOptions::fuse`).
inline std::vector<Variable> fuse_row_blocks(std::vector<Variable> outputs) {
  for (;;) {
    const std::vector<std::pair<Variable, Variable>> replacements = detail::find_row_block(outputs);
    if (replacements.empty()) return outputs;
    outputs = detail::rebuild(outputs, replacements, false);
  }
}

}  // namespace symbatch
