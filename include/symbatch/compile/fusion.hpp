/// @file fusion.hpp
/// @brief Elementwise fusion: a chain of `f64` elementwise ops over arrays of one shape (and
/// scalars) becomes one `FusedElemwise` op that runs the whole chain in cache-sized blocks,
/// instead of one pass over memory (and one buffer) per op.
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "symbatch/graph/walk.hpp"
#include "symbatch/ops/elemwise.hpp"
#include "symbatch/ops/reduce.hpp"

namespace symbatch {

/// @brief Several elementwise ops run as one loop. Built by `compile` after differentiation,
/// so it has no gradient of its own.
///
/// Registers `0..n-1` are the inputs; instruction `i` writes register `n + i`. Each output is
/// one register, either the array itself or, when `reduce_sum`, the sum of its elements (a
/// scalar accumulated block by block, never written out). When every input has the loop's
/// shape or a single element, the program runs block by block (`block` elements at a time,
/// temporaries in L1); otherwise each instruction runs as its own op over whole temporaries,
/// with NumPy broadcasting.
class FusedElemwise final : public Op {
 public:
  /// How an instruction computes its block.
  enum class Kind {
    kernel,     ///< an elementwise kernel
    pass,       ///< `sum_to(x, like)` whose shapes agree at run time: a copy of x
    fill,       ///< `unreduce(g, like)` over all axes: the scalar g repeated
    fill_mean,  ///< the same divided by the number of elements
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

  /// One output: the last instruction (or its sum).
  FusedElemwise(std::vector<Instruction> program, std::size_t num_inputs, Type type, bool reduce_sum = false)
      : FusedElemwise(std::move(program), num_inputs, std::move(type), std::vector<Output>{}) {
    outputs_ = {{static_cast<int>(num_inputs_ + program_.size() - 1), reduce_sum}};
    finish();
  }
  /// Several outputs (at most `max_outputs`), each a register of the program.
  FusedElemwise(std::vector<Instruction> program, std::size_t num_inputs, Type type, std::vector<Output> outputs)
      : program_(std::move(program)), num_inputs_(num_inputs), type_(std::move(type)), outputs_(std::move(outputs)) {
    if (outputs_.size() > max_outputs) throw_invalid(name(), outputs_.size(), " outputs, at most ", max_outputs);
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
    // Fast path: the widest input's shape, when every other input has it or is one element of
    // no higher rank; otherwise NumPy broadcasting decides (and run_ops handles it).
    const Array* widest = in[0];
    for (const Array* input : in)
      if (input->size() > widest->size()) widest = input;
    bool blockwise = true;
    for (const Array* input : in)
      blockwise = blockwise && (input->size() == 1 ? input->rank() <= widest->rank() : input->shape() == widest->shape());
    Shape shape = widest->shape();
    if (!blockwise) {
      blockwise = true;
      shape = in[0]->shape();
      for (std::size_t i = 1; i < in.size(); ++i) shape = detail::broadcast_shapes<2>(name(), {&shape, &in[i]->shape()});
      for (const Array* input : in) blockwise = blockwise && (input->shape() == shape || input->size() == 1);
    }
    // `pass` and `fill` read their second argument only for its shape, which must be the output's.
    for (const Instruction& instruction : program_)
      if (instruction.kind != Kind::kernel && instruction.args[1] < static_cast<int>(num_inputs_))
        blockwise = blockwise && in[static_cast<std::size_t>(instruction.args[1])]->shape() == shape;
    if (scratch.arrays.size() != program_.size()) scratch.arrays.resize(program_.size());
    if (blockwise) run_blocks(in, out, shape, scratch);
    else run_ops(in, out, scratch);
  }

  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable>) const override {
    return std::vector<InputGrad>(node.inputs().size(), InputGrad::undefined("fused ops are built by compile, after differentiation"));
  }
  bool equals(const Op& other) const override { return this == &other; }

