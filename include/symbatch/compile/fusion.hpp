/// @file fusion.hpp
/// @brief Elementwise fusion: a chain of `f64` elementwise ops over arrays of one shape (and
/// scalars) becomes one `FusedElemwise` op that runs the whole chain in cache-sized blocks,
/// instead of one pass over memory (and one buffer) per op.
#pragma once

#include <span>
#include <vector>

#include "symbatch/compile/fused_elemwise.hpp"
#include "symbatch/compile/fusion_plan.hpp"

namespace symbatch {

/// @brief Replaces each maximal tree of fusable elementwise applies (each intermediate used
/// only inside the tree) by one `FusedElemwise` apply. Returns the new outputs.
///
/// Groups are found on the original graph, roots taken from the outputs down; then one
/// topological pass builds the new graph, mapping each old variable to its new one, so the
/// work is linear in the size of the graph (a group holds at most 48 instructions).
/// - A group grows upwards through the inputs of its members, except the shape-only input of
///   `sum_to` and `unreduce`; when that input has a static type and cannot fail (a graph input
///   or static elementwise arithmetic), any variable of that type is read instead (the first in
///   topological order); when it may fail but an output needs its value anyway, and the
///   `sum_to` or `unreduce` cannot fail on its own (a sum to a scalar, a scalar repeated), the
///   variable its elementwise kernels start from (which has its type) is read instead. So a value is not
///   kept just for its shape, and a sum of it can run in its loop.
/// - A producer also used outside the group is recomputed inside the loop, which is cheaper
///   than a pass over memory, and stays in the graph for its other consumers when they need it:
///   a costly kernel (exp, log, ...) only when its own inputs all come from outside the group;
///   a cheap one (add, mul, div, a fill, ...) in any case, with what it reads, up to 4 levels.
/// - A group whose only consumer is a sum of all its elements accumulates that sum in its loop
///   and replaces the consumer.
/// - Sibling groups over one static shape become one loop with several outputs (shared
///   producers computed once per element) when every input of each comes, in topological
///   order, before the first of them: so none reads another's result. That order puts every
///   apply whose outputs are scalars as early as its inputs allow, so the backward loop of a
///   log-likelihood, which reads scalars (the data scale, a checked scale) that a plain order
///   computes after the forward loop, still joins it. A group whose result nothing needs (its
///   consumers all recompute it) is dropped from its loop.
///
/// The fused op checks the run-time shapes on every call and runs op by op where a loop would
/// not compute what the ops compute, so values and errors are those of the unfused graph.
inline std::vector<Variable> fuse_elemwise(std::span<const Variable> outputs) {
  detail::FusionPlan plan(outputs);
  plan.find_groups();
  plan.merge_siblings();
  plan.build_programs();
  plan.mark_needed();
  while (plan.drop_unneeded()) {
    plan.build_programs();
    plan.mark_needed();
  }
  return plan.rebuild();
}

}  // namespace symbatch
