/// @file fused_elemwise.hpp
/// @brief The `FusedElemwise` op: a program of elementwise instructions run as one loop over
/// cache-sized blocks when the run-time shapes allow it, and op by op otherwise, so its values
/// and its errors are those of the ops it replaces. Built by `fuse_elemwise` (fusion.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "symbatch/ops/elemwise.hpp"

namespace symbatch {

/// @brief Several elementwise ops run as one loop. Built by `compile` after differentiation,
/// so it has no gradient of its own.
///
/// Registers `0..n-1` are the inputs; instruction `i` writes register `n + i`. Each output is
/// one register, either the array itself or, when `reduce_sum`, the sum of its elements (a
/// scalar accumulated block by block, never written out).
///
/// Each call first derives every register's run-time shape from the inputs' shapes, as the
/// unfused ops would (a kernel broadcasts its arguments; `sum_to` and `unreduce` take the
/// shape of their shape-only argument, wherever it is computed). The program runs block by
/// block (`block` elements at a time, temporaries in L1) when every output has one shape L,
/// every register has shape L or a single element (a broadcast constant), and every `sum_to`
/// is a copy (equal shapes); over several blocks, an instruction that reads only broadcast
/// single elements (a fill of an output gradient, its product with a scalar) is computed once
/// per call instead of per element. Otherwise, and whenever the shapes do not fit together, each
/// instruction runs as its own op over whole temporaries: the values are NumPy's, and an error
/// is the error of the op that the unfused graph would throw, with its own message.
class FusedElemwise final : public Op {
 public:
  /// How an instruction computes its block.
  enum class Kind {
    kernel,     ///< an elementwise kernel
    pass,       ///< `sum_to(x, like)` whose shapes agree at run time: a copy of x
    fill,       ///< `unreduce(g, like)` over all axes: the scalar g repeated
    fill_mean,  ///< the same divided by the number of elements of `like`
  };
  struct Instruction {
    std::shared_ptr<const Op> op;
    const ElemwiseKernel* kernel = nullptr;
    std::vector<int> args;  ///< registers read
    Kind kind = Kind::kernel;
  };
  /// An output: the register it reads, and whether it is that register's sum.
  struct Output {
    int reg = 0;
    bool reduce_sum = false;
  };
  static constexpr std::int64_t block = 256;
  static constexpr std::size_t max_outputs = 8;
  /// At most this many registers (inputs and instructions) in one program.
  static constexpr std::size_t max_registers = 512;

  /// One output: the last instruction (or its sum).
  FusedElemwise(std::vector<Instruction> program, std::size_t num_inputs, Type type, bool reduce_sum = false)
      : FusedElemwise(std::move(program), num_inputs, std::move(type), std::vector<Output>{}) {
    outputs_ = {{static_cast<int>(num_inputs_ + program_.size() - 1), reduce_sum}};
    finish();
  }
  /// Several outputs (at most `max_outputs`), each a register of the program.
  /// @throws std::invalid_argument for more than `max_outputs` outputs or an output reading
  /// a register that no instruction writes.
  FusedElemwise(std::vector<Instruction> program, std::size_t num_inputs, Type type, std::vector<Output> outputs)
      : program_(std::move(program)), num_inputs_(num_inputs), type_(std::move(type)), outputs_(std::move(outputs)) {
    if (outputs_.size() > max_outputs) throw_invalid(name(), outputs_.size(), " outputs, at most ", max_outputs);
    if (num_inputs_ + program_.size() > max_registers)
      throw_invalid(name(), num_inputs_ + program_.size(), " registers (inputs and instructions), at most ", max_registers);
    finish();
  }

  /// True when the (first) output is the sum of its register.
  bool reduce_sum() const { return !outputs_.empty() && outputs_[0].reduce_sum; }
  const std::vector<Output>& outputs() const { return outputs_; }