 private:
  /// Records, per instruction, the output it writes directly (-1: a temporary).
  void finish() {
    direct_.assign(program_.size(), -1);
    for (std::size_t j = 0; j < outputs_.size(); ++j) {
      const int instruction = outputs_[j].reg - static_cast<int>(num_inputs_);
      if (instruction < 0 || instruction >= static_cast<int>(program_.size()))
        throw_invalid(name(), "output ", j + 1, " reads register ", outputs_[j].reg, ", which no instruction writes");
      if (!outputs_[j].reduce_sum && direct_[static_cast<std::size_t>(instruction)] < 0)
        direct_[static_cast<std::size_t>(instruction)] = static_cast<int>(j);
    }
  }

  void run_blocks(InputValues in, OutputValues out, const Shape& shape, Scratch& scratch) const {
    const std::int64_t total = shape.size();
    static const Shape block_shape{block};
    // A temporary is written only when this op is the sole owner of its buffer: `ensure`
    // allocates afresh otherwise (a temporary may still view a caller's array, see `run_ops`).
    for (Array& temporary : scratch.arrays)
      if (!temporary.unique() || temporary.dtype() != DType::f64 || temporary.size() != block) temporary.ensure(DType::f64, block_shape);
    std::array<double*, max_outputs> outputs{};
    std::array<double, max_outputs> sums{};
    for (std::size_t j = 0; j < outputs_.size(); ++j) {
      out[j]->ensure(DType::f64, outputs_[j].reduce_sum ? Shape{} : shape);
      outputs[j] = out[j]->data<double>();
    }
    // Where instruction i's current block lives: its output's slice, or its temporary.
    const auto block_of = [&](std::size_t i, std::int64_t start) {
      return direct_[i] >= 0 ? outputs[static_cast<std::size_t>(direct_[i])] + start : scratch.arrays[i].data<double>();
    };
    const double* args[2];
    std::int64_t strides[2];
    for (std::int64_t start = 0; start < total; start += block) {
      const std::int64_t count = std::min(block, total - start);
      for (std::size_t i = 0; i < program_.size(); ++i) {
        const Instruction& instruction = program_[i];
        // `pass` and `fill` read only their first argument; the second, of any dtype, gives
        // the shape (checked in `perform`).
        const std::size_t read = instruction.kind == Kind::kernel ? instruction.args.size() : 1;
        for (std::size_t a = 0; a < read; ++a) {
          const int reg = instruction.args[a];
          if (reg < static_cast<int>(num_inputs_)) {
            const Array& input = *in[static_cast<std::size_t>(reg)];
            const bool full = input.size() == total && total != 1;
            args[a] = input.data<double>() + (full ? start : 0);
            strides[a] = full ? 1 : 0;
          } else {
            args[a] = block_of(static_cast<std::size_t>(reg) - num_inputs_, start);
            strides[a] = 1;
          }
        }
        double* target = block_of(i, start);
        switch (instruction.kind) {
          case Kind::kernel: instruction.kernel->kernel_f64(args, strides, target, count); break;
          case Kind::pass:
            if (strides[0]) std::copy_n(args[0], count, target);
            else std::fill_n(target, count, args[0][0]);
            break;
          case Kind::fill: std::fill_n(target, count, args[0][0]); break;
          case Kind::fill_mean: std::fill_n(target, count, args[0][0] / static_cast<double>(total)); break;
        }
      }
      for (std::size_t j = 0; j < outputs_.size(); ++j)
        if (outputs_[j].reduce_sum)
          sums[j] += Eigen::Map<const Eigen::ArrayXd>(block_of(static_cast<std::size_t>(outputs_[j].reg) - num_inputs_, start), count).sum();
    }
    for (std::size_t j = 0; j < outputs_.size(); ++j)
      if (outputs_[j].reduce_sum) outputs[j][0] = sums[j];
  }

