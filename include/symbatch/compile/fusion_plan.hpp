/// @file fusion_plan.hpp
/// @brief The phases of elementwise fusion (`fuse_elemwise`, fusion.hpp) over one plan
/// object: which applies can join a loop, how groups grow, merge and become programs, and
/// the rebuilt graph.
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "symbatch/compile/fused_elemwise.hpp"
#include "symbatch/graph/walk.hpp"
#include "symbatch/ops/elemwise.hpp"
#include "symbatch/ops/reduce.hpp"

namespace symbatch {

namespace detail {

/// How an apply can join a fused loop whose arrays have type `type`; empty when it cannot.
inline std::optional<FusedElemwise::Kind> fusable_kind(const ApplyNode& node, const Type& type) {
  const Variable output = node.output(0);
  if (output.dtype() != DType::f64 || !(output.type() == type)) return std::nullopt;
  if (auto* kernel = op_as<ElemwiseKernel>(node.op())) {
    if (!kernel->fusable()) return std::nullopt;
    for (const Variable& input : node.inputs())
      if (input.dtype() != DType::f64 || !(input.rank() == 0 || input.type().shape == type.shape)) return std::nullopt;
    return FusedElemwise::Kind::kernel;
  }
  if (op_as<SumTo>(node.op())) {
    if (node.input(0).type() == type && node.input(1).type().shape == type.shape) return FusedElemwise::Kind::pass;
    return std::nullopt;
  }
  if (auto* unreduce = op_as<Unreduce>(node.op())) {
    if (unreduce->axis() || node.input(0).dtype() != DType::f64 || node.input(1).type().shape != type.shape) return std::nullopt;
    return unreduce->is_mean() ? FusedElemwise::Kind::fill_mean : FusedElemwise::Kind::fill;
  }
  return std::nullopt;
}

/// True when `node` sums every element of its input `x` into a scalar f64: `sum(x)`, or
/// `sum_to(x, like)` with a scalar `like` that `like_skippable` says need not be computed
/// (the fused loop that replaces the sum does not read it).
inline bool sums_all_of(const ApplyNode& node, const Variable& x, bool like_skippable) {
  if (node.output(0).dtype() != DType::f64 || node.output(0).rank() != 0 || !(node.input(0) == x)) return false;
  if (auto* reduce = op_as<Reduce>(node.op())) return reduce->kind() == Reduction::sum;
  return op_as<SumTo>(node.op()) != nullptr && like_skippable;
}

/// True when recomputing `node` in a loop costs a few cycles per element: a fill, or a cheap kernel.
inline bool recompute_is_cheap(const ApplyNode& node, FusedElemwise::Kind kind) {
  if (kind == FusedElemwise::Kind::fill || kind == FusedElemwise::Kind::fill_mean) return true;
  auto* kernel = op_as<ElemwiseKernel>(node.op());
  return kind == FusedElemwise::Kind::kernel && kernel && kernel->cheap();
}

/// @brief What elementwise fusion decides for one graph, filled in by its phases in order:
/// `find_groups`, `merge_siblings`, `build_programs`, `mark_needed`, then `rebuild`.
class FusionPlan {
 public:
  static constexpr std::size_t max_instructions = 48;
  static constexpr int max_depth = 4;  ///< levels of recomputed producers below a group