  std::string name() const override { return "fused"; }
  std::string describe() const override {
    std::string text = "fused{";
    for (std::size_t i = 0; i < program_.size(); ++i) text += (i ? "," : "") + program_[i].op->name();
    for (const Output& output : outputs_) text += output.reduce_sum ? ",sum" : "";
    return text + (outputs_.size() > 1 ? "; " + std::to_string(outputs_.size()) + " outputs}" : "}");
  }
  const std::vector<Instruction>& program() const { return program_; }

  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != num_inputs_) throw_invalid(name(), "expected ", num_inputs_, " inputs, got ", inputs.size());
    std::vector<Type> types;
    for (const Output& output : outputs_) types.push_back(output.reduce_sum ? Type{DType::f64, {}} : type_);
    return types;
  }

  void perform(InputValues in, OutputValues out, Scratch& scratch) const override {
    if (!blockwise(in, scratch)) {
      run_op_by_op(in, out, scratch);
      return;
    }
    const Shape shape = loop_shape(scratch);
    const std::int64_t total = shape.size();
    std::array<Operand, max_registers> operands;
    BlockRun run;  // (not value-initialized: begin_blocks sets what run_block reads)
    run.operands = operands;
    begin_blocks(in, out, shape, scratch, run);
    for (std::int64_t start = 0; start < total; start += block) run_block(run, start, std::min(block, total - start), scratch);
    end_blocks(run);
  }

  /// @name The loop one block at a time
  /// For an op that interleaves its own work with this loop's blocks (`RowBlockFused`,
  /// row_block.hpp), which calls `blockwise`, then `begin_blocks`, `run_block` over
  /// consecutive ranges of at most `block` elements, and `end_blocks`; `perform` does the same.
  /// @{
  /// Where a register's current block starts: `base + advance * start`, read with `stride`.
  struct Operand {
    const double* base;
    std::int64_t advance;  ///< 1, or 0 (a temporary, or one element broadcast over the loop)
    std::int64_t stride;   ///< the kernel's stride: 1, or 0 for a broadcast input
  };
  /// A blockwise run in progress; `operands` has room for `registers()` operands.
  struct BlockRun {
    std::span<Operand> operands;
    std::array<double*, max_outputs> outputs;
    std::array<double, max_outputs> sums;
    std::array<std::uint16_t, max_registers> active;  ///< the instructions each block runs, in order
    std::size_t active_count = 0;
  };
  /// True when the loop computes what the ops would on these inputs (see the class comment);
  /// sizes `scratch` for the run.
  bool blockwise(InputValues in, Scratch& scratch) const {
    size_scratch(scratch);
    return runs_blockwise(in, scratch);
  }
  /// The loop's shape, after `blockwise` said yes.
  Shape loop_shape(const Scratch& scratch) const { return shape_of(scratch, outputs_[0].reg); }
  /// True when some instruction reads input `input` as a value (not only for its shape).
  bool reads_value(std::size_t input) const {
    return std::find(value_inputs_.begin(), value_inputs_.end(), static_cast<int>(input)) != value_inputs_.end();
  }
  /// The program's registers: its inputs, then one per instruction.
  std::size_t registers() const { return num_inputs_ + program_.size(); }
  /// The register of output `j`.
  int output_register(std::size_t j) const { return outputs_[j].reg; }
  /// Makes the outputs and temporaries and sets every register's operand.
  void begin_blocks(InputValues in, OutputValues out, const Shape& shape, Scratch& scratch, BlockRun& run) const {
    const std::int64_t total = shape.size();
    // Every temporary's block, one after another in one buffer of this op's own.
    Array& temporaries = scratch.arrays[program_.size()];
    const std::int64_t temporaries_size = std::max<std::int64_t>(1, temporaries_ * block);
    if (!temporaries.unique() || temporaries.dtype() != DType::f64 || temporaries.size() != temporaries_size)
      temporaries.ensure(DType::f64, Shape{temporaries_size});
    double* const temporary_base = temporaries.data<double>();
    for (std::size_t j = 0; j < outputs_.size(); ++j) {
      out[j]->ensure(DType::f64, outputs_[j].reduce_sum ? Shape{} : shape);
      run.outputs[j] = out[j]->data<double>();
      run.sums[j] = 0;
    }
    for (const int reg : value_inputs_) {
      const Array& input = *in[static_cast<std::size_t>(reg)];
      const std::int64_t full = input.size() == total && total != 1 ? 1 : 0;
      run.operands[static_cast<std::size_t>(reg)] = {input.data<double>(), full, full};
    }
    // Hoisting pays only over several blocks; with one element it would also be wrong (see `hoist`).
    const bool may_hoist = total > block;
    run.active_count = 0;
    for (std::size_t i = 0; i < program_.size(); ++i) {
      run.operands[num_inputs_ + i] = direct_[i] >= 0 ? Operand{run.outputs[static_cast<std::size_t>(direct_[i])], 1, 1}
                                                      : Operand{temporary_base + temporary_slot_[i] * block, 0, 1};
      if (!(may_hoist && hoist(i, scratch, run))) run.active[run.active_count++] = static_cast<std::uint16_t>(i);
    }
  }
  /// The program over the loop's elements `start .. start + count` (`count <= block`).
  void run_block(BlockRun& run, std::int64_t start, std::int64_t count, const Scratch& scratch) const {
    const double* args[2];
    std::int64_t strides[2];
    for (std::size_t k = 0; k < run.active_count; ++k) {
      const std::size_t i = run.active[k];
      const Instruction& instruction = program_[i];
      // `pass` and `fill` read only their first argument; the second, of any dtype, gives
      // the shape (checked in `runs_blockwise`).
      const std::size_t read = instruction.kind == Kind::kernel ? instruction.args.size() : 1;
      for (std::size_t a = 0; a < read; ++a) {
        const Operand& operand = run.operands[static_cast<std::size_t>(instruction.args[a])];
        args[a] = operand.base + operand.advance * start;
        strides[a] = operand.stride;
      }
      const Operand& written = run.operands[num_inputs_ + i];
      double* target = const_cast<double*>(written.base) + written.advance * start;
      switch (instruction.kind) {
        case Kind::kernel: instruction.kernel->kernel_f64(args, strides, target, count); break;
        case Kind::pass:
          if (strides[0]) std::copy_n(args[0], count, target);
          else std::fill_n(target, count, args[0][0]);
          break;
        case Kind::fill: std::fill_n(target, count, args[0][0]); break;
        case Kind::fill_mean: {
          // The mean over `like`'s elements, which are the loop's or a single one.
          const double elements = static_cast<double>(shape_of(scratch, instruction.args[1]).size());
          std::fill_n(target, count, args[0][0] / elements);
          break;
        }
      }
    }
    for (std::size_t j = 0; j < outputs_.size(); ++j)
      if (outputs_[j].reduce_sum) {
        const Operand& summed = run.operands[static_cast<std::size_t>(outputs_[j].reg)];
        if (summed.stride == 0) run.sums[j] += summed.base[0] * static_cast<double>(count);  // a hoisted value
        else run.sums[j] += Eigen::Map<const Eigen::ArrayXd>(summed.base + summed.advance * start, count).sum();
      }
  }
  /// Writes the sums.
  void end_blocks(BlockRun& run) const {
    for (std::size_t j = 0; j < outputs_.size(); ++j)
      if (outputs_[j].reduce_sum) run.outputs[j][0] = run.sums[j];
  }
  /// Runs the ops one by one over whole arrays (the values and errors of the unfused graph).
  void run_ops(InputValues in, OutputValues out, Scratch& scratch) const {
    size_scratch(scratch);
    run_op_by_op(in, out, scratch);
  }
  /// @}

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable>) const override {
    return std::vector<InputGrad>(node.inputs().size(), InputGrad::undefined("fused ops are built by compile, after differentiation"));
  }
  bool equals(const Op& other) const override { return this == &other; }

 private:
  static constexpr std::size_t shape_stride = max_rank + 1;  // a register's shape in Scratch::indices: rank, dims

  /// `scratch.arrays`: one whole temporary per instruction for the op-by-op run, then the
  /// buffer of the blockwise run's temporaries (`temporaries_` blocks).
  void size_scratch(Scratch& scratch) const {
    if (scratch.arrays.size() != program_.size() + 1) scratch.arrays.resize(program_.size() + 1);
  }

  /// Computes instruction `i` once for the whole run when every value it reads is one element
  /// broadcast over the loop (a scalar input, or an instruction hoisted before it), and points
  /// its operand at that value with stride 0: the same kernel on the same operands, so the
  /// same value as per element. An instruction that writes an output stays in the loop. Called
  /// only for loops of several elements: with one, an input of a row-block chain that is still
  /// to be computed block by block would look like a broadcast one. True when hoisted.
  bool hoist(std::size_t i, const Scratch& scratch, BlockRun& run) const {
    const Instruction& instruction = program_[i];
    const std::size_t read = instruction.kind == Kind::kernel ? instruction.args.size() : 1;
    if (direct_[i] >= 0) return false;
    const double* args[2];
    std::int64_t strides[2] = {0, 0};
    for (std::size_t a = 0; a < read; ++a) {
      const Operand& operand = run.operands[static_cast<std::size_t>(instruction.args[a])];
      if (operand.stride != 0) return false;
      args[a] = operand.base;
    }
    Operand& written = run.operands[num_inputs_ + i];
    double* value = const_cast<double*>(written.base);
    switch (instruction.kind) {
      case Kind::kernel: instruction.kernel->kernel_f64(args, strides, value, 1); break;
      case Kind::pass:
      case Kind::fill: value[0] = args[0][0]; break;
      case Kind::fill_mean: value[0] = args[0][0] / static_cast<double>(shape_of(scratch, instruction.args[1]).size()); break;
    }
    written = Operand{value, 0, 0};
    return true;
  }

  /// Records, per instruction, the output it writes directly (-1: a temporary), and which
  /// inputs some instruction reads as values (the others give only a shape).
  void finish() {
    value_inputs_.clear();
    for (const Instruction& instruction : program_) {
      const std::size_t read = instruction.kind == Kind::kernel ? instruction.args.size() : 1;
      for (std::size_t a = 0; a < read; ++a)
        if (instruction.args[a] < static_cast<int>(num_inputs_) &&
            std::find(value_inputs_.begin(), value_inputs_.end(), instruction.args[a]) == value_inputs_.end())
          value_inputs_.push_back(instruction.args[a]);
    }
    direct_.assign(program_.size(), -1);
    for (std::size_t j = 0; j < outputs_.size(); ++j) {
      const int instruction = outputs_[j].reg - static_cast<int>(num_inputs_);
      if (instruction < 0 || instruction >= static_cast<int>(program_.size()))
        throw_invalid(name(), "output ", j + 1, " reads register ", outputs_[j].reg, ", which no instruction writes");
      if (!outputs_[j].reduce_sum && direct_[static_cast<std::size_t>(instruction)] < 0)
        direct_[static_cast<std::size_t>(instruction)] = static_cast<int>(j);
    }
    temporary_slot_.assign(program_.size(), -1);
    temporaries_ = 0;
    for (std::size_t i = 0; i < program_.size(); ++i)
      if (direct_[i] < 0) temporary_slot_[i] = temporaries_++;
  }

  static Shape shape_of(const Scratch& scratch, int reg) {
    const std::int64_t* entry = scratch.indices.data() + static_cast<std::size_t>(reg) * shape_stride;
    return Shape(std::span<const std::int64_t>(entry + 1, static_cast<std::size_t>(entry[0])));
  }
  static void set_shape(Scratch& scratch, int reg, const Shape& shape) {
    std::int64_t* entry = scratch.indices.data() + static_cast<std::size_t>(reg) * shape_stride;
    entry[0] = shape.rank();
    std::copy(shape.begin(), shape.end(), entry + 1);
  }
  /// NumPy broadcast of two shapes into `out`; false when they do not broadcast.
  static bool broadcast_into(const Shape& a, const Shape& b, Shape& out) {
    const Shape& wide = a.rank() >= b.rank() ? a : b;
    const Shape& narrow = a.rank() >= b.rank() ? b : a;
    out = wide;
    const int pad = wide.rank() - narrow.rank();
    for (int axis = 0; axis < narrow.rank(); ++axis) {
      const std::int64_t dim = narrow[axis];
      std::int64_t& target = out[axis + pad];
      if (dim == target || dim == 1) continue;
      if (target != 1) return false;
      target = dim;
    }
    return true;
  }

  /// Derives every register's run-time shape (kept in `scratch.indices`) and says whether the
  /// block loop computes what the ops would: see the class comment. False also when some op
  /// would throw, so that `run_ops` throws its error. The answer depends on the input shapes
  /// only: it is kept after the registers (-1: none yet) and reused while they repeat.
  bool runs_blockwise(InputValues in, Scratch& scratch) const {
    const std::size_t registers = num_inputs_ + program_.size();
    const std::size_t answer = registers * shape_stride;
    if (scratch.indices.size() != answer + 1) {
      scratch.indices.assign(answer + 1, 0);
      scratch.indices[answer] = -1;
    }
    bool repeated = scratch.indices[answer] >= 0;
    for (std::size_t r = 0; r < num_inputs_ && repeated; ++r) {
      const Shape& shape = in[r]->shape();
      const std::int64_t* entry = scratch.indices.data() + r * shape_stride;
      repeated = entry[0] == shape.rank();
      for (int axis = 0; axis < shape.rank() && repeated; ++axis) repeated = entry[1 + axis] == shape[axis];
    }
    if (repeated) return scratch.indices[answer] == 1;
    const bool blockwise = derive_shapes(in, scratch);
    scratch.indices[answer] = blockwise ? 1 : 0;
    return blockwise;
  }

  /// The derivation behind `runs_blockwise`: every register's shape from the inputs'.
  bool derive_shapes(InputValues in, Scratch& scratch) const {
    const std::size_t registers = num_inputs_ + program_.size();
    for (std::size_t r = 0; r < num_inputs_; ++r) set_shape(scratch, static_cast<int>(r), in[r]->shape());
    for (std::size_t i = 0; i < program_.size(); ++i) {
      const Instruction& instruction = program_[i];
      const Shape first = shape_of(scratch, instruction.args[0]);
      Shape shape;
      switch (instruction.kind) {
        case Kind::kernel:
          if (instruction.args.size() == 1) shape = first;
          else if (!broadcast_into(first, shape_of(scratch, instruction.args[1]), shape)) return false;
          break;
        case Kind::pass:  // a copy only when x already has like's shape; otherwise a real reduction
          shape = shape_of(scratch, instruction.args[1]);
          if (!(shape == first)) return false;
          break;
        case Kind::fill:
        case Kind::fill_mean:
          if (first.rank() != 0) return false;
          shape = shape_of(scratch, instruction.args[1]);
          break;
      }
      set_shape(scratch, static_cast<int>(num_inputs_ + i), shape);
    }
    const Shape loop = shape_of(scratch, outputs_[0].reg);
    for (const Output& output : outputs_)
      if (!(shape_of(scratch, output.reg) == loop)) return false;
    for (std::size_t r = 0; r < registers; ++r) {
      const Shape shape = shape_of(scratch, static_cast<int>(r));
      if (!(shape == loop) && !(shape.size() == 1 && shape.rank() <= loop.rank())) return false;
    }
    return true;
  }

  void run_op_by_op(InputValues in, OutputValues out, Scratch& scratch) const {
    Scratch unused;
    const auto value_of = [&](int reg) -> const Array& {
      if (reg < static_cast<int>(num_inputs_)) return *in[static_cast<std::size_t>(reg)];
      const std::size_t i = static_cast<std::size_t>(reg) - num_inputs_;
      return direct_[i] >= 0 ? *out[static_cast<std::size_t>(direct_[i])] : scratch.arrays[i];
    };
    for (std::size_t i = 0; i < program_.size(); ++i) {
      const Instruction& instruction = program_[i];
      const Array* args[2];
      for (std::size_t a = 0; a < instruction.args.size(); ++a) args[a] = &value_of(instruction.args[a]);
      Array* target = direct_[i] >= 0 ? out[static_cast<std::size_t>(direct_[i])] : &scratch.arrays[i];
      instruction.op->perform(std::span<const Array* const>(args, instruction.args.size()), std::span<Array* const>(&target, 1), unused);
    }
    for (std::size_t j = 0; j < outputs_.size(); ++j) {
      const Array& value = value_of(outputs_[j].reg);
      if (outputs_[j].reduce_sum) {
        double total = 0;
        for (std::int64_t k = 0; k < value.size(); ++k) total += value.flat<double>(k);
        out[j]->ensure(DType::f64, Shape{});
        out[j]->data<double>()[0] = total;
      } else if (direct_[static_cast<std::size_t>(outputs_[j].reg) - num_inputs_] != static_cast<int>(j)) {
        *out[j] = value.copy();  // a second output of one register
      }
    }
    // A view op (`sum_to` of equal shapes) may leave an output or a temporary viewing an input,
    // which may be a caller's array. This op declares no view, so an output gets its own copy;
    // a temporary is dropped, so no later call can write into the caller's memory.
    for (std::size_t j = 0; j < outputs_.size(); ++j)
      for (const Array* input : in)
        if (out[j]->shares_buffer(*input)) {
          *out[j] = out[j]->copy();
          break;
        }
    for (Array& temporary : scratch.arrays)
      for (const Array* input : in)
        if (temporary.shares_buffer(*input)) {
          temporary.reset();
          break;
        }
  }

  std::vector<Instruction> program_;
  std::size_t num_inputs_;
  Type type_;  ///< the loop's element type (of every non-reduced output)
  std::vector<Output> outputs_;
  std::vector<int> direct_;
  std::vector<std::int64_t> temporary_slot_;  ///< per instruction, its block among the temporaries (-1: an output)
  std::int64_t temporaries_ = 0;
  std::vector<int> value_inputs_;  ///< inputs read as values, each once
};

}  // namespace symbatch