  void run_ops(InputValues in, OutputValues out, Scratch& scratch) const {
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
};

namespace detail {

/// How an apply can join a fused loop whose arrays have type `type`; empty when it cannot.
inline std::optional<FusedElemwise::Kind> fusable_kind(const ApplyNode& node, const Type& type) {
  const Variable output = node.output(0);
  if (output.dtype() != DType::f64 || !(output.type() == type)) return std::nullopt;
  if (auto* kernel = dynamic_cast<const ElemwiseKernel*>(&node.op())) {
    if (!kernel->fusable()) return std::nullopt;
    for (const Variable& input : node.inputs())
      if (input.dtype() != DType::f64 || !(input.rank() == 0 || input.type().shape == type.shape)) return std::nullopt;
    return FusedElemwise::Kind::kernel;
  }
  if (dynamic_cast<const SumTo*>(&node.op())) {
    if (node.input(0).type() == type && node.input(1).type().shape == type.shape) return FusedElemwise::Kind::pass;
    return std::nullopt;
  }
  if (auto* unreduce = dynamic_cast<const Unreduce*>(&node.op())) {
    if (unreduce->axis() || node.input(0).dtype() != DType::f64 || node.input(1).type().shape != type.shape) return std::nullopt;
    return unreduce->is_mean() ? FusedElemwise::Kind::fill_mean : FusedElemwise::Kind::fill;
  }
  return std::nullopt;
}

/// True when `node` sums every element of its input `x` into a scalar f64: `sum(x)`, or
/// `sum_to(x, like)` with a scalar `like`.
inline bool sums_all_of(const ApplyNode& node, const Variable& x) {
  if (node.output(0).dtype() != DType::f64 || node.output(0).rank() != 0 || !(node.input(0) == x)) return false;
  if (auto* reduce = dynamic_cast<const Reduce*>(&node.op())) return reduce->kind() == Reduction::sum;
  return dynamic_cast<const SumTo*>(&node.op()) != nullptr;
}

/// True when recomputing `node` in a loop costs a few cycles per element: a fill, or a cheap kernel.
inline bool recompute_is_cheap(const ApplyNode& node, FusedElemwise::Kind kind) {
  if (kind == FusedElemwise::Kind::fill || kind == FusedElemwise::Kind::fill_mean) return true;
  auto* kernel = dynamic_cast<const ElemwiseKernel*>(&node.op());
  return kind == FusedElemwise::Kind::kernel && kernel && kernel->cheap();
}

}  // namespace detail

/// @brief Replaces each maximal tree of fusable elementwise applies (each intermediate used
/// only inside the tree) by one `FusedElemwise` apply. Returns the new outputs.
///
/// Groups are found on the original graph, roots taken from the outputs down; then one
/// topological pass builds the new graph, mapping each old variable to its new one, so the
/// work is linear in the size of the graph (a group holds at most 48 instructions).
/// - A group grows upwards through the inputs of its members, except the shape-only input of
///   `sum_to` and `unreduce`; when that input has a static type, any variable of that type is
///   read instead (the first in topological order), so a value is not kept just for its shape.
/// - A producer also used outside the group is recomputed inside the loop, which is cheaper
///   than a pass over memory, and stays in the graph for its other consumers when they need it:
///   a costly kernel (exp, log, ...) only when its own inputs all come from outside the group;
///   a cheap one (add, mul, div, a fill, ...) in any case, with what it reads, up to 4 levels.
/// - A group whose only consumer is a sum of all its elements accumulates that sum in its loop
///   and replaces the consumer.
/// - Sibling groups over one static shape become one loop with several outputs (shared
///   producers computed once per element) when every input of each comes, in topological
///   order, before the first of them: so none reads another's result.
inline std::vector<Variable> fuse_elemwise(std::span<const Variable> outputs) {
  constexpr std::size_t max_instructions = 48;
  constexpr int max_depth = 4;  // levels of recomputed producers below a group
  const std::vector<ApplyNode*> order = toposort(outputs);
  std::unordered_map<const ApplyNode*, std::size_t> position;
  std::unordered_map<const VariableNode*, int> uses;
  std::unordered_map<const VariableNode*, ApplyNode*> consumer;  // a consumer of each variable (the only one when uses == 1)
  // The shape-only input of `sum_to`/`unreduce` is any variable of its static type: the first
  // one in topological order. So a value used elsewhere only for its shape need not be stored
  // (its elementwise chain fuses, and a sum of it folds into the loop).
  std::unordered_map<std::string, Variable> first_of_type;
  for (ApplyNode* node : order) {
    for (const Variable& input : node->inputs())
      if (input.type().is_static()) first_of_type.try_emplace(input.type().str(), input);
    for (std::size_t i = 0; i < node->num_outputs(); ++i)
      if (node->output(i).type().is_static()) first_of_type.try_emplace(node->output(i).type().str(), node->output(i));
  }
  const auto inputs_of = [&](const ApplyNode* node) {
    std::vector<Variable> inputs = node->inputs();
    if (inputs.size() == 2 && inputs[1].type().is_static() &&
        (dynamic_cast<const SumTo*>(&node->op()) || dynamic_cast<const Unreduce*>(&node->op())))
      inputs[1] = first_of_type.at(inputs[1].type().str());
    return inputs;
  };
  for (std::size_t i = 0; i < order.size(); ++i) {
    position[order[i]] = i;
    for (const Variable& input : inputs_of(order[i])) {
      ++uses[input.get()];
      consumer[input.get()] = order[i];
    }
  }
  for (const Variable& output : outputs) uses[output.get()] += 2;  // an output is used outside any group

  // 1. Groups, on the original graph.
  struct Draft {
    std::vector<ApplyNode*> members;  // root first
    std::vector<FusedElemwise::Kind> kinds;
    ApplyNode* key;                   // the apply it replaces: its root, or the sum of it
    bool reduce_sum;
  };
  std::vector<Draft> drafts;
  std::unordered_set<const ApplyNode*> grouped;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    ApplyNode* root = *it;
    if (grouped.count(root) || root->output(0).rank() == 0) continue;
    const Type type = root->output(0).type();
    const auto root_kind = detail::fusable_kind(*root, type);
    if (!root_kind) continue;
    std::vector<ApplyNode*> members{root};
    std::vector<FusedElemwise::Kind> kinds{*root_kind};
    std::unordered_set<const ApplyNode*> in_group{root};
    std::unordered_map<const ApplyNode*, int> leaves;          // recomputed producers -> depth below the group proper
    std::unordered_set<const VariableNode*> leaf_inputs;       // their inputs, which stay outside
    std::unordered_map<const VariableNode*, int> inside_uses;  // uses of each variable by members
    for (const Variable& input : inputs_of(root)) ++inside_uses[input.get()];
    for (std::size_t k = 0; k < members.size(); ++k) {
      // A recomputed producer is grown through only when cheap, and at most `max_depth` deep.
      const auto leaf = leaves.find(members[k]);
      if (leaf != leaves.end() && (leaf->second >= max_depth || !detail::recompute_is_cheap(*members[k], kinds[k]))) continue;
      const bool below_leaf = leaf != leaves.end();  // (the iterator is not used below: leaves grows)
      const int depth = below_leaf ? leaf->second + 1 : 1;
      // The second input of `sum_to` and `unreduce` is read only for its shape.
      const std::size_t read = kinds[k] == FusedElemwise::Kind::kernel ? members[k]->inputs().size() : 1;
      const std::vector<Variable> member_inputs = inputs_of(members[k]);
      for (std::size_t a = 0; a < read; ++a) {
        const Variable& input = member_inputs[a];
        ApplyNode* owner = input.owner();
        if (!owner || in_group.count(owner) || grouped.count(owner) || leaf_inputs.count(input.get()) ||
            members.size() >= max_instructions)
          continue;
        const auto kind = detail::fusable_kind(*owner, type);
        if (!kind) continue;
        // A producer used elsewhere too (or feeding a recomputed one) is recomputed inside the
        // loop when its inputs all come from outside the group: a kernel, or a fill. Below a
        // recomputed producer only cheap ones join, so a loop never re-evaluates a costly chain.
        const bool shared = below_leaf || inside_uses[input.get()] != uses[input.get()];
        if (shared) {
          if (*kind == FusedElemwise::Kind::pass) continue;
          if (below_leaf && !detail::recompute_is_cheap(*owner, *kind)) continue;
          // A costly one only when its inputs all come from outside (one op deep); a cheap one
          // may read values of the loop.
          const bool cheap = detail::recompute_is_cheap(*owner, *kind);
          bool outside = true;
          for (const Variable& producer_input : inputs_of(owner))
            outside = outside && !(producer_input.owner() && in_group.count(producer_input.owner()));
          if (!outside && !cheap) continue;
          leaves[owner] = depth;
          if (!cheap)
            for (const Variable& producer_input : inputs_of(owner)) leaf_inputs.insert(producer_input.get());
        }
        members.push_back(owner);
        kinds.push_back(*kind);
        in_group.insert(owner);
        for (const Variable& producer_input : inputs_of(owner)) ++inside_uses[producer_input.get()];
      }
    }
    // A lone kernel is left alone unless its only consumer sums it (then the sum joins its loop).
    const Variable result = root->output(0);
    ApplyNode* reducer = uses[result.get()] == 1 && detail::sums_all_of(*consumer.at(result.get()), result) ? consumer.at(result.get()) : nullptr;
    if (members.size() < 2 && !reducer) continue;
    // A member none of whose users is outside the group is gone from the new graph. A recomputed
    // producer, and what was pulled in below it, stays free to join other groups too.
    for (ApplyNode* member : members)
      if (member == root || (!leaves.count(member) && inside_uses[member->output(0).get()] == uses[member->output(0).get()]))
        grouped.insert(member);
    drafts.push_back({std::move(members), std::move(kinds), reducer ? reducer : root, reducer != nullptr});
  }