  /// Indexes the graph of `outputs`: topological positions, uses and consumers of each
  /// variable, and the variables that may stand in for a shape-only input.
  explicit FusionPlan(std::span<const Variable> outputs) : outputs_(outputs.begin(), outputs.end()), order_(scalars_first(toposort(outputs))) {
    for (ApplyNode* node : order_) {
      // A variable is computed without error whenever the graph's inputs have their declared
      // types: a graph input, or an f64 kernel over such variables of static types.
      auto* kernel = op_as<ElemwiseKernel>(node->op());
      bool safe = kernel && kernel->fusable() && node->num_outputs() == 1 && node->output(0).type().is_static();
      for (const Variable& input : node->inputs())
        safe = safe && input.type().is_static() && (!input.owner() || never_throws_.count(input.get()));
      if (safe) never_throws_.insert(node->output(0).get());
    }
    // The variables an output needs through value edges: every input but the shape-only input
    // of `sum_to` and `unreduce`, the only edges fusion rewires or drops. Whatever fusion groups,
    // these are still computed (in a loop or as arrays), and their errors still thrown.
    for (const Variable& output : outputs_) value_needed_.insert(output.get());
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
      const ApplyNode& node = **it;
      bool needed = false;
      for (std::size_t k = 0; k < node.num_outputs(); ++k) needed = needed || value_needed_.count(node.output(k).get());
      if (!needed) continue;
      const bool shape_only_second = op_as<SumTo>(node.op()) || op_as<Unreduce>(node.op());
      for (std::size_t i = 0; i < node.inputs().size(); ++i)
        if (!(shape_only_second && i == 1)) value_needed_.insert(node.input(i).get());
    }
    for (ApplyNode* node : order_) {
      for (const Variable& input : node->inputs())
        if (input.type().is_static()) first_of_type_.try_emplace(input.type().str(), input);
      for (const Variable& output : node->outputs())
        if (output.type().is_static()) first_of_type_.try_emplace(output.type().str(), output);
    }
    for (std::size_t i = 0; i < order_.size(); ++i) {
      position_[order_[i]] = i;
      for (const Variable& input : inputs_of(order_[i])) {
        ++uses_[input.get()];
        consumer_[input.get()] = order_[i];
      }
    }
    for (const Variable& output : outputs_) uses_[output.get()] += 2;  // an output is used outside any group
  }

  /// Phase 1: groups on the original graph, roots taken from the outputs down.
  void find_groups() {
    for (auto it = order_.rbegin(); it != order_.rend(); ++it)
      if (!grouped_.count(*it) && (*it)->output(0).rank() != 0) grow_group(*it);
  }

  /// Phase 2: sibling groups over one static shape join one cluster (one loop, several
  /// outputs, shared producers computed once) when every input of each comes before the first.
  void merge_siblings() {
    std::vector<std::size_t> by_key(drafts_.size());
    for (std::size_t d = 0; d < drafts_.size(); ++d) by_key[d] = d;
    std::sort(by_key.begin(), by_key.end(), [&](std::size_t a, std::size_t b) { return position_.at(drafts_[a].key) < position_.at(drafts_[b].key); });
    for (std::size_t d : by_key) {
      const Type& type = drafts_[d].members[0]->output(0).type();
      bool merged = false;
      for (std::vector<std::size_t>& cluster : clusters_) {
        const Draft& first = drafts_[cluster[0]];
        std::size_t size = drafts_[d].members.size();
        for (std::size_t c : cluster) size += drafts_[c].members.size();
        if (!type.is_static() || !(first.members[0]->output(0).type() == type) || cluster.size() >= FusedElemwise::max_outputs ||
            size > 2 * max_instructions || !inputs_before(drafts_[d].members, position_.at(first.key)))
          continue;
        cluster.push_back(d);
        merged = true;
        break;
      }
      if (!merged) clusters_.push_back({d});
    }
  }

  /// Phase 3: each cluster's program, its members once each in topological order.
  void build_programs() {
    for (const std::vector<std::size_t>& cluster : clusters_) {
      std::vector<ApplyNode*> members;
      std::unordered_map<const ApplyNode*, FusedElemwise::Kind> kind_of;
      for (std::size_t d : cluster)
        for (std::size_t k = 0; k < drafts_[d].members.size(); ++k)
          if (kind_of.emplace(drafts_[d].members[k], drafts_[d].kinds[k]).second) members.push_back(drafts_[d].members[k]);
      std::sort(members.begin(), members.end(), [&](ApplyNode* a, ApplyNode* b) { return position_.at(a) < position_.at(b); });
      Group group;
      group.external = external_of(members);
      std::unordered_map<const VariableNode*, int> reg;
      for (const Variable& input : group.external) reg.emplace(input.get(), static_cast<int>(reg.size()));
      std::vector<FusedElemwise::Instruction> program;
      for (ApplyNode* node : members) {
        FusedElemwise::Instruction instruction{node->op_ptr(), op_as<ElemwiseKernel>(node->op()), {}, kind_of.at(node)};
        for (const Variable& input : inputs_of(node)) instruction.args.push_back(reg.at(input.get()));
        reg[node->output(0).get()] = static_cast<int>(group.external.size() + program.size());
        program.push_back(std::move(instruction));
      }
      std::vector<FusedElemwise::Output> fused_outputs;
      for (std::size_t d : cluster) {
        fused_outputs.push_back({reg.at(drafts_[d].members[0]->output(0).get()), drafts_[d].reduce_sum});
        group.keys.push_back(drafts_[d].key);
        group_of_[drafts_[d].key] = groups_.size();
      }
      group.op = std::make_shared<const FusedElemwise>(std::move(program), group.external.size(), drafts_[cluster[0]].members[0]->output(0).type(),
                                                       std::move(fused_outputs));
      groups_.push_back(std::move(group));
    }
  }

