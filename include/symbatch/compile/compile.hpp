/// @file compile.hpp
/// @brief The definition of `compile(inputs, outputs, options)`: rewrites and fuses the graph,
/// orders its applies, assigns buffers and resolves the updates into a `Function`'s schedule.
/// Declared (and best included) through function.hpp.
#pragma once

#include "symbatch/compile/function.hpp"

namespace symbatch {

inline Function compile(std::vector<Variable> inputs, std::vector<Variable> outputs, CompileOptions options) {
  Function function;
  Function::Impl& impl = *function.impl_;
  impl.inputs = inputs;
  impl.outputs = outputs;

  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) throw_invalid("compile", "input ", i + 1, " is a null variable");
    if (!inputs[i].is_input())
      throw_invalid("compile", "input ", i + 1, " ('", inputs[i].label(), "') is ",
                    inputs[i].is_shared() ? "a shared variable; shared variables are implicit inputs"
                    : inputs[i].is_constant() ? "a constant"
                                              : "computed by " + inputs[i].owner()->op().name() + ", not a graph input");
    for (std::size_t j = 0; j < i; ++j)
      if (inputs[j] == inputs[i]) throw_invalid("compile", "input ", i + 1, " ('", inputs[i].label(), "') is listed twice");
  }
  for (std::size_t i = 0; i < outputs.size(); ++i)
    if (!outputs[i]) throw_invalid("compile", "output ", i + 1, " is a null variable");
  if (options.own_rng_states && !options.seed)
    throw_invalid("compile", "own_rng_states needs a seed: the private RNG streams are derived from it");

  // Updates: explicit ones, then each RNG's next state.
  std::unordered_set<const VariableNode*> updated;
  for (const Update& update : options.updates) {
    if (!update.shared || !update.shared.is_shared())
      throw_invalid("compile", "update target '", update.shared ? update.shared.label() : "<null>", "' is not a shared variable");
    if (!update.value) throw_invalid("compile", "update of '", update.shared.label(), "' has a null value");
    if (!updated.insert(update.shared.get()).second)
      throw_invalid("compile", "shared variable '", update.shared.label(), "' has two updates");
    const Type& want = update.shared.type();
    const Type& got = update.value.type();
    bool compatible = want.dtype == got.dtype && want.rank() == got.rank();
    for (int axis = 0; compatible && axis < want.rank(); ++axis)
      compatible = want.shape[axis] == Type::unknown || got.shape[axis] == Type::unknown || want.shape[axis] == got.shape[axis];
    if (!compatible)
      throw_invalid("compile", "update of '", update.shared.label(), "' has type ", got.str(), ", expected ", want.str());
  }

  std::vector<Variable> roots = outputs;
  for (const Update& update : options.updates) roots.push_back(update.value);

  // RNG states in topological order, and for each the chain of random ops reading it.
  std::vector<Update> rng_updates;
  {
    const std::vector<Variable> order = ancestors(roots);
    std::unordered_map<const VariableNode*, ApplyNode*> consumer;  // rng variable -> random apply reading it
    for (const Variable& variable : order)
      if (variable.owner() && variable.owner()->op().is_random()) consumer[variable.owner()->input(0).get()] = variable.owner();
    for (const Variable& variable : order) {
      if (!(variable.is_shared() && variable.dtype() == DType::rng)) continue;
      impl.rngs.push_back(variable);
      Function::RngChain chain{&variable.get()->value, {}};
      Variable state = variable;
      for (auto found = consumer.find(state.get()); found != consumer.end(); found = consumer.find(state.get())) {
        chain.ops.push_back(&found->second->op());
        state = found->second->output(0);
      }
      impl.rng_chains.push_back(chain);
      if (options.advance_rngs && !chain.ops.empty() && !updated.count(variable.get())) rng_updates.push_back({variable, state});
    }
  }
  for (const Update& update : rng_updates) roots.push_back(update.value);

  // Where each shared variable's value is read and written: the variable itself, or the
  // function's private copy of an RNG state. The private vector is sized once, here.
  std::unordered_map<const VariableNode*, Array*> value_of;
  if (options.own_rng_states) {
    impl.own_rng_values.resize(impl.rngs.size());
    for (std::size_t i = 0; i < impl.rngs.size(); ++i) {
      value_of[impl.rngs[i].get()] = &impl.own_rng_values[i];
      impl.rng_chains[i].value = &impl.own_rng_values[i];
    }
  }
  auto value_for = [&](const Variable& shared) {
    auto found = value_of.find(shared.get());
    return found == value_of.end() ? &shared.get()->value : found->second;
  };

  // Rewrite the graphs, then read the outputs and update values back from the new roots.
  roots = rewrite(roots, options.rewrites);
  if (options.fuse) roots = fuse_elemwise(roots);
  if (options.fuse && options.row_blocks) roots = fuse_row_blocks(roots);
  {
    std::size_t next = 0;
    for (Variable& output : outputs) output = roots[next++];
    for (Update& update : options.updates) update.value = roots[next++];
    for (Update& update : rng_updates) update.value = roots[next++];
  }

  // Slots: one per variable of the graph.
  std::unordered_map<const VariableNode*, std::size_t> slot_of;
  const std::vector<Variable> variables = ancestors(roots);
  impl.slots.resize(variables.size());
  for (std::size_t i = 0; i < variables.size(); ++i) slot_of[variables[i].get()] = i;
  std::unordered_set<const VariableNode*> declared;
  for (const Variable& input : inputs) declared.insert(input.get());
  for (const Variable& variable : variables) {
    if (variable.owner()) continue;
    const std::size_t slot = slot_of[variable.get()];
    if (variable.is_constant()) impl.slots[slot] = variable.constant_value();
    else if (variable.is_shared()) impl.shared_slots.push_back({variable, value_for(variable), slot});
    else if (!declared.count(variable.get()))
      throw_invalid("compile", "the outputs depend on input '", variable.label(), "', which is not in the inputs list");
  }
  for (const Variable& input : inputs) {
    auto found = slot_of.find(input.get());
    if (found == slot_of.end()) {  // an unused input still gets a slot, so it can be checked
      impl.slots.emplace_back();
      found = slot_of.emplace(input.get(), impl.slots.size() - 1).first;
    }
    impl.input_slots.push_back(found->second);
  }
  for (const Variable& output : outputs) impl.output_slots.push_back(slot_of.at(output.get()));

  for (ApplyNode* apply : toposort(roots)) {
    Function::Step step;
    step.apply = apply->shared_from_this();
    step.op = &apply->op();
    for (std::size_t i = 0; i < apply->num_outputs(); ++i) {
      auto found = slot_of.find(apply->output(i).get());
      if (found == slot_of.end()) {  // an output nobody reads still needs somewhere to go
        impl.slots.emplace_back();
        found = slot_of.emplace(apply->output(i).get(), impl.slots.size() - 1).first;
      }
      step.out_slots.push_back(found->second);
      step.may_alias = step.may_alias || apply->op().view_of(static_cast<int>(i)).has_value();
    }
    impl.steps.push_back(std::move(step));
  }
  // Pointers into the slots are taken once the slot vector has its final size.
  for (Function::Step& step : impl.steps) {
    for (const Variable& input : step.apply->inputs()) step.in.push_back(&impl.slots[slot_of.at(input.get())]);
    for (std::size_t slot : step.out_slots) step.out.push_back(&impl.slots[slot]);
  }
  for (auto step = impl.steps.rbegin(); step != impl.steps.rend(); ++step)
    if (step->may_alias) impl.view_steps.push_back(&*step);

  auto pending = [&](const Variable& shared, const Variable& value) {
    const bool own_buffer = value.owner() && !value.owner()->op().view_of(value.index()).has_value();
    // The static check above let through dimensions known only at run time: check those then.
    const Type& want = shared.type();
    bool proven = true;
    for (int axis = 0; axis < want.rank(); ++axis)
      proven = proven && (want.shape[axis] == Type::unknown || value.type().shape[axis] == want.shape[axis]);
    impl.updates.push_back({shared, value_for(shared), slot_of.at(value.get()), own_buffer, !proven});
  };
  for (const Update& update : options.updates) pending(update.shared, update.value);
  for (const Update& update : rng_updates) pending(update.shared, update.value);
  // Several updates may read one slot (the same value, or equal values merged by the rewrites):
  // all but the last share it, so that a swap does not hand the next one an old value.
  for (std::size_t i = 0; i < impl.updates.size(); ++i)
    for (std::size_t j = i + 1; j < impl.updates.size(); ++j)
      if (impl.updates[i].slot == impl.updates[j].slot) impl.updates[i].swap = false;

  impl.results.resize(outputs.size());
  if (options.seed) function.reseed(*options.seed);
  return function;
}

}  // namespace symbatch