  // 2. Sibling groups over one static shape run as one loop with several outputs (their shared
  // producers computed once), when every input of each comes before the first of them.
  const auto external_of = [&](const std::vector<ApplyNode*>& members) {
    const std::unordered_set<const ApplyNode*> inside(members.begin(), members.end());
    std::vector<Variable> external;
    std::unordered_set<const VariableNode*> seen;
    for (ApplyNode* member : members)
      for (const Variable& input : inputs_of(member))
        if (!(input.owner() && inside.count(input.owner())) && seen.insert(input.get()).second) external.push_back(input);
    return external;
  };
  const auto inputs_before = [&](const std::vector<ApplyNode*>& members, std::size_t limit) {
    for (const Variable& input : external_of(members))
      if (input.owner() && position.at(input.owner()) >= limit) return false;
    return true;
  };
  std::vector<std::size_t> by_key(drafts.size());
  for (std::size_t d = 0; d < drafts.size(); ++d) by_key[d] = d;
  std::sort(by_key.begin(), by_key.end(), [&](std::size_t a, std::size_t b) { return position.at(drafts[a].key) < position.at(drafts[b].key); });
  std::vector<std::vector<std::size_t>> clusters;  // drafts, the first with the earliest key
  for (std::size_t d : by_key) {
    const Type& type = drafts[d].members[0]->output(0).type();
    bool merged = false;
    for (std::vector<std::size_t>& cluster : clusters) {
      const Draft& first = drafts[cluster[0]];
      std::size_t size = drafts[d].members.size();
      for (std::size_t c : cluster) size += drafts[c].members.size();
      if (!type.is_static() || !(first.members[0]->output(0).type() == type) || cluster.size() >= FusedElemwise::max_outputs ||
          size > 2 * max_instructions || !inputs_before(drafts[d].members, position.at(first.key)))
        continue;
      cluster.push_back(d);
      merged = true;
      break;
    }
    if (!merged) clusters.push_back({d});
  }