  /// Phase 4: the applies the new graph needs: a group's key needs the group's inputs, any
  /// other apply its own. Consumers come after their producers in the order.
  void mark_needed() {
    for (const Variable& output : outputs_)
      if (output.owner()) needed_.insert(output.owner());
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
      if (!needed_.count(*it)) continue;
      auto found = group_of_.find(*it);
      for (const Variable& input : found == group_of_.end() ? inputs_of(*it) : groups_[found->second].external)
        if (input.owner()) needed_.insert(input.owner());
    }
  }

  /// Phase 4b: drops from each cluster the drafts whose result nothing needs any more (a
  /// producer grown into a group of its own whose every consumer recomputes it, or reads it
  /// only for its shape), so the loop does not write an array nobody reads. True when it dropped
  /// one: `build_programs` and `mark_needed` then run again (the clusters' inputs only shrink).
  bool drop_unneeded() {
    bool dropped = false;
    for (std::vector<std::size_t>& cluster : clusters_) {
      const auto kept = std::stable_partition(cluster.begin(), cluster.end(), [&](std::size_t d) { return needed_.count(drafts_[d].key) > 0; });
      if (kept == cluster.begin() || kept == cluster.end()) continue;  // all needed, or none (then it is not built)
      cluster.erase(kept, cluster.end());
      dropped = true;
    }
    if (dropped) {
      groups_.clear();
      group_of_.clear();
      needed_.clear();
    }
    return dropped;
  }