  // 3. Each cluster's program: its members once each, in topological order.
  struct Group {
    std::shared_ptr<const FusedElemwise> op;
    std::vector<Variable> external;  // the fused apply's inputs, as variables of the original graph
    std::vector<ApplyNode*> keys;    // the applies it replaces, one per output
  };
  std::vector<Group> groups;
  std::unordered_map<const ApplyNode*, std::size_t> group_of;  // key -> its group
  for (const std::vector<std::size_t>& cluster : clusters) {
    std::vector<ApplyNode*> members;
    std::unordered_map<const ApplyNode*, FusedElemwise::Kind> kind_of;
    for (std::size_t d : cluster)
      for (std::size_t k = 0; k < drafts[d].members.size(); ++k)
        if (kind_of.emplace(drafts[d].members[k], drafts[d].kinds[k]).second) members.push_back(drafts[d].members[k]);
    std::sort(members.begin(), members.end(), [&](ApplyNode* a, ApplyNode* b) { return position.at(a) < position.at(b); });
    Group group;
    group.external = external_of(members);
    std::unordered_map<const VariableNode*, int> reg;
    for (const Variable& input : group.external) reg.emplace(input.get(), static_cast<int>(reg.size()));
    std::vector<FusedElemwise::Instruction> program;
    for (ApplyNode* node : members) {
      FusedElemwise::Instruction instruction{node->op_ptr(), dynamic_cast<const ElemwiseKernel*>(&node->op()), {}, kind_of.at(node)};
      for (const Variable& input : inputs_of(node)) instruction.args.push_back(reg.at(input.get()));
      reg[node->output(0).get()] = static_cast<int>(group.external.size() + program.size());
      program.push_back(std::move(instruction));
    }
    std::vector<FusedElemwise::Output> fused_outputs;
    for (std::size_t d : cluster) {
      fused_outputs.push_back({reg.at(drafts[d].members[0]->output(0).get()), drafts[d].reduce_sum});
      group.keys.push_back(drafts[d].key);
      group_of[drafts[d].key] = groups.size();
    }
    group.op = std::make_shared<const FusedElemwise>(std::move(program), group.external.size(), drafts[cluster[0]].members[0]->output(0).type(),
                                                     std::move(fused_outputs));
    groups.push_back(std::move(group));
  }