  /// Phase 5: one topological pass rebuilds each needed apply whose inputs changed (a group at
  /// its first key, all of whose inputs come before it); unchanged subgraphs are shared.
  std::vector<Variable> rebuild() {
    std::unordered_map<const VariableNode*, Variable> mapped;
    auto map = [&](const Variable& variable) {
      auto found = mapped.find(variable.get());
      return found == mapped.end() ? variable : found->second;
    };
    for (ApplyNode* node : order_) {
      if (auto found = group_of_.find(node); found != group_of_.end()) {
        const Group& group = groups_[found->second];
        if (mapped.count(group.keys[0]->output(0).get())) continue;  // built at an earlier key
        bool any_needed = false;
        for (const ApplyNode* key : group.keys) any_needed = any_needed || needed_.count(key);
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
      if (!needed_.count(node)) continue;
      std::vector<Variable> inputs;
      bool changed = false;
      const std::vector<Variable> own = inputs_of(node);
      for (std::size_t i = 0; i < own.size(); ++i) {
        inputs.push_back(map(own[i]));
        changed = changed || !(inputs.back() == node->input(i));
      }
      if (changed) reapply(*node, std::move(inputs), mapped);
    }
    std::vector<Variable> result;
    for (const Variable& output : outputs_) result.push_back(map(output));
    return result;
  }

 private:
  struct Draft {
    std::vector<ApplyNode*> members;  // root first
    std::vector<FusedElemwise::Kind> kinds;
    ApplyNode* key;  // the apply it replaces: its root, or the sum of it
    bool reduce_sum;
  };
  struct Group {
    std::shared_ptr<const FusedElemwise> op;
    std::vector<Variable> external;  // the fused apply's inputs, as variables of the original graph
    std::vector<ApplyNode*> keys;    // the applies it replaces, one per output
  };

  /// `order` (topological) rearranged so that an apply whose outputs are all scalars comes as
  /// soon as its inputs are computed; the others keep their relative order. Scalar work (a
  /// scale, a checked parameter, the seed of a gradient) then precedes the batch-sized loops
  /// that read it, so sibling loops over one batch can merge (`merge_siblings` needs every input
  /// of a later sibling before the first).
  static std::vector<ApplyNode*> scalars_first(const std::vector<ApplyNode*>& order) {
    std::unordered_map<const ApplyNode*, std::size_t> position, waiting;
    std::unordered_map<const ApplyNode*, std::vector<ApplyNode*>> consumers;
    for (std::size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
    for (ApplyNode* node : order) {
      std::unordered_set<const ApplyNode*> producers;
      for (const Variable& input : node->inputs())
        if (input.owner() && producers.insert(input.owner()).second) consumers[input.owner()].push_back(node);
      waiting[node] = producers.size();
    }
    auto is_scalar = [](const ApplyNode* node) {
      for (std::size_t k = 0; k < node->num_outputs(); ++k)
        if (node->output(k).rank() != 0) return false;
      return true;
    };
    // Ready applies by (not scalar, original position): scalars first, then the original order.
    auto later = [&](const ApplyNode* a, const ApplyNode* b) {
      const bool big_a = !is_scalar(a), big_b = !is_scalar(b);
      return big_a != big_b ? big_a : position.at(a) > position.at(b);
    };
    std::priority_queue<ApplyNode*, std::vector<ApplyNode*>, decltype(later)> ready(later);
    for (ApplyNode* node : order)
      if (waiting[node] == 0) ready.push(node);
    std::vector<ApplyNode*> result;
    result.reserve(order.size());
    while (!ready.empty()) {
      ApplyNode* node = ready.top();
      ready.pop();
      result.push_back(node);
      for (ApplyNode* consumer : consumers[node])
        if (--waiting[consumer] == 0) ready.push(consumer);
    }
    return result;
  }

  /// A node's inputs as fusion reads them. The shape-only input of `sum_to`/`unreduce`, when of
  /// static type, is replaced by another variable of that type, so a value used elsewhere only
  /// for its shape need not be stored (a loop may then sum it without writing it out): the
  /// first variable of that type in topological order when the input is computed without error,
  /// else, when an output needs the input's value anyway (so its errors are thrown anyway) and
  /// the node cannot fail on its own (`cannot_fail_on_shape`), the variable its elementwise
  /// kernels start from (`shape_stand_in`). Any other (a `take`, a
  /// slice read only for its shape) stays, so its error is not lost.
  std::vector<Variable> inputs_of(const ApplyNode* node) const {
    std::vector<Variable> inputs = node->inputs();
    if (inputs.size() == 2 && inputs[1].type().is_static() && (op_as<SumTo>(node->op()) || op_as<Unreduce>(node->op()))) {
      if (never_throws(inputs[1])) inputs[1] = first_of_type_.at(inputs[1].type().str());
      else if (value_needed_.count(inputs[1].get()) && cannot_fail_on_shape(*node)) inputs[1] = shape_stand_in(inputs[1]);
    }
    return inputs;
  }
  /// True when `sum_to(x, like)` or `unreduce(g, like)` cannot throw whatever `like`'s run-time
  /// shape: a sum to a scalar, a scalar repeated. Only then may it read a stand-in for `like`:
  /// otherwise it could run before `like` and throw its own shape error where the unfused graph
  /// throws `like`'s.
  static bool cannot_fail_on_shape(const ApplyNode& node) {
    return op_as<SumTo>(node.op()) ? node.input(1).rank() == 0 : node.input(0).rank() == 0;
  }
  /// The ancestor of `like` reached through elementwise kernels, each time by an input of
  /// `like`'s static type: it has `like`'s shape, and it is computed whenever `like` is.
  static Variable shape_stand_in(Variable like) {
    for (;;) {
      const ApplyNode* owner = like.owner();
      if (!owner || owner->num_outputs() != 1 || !op_as<ElemwiseKernel>(owner->op())) return like;
      const auto same = std::find_if(owner->inputs().begin(), owner->inputs().end(), [&](const Variable& input) { return input.type() == like.type(); });
      if (same == owner->inputs().end()) return like;
      like = *same;
    }
  }
  bool never_throws(const Variable& variable) const { return !variable.owner() || never_throws_.count(variable.get()); }
  /// True when a sum of `x` may drop its shape-only input `like`: `like` cannot throw, or it is
  /// computed (and any error of it thrown) anyway: an output needs its value, or `x` depends on it
  /// (the last also through shape-only edges, which `value_needed_` does not follow: an `x` that
  /// reads `like` only for its shape still has it computed, as `like` is then not stood in for).
  bool like_computed_anyway(const Variable& like, const Variable& x) const {
    return never_throws(like) || value_needed_.count(like.get()) || depends_on(x, like);
  }

  /// Grows one group from `root` upwards and records it as a draft (see `fuse_elemwise`).
  void grow_group(ApplyNode* root) {
    const Type type = root->output(0).type();
    const auto root_kind = fusable_kind(*root, type);
    if (!root_kind) return;
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
      if (leaf != leaves.end() && (leaf->second >= max_depth || !recompute_is_cheap(*members[k], kinds[k]))) continue;
      const bool below_leaf = leaf != leaves.end();  // (the iterator is not used below: leaves grows)
      const int depth = below_leaf ? leaf->second + 1 : 1;
      // The second input of `sum_to` and `unreduce` is read only for its shape.
      const std::size_t read = kinds[k] == FusedElemwise::Kind::kernel ? members[k]->inputs().size() : 1;
      const std::vector<Variable> member_inputs = inputs_of(members[k]);
      for (std::size_t a = 0; a < read; ++a) {
        const Variable& input = member_inputs[a];
        ApplyNode* owner = input.owner();
        if (!owner || in_group.count(owner) || grouped_.count(owner) || leaf_inputs.count(input.get()) || members.size() >= max_instructions)
          continue;
        const auto kind = fusable_kind(*owner, type);
        if (!kind) continue;
        // A producer used elsewhere too (or feeding a recomputed one) is recomputed inside the
        // loop: a costly kernel only when its inputs all come from outside the group (one op
        // deep), a cheap one (or a fill) also when it reads values of the loop. Below a
        // recomputed producer only cheap ones join, so a loop never re-evaluates a costly chain.
        const bool shared = below_leaf || inside_uses[input.get()] != uses_[input.get()];
        if (shared) {
          if (*kind == FusedElemwise::Kind::pass) continue;
          const bool cheap = recompute_is_cheap(*owner, *kind);
          if (below_leaf && !cheap) continue;
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
    ApplyNode* reducer = nullptr;
    if (uses_[result.get()] == 1) {
      ApplyNode* sole = consumer_.at(result.get());
      if (sums_all_of(*sole, result, sole->inputs().size() < 2 || like_computed_anyway(sole->input(1), result))) reducer = sole;
    }
    if (members.size() < 2 && !reducer) return;
    // A member none of whose users is outside the group is gone from the new graph. A recomputed
    // producer, and what was pulled in below it, stays free to join other groups too.
    for (ApplyNode* member : members)
      if (member == root || (!leaves.count(member) && inside_uses[member->output(0).get()] == uses_[member->output(0).get()]))
        grouped_.insert(member);
    drafts_.push_back({std::move(members), std::move(kinds), reducer ? reducer : root, reducer != nullptr});
  }

  /// The inputs of a set of members that no member computes, each once.
  std::vector<Variable> external_of(const std::vector<ApplyNode*>& members) const {
    const std::unordered_set<const ApplyNode*> inside(members.begin(), members.end());
    std::vector<Variable> external;
    std::unordered_set<const VariableNode*> seen;
    for (ApplyNode* member : members)
      for (const Variable& input : inputs_of(member))
        if (!(input.owner() && inside.count(input.owner())) && seen.insert(input.get()).second) external.push_back(input);
    return external;
  }
  bool inputs_before(const std::vector<ApplyNode*>& members, std::size_t limit) const {
    for (const Variable& input : external_of(members))
      if (input.owner() && position_.at(input.owner()) >= limit) return false;
    return true;
  }

  std::vector<Variable> outputs_;
  std::vector<ApplyNode*> order_;
  std::unordered_map<const ApplyNode*, std::size_t> position_;
  std::unordered_map<const VariableNode*, int> uses_;
  std::unordered_map<const VariableNode*, ApplyNode*> consumer_;  // a consumer of each variable (the only one when uses == 1)
  std::unordered_map<std::string, Variable> first_of_type_;
  std::unordered_set<const VariableNode*> never_throws_;
  std::unordered_set<const VariableNode*> value_needed_;  // needed by an output through value edges
  std::vector<Draft> drafts_;                     // phase 1
  std::unordered_set<const ApplyNode*> grouped_;  // members gone from the new graph
  std::vector<std::vector<std::size_t>> clusters_;  // phase 2: drafts, the first with the earliest key
  std::vector<Group> groups_;                       // phase 3
  std::unordered_map<const ApplyNode*, std::size_t> group_of_;  // key -> its group
  std::unordered_set<const ApplyNode*> needed_;                 // phase 4
};

}  // namespace detail

}  // namespace symbatch