  // 4. The applies the new graph needs: a group's key needs the group's external inputs, any
  // other apply its own inputs. Consumers come after their producers in `order`.
  std::unordered_set<const ApplyNode*> needed;
  for (const Variable& output : outputs)
    if (output.owner()) needed.insert(output.owner());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (!needed.count(*it)) continue;
    auto found = group_of.find(*it);
    for (const Variable& input : found == group_of.end() ? inputs_of(*it) : groups[found->second].external)
      if (input.owner()) needed.insert(input.owner());
  }

  // 5. One topological pass: each needed apply is rebuilt when one of its inputs changed (a
  // group is built at its first key, all of whose inputs come before it); unchanged subgraphs
  // are shared with the original.
  std::unordered_map<const VariableNode*, Variable> mapped;
  auto map = [&](const Variable& variable) {
    auto found = mapped.find(variable.get());
    return found == mapped.end() ? variable : found->second;
  };
  for (ApplyNode* node : order) {
    if (auto found = group_of.find(node); found != group_of.end()) {
      const Group& group = groups[found->second];
      if (mapped.count(group.keys[0]->output(0).get())) continue;  // built at an earlier key
      bool any_needed = false;
      for (const ApplyNode* key : group.keys) any_needed = any_needed || needed.count(key);
      if (!any_needed) continue;
      std::vector<Variable> inputs;
      for (const Variable& input : group.external) inputs.push_back(map(input));
      auto fused = ApplyNode::make(group.op, std::move(inputs));
      for (std::size_t j = 0; j < group.keys.size(); ++j) {
        Variable output = fused->output(j);
        output.set_name(group.keys[j]->output(0).name());
        mapped[group.keys[j]->output(0).get()] = output;
      }
      continue;
    }
    if (!needed.count(node)) continue;
    std::vector<Variable> inputs;
    bool changed = false;
    const std::vector<Variable> own = inputs_of(node);
    for (std::size_t i = 0; i < own.size(); ++i) {
      inputs.push_back(map(own[i]));
      changed = changed || !(inputs.back() == node->input(i));
    }
    if (changed) detail::reapply(*node, std::move(inputs), mapped);
  }
  std::vector<Variable> result;
  for (const Variable& output : outputs) result.push_back(map(output));
  return result;
}

}  // namespace symbatch
